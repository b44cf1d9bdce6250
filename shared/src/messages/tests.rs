use super::*;

fn code(digits: &str) -> OneTimeCode {
    OneTimeCode::parse(digits, CodeLength::new(digits.len() as u8).unwrap()).unwrap()
}

fn phone(number: &str) -> PhoneNumber {
    PhoneNumber::parse(number, None).unwrap()
}

/// The longest settings the README documents: 20-character app name,
/// 25-character domain, an Android hash.
fn widest_settings() -> MessageSettings {
    MessageSettings {
        app_name: Some("Twenty Char App Name".into()),
        autofill_domain: Some("verify.example-domain.com".into()),
        android_app_hash: Some("FA+9qCX9VSu".into()),
        whatsapp: WhatsappContent::Session,
    }
}

fn sms(messages: &Messages, language: &str, code: &OneTimeCode) -> String {
    match messages.render(Channel::Sms, language, code) {
        Content::Text(text) => text,
        _ => panic!("SMS is text"),
    }
}

#[test]
fn there_are_at_least_30_languages_with_every_field() {
    let messages = Messages::new(MessageSettings::default(), CodeLength::default()).unwrap();
    assert!(
        messages.languages.len() >= 30,
        "{:?}",
        messages.languages.keys()
    );
    for (key, language) in &messages.languages {
        assert!(
            language.text.contains("{app}") && language.text.contains("{code}"),
            "{key}"
        );
        assert!(language.text_generic.contains("{code}"), "{key}");
        assert!(language.voice_intro.contains("{app}"), "{key}");
        // A Google voice is named after its language, and Twilio refuses a
        // <Say> whose voice and language disagree.
        let google = format!("Google.{}-", language.say_language);
        assert!(
            !language.say_language.is_empty()
                && (language.say_voice.starts_with("Polly.")
                    || language.say_voice.starts_with(&google)),
            "{key}"
        );
    }
}

#[test]
fn every_language_renders_the_code_in_one_segment_with_every_autofill_line() {
    let messages = Messages::new(widest_settings(), CodeLength::default()).unwrap();
    let code = code("123456");
    for language in messages.languages.keys() {
        let text = sms(&messages, language, &code);
        assert!(fits_one_segment(&text), "{language}: {text:?}");
        assert!(text.contains("FA+9qCX9VSu"), "{language}");
        let last_line = text.lines().last().unwrap();
        assert_eq!(
            last_line, "@verify.example-domain.com #123456",
            "{language}"
        );
        assert_eq!(
            text.matches("123456").count(),
            2,
            "{language}: in the text and the line"
        );
    }
}

#[test]
fn no_language_needs_more_room_than_the_first_twelve() {
    // With the longest settings the first 12 languages fit codes of up to 7
    // digits (Russian's is the tightest). A language added later must too, or
    // a deployment that starts today would refuse to start after an upgrade.
    assert!(Messages::new(widest_settings(), CodeLength::new(7).unwrap()).is_ok());
}

#[test]
fn latin_languages_stay_in_the_gsm_alphabet() {
    // A single á or ç would cut the segment from 160 to 70 characters.
    // Both texts: without an app name and with one.
    let with_app = MessageSettings {
        app_name: Some("Acme".into()),
        ..MessageSettings::default()
    };
    for settings in [MessageSettings::default(), with_app] {
        let messages = Messages::new(settings, CodeLength::default()).unwrap();
        for language in [
            "en", "es", "fr", "de", "pt", "it", "nl", "pl", "tr", "id", "sv", "da", "nb", "fi",
            "ro", "ms", "ca",
        ] {
            let text = sms(&messages, language, &code("123456"));
            let padded = format!("{text}{}", "a".repeat(160 - text.chars().count()));
            assert!(
                fits_one_segment(&padded),
                "{language} leaves GSM-7: {text:?}"
            );
        }
    }
}

