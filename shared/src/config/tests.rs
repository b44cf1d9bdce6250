//! The configuration's tests: documented defaults, refused values, and
//! what each function needs.

mod defaults_and_checks {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::adapters::twilio::TwilioSenderId;
    use crate::config::*;
    use crate::domain::Limits;
    use secrecy::ExposeSecret;

    fn minimal() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("VERIFICATIONS_TABLE", "verifications"),
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("TWILIO_FROM_NUMBER", "+15005550006"),
            ("CODE_HMAC_KEY", "0123456789abcdef0123456789abcdef"),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<SendConfig, ConfigError> {
        SendConfig::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn minimal_settings_get_the_documented_defaults() {
        let config = load(&minimal()).unwrap();
        assert_eq!(config.common.policy.code_length.digits(), 6);
        assert_eq!(config.common.policy.code_ttl_seconds, 600);
        assert_eq!(config.common.policy.max_attempts, 5);
        assert_eq!(config.twilio.api_base, "https://api.twilio.com");
        assert_eq!(
            config.twilio.credentials.username,
            "AC00000000000000000000000000000000"
        );
        assert_eq!(
            config.twilio.sender,
            TwilioSenderId::From("+15005550006".into())
        );
        assert_eq!(config.twilio.timeout, Duration::from_secs(5));
        assert_eq!(config.common.hasher.key_id(), "v1");
        assert_eq!(config.common.parse_application_id, None);
        assert_eq!(config.common.policy.limits, Limits::default());
        let destinations = &config.common.policy.destinations;
        assert_eq!(destinations.allowed_countries, None);
        assert!(destinations.denied_countries.is_empty());
        assert_eq!(
            destinations.own_numbers.iter().collect::<Vec<_>>(),
            ["+15005550006"],
            "our sender is never a recipient"
        );
        assert!(config.common.policy.test_numbers.is_empty());
    }

    #[test]
    fn limits_and_country_lists_are_read() {
        let mut vars = minimal();
        vars.insert("RESEND_COOLDOWN_SECONDS", "30");
        vars.insert("MAX_MESSAGES_PER_HOUR", "20");
        vars.insert("ALLOWED_COUNTRIES", "us, ca");
        vars.insert("DENIED_COUNTRIES", "FR");
        let config = load(&vars).unwrap();
        assert_eq!(config.common.policy.limits.resend_cooldown_seconds, 30);
        assert_eq!(config.common.policy.limits.messages_per_hour, 20);
        let destinations = config.common.policy.destinations;
        let allowed = destinations.allowed_countries.unwrap();
        assert_eq!(allowed.into_iter().collect::<Vec<_>>(), ["CA", "US"]);
        assert!(destinations.denied_countries.contains("FR"));
        vars.insert("ALLOWED_COUNTRIES", "US,001");
        vars.insert("DENIED_COUNTRIES", "001");
        let destinations = load(&vars).unwrap().common.policy.destinations;
        assert!(destinations.allowed_countries.unwrap().contains("001"));
        assert!(destinations.denied_countries.contains("001"));
        vars.insert("DENIED_COUNTRIES", "France");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "DENIED_COUNTRIES",
                ..
            })
        ));
    }

    #[test]
    fn previous_hmac_keys_are_read_for_rotation() {
        let mut vars = minimal();
        vars.insert("CODE_HMAC_KEY_ID", "v2");
        vars.insert(
            "CODE_HMAC_PREVIOUS_KEYS",
            "v1:0123456789abcdef0123456789abcdef",
        );
        assert_eq!(load(&vars).unwrap().common.hasher.key_id(), "v2");
        for bad in [
            "v1",
            "v1:short",
            "v2:0123456789abcdef0123456789abcdef",
            ":0123456789abcdef0123456789abcdef",
        ] {
            vars.insert("CODE_HMAC_PREVIOUS_KEYS", bad);
            assert!(
                matches!(
                    load(&vars),
                    Err(ConfigError::Invalid {
                        name: "CODE_HMAC_PREVIOUS_KEYS",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn test_numbers_need_the_explicit_switch() {
        let mut vars = minimal();
        vars.insert("TEST_PHONE_NUMBERS", "+14155550199=123456");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                ..
            })
        ));
        vars.insert("ENABLE_TEST_PHONE_NUMBERS", "true");
        let config = load(&vars).unwrap();
        assert_eq!(
            config.common.policy.test_numbers["+14155550199"].as_str(),
            "123456"
        );
        vars.insert("TEST_PHONE_NUMBERS", "+14155550199=12345");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                ..
            })
        ));
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for name in ["VERIFICATIONS_TABLE", "TWILIO_ACCOUNT_SID", "CODE_HMAC_KEY"] {
            let mut vars = minimal();
            vars.remove(name);
            assert_eq!(load(&vars).unwrap_err(), ConfigError::Missing(name));
            vars.insert(name, "  ");
            assert_eq!(
                load(&vars).unwrap_err(),
                ConfigError::Missing(name),
                "blank {name}"
            );
        }
        let mut vars = minimal();
        vars.remove("TWILIO_AUTH_TOKEN");
        assert!(
            load(&vars)
                .unwrap_err()
                .to_string()
                .contains("TWILIO_AUTH_TOKEN")
        );
        let mut vars = minimal();
        vars.remove("TWILIO_FROM_NUMBER");
        assert!(
            load(&vars)
                .unwrap_err()
                .to_string()
                .contains("TWILIO_MESSAGING_SERVICE_SID")
        );
    }

    #[test]
    fn api_keys_and_messaging_services_are_preferred_when_given() {
        let mut vars = minimal();
        vars.insert("TWILIO_API_KEY_SID", "SK123");
        vars.insert("TWILIO_API_KEY_SECRET", "secret");
        vars.insert("TWILIO_MESSAGING_SERVICE_SID", "MG123");
        let config = load(&vars).unwrap();
        assert_eq!(config.twilio.credentials.username, "SK123");
        assert_eq!(config.twilio.credentials.password.expose_secret(), "secret");
        assert_eq!(
            config.twilio.sender,
            TwilioSenderId::MessagingService("MG123".into())
        );
        vars.remove("TWILIO_API_KEY_SECRET");
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing("TWILIO_API_KEY_SECRET")
        );
    }

    #[test]
    fn out_of_range_numbers_and_short_keys_are_refused() {
        for (name, value) in [
            ("CODE_LENGTH", "3"),
            ("CODE_LENGTH", "11"),
            ("CODE_LENGTH", "six"),
            ("CODE_TTL_SECONDS", "0"),
            ("MAX_CHECK_ATTEMPTS", "0"),
            ("TWILIO_TIMEOUT_MS", "-5"),
            ("CODE_HMAC_KEY", "short"),
        ] {
            let mut vars = minimal();
            vars.insert(name, value);
            match load(&vars) {
                Err(ConfigError::Invalid { name: named, .. }) => assert_eq!(named, name),
                other => panic!("{name}={value} gave {other:?}"),
            }
        }
        let mut vars = minimal();
        vars.insert("CODE_LENGTH", "8");
        assert_eq!(load(&vars).unwrap().common.policy.code_length.digits(), 8);
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let config = load(&minimal()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(!debug.contains("\"token\""), "{debug}");
    }
}

