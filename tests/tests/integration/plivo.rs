//! The Plivo adapter against a fake that speaks Plivo's wire format: its
//! request, each kind of failure in the class another provider may or may
//! not be tried on, and the signature of the delivery report Plivo POSTs
//! back to the URL the request gave it.

use std::time::{Duration, Instant};

use phone_verification::adapters::plivo::{
    NONCE_HEADER, PlivoConfig, PlivoReport, PlivoSender, PlivoSenderId, SIGNATURE_HEADER,
    SignatureValidator,
};
use phone_verification::adapters::plivo_call::CallScripts;
use phone_verification::domain::{Channel, Keyring, PhoneNumber, Timestamp, VerificationId};
use phone_verification::ports::{
    Content, DeliveryError, Handover, MessageSender, OutgoingMessage, RecipientProblem,
    StatusCallbacks,
};
use secrecy::SecretBox;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTH_ID: &str = "MAZDQ1ZJIYMDZKMMZKYM";
const AUTH_TOKEN: &str = "plivo-test-auth-token";
const MESSAGE_PATH: &str = "/v1/Account/MAZDQ1ZJIYMDZKMMZKYM/Message/";
const SRC: &str = "14155550100";
const CALLBACK: &str = "https://api.example.com/plivo/status";
const VERIFICATION: &str = "0123456789abcdef0123456789abcdef";

fn config(api_base: String, timeout: Duration) -> PlivoConfig {
    PlivoConfig {
        api_base,
        auth_id: AUTH_ID.into(),
        auth_token: AUTH_TOKEN.into(),
        sender: PlivoSenderId::Src(SRC.into()),
        voice_from: Some(SRC.into()),
        scripts: CallScripts::new(&Keyring::new("v1", [7u8; 32]), 600),
        timeout,
    }
}

fn sender(api_base: String, timeout: Duration) -> PlivoSender {
    PlivoSender::new(config(api_base, timeout)).unwrap()
}

fn sms() -> OutgoingMessage {
    OutgoingMessage {
        answer_by: None,
        to: PhoneNumber::parse("+14155550123", None).unwrap(),
        channel: Channel::Sms,
        content: SecretBox::new(Box::new(Content::Text(
            "Your verification code is 123456.".into(),
        ))),
        verification_id: VerificationId::from_stored(VERIFICATION.into()),
        sent_at: Timestamp::from_unix_seconds(1_800_000_000),
        status_callbacks: StatusCallbacks {
            plivo: Some(CALLBACK.into()),
            ..Default::default()
        },
    }
}

/// Plivo's answer to a queued message.
fn queued() -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({
        "api_id": "db342550-7f1d-11e1-8ea7-1231380bc196",
        "message": "message(s) queued",
        "message_uuid": ["db3ce55a-7f1d-11e1-8ea7-1231380bc196"],
    }))
}

fn plivo_error(status: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb",
        "error": error,
    }))
}

/// A Plivo fake that answers every authenticated JSON message with `response`.
async fn plivo_answering(response: ResponseTemplate) -> MockServer {
    let plivo = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGE_PATH))
        .and(basic_auth(AUTH_ID, AUTH_TOKEN))
        .and(header("content-type", "application/json"))
        .respond_with(response)
        .mount(&plivo)
        .await;
    plivo
}

async fn send_to(plivo: &MockServer) -> Result<Handover, DeliveryError> {
    sender(plivo.uri(), Duration::from_secs(5))
        .send(&sms())
        .await
}

#[tokio::test]
async fn a_queued_sms_is_accepted_after_exactly_one_request() {
    let plivo = plivo_answering(queued()).await;
    assert_eq!(send_to(&plivo).await, Ok(Handover::Accepted));
    let requests = plivo.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "src": SRC,
            "dst": "14155550123",
            "text": "Your verification code is 123456.",
            "url": format!("{CALLBACK}?verification={VERIFICATION}&sent_at=1800000000"),
        })
    );
}

/// Whether `outcome` is of `expected`'s class (causes aside).
fn same_class(outcome: &DeliveryError, expected: &DeliveryError) -> bool {
    match (outcome, expected) {
        (DeliveryError::Recipient(problem), DeliveryError::Recipient(expected)) => {
            problem == expected
        }
        _ => std::mem::discriminant(outcome) == std::mem::discriminant(expected),
    }
}

/// Outages are retried (elsewhere, too); our settings are the operator's to
/// fix; a refused recipient is the user's.
#[tokio::test]
async fn each_plivo_refusal_has_its_class() {
    let unavailable = || DeliveryError::Unavailable(String::new());
    let misconfigured = || DeliveryError::Misconfigured(String::new());
    for (response, expected) in [
        (plivo_error(500, "server error"), unavailable()),
        (plivo_error(429, "too many requests"), unavailable()),
        (
            ResponseTemplate::new(503).set_body_string("Service Unavailable"),
            unavailable(),
        ),
        (plivo_error(401, "authentication failed"), misconfigured()),
        (plivo_error(404, "not found"), misconfigured()),
        (
            plivo_error(400, "14155550123 is not a valid phone number"),
            DeliveryError::Recipient(RecipientProblem::InvalidNumber),
        ),
    ] {
        let outcome = send_to(&plivo_answering(response).await).await;
        assert!(
            matches!(&outcome, Err(error) if same_class(error, &expected)),
            "{outcome:?} is not {expected:?}"
        );
    }
}

