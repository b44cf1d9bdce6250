use phone_verification::app::{self, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    app::serve(Function::VerifyPhoneNumber).await
}
