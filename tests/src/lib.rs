//! Test harness: the real handlers, wired exactly as in Lambda, against
//! DynamoDB Local (over HTTP) and a Twilio fake that speaks Twilio's wire
//! format. Run through `scripts/test.sh`, which starts DynamoDB Local and
//! sets `AWS_ENDPOINT_URL_DYNAMODB`.

pub mod fault_proxy;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use base64::Engine;
use lambda_http::request::LambdaRequest;
use phone_verification::adapters::clock::{ManualClock, SystemClock};
use phone_verification::adapters::dynamodb::DynamoDbStore;
use phone_verification::app;
use phone_verification::config::{SendConfig, VerifyConfig};
use phone_verification::domain::{
    Channel, CodeMac, IdentityHasher, Keyring, PhoneNumber, Provider, Pseudonym, Timestamp,
    VerificationId,
};
use phone_verification::http::{HttpFunction, SendApi, VerifyApi, with_decodable_body};
use phone_verification::ports::Clock;
use phone_verification::ports::{Content, NewVerification, OutgoingMessage, Speech};
use secrecy::SecretBox;
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "test-auth-token";
pub const FROM_NUMBER: &str = "+15005550006";
/// The Verify service every test stack serves, and its API key.
pub const VERIFY_SERVICE_SID: &str = "VA0123456789abcdef0123456789abcdef";
/// The stack's Verify API key: every service, no approval without a code.
pub const VERIFY_API_KEY: (&str, &str) = ("SKtest", "integration-verify-secret-0123");
/// A key with the right to approve without a code (`Status=approved`).
pub const APPROVER_API_KEY: (&str, &str) = ("SKapprover", "integration-approver-secret-01");
pub const CALLS_PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json";
pub const MESSAGES_PATH: &str =
    "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

/// The function under test.
#[derive(Debug, Clone, Copy)]
pub enum Function {
    Send,
    Verify,
}

/// A handler's answer, decoded.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Answer {
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("<none>")
    }
}

pub struct Stack {
    pub send_api: SendApi<DynamoDbStore, app::LambdaSender, Arc<ManualClock>>,
    pub verify_api: VerifyApi<DynamoDbStore, Arc<ManualClock>>,
    pub twilio: MockServer,
    pub clock: Arc<ManualClock>,
    pub table: String,
    /// DynamoDB operations the API made, in order (`UpdateItem`, ...).
    pub dynamodb_calls: Arc<Mutex<Vec<String>>>,
    env: HashMap<&'static str, String>,
    lambda_timeouts: bool,
}

