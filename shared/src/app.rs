//! Wiring for the Lambda binaries: each function builds, once per execution
//! environment, only what it uses. The send function holds the message
//! providers' clients and credentials; the verify function holds the proof
//! key and no provider at all (its service type cannot send).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;

use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Error, LambdaEvent, Request, lambda_runtime, service_fn};

use crate::adapters::aws_sms::AwsSmsSender;
use crate::adapters::clock::SystemClock;
use crate::adapters::dynamodb::{DynamoDbHealth, DynamoDbStore};
use crate::adapters::https;
use crate::adapters::human_proof::HumanProofChecker;
use crate::adapters::plivo::PlivoSender;
use crate::adapters::routed::{ProviderSender, RoutedSender};
use crate::adapters::sns::SnsVerifier;
use crate::adapters::ssm::load_secrets;
use crate::adapters::twilio::TwilioSender;
use crate::config::{SendConfig, VerifyConfig, with_settings};
use crate::domain::{BreakerPolicy, PhoneNumber, Provider};
use crate::http::verify_v2::VerifyServices;
use crate::http::{HttpFunction, SendApi, VerifyApi, with_decodable_body};
use crate::ports::Clock;
use crate::service::VerificationService;

/// The providers as deployed: each message through its route
/// (`DELIVERY_ROUTES`), the circuit breakers shared through DynamoDB.
pub type LambdaSender = RoutedSender<ProviderSender, DynamoDbHealth>;
/// The send function as deployed: DynamoDB, the providers and the system clock.
pub type LambdaSendApi = SendApi<DynamoDbStore, LambdaSender, SystemClock>;
/// The verify function as deployed: DynamoDB and the system clock.
pub type LambdaVerifyApi = VerifyApi<DynamoDbStore, SystemClock>;

/// The secrets each function may read from Parameter Store (through
/// `<SETTING>_PARAMETER`), and is granted in template.yaml.
pub const SEND_SECRETS: &[&str] = &[
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY_SID",
    "TWILIO_API_KEY_SECRET",
    "CODE_HMAC_KEY",
    "CODE_HMAC_PREVIOUS_KEYS",
    "IDENTITY_HMAC_KEY",
    "IDENTITY_HMAC_PREVIOUS_KEYS",
    "VERIFY_API_KEYS",
    "PLIVO_AUTH_TOKEN",
    // Their fixed codes: only the send function stores them (as MACs).
    "TEST_PHONE_NUMBERS",
    "HUMAN_PROOF_SECRET",
];
pub const VERIFY_SECRETS: &[&str] = &[
    "CODE_HMAC_KEY",
    "CODE_HMAC_PREVIOUS_KEYS",
    "IDENTITY_HMAC_KEY",
    "IDENTITY_HMAC_PREVIOUS_KEYS",
    "PROOF_SIGNING_KEY",
    "PROOF_PREVIOUS_KEY",
    "VERIFY_API_KEYS",
];

/// Builds the send function from validated configuration, with the given
/// clock (tests pass one they can move) and DynamoDB client.
pub fn build_send<C: Clock + Clone>(
    config: SendConfig,
    clock: C,
    aws: &aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
) -> Result<SendApi<DynamoDbStore, LambdaSender, C>, Error> {
    let common = config.common;
    let store = DynamoDbStore::new(dynamodb, common.table_name);
    let human_proof = config.human_proof.map(HumanProofChecker::new).transpose()?;
    // Only the providers a route names: any other adds nothing to init.
    let routed = config.routes.providers();
    let mut senders = Vec::new();
    if let Some(twilio) = config.twilio.filter(|_| routed.contains(&Provider::Twilio)) {
        senders.push((
            Provider::Twilio,
            ProviderSender::Twilio(TwilioSender::new(twilio)?),
        ));
    }
    if let Some(plivo) = config.plivo.filter(|_| routed.contains(&Provider::Plivo)) {
        senders.push((
            Provider::Plivo,
            ProviderSender::Plivo(PlivoSender::new(plivo)?),
        ));
    }
    if let Some(aws_sms) = config.aws_sms.filter(|_| routed.contains(&Provider::Aws)) {
        let sender = AwsSmsSender::new(aws, aws_sms);
        senders.push((Provider::Aws, ProviderSender::Aws(sender)));
    }
    let health = DynamoDbHealth::new(store.clone(), BreakerPolicy::default());
    let sender = RoutedSender::new(senders, config.routes, health);
    let service = VerificationService::new(store, clock, common.keys, common.policy)
        .with_delivery(sender, config.messages)
        .with_human_proof(human_proof);
    let mut messages = config.service_messages;
    let verify_api = common.verify_api.map(|settings| {
        VerifyServices::new(settings, service.clone(), |other| {
            let own_messages = messages
                .remove(&other.rules.sid)
                .expect("SendConfig makes every other service's messages");
            service
                .for_service(&other.rules)
                .with_messages(own_messages)
        })
    });
    Ok(SendApi::new(
        service,
        common.parse_application_id,
        config.delivery_reports,
    )
    .with_plivo(config.plivo_reports, config.plivo_answers)
    .with_aws_events(config.aws_events.map(SnsVerifier::new).transpose()?)
    .with_verify_api(verify_api))
}

