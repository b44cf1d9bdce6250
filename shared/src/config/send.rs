//! The send function's settings: Twilio's account, credentials and senders,
//! the other providers', the message texts, and the delivery reports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::settings::{checked, fits_app_name, getter, is_public_or_loopback_url, number};
use super::{Config, ConfigError, SendConfig};
use crate::adapters::DeliveryReports;
use crate::adapters::aws_sms::AwsSmsConfig;
use crate::adapters::clock::SystemClock;
use crate::adapters::human_proof::HumanProofConfig;
use crate::adapters::plivo::{PlivoConfig, PlivoSenderId, SignatureValidator};
use crate::adapters::plivo_call::{CallScripts, PlivoAnswers};
use crate::adapters::sns::SnsConfig;
use crate::adapters::twilio::{TwilioConfig, TwilioCredentials, TwilioSenderId, WebhookValidator};
use crate::domain::{Channel, PhoneNumber, Provider, Routes, Timestamp};
use crate::messages::{MessageSettings, Messages, WhatsappContent};
use crate::ports::Clock;

impl SendConfig {
    /// The common settings plus Twilio's and the messages'.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_at(lookup, SystemClock.now())
    }

    /// As `from_lookup`, with dates checked against `now`.
    pub fn from_lookup_at(
        lookup: impl Fn(&str) -> Option<String>,
        now: Timestamp,
    ) -> Result<Self, ConfigError> {
        let get = getter(lookup);
        let mut common = Config::from_lookup_at(&get, now)?;
        let enabled_channels = &common.policy.enabled_channels;
        let twilio = twilio(&get, enabled_channels)?;
        // A call's script is sealed under the code keys, for the code's
        // lifetime: keys derived only when Plivo is configured.
        let plivo = plivo(&get, || {
            CallScripts::new(common.keys.codes.keys(), common.policy.code_ttl_seconds)
        })?;
        let aws_sms = aws_sms(&get, common.policy.code_ttl_seconds)?;
        let whatsapp = whatsapp_content(&get, enabled_channels.contains(&Channel::Whatsapp))?;
        let template_languages: Vec<String> = match &whatsapp {
            WhatsappContent::Templates(sids) => sids.keys().cloned().collect(),
            WhatsappContent::Session => Vec::new(),
        };
        if enabled_channels.contains(&Channel::Whatsapp) && twilio.is_none() {
            return Err(ConfigError::Invalid {
                name: "ENABLED_CHANNELS",
                problem: "enables whatsapp, which only Twilio sends: set TWILIO_ACCOUNT_SID",
            });
        }
        // A provider refuses (Twilio: 21266) to send from our number to itself.
        let twilio_numbers = twilio.iter().flat_map(|twilio| {
            let number = match &twilio.sender {
                TwilioSenderId::From(number) => Some(number.clone()),
                TwilioSenderId::MessagingService(_) => None,
            };
            [
                number,
                twilio.voice_from.clone(),
                twilio.whatsapp_from.clone(),
            ]
        });
        let plivo_number = plivo.iter().map(|plivo| match &plivo.sender {
            PlivoSenderId::Src(src) => Some(format!("+{src}")),
            PlivoSenderId::PowerpackUuid(_) => None,
        });
        let aws_number = aws_sms
            .iter()
            .map(|aws| Some(aws.origination_identity.clone()));
        common.policy.destinations.own_numbers = twilio_numbers
            .chain(plivo_number)
            .chain(aws_number)
            .flatten()
            .filter_map(|number| PhoneNumber::parse(&number, None).ok())
            .map(|number| number.as_e164().to_owned())
            .collect();
        let message_settings = MessageSettings {
            app_name: get("APP_NAME")
                .map(|name| {
                    checked(
                        "APP_NAME",
                        name,
                        fits_app_name,
                        "must be one line of at most 20 characters",
                    )
                })
                .transpose()?,
            autofill_domain: get("AUTOFILL_DOMAIN")
                .map(|domain| {
                    checked(
                        "AUTOFILL_DOMAIN",
                        domain,
                        |d| {
                            d.len() <= 40
                                && d.contains('.')
                                && d.bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                        },
                        "must be a host name such as example.com",
                    )
                })
                .transpose()?,
            android_app_hash: get("ANDROID_APP_HASH")
                .map(|hash| {
                    checked(
                        "ANDROID_APP_HASH",
                        hash,
                        |h| {
                            h.len() == 11
                                && h.bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                        },
                        "must be the 11-character app hash of Android's SMS Retriever API",
                    )
                })
                .transpose()?,
            whatsapp,
        };
        // Another Verify service's channels need the stack's senders, which
        // only the send function has: checked here.
        let others = common.verify_api.iter().flat_map(|api| &api.others);
        if others
            .clone()
            .any(|other| !other.rules.channels.is_subset(enabled_channels))
        {
            return Err(ConfigError::Invalid {
                name: "VERIFY_SERVICES",
                problem: "gives a channel that ENABLED_CHANNELS does not enable",
            });
        }
        // Another Verify service's messages: its app name and code length.
        let service_messages = others
            .map(|other| {
                let settings = MessageSettings {
                    app_name: other.app_name.clone().or(message_settings.app_name.clone()),
                    ..message_settings.clone()
                };
                let messages = Messages::new(settings, other.rules.code_length)?;
                Ok((other.rules.sid.clone(), messages))
            })
            .collect::<Result<_, ConfigError>>()?;
        let messages = Messages::new(message_settings, common.policy.code_length)?;
        if !template_languages
            .iter()
            .all(|language| messages.has_language(language))
        {
            return Err(ConfigError::Invalid {
                name: "TWILIO_WHATSAPP_CONTENT_SIDS",
                problem: "names a language that has no messages (the languages: docs/api.md)",
            });
        }
        // Twilio signs its requests with the account's auth token, even when
        // we call it with an API key: without one, reports cannot be trusted.
        let delivery_reports = provider_route(
            &get,
            (
                "STATUS_CALLBACK_URL",
                "must be the https URL of POST /twilio/status, without query string",
            ),
            twilio.as_ref().and(get("TWILIO_AUTH_TOKEN")),
            "TWILIO_AUTH_TOKEN",
            |token, callback_url| DeliveryReports {
                validator: WebhookValidator::new(token),
                callback_url,
            },
        )?;
        // Plivo signs its reports with the auth token we send with.
        let plivo_reports = provider_route(
            &get,
            (
                "PLIVO_STATUS_CALLBACK_URL",
                "must be the https URL of POST /plivo/status, without query string",
            ),
            plivo.as_ref(),
            "PLIVO_AUTH_ID",
            |plivo, callback_url| DeliveryReports {
                validator: SignatureValidator::new(plivo.auth_token.clone()),
                callback_url,
            },
        )?;
        let plivo_answers = provider_route(
            &get,
            (
                "PLIVO_ANSWER_URL",
                "must be the https URL of POST /plivo/answer, without query string",
            ),
            plivo.as_ref(),
            "PLIVO_AUTH_ID",
            |plivo, answer_url| PlivoAnswers {
                scripts: plivo.scripts.clone(),
                answer_url,
            },
        )?;
        let aws_events = aws_events(&get)?;
        Ok(Self {
            messages,
            service_messages,
            routes: routes(&get, &twilio, &plivo, &aws_sms)?,
            twilio,
            plivo,
            aws_sms,
            delivery_reports,
            plivo_reports,
            aws_events,
            plivo_answers,
            human_proof: human_proof(&get)?,
            common,
        })
    }
}

