//! template.yaml is the one definition of the HTTP API (the local gateway,
//! scripts/local-lambda.mjs, reads its routes and CORS from it): its routes
//! must be exactly the routes each function's code serves, and exactly the
//! operations openapi.yaml documents.

use std::collections::BTreeSet;

use integration_tests::{Function, Stack, http_api_event, template};
use phone_verification::http::verify_v2::{CHECK_ROUTE, CREATE_ROUTE, FETCH_ROUTE, UPDATE_ROUTE};
use phone_verification::http::{
    AWS_EVENTS_ROUTE, JWKS_ROUTE, PLIVO_ANSWER_ROUTE, PLIVO_STATUS_ROUTE, SEND_ROUTE, STATUS_ROUTE,
    VERIFY_ROUTE,
};
use serde_yaml_ng::Value as Yaml;

const SEND_FUNCTION: &str = "SendVerificationCodeFunction";
const VERIFY_FUNCTION: &str = "VerifyPhoneNumberFunction";

/// The logical id a route's `!Sub integrations/${Integration}` target, or an
/// integration's `!GetAtt Function.Arn` URI, names.
fn referenced(value: &Yaml) -> String {
    let Yaml::Tagged(tagged) = value else {
        panic!("expected !Sub or !GetAtt, found {value:?}");
    };
    let text = tagged.value.as_str().unwrap_or_default();
    let name = if tagged.tag == "Sub" {
        text.strip_prefix("integrations/${")
            .and_then(|rest| rest.strip_suffix('}'))
    } else if tagged.tag == "GetAtt" {
        text.strip_suffix(".Arn")
    } else {
        None
    };
    name.unwrap_or_else(|| panic!("cannot follow {value:?}"))
        .to_owned()
}

/// template.yaml's routes: (route key, logical id of the function its
/// integration invokes).
fn template_routes() -> BTreeSet<(String, String)> {
    let template = template();
    let resources = &template["Resources"];
    resources
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::ApiGatewayV2::Route")
        .map(|(id, route)| {
            let key = route["Properties"]["RouteKey"].as_str().expect("RouteKey");
            let integration_id = referenced(&route["Properties"]["Target"]);
            let integration = &resources[integration_id.as_str()];
            assert_eq!(
                integration["Type"], "AWS::ApiGatewayV2::Integration",
                "{id:?} targets {integration_id}"
            );
            let function = referenced(&integration["Properties"]["IntegrationUri"]);
            (key.to_owned(), function)
        })
        .collect()
}

fn function(logical_id: &str) -> Function {
    match logical_id {
        SEND_FUNCTION => Function::Send,
        VERIFY_FUNCTION => Function::Verify,
        other => panic!("template.yaml routes to {other}, which no test knows"),
    }
}

#[test]
fn the_template_routes_are_the_functions_routes() {
    let code: BTreeSet<(String, String)> = [
        (SEND_ROUTE, SEND_FUNCTION),
        (STATUS_ROUTE, SEND_FUNCTION),
        (PLIVO_STATUS_ROUTE, SEND_FUNCTION),
        (AWS_EVENTS_ROUTE, SEND_FUNCTION),
        (PLIVO_ANSWER_ROUTE, SEND_FUNCTION),
        (VERIFY_ROUTE, VERIFY_FUNCTION),
        (JWKS_ROUTE, VERIFY_FUNCTION),
        (CREATE_ROUTE, SEND_FUNCTION),
        (CHECK_ROUTE, VERIFY_FUNCTION),
        (FETCH_ROUTE, VERIFY_FUNCTION),
        (UPDATE_ROUTE, VERIFY_FUNCTION),
    ]
    .into_iter()
    .map(|((method, path), function)| (format!("{method} {path}"), function.to_owned()))
    .collect();
    assert_eq!(template_routes(), code);
}

