//! A Plivo call's script. Twilio takes a call's script in the request;
//! Plivo fetches it from the call's `answer_url` when the callee picks up,
//! and expects Plivo XML back. The script holds the code, which is never
//! stored in clear, so the URL carries it sealed: the speech and the code's
//! expiry, encrypted and authenticated (ChaCha20-Poly1305, random nonce)
//! under a key derived from the code key, base64url in the query.
//! `POST /plivo/answer` opens it (after Plivo's V3 signature) and answers
//! the XML. Plivo's logs and ours see only the sealed form.
//!
//! Why the code key: whoever holds it can already make codes that verify,
//! so the sealed script gives them nothing more (the identity key, which
//! the operator CLI holds, would). The token names the key's id, and the
//! previous code keys still open it, so a rotation breaks no call in
//! flight; a script lives no longer than its code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroize;

use super::provider::{decoded_pairs, param, xml_escape};
use crate::domain::{Keyring, Timestamp, VerificationId};
use crate::ports::Speech;

/// What the script keys are derived for, and what their tags cover: no
/// other use of the code key shares it (code MACs have the number first).
const PURPOSE: &[u8] = b"plivo call script\n";

/// The query parameters of the answer URL.
const KEY_PARAM: &str = "key";
const SCRIPT_PARAM: &str = "script";

/// Seals call scripts into answer URLs and opens them, under keys derived
/// from the code keys.
#[derive(Clone)]
pub struct CallScripts {
    /// The current key's id and key first, then the previous ones.
    keys: Vec<(String, LessSafeKey)>,
    /// How long a script opens: the code's lifetime.
    ttl_seconds: u64,
}

impl std::fmt::Debug for CallScripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallScripts")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// What `POST /plivo/answer` needs besides Plivo's signature: what opens
/// the scripts, and the route's public URL when the operator sets it (a
/// custom domain, say; otherwise it is derived from API Gateway's request
/// context, as the delivery reports' is).
#[derive(Debug, Clone)]
pub struct PlivoAnswers {
    pub scripts: CallScripts,
    pub answer_url: Option<String>,
}

/// A script opened from its answer URL. Its digits are wiped on drop.
pub struct CallScript {
    pub verification: VerificationId,
    pub expires_at: Timestamp,
    pub speech: Speech,
}

impl Drop for CallScript {
    fn drop(&mut self) {
        self.speech.digits.zeroize();
    }
}

/// Why an answer URL's script cannot be spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScriptRefused {
    /// Missing, malformed, changed, or sealed under a key we do not hold.
    #[error("the call script is not one of ours")]
    Invalid,
    /// Its code has expired: nothing worth saying.
    #[error("the call script has expired")]
    Expired,
}

/// What is sealed (postcard): `&str`s in, `String`s out. The speech holds
/// the code.
#[derive(Serialize, Deserialize)]
struct Sealed<S> {
    verification: S,
    expires_at: i64,
    language: S,
    voice: S,
    intro: S,
    digits: S,
    repeat: S,
}

impl CallScripts {
    pub fn new(code_keys: &Keyring, ttl_seconds: u64) -> Self {
        let keys = std::iter::once((code_keys.current_id(), code_keys.current()))
            .chain(code_keys.previous())
            .map(|(id, key)| (id.to_owned(), script_key(key)))
            .collect();
        Self { keys, ttl_seconds }
    }

    /// The query of the answer URL of a call sent at `sent_at` that speaks
    /// `speech`: `key=<key id>&script=<base64url(nonce, sealed script)>`.
    pub fn seal(
        &self,
        verification: &VerificationId,
        sent_at: Timestamp,
        speech: &Speech,
    ) -> String {
        let (id, key) = &self.keys[0];
        let mut sealed = postcard::to_allocvec(&Sealed {
            verification: verification.as_str(),
            expires_at: sent_at.plus_seconds(self.ttl_seconds).unix_seconds(),
            language: &speech.language,
            voice: &speech.voice,
            intro: &speech.intro,
            digits: &speech.digits,
            repeat: &speech.repeat,
        })
        .expect("strings and numbers serialize");
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the operating system's random number generator failed");
        // Sealed in place: the plain script is overwritten.
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(id), &mut sealed)
            .expect("a script is far below ChaCha20-Poly1305's limit");
        let token = [nonce.as_slice(), &sealed].concat();
        form_urlencoded::Serializer::new(String::new())
            .append_pair(KEY_PARAM, id)
            .append_pair(SCRIPT_PARAM, &URL_SAFE_NO_PAD.encode(token))
            .finish()
    }

    /// The script sealed in an answer URL's `query` (as received), if it is
    /// ours, unchanged, and its code has not expired at `now`.
    pub fn open(&self, query: Option<&str>, now: Timestamp) -> Result<CallScript, ScriptRefused> {
        let pairs = decoded_pairs(query.unwrap_or_default());
        let id = param(&pairs, KEY_PARAM).ok_or(ScriptRefused::Invalid)?;
        let (id, key) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or(ScriptRefused::Invalid)?;
        let token = param(&pairs, SCRIPT_PARAM)
            .and_then(|token| URL_SAFE_NO_PAD.decode(token).ok())
            .filter(|token| token.len() > NONCE_LEN)
            .ok_or(ScriptRefused::Invalid)?;
        let (nonce, sealed) = token.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ScriptRefused::Invalid)?;
        let mut sealed = sealed.to_vec();
        let opened = key
            .open_in_place(nonce, aad(id), &mut sealed)
            .ok()
            .and_then(|plain| postcard::from_bytes::<Sealed<String>>(plain).ok());
        sealed.zeroize();
        let Sealed {
            verification,
            expires_at,
            language,
            voice,
            intro,
            digits,
            repeat,
        } = opened.ok_or(ScriptRefused::Invalid)?;
        let script = CallScript {
            verification: VerificationId::from_stored(verification),
            expires_at: Timestamp::from_unix_seconds(expires_at),
            speech: Speech {
                language,
                voice,
                intro,
                digits,
                repeat,
            },
        };
        match now < script.expires_at {
            true => Ok(script),
            false => Err(ScriptRefused::Expired),
        }
    }
}

