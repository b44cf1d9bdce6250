//! Wiring for the Lambda binaries: configuration, SDK clients and the
//! service are built once per execution environment, at cold start.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::adapters::clock::SystemClock;
use crate::adapters::dynamodb::DynamoDbStore;
use crate::adapters::twilio::TwilioSender;
use crate::config::Config;
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
/// pass one they can move). The AWS SDK reads region, credentials and
/// `AWS_ENDPOINT_URL_DYNAMODB` from the environment.
pub async fn build<C: Clock>(
    config: Config,
    clock: C,
) -> Result<Api<DynamoDbStore, TwilioSender, C>, Error> {
    let aws = aws_config::load_from_env().await;
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name);
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
pub async fn serve(function: Function) -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let api: Arc<LambdaApi> = Arc::new(build(config, SystemClock).await?);
    lambda_http::run(service_fn(move |request: Request| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(handle(&api, function, request).await) }
    }))
    .await
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