/// Credentials the fake does not know are refused as Plivo does: 401.
#[tokio::test]
async fn wrong_credentials_are_misconfigured() {
    let plivo = MockServer::start().await;
    Mock::given(method("POST"))
        .and(basic_auth(AUTH_ID, AUTH_TOKEN))
        .respond_with(queued())
        .mount(&plivo)
        .await;
    Mock::given(method("POST"))
        .respond_with(plivo_error(401, "authentication failed"))
        .with_priority(10)
        .mount(&plivo)
        .await;
    let stranger = PlivoSender::new(PlivoConfig {
        auth_token: "another-token".into(),
        ..config(plivo.uri(), Duration::from_secs(5))
    })
    .unwrap();
    let outcome = stranger.send(&sms()).await;
    assert!(
        matches!(outcome, Err(DeliveryError::Misconfigured(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    assert_never_connected(address, Duration::from_secs(5)).await;
}

/// A send to `address`, where no connection opens: certainly not sent,
/// and known before the request's timeout.
async fn assert_never_connected(address: std::net::SocketAddr, timeout: Duration) {
    let started = Instant::now();
    let outcome = sender(format!("http://{address}"), timeout)
        .send(&sms())
        .await;
    assert!(
        matches!(&outcome, Err(DeliveryError::Unavailable(cause)) if cause.contains("could not connect")),
        "{outcome:?}"
    );
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
}

/// A server whose accept queue is full drops new SYNs: connecting hangs
/// until our connect timeout (half the request's), which fails as "not
/// connected", so certainly not sent, before the request's own timeout.
#[tokio::test]
async fn a_connection_that_never_opens_is_unavailable() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    // Fill the accept queue (never accepting) until a connect hangs.
    let mut queued = Vec::new();
    loop {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            Ok(stream) => queued.push(stream.unwrap()),
            Err(_) => break,
        }
        assert!(queued.len() < 16, "the accept queue never filled");
    }
    assert_never_connected(address, Duration::from_secs(2)).await;
    drop((listener, queued));
}

/// Plivo took the request but answers after our timeout: the message may
/// well be on its way, so it counts as sent (and no other provider is tried).
#[tokio::test]
async fn an_answer_after_our_timeout_is_unconfirmed_after_one_request() {
    let plivo = plivo_answering(queued().set_delay(Duration::from_secs(2))).await;
    let outcome = sender(plivo.uri(), Duration::from_millis(500))
        .send(&sms())
        .await;
    assert_eq!(outcome, Ok(Handover::Unconfirmed));
    assert_eq!(plivo.received_requests().await.unwrap().len(), 1);
}

/// The report Plivo POSTs to the `url` of the message above when it is
/// undelivered, form-encoded, with its V3 signature (nonce
/// `12345678901234567890`). The signature was computed apart from our code:
/// with Python's `hmac` and checked by Plivo's own SDK (plivo-python 4.63.0,
/// `plivo.utils.validate_v3_signature`); see the unit test in
/// `adapters/plivo.rs` for the signed text.
const REPORT_BODY: &str = "MessageUUID=db3ce55a-7f1d-11e1-8ea7-1231380bc196&Status=undelivered\
    &To=14155550123&From=14155550100&ErrorCode=50&Units=1";
const REPORT_NONCE: &str = "12345678901234567890";
const REPORT_SIGNATURE: &str = "8QoBbn4+rg9XQ6Dv7vvBvWnWIiJas/6M0RaFxzbbWjk=";

/// The signed report's request: to the URL our send gave Plivo.
async fn report_request(signature: Option<&str>) -> lambda_http::http::Request<Vec<u8>> {
    let plivo = plivo_answering(queued()).await;
    send_to(&plivo).await.unwrap();
    let sent: Value =
        serde_json::from_slice(&plivo.received_requests().await.unwrap()[0].body).unwrap();
    let mut request = lambda_http::http::Request::post(sent["url"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .header(NONCE_HEADER, REPORT_NONCE);
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    request.body(REPORT_BODY.as_bytes().to_vec()).unwrap()
}

/// What `POST /plivo/status` does first (through the handler: plivo_reports.rs):
/// check the signature, then read the report.
fn check(request: &lambda_http::http::Request<Vec<u8>>) -> Option<PlivoReport> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(request.body())
        .into_owned()
        .collect();
    let uri = request.uri();
    let url = format!(
        "{}://{}{}",
        uri.scheme_str().unwrap(),
        uri.authority().unwrap(),
        uri.path()
    );
    let validator = SignatureValidator::new(AUTH_TOKEN.into());
    validator
        .is_valid(
            &url,
            uri.query(),
            &params,
            header(NONCE_HEADER),
            header(SIGNATURE_HEADER),
        )
        .then(|| PlivoReport::parse(uri.query(), &params).unwrap())
}

#[tokio::test]
async fn a_report_signed_by_plivo_is_read() {
    let report = check(&report_request(Some(REPORT_SIGNATURE)).await).expect("a valid signature");
    assert!(report.undelivered);
    assert_eq!(report.verification.as_str(), VERIFICATION);
    assert_eq!(report.sent_at, Timestamp::from_unix_seconds(1_800_000_000));
    assert_eq!(report.to.as_e164(), "+14155550123");
    assert_eq!(report.error_code, Some(50));
    // The header may list several signatures: one that matches will do.
    let several = format!("c2lnbmF0dXJlIG9mIGFuIG9sZCB0b2tlbg==,{REPORT_SIGNATURE}");
    assert!(check(&report_request(Some(&several)).await).is_some());
}

#[tokio::test]
async fn a_forged_or_unsigned_report_is_refused() {
    let forged = REPORT_SIGNATURE.replace('8', "9");
    assert!(check(&report_request(Some(&forged)).await).is_none());
    assert!(check(&report_request(None).await).is_none());

    // A genuine signature on another report (delivered, not undelivered).
    let mut tampered = report_request(Some(REPORT_SIGNATURE)).await;
    *tampered.body_mut() = REPORT_BODY.replace("undelivered", "delivered").into_bytes();
    assert!(check(&tampered).is_none());
}