/// Records the operation of every request the DynamoDB client transmits
/// (retries included), to count round trips.
#[derive(Debug)]
struct CallRecorder(Arc<Mutex<Vec<String>>>);

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// Settings the tests change; everything else as in production.
pub struct Options {
    pub env: Vec<(&'static str, String)>,
    /// Mount the default "Twilio accepts every message" answer.
    pub twilio_accepts: bool,
    /// The functions' own AWS timeouts (2 s per call), for tests of a stalled
    /// DynamoDB; otherwise [`aws_config`]'s, which a loaded machine cannot trip.
    pub lambda_timeouts: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            twilio_accepts: true,
            lambda_timeouts: false,
        }
    }
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// A stack whose settings differ from the defaults by `env`.
    pub async fn with_env(env: &[(&'static str, &str)]) -> Self {
        Self::start_with(Options {
            env: env
                .iter()
                .map(|(name, value)| (*name, value.to_string()))
                .collect(),
            ..Options::default()
        })
        .await
    }

    /// A fresh table in DynamoDB Local and a fresh Twilio fake per stack, so
    /// tests never see each other's state.
    pub async fn start_with(options: Options) -> Self {
        let table = create_table().await;
        let twilio = MockServer::start().await;
        if options.twilio_accepts {
            twilio_accepts_messages(&twilio).await;
        }
        let mut env: HashMap<&'static str, String> = HashMap::from([
            ("VERIFICATIONS_TABLE", table.clone()),
            ("TWILIO_API_BASE", twilio.uri()),
            ("TWILIO_ACCOUNT_SID", ACCOUNT_SID.into()),
            ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.into()),
            ("TWILIO_FROM_NUMBER", FROM_NUMBER.into()),
            (
                "CODE_HMAC_KEY",
                "integration-test-key-0123456789abcdef".into(),
            ),
            (
                "IDENTITY_HMAC_KEY",
                "integration-test-identity-key-0123456".into(),
            ),
            ("TWILIO_TIMEOUT_MS", "1000".into()),
            ("VERIFY_SERVICE_SID", VERIFY_SERVICE_SID.into()),
            (
                "VERIFY_API_KEYS",
                format!(
                    "{}:{}:*,{}:{}:*|approve",
                    VERIFY_API_KEY.0, VERIFY_API_KEY.1, APPROVER_API_KEY.0, APPROVER_API_KEY.1
                ),
            ),
        ]);
        env.extend(options.env);
        let clock = Arc::new(ManualClock::starting_at(SystemClock.now()));
        let dynamodb_calls = Arc::new(Mutex::new(Vec::new()));
        let (send_api, verify_api) =
            build_apis(&env, &clock, &dynamodb_calls, options.lambda_timeouts).await;
        Self {
            lambda_timeouts: options.lambda_timeouts,
            send_api,
            verify_api,
            twilio,
            clock,
            table,
            dynamodb_calls,
            env,
        }
    }

    /// The same table, Twilio fake and clock under changed settings, as
    /// after a redeploy (e.g. a key rotation).
    pub async fn redeployed_with(mut self, changes: &[(&'static str, &str)]) -> Self {
        self.env.extend(
            changes
                .iter()
                .map(|(name, value)| (*name, value.to_string())),
        );
        (self.send_api, self.verify_api) = build_apis(
            &self.env,
            &self.clock,
            &self.dynamodb_calls,
            self.lambda_timeouts,
        )
        .await;
        self
    }

    /// A setting of this stack's functions (their environment), for a tool
    /// that reads the configuration as they do (the operator CLI).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    /// The DynamoDB operations made since the last call.
    pub fn take_dynamodb_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.dynamodb_calls.lock().unwrap())
    }

    /// Calls a function with `params` as an API Gateway HTTP API event would.
    pub async fn call(&self, function: Function, params: Value) -> Answer {
        self.call_event(
            function,
            &http_api_event(function, &params.to_string(), "application/json"),
        )
        .await
    }

    pub async fn send(&self, phone: &str) -> Answer {
        self.call(Function::Send, json!({ "phoneNumber": phone }))
            .await
    }

    pub async fn verify(&self, phone: &str, code: &str) -> Answer {
        self.call(
            Function::Verify,
            json!({ "phoneNumber": phone, "phoneVerificationCode": code }),
        )
        .await
    }

    /// A send as from the client address `ip`.
    pub async fn send_from(&self, ip: &str, phone: &str) -> Answer {
        self.call_from(ip, Function::Send, json!({ "phoneNumber": phone }))
            .await
    }

    /// A call as from the client address `ip`.
    pub async fn call_from(&self, ip: &str, function: Function, params: Value) -> Answer {
        let mut event: Value = serde_json::from_str(&http_api_event(
            function,
            &params.to_string(),
            "application/json",
        ))
        .expect("a JSON event");
        event["requestContext"]["http"]["sourceIp"] = ip.into();
        self.call_event(function, &event.to_string()).await
    }

    /// A Twilio Verify v2 call (`path` below the host, `form` its body), as
    /// twilio-node makes it through API Gateway, with the stack's API key.
    pub async fn twilio_verify(&self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        self.twilio_verify_as(Some(VERIFY_API_KEY), method, path, form)
            .await
    }

    /// The same with other credentials (`None`: no Authorization header).
    pub async fn twilio_verify_as(
        &self,
        credentials: Option<(&str, &str)>,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Answer {
        let segments: Vec<&str> = path.split('/').collect();
        let (route, function, parameters) = match segments.as_slice() {
            ["", "v2", "Services", service, "Verifications"] => (
                "/v2/Services/{ServiceSid}/Verifications",
                Function::Send,
                json!({ "ServiceSid": service }),
            ),
            ["", "v2", "Services", service, "VerificationCheck"] => (
                "/v2/Services/{ServiceSid}/VerificationCheck",
                Function::Verify,
                json!({ "ServiceSid": service }),
            ),
            ["", "v2", "Services", service, "Verifications", sid] => (
                "/v2/Services/{ServiceSid}/Verifications/{Sid}",
                Function::Verify,
                json!({ "ServiceSid": service, "Sid": sid }),
            ),
            _ => panic!("{path} is no Verify v2 route"),
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut event: Value = serde_json::from_str(&http_api_event(
            function,
            &body,
            "application/x-www-form-urlencoded",
        ))
        .expect("a JSON event");
        let route_key = format!("{method} {route}");
        event["routeKey"] = route_key.clone().into();
        event["requestContext"]["routeKey"] = route_key.into();
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["path"] = path.into();
        event["requestContext"]["http"]["method"] = method.into();
        event["pathParameters"] = parameters;
        if let Some((sid, secret)) = credentials {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{secret}"));
            event["headers"]["authorization"] = format!("Basic {basic}").into();
        }
        self.call_event(function, &event.to_string()).await
    }

    /// Moves the clock to the start of the next window of `length` seconds.
    pub fn align_to_window(&self, length: u64) -> u64 {
        let into_window = self.clock.now().unix_seconds() as u64 % length;
        self.clock.advance(length - into_window);
        length
    }

    /// Feeds a raw API Gateway event (v1 or v2 JSON) through the handler.
    pub async fn call_event(&self, function: Function, event: &str) -> Answer {
        self.call_request(function, request_from(event)).await
    }

    /// Feeds a request (e.g. one with a Lambda context) through the handler.
    pub async fn call_request(&self, function: Function, request: lambda_http::Request) -> Answer {
        let response = match function {
            Function::Send => self.send_api.handle(request).await,
            Function::Verify => self.verify_api.handle(request).await,
        };
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let xml = response
            .headers()
            .get("content-type")
            .is_some_and(|kind| kind == "application/xml");
        let body = match response.body() {
            // An XML document (Plivo's call script) as a JSON string.
            lambda_http::Body::Text(text) if xml => Value::String(text.clone()),
            lambda_http::Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
            other => panic!("expected a text body, got {other:?}"),
        };
        Answer {
            status: response.status().as_u16(),
            headers,
            body,
        }
    }

    /// Form fields of every message Twilio received, oldest first.
    pub async fn messages(&self) -> Vec<HashMap<String, String>> {
        self.requests_to(MESSAGES_PATH).await
    }

    /// Form fields of every call Twilio was asked to place, oldest first.
    pub async fn calls(&self) -> Vec<HashMap<String, String>> {
        self.requests_to(CALLS_PATH).await
    }

    async fn requests_to(&self, path: &str) -> Vec<HashMap<String, String>> {
        self.twilio
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path() == path)
            .map(|request| form_urlencoded::parse(&request.body).into_owned().collect())
            .collect()
    }

    /// The form fields of the last of `requests` to `phone` (`what`: a
    /// message, a call).
    fn last_to(
        requests: Vec<HashMap<String, String>>,
        phone: &str,
        what: &str,
    ) -> HashMap<String, String> {
        requests
            .into_iter()
            .rev()
            .find(|fields| fields.get("To").map(String::as_str) == Some(phone))
            .unwrap_or_else(|| panic!("no {what} to {phone}"))
    }

    /// The code in the last message the phone received (its first run of 4+ digits).
    pub async fn code_sent_to(&self, phone: &str) -> String {
        let message = Self::last_to(self.messages().await, phone, "message was sent");
        code_in(&message["Body"])
    }

    /// The code in the last call to the phone: the digits its TwiML reads
    /// (`<prosody>1, 2, 3, 4, 5, 6</prosody>`, twice).
    pub async fn code_called_to(&self, phone: &str) -> String {
        let call = Self::last_to(self.calls().await, phone, "call was placed");
        let twiml = roxmltree::Document::parse(&call["Twiml"]).expect("well-formed TwiML");
        let digits = twiml
            .descendants()
            .find(|node| node.has_tag_name("prosody"))
            .and_then(|prosody| prosody.text())
            .expect("the call reads the code");
        digits.split(", ").collect()
    }

    /// A code that is certainly wrong: the right one with its first digit changed.
    pub async fn wrong_code_for(&self, phone: &str) -> String {
        let code = self.code_sent_to(phone).await;
        let first = (code.as_bytes()[0] - b'0' + 1) % 10;
        format!("{first}{}", &code[1..])
    }

    /// The raw DynamoDB item of a number (found by its pseudonym), to check
    /// what is (not) stored.
    pub async fn stored_item(
        &self,
        phone: &str,
    ) -> Option<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let phone = PhoneNumber::parse(phone, None).expect("a valid number");
        let pseudonym = self.send_api.service().pseudonym(&phone);
        dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("number#{pseudonym}")),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem works")
            .item
    }
}

