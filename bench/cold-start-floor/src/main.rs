//! A bare function: a DynamoDB client built at init, one UpdateItem per
//! request. The cold-start baseline of scripts/bench.sh.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("VERIFICATIONS_TABLE")?;
    lambda_http::run(service_fn(|_request: Request| {
        let (dynamodb, table) = (dynamodb.clone(), table.clone());
        async move {
            dynamodb
                .update_item()
                .table_name(table)
                .key("pk", AttributeValue::S("floor".into()))
                .update_expression("ADD requests :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
                .await?;
            Ok::<_, Error>(Response::new(Body::from("{}")))
        }
    }))
    .await
}
