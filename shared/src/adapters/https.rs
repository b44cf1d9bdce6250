//! One TLS configuration for every outgoing call, with the root store
//! compiled in (Mozilla's, from `webpki-roots`): nothing is read from the
//! file system at cold start. The AWS SDK speaks through `reqwest` here,
//! so the functions carry one HTTP stack and one TLS library (rustls with
//! ring), and the Twilio client shares the same configuration.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// The TLS configuration every client clones: TLS 1.2 and 1.3, ring's
/// ciphers, the compiled-in roots. Building it costs microseconds, and it
/// is built only when a client is (and only once).
static TLS: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
});

/// A `reqwest` client builder with the shared TLS configuration.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(TLS.clone())
}

/// The AWS SDK's HTTP client: `reqwest` with the shared TLS configuration.
/// The SDK's own timeouts (per attempt and per operation) still apply on
/// top; `connect_timeout` bounds opening a connection.
pub fn aws_http_client(connect_timeout: Duration) -> Result<SharedHttpClient, reqwest::Error> {
    let http = client_builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?;
    Ok(SharedHttpClient::new(AwsHttpClient(http)))
}

#[derive(Debug, Clone)]
struct AwsHttpClient(reqwest::Client);

impl HttpClient for AwsHttpClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for AwsHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = to_reqwest(request).map_err(ConnectorError::user)?;
            let response = http.execute(request).await.map_err(transport_error)?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await.map_err(transport_error)?;
            let answer = answer
                .body(SdkBody::from(body))
                .map_err(|error| ConnectorError::other(error.into(), None))?;
            HttpResponse::try_from(answer)
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// The SDK's request as `reqwest`'s. AWS JSON APIs send in-memory bodies.
fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, BoxError> {
    let (parts, body) = request.try_into_http1x()?.into_parts();
    let body = body
        .bytes()
        .ok_or("a streaming request body (not used by these functions)")?
        .to_vec();
    Ok(reqwest::Request::try_from(http::Request::from_parts(
        parts, body,
    ))?)
}

/// Timeouts and connection failures are what the SDK's retry policy
/// retries; everything else about the transport is an I/O error too. A
/// connection that never opened is marked so ([`never_connected`]).
fn transport_error(error: reqwest::Error) -> ConnectorError {
    let connect = error.is_connect();
    let error = if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else {
        ConnectorError::io(error.into())
    };
    if connect {
        error.never_connected()
    } else {
        error
    }
}

/// Whether a request this client failed certainly never reached the
/// server: no connection was made (DNS, TCP connect or TLS handshake
/// failed or timed out), so not one byte of it was written. `false` when
/// in doubt: a connection lost or timed out after writing, or an error
/// from another client. (The SDK marks `never_connected` but offers no
/// way to read it back, so this asks `reqwest` itself.)
pub fn never_connected(error: &ConnectorError) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<reqwest::Error>())
        .is_some_and(reqwest::Error::is_connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_never_connected_and_a_lost_one_may_have() {
        let http = client_builder().build().unwrap();
        // A port nobody listens on: refused before a byte is written.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = http
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(never_connected(&transport_error(refused)));

        // A server that reads the request and hangs up without answering.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            use std::io::Read;
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = [0_u8; 1024];
            let _ = socket.read(&mut request);
        });
        let lost = http.get(url).send().await.unwrap_err();
        let lost = transport_error(lost);
        assert!(lost.is_io() && !never_connected(&lost), "{lost:?}");
        assert!(!never_connected(&ConnectorError::io("reset".into())));
    }
}