/// What the pairs above claim, through the real handlers: API Gateway's
/// event for each of the template's routes is served by the function the
/// template sends it to, and refused (404 `unknown_function`) by the other.
#[tokio::test]
async fn each_template_route_reaches_its_function_and_only_it() {
    let stack = Stack::start().await;
    for (route_key, owner) in template_routes() {
        let (method, path) = route_key.split_once(' ').expect("METHOD /path");
        let owner = function(&owner);
        for function in [Function::Send, Function::Verify] {
            let mut event: serde_json::Value =
                serde_json::from_str(&http_api_event(function, "{}", "application/json")).unwrap();
            event["routeKey"] = route_key.as_str().into();
            event["rawPath"] = path.into();
            event["requestContext"]["routeKey"] = route_key.as_str().into();
            event["requestContext"]["http"]["method"] = method.into();
            event["requestContext"]["http"]["path"] = path.into();
            let answer = stack.call_event(function, &event.to_string()).await;
            if std::mem::discriminant(&function) == std::mem::discriminant(&owner) {
                assert!(
                    !["unknown_function", "method_not_allowed"].contains(&answer.reason()),
                    "{function:?} does not serve {route_key}: {} {}",
                    answer.status,
                    answer.reason()
                );
            } else {
                assert_eq!(
                    (answer.status, answer.reason()),
                    (404, "unknown_function"),
                    "{function:?} serves {route_key}, which template.yaml sends elsewhere"
                );
            }
        }
    }
}

