//! The loopback redirect of a native app's login (RFC 8252 §7.3): a
//! one-shot HTTP listener on 127.0.0.1 that receives the authorization
//! response.

use std::fmt;
use std::time::Duration;

use komodo_protocol::secret::AuthorizationCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::login::LoginError;

/// The largest request head the listener reads.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener on `127.0.0.1` waiting for the authorization response.
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

impl fmt::Debug for LoopbackListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackListener").field("redirect_uri", &self.redirect_uri).finish()
    }
}

/// A valid authorization response.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The authorization code.
    pub code: AuthorizationCode,
}

impl LoopbackListener {
    /// Binds `127.0.0.1:port`, or a free port when `port` is `None`.
    pub async fn bind(port: Option<u16>) -> Result<Self, LoginError> {
        let listener = TcpListener::bind(("127.0.0.1", port.unwrap_or(0))).await.map_err(|e| {
            LoginError::Failed(match port {
                Some(port) => {
                    format!("cannot listen on 127.0.0.1:{port} for the login redirect: {e}; pick another --port")
                }
                None => format!("cannot listen on 127.0.0.1 for the login redirect: {e}"),
            })
        })?;
        let port = listener.local_addr().map_err(|e| LoginError::Failed(e.to_string()))?.port();
        Ok(Self { listener, redirect_uri: format!("http://127.0.0.1:{port}/callback") })
    }

    /// The redirect URI to register in the authorization request.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the authorization response carrying `state`. Requests for
    /// other paths and responses with another `state` are answered and
    /// ignored; an `iss` other than `issuer` (RFC 9207) ends the login.
    pub async fn wait(&self, state: &str, issuer: &str) -> Result<Callback, LoginError> {
        loop {
            let (mut stream, _) = self.listener.accept().await.map_err(|e| LoginError::Failed(e.to_string()))?;
            let Ok(Ok(head)) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else { continue };
            let Some(target) =
                head.lines().next().and_then(|l| l.strip_prefix("GET ")).and_then(|l| l.split(' ').next())
            else {
                respond(&mut stream, 400, "Bad request", "This address only receives Komodo login responses.").await;
                continue;
            };
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            if path != "/callback" {
                respond(&mut stream, 404, "Not found", "This address only receives Komodo login responses.").await;
                continue;
            }
            let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            if get("state") != Some(state) {
                respond(
                    &mut stream,
                    400,
                    "Unexpected login response",
                    "This response belongs to another login attempt; return to your terminal.",
                )
                .await;
                continue;
            }
            if let Some(iss) = get("iss")
                && iss != issuer
            {
                respond(&mut stream, 400, "Login failed", "The response came from an unexpected issuer.").await;
                return Err(LoginError::Failed(format!(
                    "the login response came from issuer {iss:?}, expected {issuer:?}"
                )));
            }
            if let Some(error) = get("error") {
                let description = get("error_description").unwrap_or_default();
                respond(&mut stream, 200, "Login failed", "The login did not complete; return to your terminal.").await;
                return Err(match error {
                    "access_denied" => LoginError::Denied,
                    _ => {
                        LoginError::Failed(format!("the platform answered {error} {description}").trim_end().to_owned())
                    }
                });
            }
            let Some(code) = get("code").filter(|c| !c.is_empty()) else {
                respond(&mut stream, 400, "Login failed", "The response carries no authorization code.").await;
                return Err(LoginError::Failed("the login response carried no authorization code".into()));
            };
            respond(
                &mut stream,
                200,
                "Logged in",
                "You are logged in to Komodo. You can close this window and return to your terminal.",
            )
            .await;
            return Ok(Callback { code: AuthorizationCode::new(code) });
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, message: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}</style>\
         </head><body><h1>{title}</h1><p>{message}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