/// The script key of a code key: HMAC-SHA256 under it of `PURPOSE`.
fn script_key(code_key: &[u8]) -> LessSafeKey {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(code_key).expect("HMAC accepts keys of any length");
    mac.update(PURPOSE);
    let mut derived = mac.finalize().into_bytes();
    let key = UnboundKey::new(&CHACHA20_POLY1305, &derived).expect("a 32-byte key");
    derived.zeroize();
    LessSafeKey::new(key)
}

/// What the tag covers besides the script: `PURPOSE` and the key's id.
fn aad(key_id: &str) -> Aad<Vec<u8>> {
    Aad::from([PURPOSE, key_id.as_bytes()].concat())
}

/// Plivo XML that speaks `speech` as Twilio's call does: the intro, the
/// digits one by one (their commas make the pauses), then the repeat and
/// the digits again, then hangs up. In a language Plivo cannot speak, an
/// English voice says only the digits: the words would be noise.
pub fn answer_xml(speech: &Speech) -> String {
    let (voice, language, in_its_language) = plivo_voice(speech);
    let speak = |text: &str| {
        format!(
            r#"<Speak voice="{}" language="{}">{}</Speak>"#,
            xml_escape(voice),
            xml_escape(language),
            xml_escape(text)
        )
    };
    let pause = r#"<Wait length="1"/>"#;
    let digits = speak(&speech.digits);
    let body = match in_its_language {
        true => format!(
            "{}{pause}{digits}{pause}{}{pause}{digits}",
            speak(&speech.intro),
            speak(&speech.repeat)
        ),
        false => format!("{digits}{pause}{digits}"),
    };
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}<Hangup/></Response>"#)
}

/// The languages Plivo's own voices (`WOMAN`) speak:
/// <https://plivo.com/docs/voice/xml/speak>.
const PLIVO_LANGUAGES: &[&str] = &[
    "cs-CZ", "da-DK", "de-DE", "el-GR", "en-AU", "en-CA", "en-GB", "en-US", "es-ES", "es-US",
    "fi-FI", "fr-CA", "fr-FR", "hu-HU", "it-IT", "ja-JP", "nl-NL", "pl-PL", "pt-BR", "pt-PT",
    "ru-RU", "sv-SE", "zh-CN",
];