#[test]
fn the_app_name_is_dropped_only_when_it_would_not_fit() {
    let messages = Messages::new(widest_settings(), CodeLength::default()).unwrap();
    assert!(sms(&messages, "en", &code("123456")).contains("Twenty Char App Name"));
    let plain = Messages::new(MessageSettings::default(), CodeLength::default()).unwrap();
    assert_eq!(
        sms(&plain, "en", &code("123456")),
        "Your verification code is 123456."
    );
}

#[test]
fn settings_that_cannot_fit_are_refused_at_start() {
    let settings = MessageSettings {
        autofill_domain: Some("a-very-long-subdomain.of-an-even-longer-domain.example.com".into()),
        ..widest_settings()
    };
    let error = Messages::new(settings, CodeLength::new(10).unwrap()).unwrap_err();
    assert!(error.to_string().contains("AUTOFILL_DOMAIN"));
}

#[test]
fn language_comes_from_locale_then_country_then_english() {
    let messages = Messages::new(MessageSettings::default(), CodeLength::default()).unwrap();
    let us = phone("+14155550123");
    let france = phone("+33612345678");
    assert_eq!(messages.language_for(Some("pt-BR"), &us), "pt");
    assert_eq!(messages.language_for(Some("DE"), &us), "de");
    assert_eq!(messages.language_for(None, &france), "fr");
    assert_eq!(
        messages.language_for(Some("tlh"), &france),
        "fr",
        "unknown locale: country"
    );
    assert_eq!(messages.language_for(None, &phone("+46701234567")), "sv");
    assert_eq!(messages.language_for(Some("nb-NO"), &us), "nb");
    assert_eq!(
        messages.language_for(None, &phone("+37251234567")),
        "en",
        "Estonia: fallback"
    );
}

#[test]
fn the_call_script_spells_the_digits_in_the_voice_of_the_language() {
    let messages = Messages::new(
        MessageSettings {
            app_name: Some("Acme".into()),
            ..MessageSettings::default()
        },
        CodeLength::default(),
    )
    .unwrap();
    let Content::Speech(speech) = messages.render(Channel::Call, "fr", &code("012345")) else {
        panic!("a call is speech")
    };
    assert_eq!(speech.digits, "0, 1, 2, 3, 4, 5");
    assert_eq!(speech.language, "fr-FR");
    assert_eq!(speech.voice, "Polly.Lea");
    assert!(speech.intro.contains("Acme"));
}

#[test]
fn whatsapp_gets_the_text_without_sms_autofill_lines() {
    let messages = Messages::new(widest_settings(), CodeLength::default()).unwrap();
    let Content::Text(text) = messages.render(Channel::Whatsapp, "en", &code("123456")) else {
        panic!("WhatsApp is text")
    };
    assert_eq!(
        text,
        "Your Twenty Char App Name verification code is 123456."
    );
}

const EN_SID: &str = "HX0123456789abcdef0123456789abcdef";
const FR_SID: &str = "HXfedcba9876543210fedcba9876543210";

fn with_templates() -> Messages {
    let settings = MessageSettings {
        whatsapp: WhatsappContent::Templates(BTreeMap::from([
            ("en".to_owned(), EN_SID.to_owned()),
            ("fr".to_owned(), FR_SID.to_owned()),
        ])),
        ..widest_settings()
    };
    Messages::new(settings, CodeLength::default()).unwrap()
}

#[test]
fn whatsapp_templates_carry_the_code_in_the_template_of_the_language() {
    let messages = with_templates();
    let template = |language| match messages.render(Channel::Whatsapp, language, &code("123456")) {
        Content::Template { sid, code } => (sid, code),
        _ => panic!("{language}: expected a template"),
    };
    assert_eq!(template("fr"), (FR_SID.to_owned(), "123456".to_owned()));
    assert_eq!(
        template("de"),
        (EN_SID.to_owned(), "123456".to_owned()),
        "a language without its own template gets the English one"
    );
    assert_eq!(template("en"), (EN_SID.to_owned(), "123456".to_owned()));
    // SMS is unchanged by WhatsApp's templates.
    assert!(sms(&messages, "fr", &code("123456")).starts_with("Votre code"));
}
