//! The gateway's transport: one HTTP request with the session token, and
//! its answer read as Snowflake's envelope, a streamed result or a file. Every
//! other warehouse module sends through here; this one knows nothing of
//! sessions, cursors or results.

use std::fmt;

use komodo_protocol::result_stream;
use komodo_protocol::secret::SessionToken;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::Url;

use super::error::GatewayError;
use crate::Error;

/// The media type Snowflake's connectors accept for statement calls.
const ACCEPT_SNOWFLAKE: &str = "application/snowflake";

/// The media type of a file's bytes.
const OCTET_STREAM: &[u8] = b"application/octet-stream";

/// A gateway response: `{"success", "code", "message", "data"}`.
pub(crate) type Envelope = komodo_protocol::gateway::Envelope<serde_json::Value>;

/// An answer whose body does not decode as `what` expects.
pub(crate) fn protocol_error(what: &str, err: impl fmt::Display) -> GatewayError {
    GatewayError::Protocol { endpoint: what.to_owned(), reason: format!("cannot decode the answer: {err}") }
}

/// `path` (with its query string) under the platform URL `base`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    base.join(path.trim_start_matches('/')).unwrap_or_else(|_| base.clone())
}

/// `METHOD /path`, without the query string, for messages and logs.
pub(crate) fn describe(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// Adds the session token as Snowflake's connectors send it (marked
/// sensitive, so that it is never logged).
pub(crate) fn authorized(request: reqwest::RequestBuilder, token: &SessionToken) -> reqwest::RequestBuilder {
    let mut value = HeaderValue::from_str(&format!("Snowflake Token=\"{}\"", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("Snowflake Token=\"invalid\""));
    value.set_sensitive(true);
    request.header(AUTHORIZATION, value)
}

/// What the gateway answered: an envelope, or a streamed result
/// (`komodo_protocol::result_stream`) to a statement that asked for one.
pub(crate) enum Answer {
    /// `{"success", "code", "message", "data"}`.
    Envelope(Envelope),
    /// The response whose body is the result stream.
    Stream(reqwest::Response),
    /// The response whose body is a file's bytes (a staged file fetched by
    /// `GET`), `application/octet-stream`.
    File(reqwest::Response),
}

impl Answer {
    /// The envelope; a result stream is a protocol error here.
    pub(crate) fn envelope(self, endpoint: String) -> Result<Envelope, Error> {
        match self {
            Answer::Envelope(envelope) => Ok(envelope),
            Answer::Stream(_) | Answer::File(_) => {
                Err(GatewayError::Protocol { endpoint, reason: "a streamed result where none was asked for".into() }
                    .into())
            }
        }
    }
}

/// Sends one request to the gateway and reads its answer: an envelope, or
/// the response of a streamed result. HTTP statuses other than 200 and
/// undecodable bodies are [`GatewayError`]s.
pub(crate) async fn send(
    http: &reqwest::Client,
    method: Method,
    url: Url,
    token: Option<&SessionToken>,
    body: Option<&serde_json::Value>,
) -> Result<Answer, Error> {
    let endpoint = describe(&method, &url);
    tracing::debug!(%endpoint, "gateway request");
    let mut request = http.request(method, url).header(ACCEPT, ACCEPT_SNOWFLAKE);
    if let Some(token) = token {
        request = authorized(request, token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let unavailable = |e: reqwest::Error| GatewayError::Unavailable {
        endpoint: endpoint.clone(),
        reason: error_text(&e.without_url()),
    };
    let response = request.send().await.map_err(unavailable)?;
    answer(response, endpoint).await
}

/// Sends `body` (the bytes of a file, `content_type`) to the gateway with
/// the session token and reads the envelope it answers.
pub(crate) async fn send_body(
    http: &reqwest::Client,
    url: Url,
    token: &SessionToken,
    body: reqwest::Body,
    content_type: &'static str,
) -> Result<Answer, Error> {
    let endpoint = describe(&Method::POST, &url);
    tracing::debug!(%endpoint, "gateway request with a file");
    let request = authorized(http.post(url).header(ACCEPT, "application/json"), token)
        .header(CONTENT_TYPE, content_type)
        .body(body);
    let response = request
        .send()
        .await
        .map_err(|e| GatewayError::Unavailable { endpoint: endpoint.clone(), reason: error_text(&e.without_url()) })?;
    answer(response, endpoint).await
}

/// Reads a gateway response: an envelope, or a result stream.
async fn answer(response: reqwest::Response, endpoint: String) -> Result<Answer, Error> {
    let unavailable = |e: reqwest::Error| GatewayError::Unavailable {
        endpoint: endpoint.clone(),
        reason: error_text(&e.without_url()),
    };
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(GatewayError::Http { status: status.as_u16(), endpoint }.into());
    }
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(result_stream::CONTENT_TYPE.as_bytes()));
    if streamed {
        tracing::debug!(%endpoint, "gateway response: a result stream");
        return Ok(Answer::Stream(response));
    }
    let file = response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(OCTET_STREAM));
    if file {
        tracing::debug!(%endpoint, "gateway response: a file");
        return Ok(Answer::File(response));
    }
    let bytes = response.bytes().await.map_err(unavailable)?;
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| GatewayError::Protocol {
        endpoint: endpoint.clone(),
        reason: format!("not a gateway response: {e}"),
    })?;
    tracing::debug!(%endpoint, success = envelope.success, code = envelope.code.as_deref(), "gateway response");
    Ok(Answer::Envelope(envelope))
}

/// An error and its sources on one line.
pub(crate) use komodo_protocol::error_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("https://platform.example.com/base/").unwrap();
        assert_eq!(endpoint(&base, "/queries/x/result").as_str(), "https://platform.example.com/base/queries/x/result");
        assert_eq!(
            endpoint(&base, "session?delete=true").as_str(),
            "https://platform.example.com/base/session?delete=true"
        );
        assert_eq!(describe(&Method::GET, &endpoint(&base, "a/b?sig=secret")), "GET /base/a/b");
    }
}
