//! The words of each message, in the user's language: SMS and WhatsApp
//! texts (with the autofill lines of iOS, WebOTP and Android), the script
//! of the voice call, and which approved WhatsApp template carries the code.
//! The templates live in `templates.json`.

mod segments;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use segments::fits_one_segment;

use crate::domain::{Channel, CodeLength, OneTimeCode, PhoneNumber};
use crate::ports::{Content, Speech};

const TEMPLATES: &str = include_str!("templates.json");
const FALLBACK_LANGUAGE: &str = "en";

#[derive(Debug, Clone, Deserialize)]
struct Templates {
    languages: BTreeMap<String, Language>,
}

#[derive(Debug, Clone, Deserialize)]
struct Language {
    countries: Vec<String>,
    say_language: String,
    say_voice: String,
    text: String,
    text_generic: String,
    voice_intro: String,
    voice_intro_generic: String,
    voice_repeat: String,
}

/// What the operator configures about messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSettings {
    /// Names the app in the text: "Your Acme verification code is...".
    pub app_name: Option<String>,
    /// Adds the `@example.com #123456` line that lets iOS and browsers
    /// (WebOTP) offer the code for that domain only.
    pub autofill_domain: Option<String>,
    /// The 11-character hash that lets Android's SMS Retriever read the code.
    pub android_app_hash: Option<String>,
    /// What a WhatsApp message is: free text, or an approved template.
    pub whatsapp: WhatsappContent,
}

/// How WhatsApp messages carry the code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WhatsappContent {
    /// Free-form text: WhatsApp delivers it only within a 24-hour
    /// customer-care session (the user wrote to us first) or in Twilio's
    /// sandbox.
    #[default]
    Session,
    /// Meta-approved authentication templates, by language: Twilio Content
    /// SIDs (`HX…`). The `en` one serves every language without its own.
    Templates(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an SMS in language \"{0}\" would not fit one segment: shorten AUTOFILL_DOMAIN or \
     ANDROID_APP_HASH, or lower CODE_LENGTH"
)]
pub struct MessageTooLong(pub String);

#[derive(Debug, Clone)]
pub struct Messages {
    languages: BTreeMap<String, Language>,
    settings: MessageSettings,
}

impl Messages {
    /// Loads the templates and checks that every language's SMS fits one
    /// segment with these settings at `code_length`, so no message is ever
    /// billed as two.
    pub fn new(settings: MessageSettings, code_length: CodeLength) -> Result<Self, MessageTooLong> {
        let templates: Templates =
            serde_json::from_str(TEMPLATES).expect("templates.json is valid (tested)");
        let messages = Self {
            languages: templates.languages,
            settings,
        };
        let widest_code = OneTimeCode::parse(&"8".repeat(code_length.digits()), code_length)
            .expect("a code of the configured length");
        for language in messages.languages.keys() {
            let Content::Text(text) = messages.render(Channel::Sms, language, &widest_code) else {
                unreachable!("SMS content is text")
            };
            if !fits_one_segment(&text) {
                return Err(MessageTooLong(language.clone()));
            }
        }
        Ok(messages)
    }

    /// Whether `key` is one of the message languages (`en`, `fr`, ...).
    pub fn has_language(&self, key: &str) -> bool {
        self.languages.contains_key(key)
    }

    /// The language for a message: the request's `locale` ("pt-BR" -> "pt")
    /// when we have it, else the number's country, else English.
    pub fn language_for<'a>(&'a self, locale: Option<&str>, phone: &PhoneNumber) -> &'a str {
        let from_locale = locale
            .map(|tag| {
                tag.split(['-', '_'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
            })
            .and_then(|primary| self.languages.get_key_value(primary.as_str()));
        let from_country = || {
            self.languages
                .iter()
                .find(|(_, language)| language.countries.iter().any(|c| c == phone.region_code()))
        };
        from_locale
            .or_else(from_country)
            .map_or(FALLBACK_LANGUAGE, |(key, _)| key.as_str())
    }

    /// The content that carries `code` on `channel` in `language` (a key
    /// returned by `language_for`).
    pub fn render(&self, channel: Channel, language: &str, code: &OneTimeCode) -> Content {
        let key = language;
        let language = self
            .languages
            .get(key)
            .or_else(|| self.languages.get(FALLBACK_LANGUAGE))
            .expect("the fallback language exists (tested)");
        match channel {
            Channel::Sms => Content::Text(self.sms(language, code)),
            Channel::Whatsapp => match &self.settings.whatsapp {
                WhatsappContent::Session => Content::Text(self.text(language, code)),
                WhatsappContent::Templates(sids) => Content::Template {
                    sid: sids
                        .get(key)
                        .or_else(|| sids.get(FALLBACK_LANGUAGE))
                        .cloned()
                        .unwrap_or_default(),
                    code: code.as_str().to_owned(),
                },
            },
            Channel::Call => Content::Speech(Speech {
                language: language.say_language.clone(),
                voice: language.say_voice.clone(),
                intro: match &self.settings.app_name {
                    Some(app) => language.voice_intro.replace("{app}", app),
                    None => language.voice_intro_generic.clone(),
                },
                // "1, 2, 3": the commas make the voice pause between digits.
                digits: code
                    .as_str()
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(", "),
                repeat: language.voice_repeat.clone(),
            }),
        }
    }

    /// The plain text, naming the app when there is one.
    fn text(&self, language: &Language, code: &OneTimeCode) -> String {
        let template = match &self.settings.app_name {
            Some(app) => language.text.replace("{app}", app),
            None => language.text_generic.clone(),
        };
        template.replace("{code}", code.as_str())
    }

    /// The text plus the autofill lines; the app name is dropped when it
    /// would push the SMS into a second segment.
    fn sms(&self, language: &Language, code: &OneTimeCode) -> String {
        let autofill = self.autofill_lines(code);
        let full = format!("{}{autofill}", self.text(language, code));
        if fits_one_segment(&full) {
            full
        } else {
            format!(
                "{}{autofill}",
                language.text_generic.replace("{code}", code.as_str())
            )
        }
    }

    /// Android's app hash on its own line, then WebOTP's `@domain #code`,
    /// which must be the last line.
    fn autofill_lines(&self, code: &OneTimeCode) -> String {
        let mut lines = String::new();
        if let Some(hash) = &self.settings.android_app_hash {
            lines.push('\n');
            lines.push_str(hash);
        }
        if let Some(domain) = &self.settings.autofill_domain {
            lines.push_str(&format!("\n\n@{domain} #{}", code.as_str()));
        }
        lines
    }
}

#[cfg(test)]
mod tests;
