//! The configuration's tests: documented defaults, refused values, and
//! what each function needs.

mod defaults_and_checks {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::adapters::clock::ManualClock;
    use crate::adapters::twilio::TwilioSenderId;
    use crate::config::*;
    use crate::domain::{
        Channel, CodeLength, FraudMode, FraudPolicy, Limits, OneTimeCode, Provider, Timestamp,
    };
    use crate::ports::{Clock, Content};
    use secrecy::ExposeSecret;

    fn minimal() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("VERIFICATIONS_TABLE", "verifications"),
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_AUTH_TOKEN", "token"),
            ("TWILIO_FROM_NUMBER", "+15005550006"),
            ("CODE_HMAC_KEY", "0123456789abcdef0123456789abcdef"),
            ("IDENTITY_HMAC_KEY", "identity key 0123456789abcdef0123"),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<SendConfig, ConfigError> {
        SendConfig::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
    }

    const OWN_SID: &str = "VA0123456789abcdef0123456789abcdef";
    const SHOP_SID: &str = "VAfedcba9876543210fedcba9876543210";

    fn with_verify_api(services: &'static str) -> HashMap<&'static str, &'static str> {
        let mut vars = minimal();
        vars.insert("VERIFY_SERVICE_SID", OWN_SID);
        vars.insert("VERIFY_API_KEYS", "SKkey:a secret of 16+ characters");
        vars.insert("ENABLED_CHANNELS", "sms,call");
        vars.insert("APP_NAME", "Acme");
        vars.insert("VERIFY_SERVICES", services);
        vars
    }