/// A raw API Gateway event (v1 or v2 JSON) as the functions' runtime loop
/// makes it a request: made safe to decode first.
pub fn request_from(event: &str) -> lambda_http::Request {
    let event: LambdaRequest = serde_json::from_str(event).expect("a valid API Gateway event");
    with_decodable_body(event).into()
}

/// Both functions, each from its own validated configuration, as each
/// Lambda function builds itself at cold start.
async fn build_apis(
    env: &HashMap<&'static str, String>,
    clock: &Arc<ManualClock>,
    calls: &Arc<Mutex<Vec<String>>>,
    lambda_timeouts: bool,
) -> (
    SendApi<DynamoDbStore, app::LambdaSender, Arc<ManualClock>>,
    VerifyApi<DynamoDbStore, Arc<ManualClock>>,
) {
    let lookup = |name: &str| env.get(name).cloned();
    let send = SendConfig::from_lookup(lookup).expect("valid send config");
    let verify = VerifyConfig::from_lookup(lookup).expect("valid verify config");
    // The functions' own SDK configuration, timeouts included if asked for.
    let sdk = match lambda_timeouts {
        true => app::aws_config().expect("an HTTP client").load().await,
        false => aws_config().load().await,
    };
    let mut dynamodb =
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(CallRecorder(Arc::clone(calls)));
    if let Some(endpoint) = env.get("AWS_ENDPOINT_URL_DYNAMODB") {
        dynamodb = dynamodb.endpoint_url(endpoint);
    }
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
    // AWS End User Messaging's stand-in, as the SDK's own variable names it.
    let sdk = match env.get("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2") {
        Some(endpoint) => sdk.to_builder().endpoint_url(endpoint).build(),
        None => sdk,
    };
    (
        app::build_send(send, Arc::clone(clock), &sdk, dynamodb.clone()).expect("the API builds"),
        app::build_verify(verify, Arc::clone(clock), dynamodb),
    )
}

