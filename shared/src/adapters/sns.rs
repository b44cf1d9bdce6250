//! Amazon SNS's HTTPS deliveries, which carry AWS End User Messaging's
//! delivery events to `POST /aws/events`. SNS signs each one (RSA over a
//! fixed text of its fields) with the key of a certificate it serves from
//! `https://sns.<region>.amazonaws.com/...pem`: nothing in a delivery is
//! believed before its topic, its date and that signature are checked.
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
    VerificationAlgorithm,
};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::Timestamp;

/// The oldest delivery taken: SNS gives up retrying one after an hour at
/// most; five minutes more for the clocks' skew.
const OLDEST_SECONDS: i64 = 3_600 + 300;
/// The furthest in the future a delivery may be dated (the clocks' skew).
const NEWEST_SECONDS: i64 = 300;
/// Certificates kept in memory. Only SNS's own host serves them, and it
/// uses one or two at a time: a bound against a flood of distinct URLs.
const CACHED_KEYS: usize = 16;

#[derive(Debug, Clone)]
pub struct SnsConfig {
    /// The one topic whose deliveries are taken (the template's).
    pub topic_arn: String,
    /// Where SNS's certificates and subscription confirmations are:
    /// `https://sns.<region>.amazonaws.com` of the topic's region, or a
    /// test's stand-in (`AWS_SNS_CERT_BASE`).
    pub origin: String,
    /// The longest a certificate fetch or a confirmation may take.
    pub timeout: Duration,
}

impl SnsConfig {
    /// SNS's origin in the region and partition of `topic_arn`
    /// (`arn:aws:sns:eu-west-1:111122223333:name`); `None` unless it is the
    /// ARN of a topic.
    pub fn origin_of(topic_arn: &str) -> Option<String> {
        let parts: Vec<&str> = topic_arn.split(':').collect();
        let ["arn", partition, "sns", region, account, name] = parts.as_slice() else {
            return None;
        };
        let is_region = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let domain = match *partition {
            "aws" | "aws-us-gov" => "amazonaws.com",
            "aws-cn" => "amazonaws.com.cn",
            _ => return None,
        };
        let valid = is_region
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty();
        valid.then(|| format!("https://sns.{region}.{domain}"))
    }
}

/// Why a delivery is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnsRefusal {
    #[error("not an SNS delivery")]
    Malformed,
    #[error("from a topic other than ours")]
    ForeignTopic,
    #[error("dated too long ago or in the future")]
    Stale,
    #[error("its signature does not check against an SNS certificate")]
    BadSignature,
    /// Nothing changed: SNS sends it again.
    #[error("SNS's certificate or subscription could not be reached")]
    Unreachable,
}

/// What SNS POSTs: <https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html>.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    topic_arn: String,
    subject: Option<String>,
    message: String,
    timestamp: String,
    signature_version: String,
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    token: Option<String>,
}

/// What a checked delivery asks of us.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// A message published to the topic (an event, as JSON text).
    Notification(&'a str),
    /// Confirm the subscription by a GET on this URL.
    SubscriptionConfirmation(&'a str),
    UnsubscribeConfirmation,
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Self, SnsRefusal> {
        serde_json::from_slice(body).map_err(|_| SnsRefusal::Malformed)
    }

    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    pub fn delivery(&self) -> Result<Delivery<'_>, SnsRefusal> {
        match (self.kind.as_str(), &self.subscribe_url) {
            ("Notification", _) => Ok(Delivery::Notification(&self.message)),
            ("SubscriptionConfirmation", Some(url)) => Ok(Delivery::SubscriptionConfirmation(url)),
            ("UnsubscribeConfirmation", _) => Ok(Delivery::UnsubscribeConfirmation),
            _ => Err(SnsRefusal::Malformed),
        }
    }

    /// The text SNS signs: `name\nvalue\n` for each of the type's fields
    /// (in this order; a notification's `Subject` only when it has one).
    fn string_to_sign(&self) -> Result<String, SnsRefusal> {
        let (message, id, time, topic, kind) = (
            Some(self.message.as_str()),
            Some(self.message_id.as_str()),
            Some(self.timestamp.as_str()),
            Some(self.topic_arn.as_str()),
            Some(self.kind.as_str()),
        );
        let fields = match self.kind.as_str() {
            "Notification" => vec![
                ("Message", message),
                ("MessageId", id),
                ("Subject", self.subject.as_deref()),
                ("Timestamp", time),
                ("TopicArn", topic),
                ("Type", kind),
            ],
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let (Some(url), Some(token)) = (&self.subscribe_url, &self.token) else {
                    return Err(SnsRefusal::Malformed);
                };
                vec![
                    ("Message", message),
                    ("MessageId", id),
                    ("SubscribeURL", Some(url.as_str())),
                    ("Timestamp", time),
                    ("Token", Some(token.as_str())),
                    ("TopicArn", topic),
                    ("Type", kind),
                ]
            }
            _ => return Err(SnsRefusal::Malformed),
        };
        Ok(fields
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| format!("{name}\n{value}\n")))
            .collect())
    }
}