/// What a provider's route needs: `build` from `provider`, when it is
/// configured, and the operator's public URL of the route (`setting`, for a
/// custom domain, say: https or plain http to a loopback address, no query,
/// else `problem`). The URL without the provider is refused, naming `needs`.
fn provider_route<P, T>(
    get: &impl Fn(&str) -> Option<String>,
    (setting, problem): (&'static str, &'static str),
    provider: Option<P>,
    needs: &'static str,
    build: impl FnOnce(P, Option<String>) -> T,
) -> Result<Option<T>, ConfigError> {
    let url = get(setting)
        .map(|url| {
            checked(
                setting,
                url,
                |u| is_public_or_loopback_url(u) && !u.contains('?'),
                problem,
            )
        })
        .transpose()?;
    match (provider, url) {
        (Some(provider), url) => Ok(Some(build(provider, url))),
        (None, Some(_)) => Err(ConfigError::Missing(needs)),
        (None, None) => Ok(None),
    }
}

/// A provider's base URL: the setting `name` (a local stand-in's, say),
/// else `default`; https, or plain http to this machine, without a trailing
/// slash (paths are appended).
fn base_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: String,
) -> Result<String, ConfigError> {
    checked(
        name,
        get(name).unwrap_or(default),
        |url| is_public_or_loopback_url(url) && !url.ends_with('/'),
        "must be an https URL without trailing slash (plain http only for 127.0.0.1 or localhost)",
    )
}

