//! What API Gateway tells us about a request, beyond its body: which route
//! it matched, who sent it, and under which public URL the API is reached.
//! Only the request context counts, never a header the caller could forge.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Request, RequestExt};

use crate::service::Client;

/// One route of a function: `(method, path)` as in template.yaml.
pub type Route = (&'static str, &'static str);

/// Which of `routes` the request is for: `Ok(route)`, or `Err(true)` when
/// the path is known but the method is not, `Err(false)` when the path is
/// unknown. The route is API Gateway's route key (`POST /twilio/status`) or
/// resource path, matched exactly; requests without one (a function URL,
/// `cargo lambda watch`) are matched by method and path.
pub fn match_route(request: &Request, routes: &[Route]) -> Result<Route, bool> {
    let (method, path) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            match context
                .route_key
                .as_deref()
                .and_then(|key| key.split_once(' '))
            {
                Some((method, path)) => (method.to_owned(), path.to_owned()),
                None => (
                    context.http.method.to_string(),
                    request.raw_http_path().to_owned(),
                ),
            }
        }
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.http_method.to_string(),
            context.resource_path.clone().unwrap_or_default(),
        ),
        _ => (
            request.method().to_string(),
            request.raw_http_path().to_owned(),
        ),
    };
    let mut path_known = false;
    for route in routes {
        if path_matches(route.1, &path) {
            path_known = true;
            if route.0 == method {
                return Ok(*route);
            }
        }
    }
    Err(path_known)
}

/// Whether `path` is `route`'s: segment by segment, a `{Parameter}`
/// segment standing for any one non-empty segment, as in API Gateway.
fn path_matches(route: &str, path: &str) -> bool {
    let (mut route, mut path) = (route.split('/'), path.split('/'));
    loop {
        match (route.next(), path.next()) {
            (None, None) => return true,
            (Some(expected), Some(actual)) => {
                let parameter = expected.starts_with('{') && expected.ends_with('}');
                if !(expected == actual || parameter && !actual.is_empty()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The `{name}` segment of the request's path under `route`: from the path
/// parameters API Gateway extracted, else read off the raw path.
pub fn path_parameter(request: &Request, route: Route, name: &str) -> Option<String> {
    if let Some(value) = request.path_parameters_ref().and_then(|p| p.first(name)) {
        return Some(value.to_owned());
    }
    let position = route
        .1
        .split('/')
        .position(|s| s == format!("{{{name}}}"))?;
    request
        .raw_http_path()
        .split('/')
        .nth(position)
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
}

/// The caller as API Gateway saw it: its network (see `network`), the key
/// of its hourly allowance.
pub fn client_address(request: &Request) -> Client {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
        _ => None,
    };
    let id = source_ip.map_or_else(|| "unknown".into(), |ip| ip.parse().map_or(ip, network));
    Client::new(id)
}

/// Whose allowance an address counts against: an IPv4 address itself, an
/// IPv6 address its /64 (one subscriber's link: a host picks any address
/// in it at will, so each would otherwise be a fresh allowance).
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        },
    }
}

/// When the Lambda invocation ends (the runtime's deadline), if it is one.
/// A deadline already past when the request starts is none (local
/// emulators such as `cargo lambda watch` send 0).
pub fn deadline(request: &Request) -> Option<Instant> {
    let deadline_ms = request.lambda_context_ref()?.deadline;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = deadline_ms.checked_sub(now_ms).filter(|&left| left > 0)?;
    Some(Instant::now() + Duration::from_millis(left))
}

/// The public https URL of `path` on the API that received `request`, from
/// the domain name and stage API Gateway put in the request context.
pub fn public_url(request: &Request, path: &str) -> Option<String> {
    let (domain, stage) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.domain_name.clone(), context.stage.clone())
        }
        Some(RequestContext::ApiGatewayV1(context)) => {
            (context.domain_name.clone(), context.stage.clone())
        }
        _ => (None, None),
    };
    let domain = domain.filter(|domain| {
        !domain.is_empty() && !domain.contains(|c: char| c == '/' || c.is_whitespace())
    })?;
    let stage = match stage.as_deref() {
        None | Some("$default") | Some("") => String::new(),
        Some(stage) => format!("/{stage}"),
    };
    Some(format!("https://{domain}{stage}{path}"))
}

/// API Gateway never sends a base64 body that does not decode, but a crafted
/// event can, and lambda_http would panic decoding it, which ends the whole
/// execution environment. Such a body is passed on as the text it is
/// instead, which the handlers refuse as not JSON (400).
pub fn with_decodable_body(mut event: LambdaRequest) -> LambdaRequest {
    let (body, is_base64) = match &mut event {
        LambdaRequest::ApiGatewayV2(request) => (&request.body, &mut request.is_base64_encoded),
        LambdaRequest::ApiGatewayV1(request) => (&request.body, &mut request.is_base64_encoded),
        _ => return event,
    };
    let decodes = |body: &String| {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_ok()
    };
    if *is_base64 && !body.as_ref().is_none_or(decodes) {
        *is_base64 = false;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_address_counts_as_its_64_and_an_ipv4_one_as_itself() {
        let of = |ip: &str| network(ip.parse().unwrap());
        assert_eq!(of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(of("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(of("2001:db8:1:3::1"), of("2001:db8:1:2::1"));
        assert_eq!(of("198.51.100.7"), "198.51.100.7");
        assert_eq!(of("::ffff:198.51.100.7"), "198.51.100.7");
    }
}