/// Twilio's answers to an accepted message or call (resources, trimmed).
pub async fn twilio_accepts_messages(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(CALLS_PATH))
        .and(basic_auth(ACCOUNT_SID, AUTH_TOKEN))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "CA0123456789abcdef0123456789abcdef",
            "account_sid": ACCOUNT_SID,
            "status": "queued",
            "direction": "outbound-api",
        })))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES_PATH))
        .and(basic_auth(ACCOUNT_SID, AUTH_TOKEN))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef",
            "account_sid": ACCOUNT_SID,
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "error_code": null,
            "error_message": null,
            "uri": format!("{MESSAGES_PATH}/SM0123456789abcdef0123456789abcdef.json"),
        })))
        .mount(server)
        .await;
}

pub const PLIVO_AUTH_ID: &str = "MAZDQ1ZJIYMDZKMMZKYM";
pub const PLIVO_AUTH_TOKEN: &str = "plivo-test-auth-token";

/// A Plivo fake that queues every message and fires every call, and the
/// settings that configure Plivo against it (routing nothing to it:
/// `DELIVERY_ROUTES` does that).
pub async fn plivo_fake() -> (MockServer, Vec<(&'static str, String)>) {
    let plivo = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Account/{PLIVO_AUTH_ID}/Call/")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb",
            "message": "call fired",
            "request_uuid": "75c1a0e0-3f3b-11e1-8ea7-1231380bc196",
        })))
        .mount(&plivo)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Account/{PLIVO_AUTH_ID}/Message/")))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "api_id": "db342550-7f1d-11e1-8ea7-1231380bc196",
            "message": "message(s) queued",
            "message_uuid": ["db3ce55a-7f1d-11e1-8ea7-1231380bc196"],
        })))
        .mount(&plivo)
        .await;
    let env = vec![
        ("PLIVO_AUTH_ID", PLIVO_AUTH_ID.to_owned()),
        ("PLIVO_AUTH_TOKEN", PLIVO_AUTH_TOKEN.to_owned()),
        ("PLIVO_SENDER", "+14155550100".to_owned()),
        ("PLIVO_API_BASE", plivo.uri()),
    ];
    (plivo, env)
}