/// `DELIVERY_ROUTES` (every message through Twilio by default): each
/// provider it names must be configured.
fn routes(
    get: &impl Fn(&str) -> Option<String>,
    twilio: &Option<TwilioConfig>,
    plivo: &Option<PlivoConfig>,
    aws_sms: &Option<AwsSmsConfig>,
) -> Result<Routes, ConfigError> {
    let Some(text) = get("DELIVERY_ROUTES") else {
        return match twilio {
            Some(_) => Ok(Routes::only(Provider::Twilio)),
            None => Err(ConfigError::MissingOneOf(
                "TWILIO_ACCOUNT_SID",
                "DELIVERY_ROUTES naming another provider",
            )),
        };
    };
    let routes = Routes::parse(&text).map_err(|_| ConfigError::Invalid {
        name: "DELIVERY_ROUTES",
        problem: "must be COUNTRY[/channel]=provider,... entries separated by ';' with a default *=..., providers among twilio, aws, plivo, each once per entry",
    })?;
    let configured = |provider: &Provider| match provider {
        Provider::Twilio => twilio.is_some(),
        Provider::Plivo => plivo.is_some(),
        Provider::Aws => aws_sms.is_some(),
    };
    match routes.providers().iter().all(configured) {
        true => Ok(routes),
        false => Err(ConfigError::Invalid {
            name: "DELIVERY_ROUTES",
            problem: "names a provider that is not configured (twilio needs TWILIO_ACCOUNT_SID and TWILIO_SENDER; aws needs AWS_SMS_ORIGINATION_IDENTITY; plivo needs PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN and PLIVO_SENDER)",
        }),
    }
}

/// Twilio, when `TWILIO_ACCOUNT_SID` is set: its credentials (an auth token,
/// or an API key), its senders, and where its API is.
fn twilio(
    get: &impl Fn(&str) -> Option<String>,
    enabled_channels: &BTreeSet<Channel>,
) -> Result<Option<TwilioConfig>, ConfigError> {
    let Some(account_sid) = get("TWILIO_ACCOUNT_SID") else {
        return Ok(None);
    };
    let credentials = match (
        get("TWILIO_API_KEY_SID"),
        get("TWILIO_API_KEY_SECRET"),
        get("TWILIO_AUTH_TOKEN"),
    ) {
        (Some(username), Some(password), _) => TwilioCredentials {
            username,
            password: password.into(),
        },
        (Some(_), None, _) => return Err(ConfigError::Missing("TWILIO_API_KEY_SECRET")),
        (None, _, Some(password)) => TwilioCredentials {
            username: account_sid.clone(),
            password: password.into(),
        },
        (None, _, None) => {
            return Err(ConfigError::MissingOneOf(
                "TWILIO_AUTH_TOKEN",
                "TWILIO_API_KEY_SID with TWILIO_API_KEY_SECRET",
            ));
        }
    };
    // TWILIO_SENDER (the template's one question) is either kind.
    let is_service = |sid: &str| sid.starts_with("MG") && sid.len() == 34;
    let sender = get("TWILIO_SENDER");
    let sender = match (
        get("TWILIO_MESSAGING_SERVICE_SID").or(sender.clone().filter(|s| is_service(s))),
        get("TWILIO_FROM_NUMBER").or(sender.filter(|s| !is_service(s))),
    ) {
        (Some(sid), _) => TwilioSenderId::MessagingService(sid),
        (None, Some(number)) => TwilioSenderId::From(number),
        (None, None) => {
            return Err(ConfigError::MissingOneOf(
                "TWILIO_FROM_NUMBER",
                "TWILIO_MESSAGING_SERVICE_SID",
            ));
        }
    };
    let voice_from = get("TWILIO_VOICE_FROM").or_else(|| match &sender {
        TwilioSenderId::From(number) if number.starts_with('+') => Some(number.clone()),
        _ => None,
    });
    if enabled_channels.contains(&Channel::Call) && voice_from.is_none() {
        return Err(ConfigError::MissingOneOf(
            "TWILIO_VOICE_FROM",
            "TWILIO_FROM_NUMBER",
        ));
    }
    let whatsapp_from = get("TWILIO_WHATSAPP_FROM");
    if enabled_channels.contains(&Channel::Whatsapp) && whatsapp_from.is_none() {
        return Err(ConfigError::Missing("TWILIO_WHATSAPP_FROM"));
    }
    let api_base = base_url(get, "TWILIO_API_BASE", "https://api.twilio.com".into())?;
    Ok(Some(TwilioConfig {
        api_base,
        account_sid,
        credentials,
        sender,
        voice_from,
        whatsapp_from,
        timeout: Duration::from_millis(number(get, "TWILIO_TIMEOUT_MS", 5_000, 100..=60_000)?),
    }))
}