/// Plivo's voice and language for `speech`, and whether they speak its
/// language: an Amazon Polly voice as it is (Plivo speaks them by the same
/// `Polly.<Name>`), else Plivo's own voice in the speech's language, else in
/// en-US.
fn plivo_voice(speech: &Speech) -> (&str, &str, bool) {
    if speech.voice.starts_with("Polly.") {
        (&speech.voice, &speech.language, true)
    } else if PLIVO_LANGUAGES.contains(&speech.language.as_str()) {
        ("WOMAN", &speech.language, true)
    } else {
        ("WOMAN", "en-US", false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(language: &str, voice: &str) -> Speech {
        Speech {
            language: language.into(),
            voice: voice.into(),
            intro: "Your <App> code is".into(),
            digits: "1, 2, 3, 4, 5, 6".into(),
            repeat: "Again: \"it's\" & more".into(),
        }
    }

    fn scripts() -> CallScripts {
        CallScripts::new(&Keyring::new("v2", [7u8; 32]), 600)
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";
    const SENT: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

    fn sealed() -> String {
        scripts().seal(
            &VerificationId::from_stored(ID.into()),
            SENT,
            &speech("en-US", "Polly.Joanna"),
        )
    }

    #[test]
    fn a_sealed_script_opens_until_its_code_expires() {
        let query = sealed();
        assert!(query.starts_with("key=v2&script="), "{query}");
        // No digit of the code, nor any word of the speech, in clear.
        let token = query.trim_start_matches("key=v2&script=");
        assert!(
            !token.contains("1, 2") && !token.contains("code"),
            "{token}"
        );
        let script = scripts()
            .open(Some(&query), SENT.plus_seconds(599))
            .expect("opens");
        assert_eq!(script.verification.as_str(), ID);
        assert_eq!(script.expires_at, SENT.plus_seconds(600));
        assert!(script.speech == speech("en-US", "Polly.Joanna"));
        assert_eq!(
            scripts().open(Some(&query), SENT.plus_seconds(600)).err(),
            Some(ScriptRefused::Expired)
        );
    }

    #[test]
    fn two_seals_of_one_script_differ() {
        assert_ne!(sealed(), sealed());
    }

    #[test]
    fn a_changed_or_foreign_script_does_not_open() {
        let query = sealed();
        let token = query.trim_start_matches("key=v2&script=");
        // Each byte of the token changed in turn.
        let raw = URL_SAFE_NO_PAD.decode(token).unwrap();
        for at in [0, NONCE_LEN, raw.len() / 2, raw.len() - 1] {
            let mut changed = raw.clone();
            changed[at] ^= 1;
            let query = format!("key=v2&script={}", URL_SAFE_NO_PAD.encode(changed));
            assert_eq!(
                scripts().open(Some(&query), SENT).err(),
                Some(ScriptRefused::Invalid),
                "byte {at}"
            );
        }
        let other_key = CallScripts::new(&Keyring::new("v2", [8u8; 32]), 600);
        let other_id = query.replace("key=v2", "key=v1");
        for (scripts, query) in [
            (&other_key, Some(query.as_str())),
            (&scripts(), Some(other_id.as_str())),
            (&scripts(), Some("key=v2")),
            (&scripts(), Some("key=v2&script=AAAA")),
            (&scripts(), Some("key=v2&script=not*base64")),
            (&scripts(), None),
        ] {
            assert_eq!(
                scripts.open(query, SENT).err(),
                Some(ScriptRefused::Invalid),
                "{query:?}"
            );
        }
    }

    #[test]
    fn a_script_sealed_before_a_rotation_still_opens() {
        let query = sealed();
        let rotated = CallScripts::new(
            &Keyring::new("v3", [9u8; 32]).with_previous_key("v2", [7u8; 32]),
            600,
        );
        assert!(rotated.open(Some(&query), SENT).is_ok());
        assert!(
            rotated
                .seal(
                    &VerificationId::from_stored(ID.into()),
                    SENT,
                    &speech("en-US", "WOMAN")
                )
                .starts_with("key=v3&")
        );
    }

    #[test]
    fn the_xml_speaks_the_digits_twice_escaped_then_hangs_up() {
        assert_eq!(
            answer_xml(&speech("fr-FR", "Polly.Lea")),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Speak voice="Polly.Lea" language="fr-FR">Your &lt;App&gt; code is</Speak><Wait length="1"/>"#,
                r#"<Speak voice="Polly.Lea" language="fr-FR">1, 2, 3, 4, 5, 6</Speak><Wait length="1"/>"#,
                r#"<Speak voice="Polly.Lea" language="fr-FR">Again: &quot;it&apos;s&quot; &amp; more</Speak><Wait length="1"/>"#,
                r#"<Speak voice="Polly.Lea" language="fr-FR">1, 2, 3, 4, 5, 6</Speak>"#,
                "<Hangup/></Response>"
            )
        );
    }

    #[test]
    fn each_language_gets_a_voice_plivo_has() {
        for (language, voice, expected) in [
            ("en-US", "Polly.Joanna", ("Polly.Joanna", "en-US", true)),
            ("arb", "Polly.Zeina", ("Polly.Zeina", "arb", true)),
            ("cs-CZ", "Google.cs-CZ-Standard-A", ("WOMAN", "cs-CZ", true)),
            ("el-GR", "Google.el-GR-Standard-A", ("WOMAN", "el-GR", true)),
            (
                "th-TH",
                "Google.th-TH-Standard-A",
                ("WOMAN", "en-US", false),
            ),
            (
                "he-IL",
                "Google.he-IL-Standard-A",
                ("WOMAN", "en-US", false),
            ),
        ] {
            assert_eq!(
                plivo_voice(&speech(language, voice)),
                expected,
                "{language}"
            );
        }
        // Only the digits, in English, where Plivo has no voice for the words.
        let thai = answer_xml(&speech("th-TH", "Google.th-TH-Standard-A"));
        assert_eq!(
            thai,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Speak voice="WOMAN" language="en-US">1, 2, 3, 4, 5, 6</Speak><Wait length="1"/>"#,
                r#"<Speak voice="WOMAN" language="en-US">1, 2, 3, 4, 5, 6</Speak>"#,
                "<Hangup/></Response>"
            )
        );
    }
}