/// The code in a message's text: its first run of 4 or more digits.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|digits| digits.len() >= 4)
        .expect("the text carries the code")
        .to_owned()
}

/// An API Gateway HTTP API (payload 2.0) event carrying `body`.
pub fn http_api_event(function: Function, body: &str, content_type: &str) -> String {
    let name = match function {
        Function::Send => "sendVerificationCode",
        Function::Verify => "verifyPhoneNumber",
    };
    json!({
        "version": "2.0",
        "routeKey": format!("POST /functions/{name}"),
        "rawPath": format!("/functions/{name}"),
        "rawQueryString": "",
        "headers": { "content-type": content_type, "host": "api.example.com" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": format!("/functions/{name}"),
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "integration-tests"
            },
            "requestId": "test-request",
            "routeKey": format!("POST /functions/{name}"),
            "stage": "$default",
            "time": "25/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_600_000_000_u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// The same event with the body base64-encoded, as API Gateway sends
/// bodies it considers binary.
pub fn base64_http_api_event(function: Function, body: &str, content_type: &str) -> String {
    let mut event: Value =
        serde_json::from_str(&http_api_event(function, body, content_type)).unwrap();
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(body)
        .into();
    event["isBase64Encoded"] = true.into();
    event.to_string()
}

/// A phone number no other test in this process uses (fictional 555-01xx
/// range of several US area codes; tables are per stack anyway).
pub fn unique_phone() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let area = ["415", "212", "312", "617", "206"][(n / 100 % 5) as usize];
    format!("+1{area}55501{:02}", n % 100)
}

/// Pseudonyms as the functions make them (under the harness's identity
/// key), for the store-level tests.
pub fn identities() -> IdentityHasher {
    IdentityHasher::new(Keyring::new(
        "i1",
        b"integration-test-identity-key-0123456".to_vec(),
    ))
}

/// A number no other test uses, as storage knows it.
pub fn unique_number() -> Pseudonym {
    identities().number(&PhoneNumber::parse(&unique_phone(), None).expect("a valid number"))
}

/// A client address no other test uses, as storage knows it.
pub fn unique_client() -> Pseudonym {
    identities().client(VerificationId::random().as_str())
}

/// A code for `number` sent at `at`, living ten minutes, as storage gets it.
pub fn new_verification(number: &Pseudonym, at: Timestamp) -> NewVerification {
    NewVerification {
        number: number.clone(),
        id: VerificationId::random(),
        code_mac: CodeMac::from_stored(vec![7; 32]),
        key_id: "k1".into(),
        channel: Channel::Sms,
        provider: Some(Provider::Twilio),
        fallback_from: None,
        created_at: at,
        expires_at: at.plus_seconds(600),
    }
}

/// The DynamoDB store over a fresh table in DynamoDB Local.
pub async fn dynamodb_store() -> DynamoDbStore {
    DynamoDbStore::new(dynamodb().await, create_table().await)
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test.sh, \
         which starts DynamoDB Local"
    );
    aws_sdk_dynamodb::Client::new(&aws_config().load().await)
}

/// The functions' AWS configuration with timeouts long enough that a loaded
/// 2-core machine running the whole suite in parallel cannot trip them
/// (DynamoDB Local and moto then answer in seconds, not milliseconds).
pub fn aws_config() -> aws_config::ConfigLoader {
    app::aws_config().expect("an HTTP client").timeout_config(
        TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(30))
            .build(),
    )
}

/// A message to +14155550123 as the service hands it to a sender: `text`
/// by SMS or WhatsApp, `speech` by call.
pub fn outgoing_message(channel: Channel, text: &str, speech: Speech) -> OutgoingMessage {
    let content = match channel {
        Channel::Call => Content::Speech(speech),
        Channel::Sms | Channel::Whatsapp => Content::Text(text.into()),
    };
    OutgoingMessage {
        answer_by: None,
        to: PhoneNumber::parse("+14155550123", None).unwrap(),
        channel,
        content: SecretBox::new(Box::new(content)),
        verification_id: VerificationId::random(),
        sent_at: Timestamp::from_unix_seconds(1_800_000_000),
        status_callbacks: Default::default(),
    }
}