/// Checks SNS's deliveries of one topic, and confirms its subscription.
#[derive(Debug)]
pub struct SnsVerifier {
    config: SnsConfig,
    client: reqwest::Client,
    /// Each certificate's RSA public key, by URL.
    keys: Mutex<HashMap<String, Arc<[u8]>>>,
}

impl SnsVerifier {
    /// No I/O: a certificate is fetched when a delivery first names it.
    pub fn new(config: SnsConfig) -> Result<Self, reqwest::Error> {
        let client = super::https::client_builder()
            .timeout(config.timeout)
            .build()?;
        Ok(Self {
            config,
            client,
            keys: Mutex::default(),
        })
    }

    /// Whether `envelope` is SNS's, of our topic, dated around `now`.
    pub async fn check(&self, envelope: &Envelope, now: Timestamp) -> Result<(), SnsRefusal> {
        if envelope.topic_arn != self.config.topic_arn {
            return Err(SnsRefusal::ForeignTopic);
        }
        let sent = OffsetDateTime::parse(&envelope.timestamp, &Rfc3339)
            .map_err(|_| SnsRefusal::Malformed)?
            .unix_timestamp();
        if !(-NEWEST_SECONDS..=OLDEST_SECONDS).contains(&(now.unix_seconds() - sent)) {
            return Err(SnsRefusal::Stale);
        }
        let algorithm: &'static dyn VerificationAlgorithm =
            match envelope.signature_version.as_str() {
                "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                "2" => &RSA_PKCS1_2048_8192_SHA256,
                _ => return Err(SnsRefusal::BadSignature),
            };
        let text = envelope.string_to_sign()?;
        let signature = STANDARD
            .decode(&envelope.signature)
            .map_err(|_| SnsRefusal::BadSignature)?;
        let url = &envelope.signing_cert_url;
        let is_certificate = self
            .path_at_origin(url)
            .is_some_and(|path| path.ends_with(".pem") && !path.contains(['?', '#', '\\']));
        if !is_certificate {
            return Err(SnsRefusal::BadSignature);
        }
        let key = self.key(url).await?;
        UnparsedPublicKey::new(algorithm, &*key)
            .verify(text.as_bytes(), &signature)
            .map_err(|_| SnsRefusal::BadSignature)
    }

    /// Confirms the subscription, by a GET on `subscribe_url`, only on
    /// SNS's own host: a signed delivery cannot make us call anyone else.
    pub async fn confirm(&self, subscribe_url: &str) -> Result<(), SnsRefusal> {
        self.path_at_origin(subscribe_url)
            .ok_or(SnsRefusal::BadSignature)?;
        let response = self
            .client
            .get(subscribe_url)
            .send()
            .await
            .map_err(|_| SnsRefusal::Unreachable)?;
        match response.status().is_success() {
            true => Ok(()),
            false => {
                tracing::warn!(
                    status = response.status().as_u16(),
                    "sns refused to confirm the subscription"
                );
                Err(SnsRefusal::Unreachable)
            }
        }
    }