/// `METHOD /path` of every operation an OpenAPI document (YAML or JSON)
/// describes.
fn operations(relative_path: &str) -> BTreeSet<String> {
    let path = format!("{}/../{relative_path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the OpenAPI document");
    let openapi: Yaml = serde_yaml_ng::from_str(&text).expect("YAML (or JSON)");
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    openapi["paths"]
        .as_mapping()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let path = path.as_str().expect("a path").to_owned();
            item.as_mapping()
                .expect("a path item")
                .keys()
                .filter_map(|key| key.as_str())
                .filter(|key| methods.contains(key))
                .map(move |method| format!("{} {path}", method.to_uppercase()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// openapi.yaml documents the Parse-style routes; the Verify API's routes
/// are operations of Twilio's own Verify v2 spec.
#[test]
fn openapi_documents_exactly_the_template_routes() {
    let (verify, ours): (BTreeSet<String>, BTreeSet<String>) = template_routes()
        .into_iter()
        .map(|(key, _)| key)
        .partition(|key| key.contains(" /v2/"));
    assert_eq!(operations("openapi.yaml"), ours);
    assert_eq!(verify.len(), 4);
    let twilio = operations("tests/twilio-spec/twilio_verify_v2.json");
    for route in verify {
        assert!(
            twilio.contains(&route),
            "{route} is not in Twilio's Verify v2 spec"
        );
    }
}

/// Refusals that can be retried later carry Retry-After; a browser app can
/// read it only if the API's CORS configuration exposes it.
#[test]
fn the_api_exposes_retry_after_to_browsers() {
    let template = template();
    let apis: Vec<&Yaml> = template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|resource| resource["Type"] == "AWS::ApiGatewayV2::Api")
        .collect();
    let [api] = apis[..] else {
        panic!("template.yaml should have one HTTP API");
    };
    let exposed = api["Properties"]["CorsConfiguration"]["ExposeHeaders"]
        .as_sequence()
        .expect("CorsConfiguration.ExposeHeaders");
    assert!(
        exposed.iter().any(|header| header
            .as_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("retry-after"))),
        "ExposeHeaders {exposed:?} lacks retry-after"
    );
}

/// Issue 20, finding 6: CloudWatch may use the alarm topic's key only for
/// this account's alarms (`aws:SourceAccount` and `aws:SourceArn`), so
/// another account's alarm cannot make it encrypt or decrypt.
#[test]
fn the_alarm_topic_key_serves_only_this_accounts_alarms() {
    let template = template();
    let statements = template["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("the key policy's statements");
    let cloudwatch: Vec<&Yaml> = statements
        .iter()
        .filter(|statement| statement["Principal"]["Service"] == "cloudwatch.amazonaws.com")
        .collect();
    let [statement] = cloudwatch[..] else {
        panic!("one statement for CloudWatch: {statements:?}");
    };
    let condition = &statement["Condition"];
    let account = &condition["StringEquals"]["aws:SourceAccount"];
    assert!(
        matches!(account, Yaml::Tagged(t) if t.tag == "Ref" && t.value == "AWS::AccountId"),
        "aws:SourceAccount is the stack's account: {condition:?}"
    );
    let Yaml::Tagged(arn) = &condition["ArnLike"]["aws:SourceArn"] else {
        panic!("aws:SourceArn is a !Sub: {condition:?}");
    };
    assert!(
        arn.value.as_str().is_some_and(
            |arn| arn.ends_with(":cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*")
        ),
        "aws:SourceArn names this account's alarms: {arn:?}"
    );
}

/// `sam deploy --guided` asks one question per template parameter: a first
/// deploy asks at most 15 (issue 21), the two required ones first, and every
/// parameter sits in one of the console's groups.
#[test]
fn the_first_deploy_asks_at_most_15_questions() {
    let template = template();
    let parameters = template["Parameters"].as_mapping().expect("Parameters");
    assert!(
        parameters.len() <= 15,
        "{} template parameters, each a guided-deploy question: fold tuning values into Settings",
        parameters.len()
    );
    let required: Vec<&str> = parameters
        .iter()
        .filter(|(_, parameter)| parameter.get("Default").is_none())
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    let first: Vec<&str> = parameters
        .keys()
        .take(required.len())
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(required, first, "the required parameters come first");
    let grouped: BTreeSet<&str> =
        template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
            .as_sequence()
            .expect("ParameterGroups")
            .iter()
            .flat_map(|group| {
                group["Parameters"]
                    .as_sequence()
                    .expect("a group's Parameters")
            })
            .map(|name| name.as_str().unwrap())
            .collect();
    let all: BTreeSet<&str> = parameters
        .keys()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(grouped, all, "each parameter in one group, no stale names");
}

/// Each provider's credentials (issue 19): the send function's environment
/// names, and its role may read, Twilio's secrets only under `HasTwilio` and
/// Plivo's only under `HasPlivo`, so a stack without them holds no right to them.
#[test]
fn a_providers_secrets_are_named_and_readable_only_when_it_is_configured() {
    let template = template();
    let send = &template["Resources"][SEND_FUNCTION]["Properties"];
    // A value under `!If [condition, ...]`: the condition's name.
    let condition = |value: &Yaml| match value {
        Yaml::Tagged(tagged) if tagged.tag == "If" => tagged.value[0].as_str().map(str::to_owned),
        _ => None,
    };
    let provider_secrets = [
        ("twilio-auth-token", "HasTwilio"),
        ("twilio-api-key-sid", "HasTwilio"),
        ("twilio-api-key-secret", "HasTwilio"),
        ("plivo-auth-token", "HasPlivo"),
    ];
    let variables = send["Environment"]["Variables"].as_mapping().unwrap();
    for (secret, wanted) in provider_secrets {
        let named: Vec<Option<String>> = variables
            .values()
            .filter(|value| format!("{value:?}").contains(&format!("/{secret}")))
            .map(condition)
            .collect();
        assert_eq!(named, [Some(wanted.to_owned())], "{secret}'s variable");
    }
    let statements = send["Policies"][0]["Statement"].as_sequence().unwrap();
    for (secret, wanted) in provider_secrets {
        let granted: Vec<Option<String>> = statements
            .iter()
            .filter(|statement| format!("{statement:?}").contains(&format!("/{secret}")))
            .map(condition)
            .collect();
        assert_eq!(granted, [Some(wanted.to_owned())], "{secret}'s read");
    }
    let conditions = &template["Conditions"];
    for (name, parameter) in [
        ("HasTwilio", "TwilioAccountSid"),
        ("HasPlivo", "PlivoAuthId"),
    ] {
        let text = format!("{:?}", conditions[name]);
        assert!(
            text.contains("Not") && text.contains(parameter),
            "{name} is {parameter} set: {text}"
        );
    }
}