/// template.yaml, parsed. CloudFormation's short forms (`!Ref X`) are
/// [`serde_yaml_ng::Value::Tagged`] values.
pub fn template() -> serde_yaml_ng::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml is readable");
    serde_yaml_ng::from_str(&text).expect("template.yaml parses")
}

/// The table properties of template.yaml that a test table takes (its
/// schema), and those that only AWS applies. TTL is left out on purpose: the
/// functions enforce expiry themselves, so it changes nothing a test sees.
const TABLE_SCHEMA: [&str; 4] = [
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "GlobalSecondaryIndexes",
];
const TABLE_AWS_ONLY: [&str; 7] = [
    "TimeToLiveSpecification",
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "DeletionProtectionEnabled",
    "ContributorInsightsSpecification",
    "TableClass",
    "Tags",
];

/// A CreateTable request for `name` with the schema of template.yaml's
/// DynamoDB table: key schema, attribute definitions, billing mode, global
/// secondary indexes. A table property that is neither schema nor AWS-only
/// fails here, so the test tables cannot silently drift from the template's.
pub fn template_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    use serde_yaml_ng::Value as Yaml;
    let template = template();
    let tables: Vec<&Yaml> = template["Resources"]
        .as_mapping()
        .expect("template.yaml has Resources")
        .values()
        .filter(|resource| resource["Type"] == "AWS::DynamoDB::Table")
        .map(|resource| &resource["Properties"])
        .collect();
    let [table] = tables[..] else {
        panic!(
            "template.yaml should have one DynamoDB table, has {}",
            tables.len()
        );
    };
    let text = |value: &Yaml, key: &str| -> String {
        value[key]
            .as_str()
            .unwrap_or_else(|| panic!("template.yaml: table {key} should be a plain string"))
            .to_owned()
    };
    let list = |value: &Yaml, key: &str| -> Vec<Yaml> {
        value[key].as_sequence().cloned().unwrap_or_default()
    };
    let key_schema = |value: &Yaml| -> Vec<KeySchemaElement> {
        list(value, "KeySchema")
            .iter()
            .map(|key| {
                KeySchemaElement::builder()
                    .attribute_name(text(key, "AttributeName"))
                    .key_type(KeyType::from(text(key, "KeyType").as_str()))
                    .build()
                    .expect("a key schema element")
            })
            .collect()
    };
    for property in table.as_mapping().expect("table Properties").keys() {
        let property = property.as_str().unwrap_or_default();
        assert!(
            TABLE_SCHEMA.contains(&property) || TABLE_AWS_ONLY.contains(&property),
            "template.yaml's table has {property}: make tests/src/lib.rs apply it, or list it as AWS-only"
        );
    }
    let mut request = client
        .create_table()
        .table_name(name)
        .set_key_schema(Some(key_schema(table)))
        .billing_mode(BillingMode::from(text(table, "BillingMode").as_str()));
    for attribute in list(table, "AttributeDefinitions") {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&attribute, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(
                    text(&attribute, "AttributeType").as_str(),
                ))
                .build()
                .expect("an attribute definition"),
        );
    }
    for index in list(table, "GlobalSecondaryIndexes") {
        let projection = &index["Projection"];
        let non_key: Vec<String> = list(projection, "NonKeyAttributes")
            .iter()
            .map(|name| name.as_str().expect("an attribute name").to_owned())
            .collect();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(&index, "IndexName"))
                .set_key_schema(Some(key_schema(&index)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            text(projection, "ProjectionType").as_str(),
                        ))
                        .set_non_key_attributes((!non_key.is_empty()).then_some(non_key))
                        .build(),
                )
                .build()
                .expect("a global secondary index"),
        );
    }
    request
}

/// Creates a fresh table shaped like template.yaml's ([`template_table`]).
async fn create_table() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "verifications-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    template_table(&dynamodb().await, &name)
        .send()
        .await
        .expect("DynamoDB Local creates the table");
    name
}
