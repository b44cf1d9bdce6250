//! Wiring for the Lambda binaries: configuration, SDK clients and the
//! service are built once per execution environment, at cold start.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::adapters::clock::SystemClock;
use crate::adapters::dynamodb::DynamoDbStore;
use crate::adapters::ssm::load_secrets;
use crate::adapters::twilio::TwilioSender;
use crate::config::Config;
use crate::domain::PhoneNumber;
use crate::http::{Api, ApiSettings};
use crate::ports::{Clock, IdempotencyStore, MessageSender, VerificationStore};
use crate::service::VerificationService;

/// The API as deployed: DynamoDB, Twilio and the system clock.
pub type LambdaApi = Api<DynamoDbStore, TwilioSender, SystemClock>;

/// Served by the verify function: the proof tokens' public keys.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Served by the send function: Twilio's delivery reports.
pub const STATUS_PATH: &str = "/twilio/status";

/// Which of the two functions a binary serves.
#[derive(Debug, Clone, Copy)]
pub enum Function {
    SendVerificationCode,
    VerifyPhoneNumber,
}

/// Builds the API from validated configuration, with the given clock (tests
/// pass one they can move) and DynamoDB client.
pub fn build<C: Clock>(
    config: Config,
    clock: C,
    dynamodb: aws_sdk_dynamodb::Client,
) -> Result<Api<DynamoDbStore, TwilioSender, C>, Error> {
    let store = DynamoDbStore::new(dynamodb, config.table_name);
    let sender = TwilioSender::new(config.twilio)?;
    let service = VerificationService::new(store, sender, clock, config.hasher, config.policy);
    let settings = ApiSettings {
        application_id: config.parse_application_id,
        proof: config.proof,
        delivery_reports: config.delivery_reports,
    };
    Ok(Api::new(service, settings))
}

/// Runs `function` on the Lambda runtime until the environment is shut down.
///
/// Cold start: the AWS SDK reads region, credentials and endpoints from the
/// environment; secrets named by `<SETTING>_PARAMETER` come from Parameter
/// Store; then the connections to DynamoDB and Twilio are opened, so the
/// first request does not pay for credentials, DNS and TLS handshakes.
pub async fn serve(function: Function) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let api: Arc<LambdaApi> = Arc::new(
        start()
            .await
            .inspect_err(|error| tracing::error!(%error, "cannot start"))?,
    );
    lambda_http::run(service_fn(move |request: Request| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(handle(&api, function, request).await) }
    }))
    .await
}

async fn start() -> Result<LambdaApi, Error> {
    let started = Instant::now();
    let aws = aws_config::load_from_env().await;
    let env = |name: &str| std::env::var(name).ok();
    let secrets = load_secrets(&aws_sdk_ssm::Client::new(&aws), env).await?;
    let config = Config::from_lookup(|name| secrets.get(name).cloned().or_else(|| env(name)))?;
    let api = build(config, SystemClock, aws_sdk_dynamodb::Client::new(&aws))?;
    // The numbering plan is decoded on first use (~80 ms): do it now.
    PhoneNumber::parse("+14155550123", None).expect("a valid number");
    let service = api.service();
    tokio::join!(service.store().warm_up(), service.sender().warm_up());
    tracing::info!(
        init_ms = started.elapsed().as_millis(),
        secrets = secrets.len(),
        "ready"
    );
    Ok(api)
}

/// Routes one request of `function`'s API Gateway routes to its handler.
pub async fn handle<S, M, C>(
    api: &Api<S, M, C>,
    function: Function,
    request: Request,
) -> Response<Body>
where
    S: VerificationStore + IdempotencyStore,
    M: MessageSender,
    C: Clock,
{
    match function {
        Function::SendVerificationCode if request.uri().path().ends_with(STATUS_PATH) => {
            api.twilio_status(request).await
        }
        Function::SendVerificationCode => api.send_verification_code(request).await,
        Function::VerifyPhoneNumber if request.uri().path().ends_with(JWKS_PATH) => api.jwks(),
        Function::VerifyPhoneNumber => api.verify_phone_number(request).await,
    }
}