    #[test]
    fn the_verify_api_is_off_unless_its_service_and_keys_are_both_set() {
        assert!(load(&minimal()).unwrap().common.verify_api.is_none());
        let api = load(&with_verify_api(""))
            .unwrap()
            .common
            .verify_api
            .unwrap();
        assert_eq!((api.sid.as_str(), api.others.len()), (OWN_SID, 0));
        for missing in ["VERIFY_SERVICE_SID", "VERIFY_API_KEYS"] {
            let mut vars = with_verify_api("");
            vars.remove(missing);
            assert_eq!(load(&vars).unwrap_err(), ConfigError::Missing(missing));
        }
        let mut vars = minimal();
        vars.insert("VERIFY_SERVICES", SHOP_SID);
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing("VERIFY_SERVICE_SID")
        );
        let mut vars = with_verify_api("");
        vars.insert("VERIFY_SERVICE_SID", "VA123");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "VERIFY_SERVICE_SID",
                ..
            })
        ));
    }

    #[test]
    fn other_verify_services_get_their_own_rules_and_the_stacks_by_default() {
        let services = "VAfedcba9876543210fedcba9876543210|Shop|8|sms ; \
                        VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let config = load(&with_verify_api(services)).unwrap();
        let others = &config.common.verify_api.as_ref().unwrap().others;
        let rules: Vec<_> = others
            .iter()
            .map(|other| {
                let channels: Vec<_> = other.rules.channels.iter().copied().collect();
                (
                    other.app_name.as_deref(),
                    other.rules.code_length.digits(),
                    channels,
                )
            })
            .collect();
        assert_eq!(
            rules,
            [
                (Some("Shop"), 8, vec![Channel::Sms]),
                (None, 6, vec![Channel::Sms, Channel::Call]),
            ]
        );
        let shop = &config.service_messages[SHOP_SID];
        let code = OneTimeCode::parse("12345678", CodeLength::new(8).unwrap()).unwrap();
        let Content::Text(text) = shop.render(Channel::Sms, "en", &code) else {
            panic!("an SMS is text")
        };
        assert!(
            text.starts_with("Your Shop verification code is 12345678"),
            "{text}"
        );
        let acme = &config.service_messages["VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"];
        let code = OneTimeCode::parse("123456", CodeLength::default()).unwrap();
        let Content::Text(text) = acme.render(Channel::Sms, "en", &code) else {
            panic!("an SMS is text")
        };
        assert!(text.starts_with("Your Acme verification code"), "{text}");
    }

    #[test]
    fn bad_verify_services_are_refused_with_the_reason() {
        for (services, problem) in [
            ("VA123|Shop", "SID: VA followed by 32 hex"),
            (OWN_SID, "twice"),
            (
                "VAfedcba9876543210fedcba9876543210;VAfedcba9876543210fedcba9876543210",
                "twice",
            ),
            (
                "VAfedcba9876543210fedcba9876543210|An app name far too long",
                "20 characters",
            ),
            ("VAfedcba9876543210fedcba9876543210||3", "from 4 to 10"),
            (
                "VAfedcba9876543210fedcba9876543210|||whatsapp",
                "ENABLED_CHANNELS does not",
            ),
            (
                "VAfedcba9876543210fedcba9876543210|||fax",
                "sms, call, whatsapp",
            ),
            (
                "VAfedcba9876543210fedcba9876543210|Shop|6|sms|more",
                "more than",
            ),
        ] {
            match load(&with_verify_api(services)) {
                Err(ConfigError::Invalid {
                    name: "VERIFY_SERVICES",
                    problem: said,
                }) => assert!(said.contains(problem), "{services}: {said}"),
                other => panic!("{services}: {other:?}"),
            }
        }
    }

    #[test]
    fn api_keys_may_name_only_configured_services() {
        let mut vars = with_verify_api(SHOP_SID);
        vars.insert(
            "VERIFY_API_KEYS",
            "SKkey:a secret of 16+ characters:VAfedcba9876543210fedcba9876543210|approve",
        );
        assert!(load(&vars).is_ok());
        vars.insert(
            "VERIFY_API_KEYS",
            "SKkey:a secret of 16+ characters:VA00000000000000000000000000000009",
        );
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "VERIFY_API_KEYS",
                ..
            })
        ));
    }

    #[test]
    fn minimal_settings_get_the_documented_defaults() {
        let config = load(&minimal()).unwrap();
        assert_eq!(config.common.policy.code_length.digits(), 6);
        assert_eq!(config.common.policy.code_ttl_seconds, 600);
        assert_eq!(config.common.policy.max_attempts, 5);
        assert_eq!(
            config.twilio.as_ref().unwrap().api_base,
            "https://api.twilio.com"
        );
        assert_eq!(
            config.twilio.as_ref().unwrap().credentials.username,
            "AC00000000000000000000000000000000"
        );
        assert_eq!(
            config.twilio.as_ref().unwrap().sender,
            TwilioSenderId::From("+15005550006".into())
        );
        assert_eq!(
            config.twilio.as_ref().unwrap().timeout,
            Duration::from_secs(5)
        );
        assert_eq!(config.common.keys.codes.key_id(), "v1");
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
        assert_eq!(load(&vars).unwrap().common.keys.codes.key_id(), "v2");
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
        vars.insert("TEST_PHONE_NUMBERS_VALID_UNTIL", "2027-01-31");
        assert!(matches!(
            load_at(&vars, JANUARY_2027),
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                ..
            })
        ));
        vars.insert("ENABLE_TEST_PHONE_NUMBERS", "true");
        let config = load_at(&vars, JANUARY_2027).unwrap();
        assert_eq!(
            config.common.policy.test_numbers["+14155550199"].as_str(),
            "123456"
        );
        vars.insert("TEST_PHONE_NUMBERS", "+14155550199=12345");
        assert!(matches!(
            load_at(&vars, JANUARY_2027),
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS",
                ..
            })
        ));
    }

    /// 2027-01-01T00:00:00Z.
    const JANUARY_2027: i64 = 1_798_761_600;

    fn load_at(
        vars: &HashMap<&'static str, &'static str>,
        now: i64,
    ) -> Result<SendConfig, ConfigError> {
        SendConfig::from_lookup_at(
            |name| vars.get(name).map(|v| v.to_string()),
            Timestamp::from_unix_seconds(now),
        )
    }

    fn with_test_numbers(valid_until: &'static str) -> HashMap<&'static str, &'static str> {
        let mut vars = minimal();
        vars.insert("ENABLE_TEST_PHONE_NUMBERS", "true");
        vars.insert("TEST_PHONE_NUMBERS", "+14155550199=123456");
        vars.insert("TEST_PHONE_NUMBERS_VALID_UNTIL", valid_until);
        vars
    }

    fn refused_because(result: Result<SendConfig, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Invalid {
                name: "TEST_PHONE_NUMBERS_VALID_UNTIL",
                problem,
            }) => problem,
            other => panic!("expected TEST_PHONE_NUMBERS_VALID_UNTIL refused, got {other:?}"),
        }
    }

    #[test]
    fn test_numbers_need_a_validity_date() {
        let mut vars = with_test_numbers("2027-01-31");
        vars.remove("TEST_PHONE_NUMBERS_VALID_UNTIL");
        assert_eq!(
            load_at(&vars, JANUARY_2027).unwrap_err(),
            ConfigError::Missing("TEST_PHONE_NUMBERS_VALID_UNTIL")
        );
        // Without test numbers, none is needed.
        assert!(load_at(&minimal(), JANUARY_2027).is_ok());
        for bad in [
            "31/01/2027",
            "2027-1-31",
            "2027-02-30",
            "2027-01-31T12:00:00",
            "soon",
        ] {
            let problem = refused_because(load_at(&with_test_numbers(bad), JANUARY_2027));
            assert!(problem.contains("RFC 3339"), "{bad}: {problem}");
        }
    }

    #[test]
    fn a_date_is_valid_through_its_end_and_a_time_until_that_instant() {
        let policy = |valid_until| {
            load_at(&with_test_numbers(valid_until), JANUARY_2027)
                .unwrap()
                .common
                .policy
        };
        assert_eq!(
            policy("2027-01-31").test_numbers_valid_until,
            Some(Timestamp::from_unix_seconds(JANUARY_2027 + 31 * 86_400))
        );
        assert_eq!(
            policy("2027-01-31T18:00:00+02:00").test_numbers_valid_until,
            Some(Timestamp::from_unix_seconds(
                JANUARY_2027 + 30 * 86_400 + 16 * 3_600
            ))
        );
        assert_eq!(
            policy("2027-01-01").test_numbers_valid_until,
            Some(Timestamp::from_unix_seconds(JANUARY_2027 + 86_400)),
            "today is still valid"
        );
    }

    /// After the date, the function refuses to start: as with a cold start
    /// on a later day (a clock moved by hand).
    #[test]
    fn expired_test_numbers_stop_the_function_at_start() {
        let clock = ManualClock::starting_at(Timestamp::from_unix_seconds(JANUARY_2027));
        let vars = with_test_numbers("2027-01-31T00:00:00Z");
        assert!(load_at(&vars, clock.now().unix_seconds()).is_ok());
        clock.advance(30 * 86_400 - 1);
        assert!(load_at(&vars, clock.now().unix_seconds()).is_ok());
        clock.advance(1);
        let problem = refused_because(load_at(&vars, clock.now().unix_seconds()));
        assert!(problem.contains("expired"), "{problem}");
        let problem = refused_because(load_at(&with_test_numbers("2026-12-31"), JANUARY_2027));
        assert!(problem.contains("expired"), "{problem}");
    }

    #[test]
    fn test_numbers_are_for_a_review_window_of_90_days_at_most() {
        // 2027-04-01 is 90 days after 2027-01-01.
        assert!(load_at(&with_test_numbers("2027-04-01"), JANUARY_2027).is_ok());
        assert!(load_at(&with_test_numbers("2027-04-01T00:00:00Z"), JANUARY_2027).is_ok());
        for too_far in ["2027-04-02", "2027-04-01T00:00:01Z", "2099-12-31"] {
            let problem = refused_because(load_at(&with_test_numbers(too_far), JANUARY_2027));
            assert!(problem.contains("90 days"), "{too_far}: {problem}");
        }
    }

    const EN_SID: &str = "HX0123456789abcdef0123456789abcdef";

    fn with_whatsapp() -> HashMap<&'static str, &'static str> {
        let mut vars = minimal();
        vars.insert("ENABLED_CHANNELS", "sms,whatsapp");
        vars.insert("TWILIO_WHATSAPP_FROM", "+14155238886");
        vars
    }

    fn whatsapp_refused(vars: &HashMap<&'static str, &'static str>) -> &'static str {
        match load(vars) {
            Err(ConfigError::Invalid {
                name: "TWILIO_WHATSAPP_CONTENT_SIDS",
                problem,
            }) => problem,
            other => panic!("expected TWILIO_WHATSAPP_CONTENT_SIDS refused, got {other:?}"),
        }
    }

    #[test]
    fn whatsapp_needs_its_templates_unless_in_session_mode() {
        let vars = with_whatsapp();
        let error = load(&vars).unwrap_err();
        assert_eq!(
            error,
            ConfigError::MissingOneOf(
                "TWILIO_WHATSAPP_CONTENT_SIDS",
                "WHATSAPP_MODE=session (Twilio's sandbox and 24-hour sessions only)"
            )
        );
        assert!(error.to_string().contains("TWILIO_WHATSAPP_CONTENT_SIDS"));
        let mut session = with_whatsapp();
        session.insert("WHATSAPP_MODE", "session");
        assert!(load(&session).is_ok());
        session.insert("WHATSAPP_MODE", "template");
        assert!(load(&session).is_err(), "template mode, named");
        session.insert("WHATSAPP_MODE", "free-text");
        assert!(matches!(
            load(&session),
            Err(ConfigError::Invalid {
                name: "WHATSAPP_MODE",
                ..
            })
        ));
        // Without the channel, nothing is needed.
        assert!(load(&minimal()).is_ok());
    }

    #[test]
    fn whatsapp_templates_are_read_by_language() {
        let mut vars = with_whatsapp();
        vars.insert(
            "TWILIO_WHATSAPP_CONTENT_SIDS",
            " en=HX0123456789abcdef0123456789abcdef , FR=HXFEDCBA9876543210fedcba9876543210",
        );
        let config = load(&vars).unwrap();
        let code = OneTimeCode::parse("123456", CodeLength::default()).unwrap();
        let sid = |language| match config.messages.render(Channel::Whatsapp, language, &code) {
            Content::Template { sid, .. } => sid,
            _ => panic!("{language}: expected a template"),
        };
        assert_eq!(sid("fr"), "HXFEDCBA9876543210fedcba9876543210");
        assert_eq!(sid("ja"), EN_SID, "no template of its own: English");
    }

    #[test]
    fn bad_content_sids_and_unknown_languages_are_refused() {
        for (sids, problem) in [
            ("en=HX0123", "32 hex digits"),
            ("en=MG0123456789abcdef0123456789abcdef", "32 hex digits"),
            ("en=HX0123456789abcdef0123456789abcdeg", "32 hex digits"),
            ("HX0123456789abcdef0123456789abcdef", "pairs"),
            ("=HX0123456789abcdef0123456789abcdef", "pairs"),
            ("fr=HX0123456789abcdef0123456789abcdef", "must include en"),
            (
                "en=HX0123456789abcdef0123456789abcdef,tlh=HX0123456789abcdef0123456789abcdef",
                "no messages",
            ),
            (
                "en=HX0123456789abcdef0123456789abcdef,en=HX0123456789abcdef0123456789abcdef",
                "twice",
            ),
        ] {
            let mut vars = with_whatsapp();
            vars.insert("TWILIO_WHATSAPP_CONTENT_SIDS", sids);
            let refused = whatsapp_refused(&vars);
            assert!(refused.contains(problem), "{sids}: {refused}");
            // Checked in session mode too: a bad value is a bad value.
            vars.insert("WHATSAPP_MODE", "session");
            if problem != "no messages" {
                assert!(load(&vars).is_err(), "{sids} in session mode");
            }
        }
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        let twilio_or_routes = ConfigError::MissingOneOf(
            "TWILIO_ACCOUNT_SID",
            "DELIVERY_ROUTES naming another provider",
        );
        for (name, missing) in [
            (
                "VERIFICATIONS_TABLE",
                ConfigError::Missing("VERIFICATIONS_TABLE"),
            ),
            ("TWILIO_ACCOUNT_SID", twilio_or_routes),
            ("CODE_HMAC_KEY", ConfigError::Missing("CODE_HMAC_KEY")),
        ] {
            let mut vars = minimal();
            vars.remove(name);
            assert_eq!(load(&vars).unwrap_err(), missing);
            vars.insert(name, "  ");
            assert_eq!(load(&vars).unwrap_err(), missing, "blank {name}");
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
        assert_eq!(
            config.twilio.as_ref().unwrap().credentials.username,
            "SK123"
        );
        assert_eq!(
            config
                .twilio
                .as_ref()
                .unwrap()
                .credentials
                .password
                .expose_secret(),
            "secret"
        );
        assert_eq!(
            config.twilio.as_ref().unwrap().sender,
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

    #[test]
    fn a_human_proof_verifier_needs_its_url_and_secret() {
        assert!(load(&minimal()).unwrap().human_proof.is_none());
        let mut vars = minimal();
        vars.insert(
            "HUMAN_PROOF_VERIFY_URL",
            "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        );
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing("HUMAN_PROOF_SECRET")
        );
        vars.insert("HUMAN_PROOF_SECRET", "0x4AAAAAAA-secret");
        let verifier = load(&vars).unwrap().human_proof.unwrap();
        assert_eq!(verifier.secret.expose_secret(), "0x4AAAAAAA-secret");
        vars.insert(
            "HUMAN_PROOF_VERIFY_URL",
            "http://verifier.example/siteverify",
        );
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "HUMAN_PROOF_VERIFY_URL",
                ..
            })
        ));
    }

    #[test]
    fn fraud_protection_is_on_by_default_and_its_thresholds_are_read() {
        let config = load(&minimal()).unwrap();
        assert_eq!(config.common.policy.fraud, FraudPolicy::default());
        let mut vars = minimal();
        vars.insert("FRAUD_PROTECTION", "off");
        vars.insert("FRAUD_MIN_SENDS_PER_PREFIX", "50");
        vars.insert("FRAUD_RESTRICTED_COUNTRY_BUDGET_PERCENT", "0");
        let fraud = load(&vars).unwrap().common.policy.fraud;
        assert_eq!(fraud.mode, FraudMode::Off);
        assert_eq!(fraud.prefix_min_sends, 50);
        assert_eq!(fraud.restricted_country_budget_percent, 0);
        let mut vars = minimal();
        vars.insert("FRAUD_PROTECTION", "audit");
        vars.insert("FRAUD_MAX_RESTRICTION_SECONDS", "7200");
        vars.insert("FRAUD_VERIFIED_MEMORY_DAYS", "30");
        let fraud = load(&vars).unwrap().common.policy.fraud;
        assert_eq!(fraud.mode, FraudMode::Audit);
        assert_eq!(fraud.max_restriction_seconds, 7_200);
        assert_eq!(fraud.verified_memory_seconds, 30 * 86_400);
        for (name, bad) in [
            ("FRAUD_PROTECTION", "maybe"),
            ("FRAUD_PREFIX_DIGITS", "3"),
            ("FRAUD_CONVERSION_RATIO_PERCENT", "101"),
            ("FRAUD_MAX_RESTRICTION_SECONDS", "100000"),
            ("FRAUD_VERIFIED_MEMORY_DAYS", "1000"),
        ] {
            let mut vars = minimal();
            vars.insert(name, bad);
            assert!(
                matches!(load(&vars), Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}={bad}"
            );
        }
    }

    /// The minimal settings with a Plivo route's public `url` (`setting`):
    /// refused without Plivo, then with Plivo configured.
    fn plivo_with_url(
        setting: &'static str,
        url: &'static str,
    ) -> HashMap<&'static str, &'static str> {
        let mut vars = minimal();
        vars.insert(setting, url);
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::Missing("PLIVO_AUTH_ID"),
            "{setting} without Plivo"
        );
        vars.insert("PLIVO_AUTH_ID", "MAZDQ1ZJIYMDZKMMZKYM");
        vars.insert("PLIVO_AUTH_TOKEN", "plivo token");
        vars.insert("PLIVO_SENDER", "+14155550100");
        vars
    }

    #[test]
    fn plivo_reports_are_on_with_plivo_and_their_url_may_be_set() {
        assert!(load(&minimal()).unwrap().plivo_reports.is_none());
        let mut vars = plivo_with_url(
            "PLIVO_STATUS_CALLBACK_URL",
            "https://verify.example.com/plivo/status",
        );
        let reports = load(&vars).unwrap().plivo_reports.expect("on with Plivo");
        assert_eq!(
            reports.callback_url.as_deref(),
            Some("https://verify.example.com/plivo/status")
        );
        vars.insert(
            "PLIVO_STATUS_CALLBACK_URL",
            "https://verify.example.com/plivo/status?x=1",
        );
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "PLIVO_STATUS_CALLBACK_URL",
                ..
            })
        ));
    }

    /// A stack without any Twilio setting: every message through AWS.
    fn aws_only() -> HashMap<&'static str, &'static str> {
        let mut vars = minimal();
        for twilio in [
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_FROM_NUMBER",
        ] {
            vars.remove(twilio);
        }
        vars.insert("AWS_SMS_ORIGINATION_IDENTITY", "+14155550111");
        vars.insert("DELIVERY_ROUTES", "*=aws");
        vars
    }

    #[test]
    fn a_stack_may_send_only_through_aws_without_any_twilio_setting() {
        let config = load(&aws_only()).unwrap();
        assert!(config.twilio.is_none());
        assert!(config.delivery_reports.is_none());
        assert_eq!(config.routes.providers(), [Provider::Aws].into());
        // AWS's own number is refused as a destination, as Twilio's are.
        let own = &config.common.policy.destinations.own_numbers;
        assert!(own.contains("+14155550111"), "{own:?}");
    }

    #[test]
    fn without_twilio_every_route_and_channel_must_do_without_it() {
        let mut vars = aws_only();
        vars.remove("DELIVERY_ROUTES");
        assert_eq!(
            load(&vars).unwrap_err(),
            ConfigError::MissingOneOf(
                "TWILIO_ACCOUNT_SID",
                "DELIVERY_ROUTES naming another provider"
            )
        );
        vars.insert("DELIVERY_ROUTES", "US=twilio;*=aws");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "DELIVERY_ROUTES",
                ..
            })
        ));
        let mut vars = aws_only();
        vars.insert("ENABLED_CHANNELS", "sms,whatsapp");
        vars.insert("WHATSAPP_MODE", "session");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "ENABLED_CHANNELS",
                ..
            })
        ));
        // Twilio's auth token alone, a stored secret, turns nothing on.
        let mut vars = aws_only();
        vars.insert("TWILIO_AUTH_TOKEN", "token");
        let config = load(&vars).unwrap();
        assert!(config.twilio.is_none() && config.delivery_reports.is_none());
    }

    #[test]
    fn plivo_calls_have_a_caller_id_and_an_answer_url_that_may_be_set() {
        assert!(load(&minimal()).unwrap().plivo_answers.is_none());
        let mut vars = plivo_with_url(
            "PLIVO_ANSWER_URL",
            "https://verify.example.com/plivo/answer",
        );
        let config = load(&vars).unwrap();
        let answers = config.plivo_answers.expect("on with Plivo");
        assert_eq!(
            answers.answer_url.as_deref(),
            Some("https://verify.example.com/plivo/answer")
        );
        // The sender is a number: it is the caller id, without its `+`.
        let plivo = config.plivo.expect("Plivo");
        assert_eq!(plivo.voice_from.as_deref(), Some("14155550100"));
        // An alphanumeric sender cannot call: PLIVO_VOICE_FROM can.
        vars.insert("PLIVO_SENDER", "MyApp");
        assert_eq!(load(&vars).unwrap().plivo.unwrap().voice_from, None);
        vars.insert("PLIVO_VOICE_FROM", "+14155550111");
        assert_eq!(
            load(&vars).unwrap().plivo.unwrap().voice_from.as_deref(),
            Some("14155550111")
        );
        vars.insert(
            "PLIVO_ANSWER_URL",
            "https://verify.example.com/plivo/answer?x=1",
        );
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "PLIVO_ANSWER_URL",
                ..
            })
        ));
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

    const VERIFY_ONLY: [(&str, &str); 4] = [
        ("VERIFICATIONS_TABLE", "verifications"),
        ("CODE_HMAC_KEY", "0123456789abcdef0123456789abcdef"),
        ("IDENTITY_HMAC_KEY", "identity key 0123456789abcdef0123"),
        (
            "PROOF_SIGNING_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ];

    #[test]
    fn a_previous_proof_key_is_published_until_its_tokens_expire() {
        let with = |previous: &str| {
            let mut vars = VERIFY_ONLY.to_vec();
            vars.push(("PROOF_PREVIOUS_KEY", previous));
            VerifyConfig::from_lookup(lookup(&vars))
        };
        let old = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
        let signer = with(&format!("proof-0,{old},2026-12-05T16:00:00Z"))
            .unwrap()
            .proof
            .unwrap();
        let rotated = crate::domain::Timestamp::from_unix_seconds(1_796_486_400);
        let kids =
            |now: crate::domain::Timestamp| signer.jwks(now)["keys"].as_array().unwrap().len();
        assert_eq!((kids(rotated), kids(rotated.plus_seconds(300))), (2, 1));
        for refused in [
            format!("proof-1,{old},2026-12-05T16:00:00Z"),
            format!("proof-0,{old}"),
            "proof-0,short,2026-12-05T16:00:00Z".to_string(),
            format!("proof-0,{old},yesterday"),
        ] {
            assert!(
                matches!(
                    with(&refused),
                    Err(ConfigError::Invalid {
                        name: "PROOF_PREVIOUS_KEY",
                        ..
                    })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn verify_needs_no_twilio_setting_and_send_needs_no_proof_key() {
        let verify = VerifyConfig::from_lookup(lookup(&VERIFY_ONLY)).unwrap();
        assert!(verify.proof.is_some());
        assert_eq!(
            SendConfig::from_lookup(lookup(&VERIFY_ONLY)).unwrap_err(),
            ConfigError::MissingOneOf(
                "TWILIO_ACCOUNT_SID",
                "DELIVERY_ROUTES naming another provider"
            )
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
        assert_eq!(
            with("TEST_PHONE_NUMBERS=+14155550199=123456").unwrap_err(),
            ConfigError::UnknownSetting("TEST_PHONE_NUMBERS".into()),
            "a fixed code is a secret too"
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
            config.twilio.as_ref().unwrap().sender,
            TwilioSenderId::MessagingService(_)
        ));
        assert_eq!(config.twilio.as_ref().unwrap().voice_from, None);
        vars.pop();
        vars.push(("TWILIO_SENDER", "+15005550006"));
        let config = SendConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            config.twilio.as_ref().unwrap().sender,
            TwilioSenderId::From("+15005550006".into())
        );
        assert_eq!(
            config.twilio.as_ref().unwrap().voice_from.as_deref(),
            Some("+15005550006")
        );
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
