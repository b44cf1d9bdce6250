#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    phone_verification::app::serve_verify().await
}