/// AWS End User Messaging, when `AWS_SMS_ORIGINATION_IDENTITY` is set: the
/// sender (phone number, sender id or pool), the configuration set whose
/// event destination reports deliveries, a protect configuration, and the
/// fallback voice of calls. Messages live as long as the code.
fn aws_sms(
    get: &impl Fn(&str) -> Option<String>,
    code_ttl_seconds: u64,
) -> Result<Option<AwsSmsConfig>, ConfigError> {
    let Some(origination_identity) = get("AWS_SMS_ORIGINATION_IDENTITY") else {
        return Ok(None);
    };
    Ok(Some(AwsSmsConfig {
        origination_identity,
        configuration_set: get("AWS_SMS_CONFIGURATION_SET"),
        protect_configuration_id: get("AWS_SMS_PROTECT_CONFIGURATION_ID"),
        voice_id: get("AWS_SMS_VOICE_ID"),
        time_to_live: Some(Duration::from_secs(code_ttl_seconds)),
        timeout: Duration::from_millis(number(get, "AWS_SMS_TIMEOUT_MS", 5_000, 100..=60_000)?),
    }))
}

/// AWS End User Messaging's delivery events, when `AWS_SMS_EVENTS_TOPIC_ARN`
/// names the SNS topic of the configuration set's event destination: only
/// that topic's deliveries are taken, checked against SNS's certificates of
/// its region (`AWS_SNS_CERT_BASE` stands in for SNS's host, in tests only).
fn aws_events(get: &impl Fn(&str) -> Option<String>) -> Result<Option<SnsConfig>, ConfigError> {
    let Some(topic_arn) = get("AWS_SMS_EVENTS_TOPIC_ARN") else {
        return Ok(None);
    };
    let origin = SnsConfig::origin_of(&topic_arn).ok_or(ConfigError::Invalid {
        name: "AWS_SMS_EVENTS_TOPIC_ARN",
        problem: "must be an SNS topic's ARN (arn:aws:sns:<region>:<account>:<name>)",
    })?;
    let origin = base_url(get, "AWS_SNS_CERT_BASE", origin)?;
    Ok(Some(SnsConfig {
        topic_arn,
        origin,
        // Within the function's 10 s, and SNS's own 15 s for an answer.
        timeout: Duration::from_secs(3),
    }))
}

/// Plivo, when `PLIVO_AUTH_ID` is set: its auth token (a secret) and
/// sender, a number or sender id (`src`), or a Powerpack's UUID; the caller
/// id of calls (`PLIVO_VOICE_FROM`, else the sender if it is a `+` number),
/// and what seals their scripts.
fn plivo(
    get: &impl Fn(&str) -> Option<String>,
    scripts: impl FnOnce() -> CallScripts,
) -> Result<Option<PlivoConfig>, ConfigError> {
    let Some(auth_id) = get("PLIVO_AUTH_ID") else {
        return Ok(None);
    };
    let auth_token = get("PLIVO_AUTH_TOKEN").ok_or(ConfigError::Missing("PLIVO_AUTH_TOKEN"))?;
    let sender = get("PLIVO_SENDER").ok_or(ConfigError::Missing("PLIVO_SENDER"))?;
    let is_powerpack = sender.len() == 36 && sender.bytes().filter(|&b| b == b'-').count() == 4;
    let api_base = base_url(get, "PLIVO_API_BASE", "https://api.plivo.com".into())?;
    let voice_from = get("PLIVO_VOICE_FROM")
        .or_else(|| sender.starts_with('+').then(|| sender.clone()))
        .map(|number| number.trim_start_matches('+').to_owned());
    Ok(Some(PlivoConfig {
        api_base,
        auth_id,
        auth_token: auth_token.into(),
        voice_from,
        scripts: scripts(),
        sender: match is_powerpack {
            true => PlivoSenderId::PowerpackUuid(sender),
            false => PlivoSenderId::Src(sender.trim_start_matches('+').to_owned()),
        },
        timeout: Duration::from_millis(number(get, "PLIVO_TIMEOUT_MS", 5_000, 100..=60_000)?),
    }))
}

