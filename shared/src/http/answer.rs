use std::borrow::Cow;
use std::time::Instant;

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

use super::Reason;
use crate::metrics;

/// A failure as the client sees it: a [`Reason`] (which fixes the HTTP
/// status and Parse code), a human message (never internal details) and
/// extra fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub reason: Reason,
    pub message: Cow<'static, str>,
    pub retry_after_seconds: Option<u64>,
    /// Extra fields for the body, e.g. `attemptsRemaining`.
    pub details: Map<String, Value>,
}

impl From<Reason> for ApiError {
    fn from(reason: Reason) -> Self {
        Self {
            reason,
            message: Cow::Borrowed(reason.message()),
            retry_after_seconds: reason.retry_after_seconds(),
            details: Map::new(),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }

    /// A more precise message than the reason's own (naming a parameter, say).
    pub fn message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.details.insert(name.to_owned(), value.into());
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut body = Map::new();
        body.insert("code".into(), self.reason.parse_code().into());
        body.insert("error".into(), self.message.into());
        body.insert("reason".into(), self.reason.as_str().into());
        if let Some(seconds) = self.retry_after_seconds {
            body.insert("retryAfter".into(), seconds.into());
        }
        body.extend(self.details);
        json_response(
            self.reason.status(),
            &Value::Object(body),
            self.retry_after_seconds,
        )
    }
}

/// `200 {"result": result}`.
pub fn success(result: Value) -> Response<Body> {
    json_response(StatusCode::OK, &json!({ "result": result }), None)
}

/// `200` with a document anyone may cache for an hour (the JWKS).
pub fn public_json(document: Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(Body::Text(document.to_string()))
        .expect("status and headers are valid")
}

pub(super) fn json_response(
    status: StatusCode,
    body: &Value,
    retry_after: Option<u64>,
) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        // Answers are about one user's verification: never cache them.
        .header(header::CACHE_CONTROL, "no-store");
    if let Some(seconds) = retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds);
    }
    builder
        .body(Body::Text(body.to_string()))
        .expect("status and headers are valid")
}

/// `200` with an XML document about one call (Plivo's script): never cached.
pub fn xml(document: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/xml")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(document))
        .expect("status and headers are valid")
}

/// Logs one line per request (no number, no code) and builds the answer.
pub(super) fn respond(
    function: &str,
    started: Instant,
    outcome: Result<Value, ApiError>,
) -> Response<Body> {
    respond_with(function, started, outcome, success)
}

/// As `respond`, with `answer` making the success's answer.
pub(super) fn respond_with<T>(
    function: &str,
    started: Instant,
    outcome: Result<T, ApiError>,
    answer: impl FnOnce(T) -> Response<Body>,
) -> Response<Body> {
    let latency_us = started.elapsed().as_micros();
    match outcome {
        Ok(result) => {
            tracing::info!(
                function,
                status = 200,
                outcome = "ok",
                latency_us,
                "request answered"
            );
            answer(result)
        }
        Err(error) => {
            metrics::count(
                "Refusals",
                &[("Reason", error.reason.as_str()), ("Function", function)],
            );
            tracing::info!(
                function,
                status = error.status().as_u16(),
                outcome = "refused",
                reason = error.reason.as_str(),
                latency_us,
                "request answered"
            );
            error.into_response()
        }
    }
}