    /// The path (and query) of `url` when it is on SNS's origin: the host
    /// exactly, no user info, no other port.
    fn path_at_origin<'a>(&self, url: &'a str) -> Option<&'a str> {
        url.strip_prefix(self.config.origin.as_str())
            .filter(|path| path.starts_with('/'))
    }

    /// The RSA public key of the certificate at `url`, fetched once.
    async fn key(&self, url: &str) -> Result<Arc<[u8]>, SnsRefusal> {
        if let Some(key) = self.cached().get(url) {
            return Ok(Arc::clone(key));
        }
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|_| SnsRefusal::Unreachable)?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(SnsRefusal::Unreachable);
        }
        // SNS's host says there is no such certificate: a forgery.
        if !status.is_success() {
            return Err(SnsRefusal::BadSignature);
        }
        let pem = response
            .bytes()
            .await
            .map_err(|_| SnsRefusal::Unreachable)?;
        let key: Arc<[u8]> = rsa_public_key(&pem).ok_or(SnsRefusal::BadSignature)?.into();
        let mut keys = self.cached();
        if keys.len() >= CACHED_KEYS {
            keys.clear();
        }
        keys.insert(url.to_owned(), Arc::clone(&key));
        Ok(key)
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<[u8]>>> {
        // A panic elsewhere cannot leave the map half written: take it.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The DER `RSAPublicKey` (what `ring` takes) of a PEM certificate's
/// subject: a walk down `Certificate` → `tbsCertificate` →
/// `subjectPublicKeyInfo` (RFC 5280), no X.509 library needed. The
/// certificate's own signature and dates are not checked: it comes over
/// HTTPS from SNS's host, which is what vouches for it, as in AWS's own
/// validators.
fn rsa_public_key(pem: &[u8]) -> Option<Vec<u8>> {
    const SEQUENCE: u8 = 0x30;
    const BIT_STRING: u8 = 0x03;
    const VERSION: u8 = 0xa0;
    /// `rsaEncryption`, 1.2.840.113549.1.1.1, as DER.
    const RSA_ENCRYPTION: [u8; 11] = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let text = std::str::from_utf8(pem).ok()?;
    let base64: String = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?
        .split_whitespace()
        .collect();
    let der = STANDARD.decode(base64).ok()?;
    let (certificate, _) = der_element(&der, Some(SEQUENCE))?;
    let (mut fields, _) = der_element(certificate, Some(SEQUENCE))?;
    if fields.first() == Some(&VERSION) {
        fields = der_element(fields, None)?.1;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        fields = der_element(fields, None)?.1;
    }
    let (key_info, _) = der_element(fields, Some(SEQUENCE))?;
    let (algorithm, rest) = der_element(key_info, Some(SEQUENCE))?;
    if !algorithm.starts_with(&RSA_ENCRYPTION) {
        return None;
    }
    let (bits, _) = der_element(rest, Some(BIT_STRING))?;
    match bits.split_first()? {
        (0, key) => Some(key.to_vec()),
        _ => None,
    }
}

/// The contents of the DER element `input` starts with (of tag `tag`, if
/// given) and what follows it.
fn der_element(input: &[u8], tag: Option<u8>) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if tag.is_some_and(|tag| tag != found) {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            let length = bytes
                .iter()
                .fold(0usize, |length, &byte| length << 8 | usize::from(byte));
            (length, rest)
        }
        _ => return None,
    };
    rest.split_at_checked(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(json: serde_json::Value) -> Envelope {
        Envelope::parse(json.to_string().as_bytes()).unwrap()
    }

    const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";

    /// AWS's example notification (SNS developer guide), with a subject.
    #[test]
    fn a_notification_signs_its_six_fields_in_order() {
        let notification = envelope(serde_json::json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC,
            "Subject": "My First Message",
            "Message": "Hello world!",
            "Timestamp": "2012-05-02T00:54:06.655Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe",
        }));
        assert_eq!(
            notification.string_to_sign().unwrap(),
            "Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Subject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
    }

    #[test]
    fn a_notification_without_subject_leaves_it_out() {
        let notification = envelope(serde_json::json!({
            "Type": "Notification", "MessageId": "m", "TopicArn": TOPIC,
            "Message": "{\"eventType\":\"TEXT_BLOCKED\"}", "Timestamp": "t",
            "SignatureVersion": "2", "Signature": "", "SigningCertURL": "",
        }));
        assert_eq!(
            notification.string_to_sign().unwrap(),
            format!(
                "Message\n{{\"eventType\":\"TEXT_BLOCKED\"}}\nMessageId\nm\nTimestamp\nt\nTopicArn\n{TOPIC}\nType\nNotification\n"
            )
        );
    }

    #[test]
    fn a_confirmation_signs_its_url_and_token_but_no_subject() {
        let confirmation = envelope(serde_json::json!({
            "Type": "SubscriptionConfirmation", "MessageId": "m", "Token": "tok",
            "TopicArn": TOPIC, "Message": "You have chosen to subscribe",
            "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            "Timestamp": "t", "SignatureVersion": "1", "Signature": "",
            "SigningCertURL": "", "Subject": "not signed",
        }));
        assert_eq!(
            confirmation.string_to_sign().unwrap(),
            format!(
                "Message\nYou have chosen to subscribe\nMessageId\nm\n\
                 SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\n\
                 Timestamp\nt\nToken\ntok\nTopicArn\n{TOPIC}\nType\nSubscriptionConfirmation\n"
            )
        );
        assert_eq!(
            confirmation.delivery(),
            Ok(Delivery::SubscriptionConfirmation(
                "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
            ))
        );
    }

    #[test]
    fn a_confirmation_without_its_token_or_an_unknown_type_is_malformed() {
        let base = serde_json::json!({
            "Type": "SubscriptionConfirmation", "MessageId": "m", "TopicArn": TOPIC,
            "Message": "", "SubscribeURL": "https://sns.us-west-2.amazonaws.com/",
            "Timestamp": "t", "SignatureVersion": "1", "Signature": "", "SigningCertURL": "",
        });
        assert_eq!(
            envelope(base.clone()).string_to_sign(),
            Err(SnsRefusal::Malformed)
        );
        let mut other = base;
        other["Type"] = "Other".into();
        assert_eq!(envelope(other).delivery(), Err(SnsRefusal::Malformed));
        assert_eq!(
            Envelope::parse(b"Type=Notification").err(),
            Some(SnsRefusal::Malformed)
        );
    }

    #[test]
    fn the_origin_is_sns_in_the_topic_region_and_partition() {
        assert_eq!(
            SnsConfig::origin_of(TOPIC).as_deref(),
            Some("https://sns.us-west-2.amazonaws.com")
        );
        assert_eq!(
            SnsConfig::origin_of("arn:aws-cn:sns:cn-north-1:123456789012:t").as_deref(),
            Some("https://sns.cn-north-1.amazonaws.com.cn")
        );
        for not_a_topic in [
            "arn:aws:sqs:us-west-2:123456789012:q",
            "arn:aws:sns:us-west-2:123456789012",
            "arn:aws:sns:evil.com/x:123456789012:t",
            "arn:aws:sns:us-west-2:1234:t",
            "arn:other:sns:us-west-2:123456789012:t",
        ] {
            assert_eq!(SnsConfig::origin_of(not_a_topic), None, "{not_a_topic}");
        }
    }

    #[test]
    fn only_https_paths_on_sns_own_host_are_at_its_origin() {
        let verifier = SnsVerifier::new(SnsConfig {
            topic_arn: TOPIC.into(),
            origin: "https://sns.us-west-2.amazonaws.com".into(),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!(
            verifier.path_at_origin("https://sns.us-west-2.amazonaws.com/a.pem"),
            Some("/a.pem")
        );
        for foreign in [
            "http://sns.us-west-2.amazonaws.com/a.pem",
            "https://sns.us-west-2.amazonaws.com.evil.com/a.pem",
            "https://sns.us-west-2.amazonaws.com@evil.com/a.pem",
            "https://sns.us-west-2.amazonaws.com:8443/a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-west-2.amazonaws.com",
        ] {
            assert_eq!(verifier.path_at_origin(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn a_certificate_gives_its_rsa_public_key() {
        let pem = include_bytes!("../../../tests/fixtures/sns/cert.pem");
        let key = rsa_public_key(pem).expect("an RSA key");
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        let (fields, _) = der_element(&key, Some(0x30)).unwrap();
        let (modulus, rest) = der_element(fields, Some(0x02)).unwrap();
        let modulus_hex = hex::encode(modulus);
        let fixture = include_str!("../../../tests/fixtures/sns/signing-key.txt");
        let n = fixture.lines().find_map(|l| l.strip_prefix("n=")).unwrap();
        assert_eq!(modulus_hex.trim_start_matches('0'), n);
        assert_eq!(der_element(rest, Some(0x02)).unwrap().0, [1, 0, 1]);
    }

    #[test]
    fn a_certificate_that_is_not_rsa_or_not_der_gives_no_key() {
        assert_eq!(rsa_public_key(b"not a certificate"), None);
        let garbage = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode([0x30, 0x82, 0xff, 0xff, 0x01])
        );
        assert_eq!(rsa_public_key(garbage.as_bytes()), None);
    }
}