/// The verifier of proofs of a human (`HUMAN_PROOF_VERIFY_URL`, a provider's
/// siteverify address, and its `HUMAN_PROOF_SECRET`): both, or neither.
fn human_proof(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<HumanProofConfig>, ConfigError> {
    match (get("HUMAN_PROOF_VERIFY_URL"), get("HUMAN_PROOF_SECRET")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::Missing("HUMAN_PROOF_SECRET")),
        (None, Some(_)) => Err(ConfigError::Missing("HUMAN_PROOF_VERIFY_URL")),
        (Some(url), Some(secret)) => Ok(Some(HumanProofConfig {
            verify_url: checked(
                "HUMAN_PROOF_VERIFY_URL",
                url,
                is_public_or_loopback_url,
                "must be the https URL of a siteverify endpoint (plain http only for 127.0.0.1 or localhost)",
            )?,
            secret: secret.into(),
        })),
    }
}

/// How WhatsApp messages carry the code: `WHATSAPP_MODE=template` (the
/// default) sends the approved templates of `TWILIO_WHATSAPP_CONTENT_SIDS`,
/// which the `whatsapp` channel then needs; `session` sends free-form text.
fn whatsapp_content(
    get: &impl Fn(&str) -> Option<String>,
    enabled: bool,
) -> Result<WhatsappContent, ConfigError> {
    let sids = get("TWILIO_WHATSAPP_CONTENT_SIDS")
        .map(|list| content_sids(&list))
        .transpose()?;
    let mode = get("WHATSAPP_MODE").map(|mode| mode.trim().to_ascii_lowercase());
    match (mode.as_deref(), sids) {
        (None | Some("template"), Some(sids)) => Ok(WhatsappContent::Templates(sids)),
        (None | Some("template"), None) if enabled => Err(ConfigError::MissingOneOf(
            "TWILIO_WHATSAPP_CONTENT_SIDS",
            "WHATSAPP_MODE=session (Twilio's sandbox and 24-hour sessions only)",
        )),
        // The channel is off: no WhatsApp message is ever made.
        (None | Some("template"), None) => Ok(WhatsappContent::Session),
        (Some("session"), _) => {
            if enabled {
                tracing::warn!(
                    "WHATSAPP_MODE=session: WhatsApp codes go as free-form text, which WhatsApp \
                     delivers only within a 24-hour session or in Twilio's sandbox"
                );
            }
            Ok(WhatsappContent::Session)
        }
        (Some(_), _) => Err(ConfigError::Invalid {
            name: "WHATSAPP_MODE",
            problem: "must be template (the default) or session",
        }),
    }
}

/// `en=HX…,fr=HX…`: the Twilio Content SID (`HX` and 32 hex digits) of the
/// WhatsApp authentication template of each language; `en` is required, as
/// it serves every language without its own.
fn content_sids(list: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let invalid = |problem| ConfigError::Invalid {
        name: "TWILIO_WHATSAPP_CONTENT_SIDS",
        problem,
    };
    let is_sid = |sid: &str| {
        sid.len() == 34 && sid.starts_with("HX") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
    };
    let mut sids = BTreeMap::new();
    for pair in list.split(',') {
        let (language, sid) = pair
            .split_once('=')
            .map(|(language, sid)| (language.trim().to_ascii_lowercase(), sid.trim()))
            .filter(|(language, sid)| !language.is_empty() && is_sid(sid))
            .ok_or(invalid(
                "must be comma-separated language=SID pairs such as en=HX…,fr=HX…, each SID HX and 32 hex digits",
            ))?;
        if sids.insert(language, sid.to_owned()).is_some() {
            return Err(invalid("names a language twice"));
        }
    }
    if !sids.contains_key("en") {
        return Err(invalid(
            "must include en=HX…: the English template serves every language without its own",
        ));
    }
    Ok(sids)
}