mod per_function {
    use std::collections::HashMap;

    use crate::adapters::twilio::TwilioSenderId;
    use crate::config::settings::is_public_or_loopback_url;
    use crate::config::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name: &str| vars.get(name).cloned()
    }

    const VERIFY_ONLY: [(&str, &str); 3] = [
        ("VERIFICATIONS_TABLE", "verifications"),
        ("CODE_HMAC_KEY", "0123456789abcdef0123456789abcdef"),
        (
            "PROOF_SIGNING_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ];

    #[test]
    fn verify_needs_no_twilio_setting_and_send_needs_no_proof_key() {
        let verify = VerifyConfig::from_lookup(lookup(&VERIFY_ONLY)).unwrap();
        assert!(verify.proof.is_some());
        assert_eq!(
            SendConfig::from_lookup(lookup(&VERIFY_ONLY)).unwrap_err(),
            ConfigError::Missing("TWILIO_ACCOUNT_SID")
        );
    }

    #[test]
    fn tuning_values_come_from_settings_and_typos_are_refused() {
        let with = |settings: &str| {
            let mut vars = VERIFY_ONLY.to_vec();
            vars.push(("SETTINGS", settings));
            with_settings(lookup(&vars)).and_then(VerifyConfig::from_lookup)
        };
        let config =
            with("MAX_CHECK_ATTEMPTS=3  ALLOWED_COUNTRIES=US,CA\nCODE_TTL_SECONDS=120").unwrap();
        assert_eq!(config.common.policy.max_attempts, 3);
        assert_eq!(config.common.policy.code_ttl_seconds, 120);
        assert_eq!(
            config
                .common
                .policy
                .destinations
                .allowed_countries
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            with("MAX_CHECK_ATTEMPT=3").unwrap_err(),
            ConfigError::UnknownSetting("MAX_CHECK_ATTEMPT".into())
        );
        assert_eq!(
            with("CODE_HMAC_KEY=x").unwrap_err(),
            ConfigError::UnknownSetting("CODE_HMAC_KEY".into()),
            "secrets never go through SETTINGS"
        );
        assert!(matches!(
            with("MAX_CHECK_ATTEMPTS=3 MAX_CHECK_ATTEMPTS=4"),
            Err(ConfigError::Invalid {
                name: "SETTINGS",
                ..
            })
        ));
        assert!(matches!(
            with("MAX_CHECK_ATTEMPTS=99"),
            Err(ConfigError::Invalid {
                name: "MAX_CHECK_ATTEMPTS",
                ..
            })
        ));
    }

    #[test]
    fn one_sender_setting_takes_a_number_or_a_messaging_service() {
        let mut vars = VERIFY_ONLY.to_vec();
        vars.extend([
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("TWILIO_SENDER", "MG0123456789abcdef0123456789abcdef"),
        ]);
        let config = SendConfig::from_lookup(lookup(&vars)).unwrap();
        assert!(matches!(
            config.twilio.sender,
            TwilioSenderId::MessagingService(_)
        ));
        assert_eq!(config.twilio.voice_from, None);
        vars.pop();
        vars.push(("TWILIO_SENDER", "+15005550006"));
        let config = SendConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            config.twilio.sender,
            TwilioSenderId::From("+15005550006".into())
        );
        assert_eq!(config.twilio.voice_from.as_deref(), Some("+15005550006"));
    }

    #[test]
    fn plain_http_is_allowed_only_to_this_machine() {
        for (url, allowed) in [
            ("https://api.twilio.com", true),
            ("http://127.0.0.1:3010", true),
            ("http://localhost:3010", true),
            ("http://localhost.evil.example", false),
            ("http://api.twilio.com", false),
            ("ftp://127.0.0.1", false),
            ("https://", false),
        ] {
            assert_eq!(is_public_or_loopback_url(url), allowed, "{url}");
        }
    }
}