/// Builds the verify function from validated configuration.
pub fn build_verify<C: Clock + Clone>(
    config: VerifyConfig,
    clock: C,
    dynamodb: aws_sdk_dynamodb::Client,
) -> VerifyApi<DynamoDbStore, C> {
    let common = config.common;
    let store = DynamoDbStore::new(dynamodb, common.table_name);
    let service = VerificationService::new(store, clock, common.keys, common.policy);
    let verify_api = common.verify_api.map(|settings| {
        VerifyServices::new(settings, service.clone(), |other| {
            service.for_service(&other.rules)
        })
    });
    VerifyApi::new(service, common.parse_application_id, config.proof).with_verify_api(verify_api)
}

/// Runs `sendVerificationCode` (and the providers' reports) until the
/// environment is shut down.
pub async fn serve_send() -> Result<(), Error> {
    serve(async || {
        let (aws, settings) = load(SEND_SECRETS).await?;
        let config = SendConfig::from_lookup(settings)?;
        let api = build_send(
            config,
            SystemClock,
            &aws,
            aws_sdk_dynamodb::Client::new(&aws),
        )?;
        let service = api.service();
        tokio::join!(service.store().warm_up(), service.sender().warm_up());
        Ok(api)
    })
    .await
}

/// Runs `verifyPhoneNumber` (and `GET /.well-known/jwks.json`) until the
/// environment is shut down.
pub async fn serve_verify() -> Result<(), Error> {
    serve(async || {
        let (aws, settings) = load(VERIFY_SECRETS).await?;
        let config = VerifyConfig::from_lookup(settings)?;
        let api = build_verify(config, SystemClock, aws_sdk_dynamodb::Client::new(&aws));
        api.service().store().warm_up().await;
        Ok(api)
    })
    .await
}

/// Cold start, then the Lambda runtime loop. `start` builds the function:
/// the first request must not pay for credentials, DNS, TLS handshakes or
/// the numbering plan, so all of that happens here.
async fn serve<F: HttpFunction + 'static>(
    start: impl AsyncFnOnce() -> Result<F, Error>,
) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let started = Instant::now();
    let function = Arc::new(
        start()
            .await
            .inspect_err(|error| tracing::error!(%error, "cannot start"))?,
    );
    // A number's first parse reads its calling code's patterns, DFAs that
    // build.rs compiled, from their bytes (+1: ~0.2 M instructions): do it
    // now. (The send function's configuration has already parsed its own
    // sender numbers, whose code is usually its users'.)
    PhoneNumber::parse("+14155550123", None).expect("a valid number");
    tracing::info!(init_ms = started.elapsed().as_millis(), "ready");
    let adapter = Adapter::from(service_fn(move |request: Request| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Error>(function.handle(request).await) }
    }));
    // lambda_http::run, with events made safe to decode first.
    lambda_runtime::run(adapter.map_request(|event: LambdaEvent<LambdaRequest>| {
        LambdaEvent::new(with_decodable_body(event.payload), event.context)
    }))
    .await
}

/// How long one AWS call may take, retries included. A stalled dependency
/// then costs a request at most this, and it gets a clean 503 well within
/// the Lambda timeout (10 s): a send is at most one transaction, one
/// Twilio call (`TWILIO_TIMEOUT_MS`, 5 s) and one compensating write.
pub const AWS_OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

/// The AWS SDK's configuration from the environment, speaking through the
/// shared HTTP client (0.5 s to connect), with timeouts on every call (the
/// SDK has none by default: a paused DynamoDB held requests for minutes).
pub fn aws_config() -> Result<aws_config::ConfigLoader, Error> {
    Ok(aws_config::from_env()
        .http_client(https::aws_http_client(Duration::from_millis(500))?)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_millis(900))
                .operation_timeout(AWS_OPERATION_TIMEOUT)
                .build(),
        ))
}

/// The AWS configuration (region, credentials, endpoints from the
/// environment) and a lookup of every setting ([`settings`]).
async fn load(
    secrets: &[&str],
) -> Result<(aws_config::SdkConfig, impl Fn(&str) -> Option<String>), Error> {
    let aws = aws_config()?.load().await;
    let settings = settings(&aws, secrets).await?;
    Ok((aws, settings))
}

/// The secrets the operator tool (`operator/`) reads: the identity keys, to
/// make pseudonyms as the functions do. Never the code key (docs/operations.md).
pub const OPERATOR_SECRETS: &[&str] = &["IDENTITY_HMAC_KEY", "IDENTITY_HMAC_PREVIOUS_KEYS"];

/// A lookup of every setting as a function reads them: the environment,
/// the `SETTINGS` variable, and `secrets` from Parameter Store (through
/// `<SETTING>_PARAMETER`, read with `aws`), which win.
pub async fn settings(
    aws: &aws_config::SdkConfig,
    secrets: &[&str],
) -> Result<impl Fn(&str) -> Option<String> + use<>, Error> {
    let env = |name: &str| std::env::var(name).ok();
    let stored: HashMap<String, String> =
        load_secrets(&aws_sdk_ssm::Client::new(aws), secrets, env).await?;
    tracing::info!(secrets = stored.len(), "secrets loaded");
    let settings = with_settings(env)?;
    Ok(move |name: &str| stored.get(name).cloned().or_else(|| settings(name)))
}
