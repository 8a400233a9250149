//! How the gateway reads request bodies: JSON that may be gzip-compressed,
//! inflated under a size cap, after the request's credential is checked,
//! off the threads that serve others (F10).

use std::io::Read as _;

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use serde::de::DeserializeOwned;

use super::caller::{self, CredentialChecked};
use crate::queries::error::GwError;
use crate::state::AppState;

/// The largest request body the gateway accepts, decompressed (bindings of
/// an `executemany` can be large).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// Plain bodies up to this size are parsed where the request is served;
/// larger ones, and every compressed one, on a blocking thread.
const PARSE_INLINE: usize = 256 * 1024;

/// Compressed bodies up to this size on the wire are inflated where the
/// request is served, when they inflate to at most [`INFLATE_INLINE`]
/// bytes (the few hundred bytes of a statement: no thread hand-off).
const GZIP_INLINE: usize = 4 * 1024;

/// The most a body is inflated to where the request is served (a few tens
/// of microseconds of work).
const INFLATE_INLINE: usize = 64 * 1024;

/// Plain bodies up to this size (by `Content-Length`) are read before the
/// request's credential is checked (the handler checks it); larger ones,
/// chunked ones and compressed ones after.
const READ_BEFORE_CHECK: u64 = 64 * 1024;

/// The gauge of request bodies being decompressed or parsed off the
/// request threads.
pub const BODIES_DECODING: &str = "komodo_gateway_bodies_decoding";

/// A JSON body, plain or gzip-compressed (`Content-Encoding: gzip`, or the
/// gzip magic bytes), parsed as `T`. An empty body parses as `{}`.
///
/// Compressed bodies cost CPU and memory out of proportion to their size
/// on the wire (F10), so:
///
/// - except on `login-request`, the request's credential (the session
///   token, the master token of a `token-request`, or a bearer token) is
///   checked before a compressed or large body is read, and a request that
///   fails the check is answered with that failure (a handler whose caller
///   extractor ([`caller`]) ran first has checked it already: that check
///   stands);
/// - decompression is incremental and stops at the size cap
///   ([`MAX_BODY`], `--login-body-max-kib` for a login) without ever
///   holding more than the cap;
/// - decompression and parsing of anything but a small body (plain, or
///   compressed to at most 4 KiB and inflating to at most 64 KiB) run on a
///   blocking thread, `--body-decode-threads` at once (half the cores by
///   default), never on the threads that serve other requests.
pub struct GwJson<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest<AppState> for GwJson<T> {
    type Rejection = GwError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let gzip_header = parts
            .headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
        let declared =
            parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let path = parts.uri.path();
        let credential_first = path != caller::LOGIN_PATH;
        let cap = if credential_first { MAX_BODY } else { state.config().login_body_max.min(MAX_BODY) };
        let mut checked = parts.extensions.get::<CredentialChecked>().is_some();
        if credential_first && !checked && (gzip_header || declared.is_none_or(|n| n > READ_BEFORE_CHECK)) {
            caller::check_credential(state, path, &parts.headers).await?;
            checked = true;
        }
        if declared.is_some_and(|n| n > cap as u64) {
            return Err(too_large(cap));
        }
        let bytes = axum::body::to_bytes(body, cap).await.map_err(|e| {
            if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
                too_large(cap)
            } else {
                GwError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
        let gzip = gzip_header || bytes.starts_with(&GZIP_MAGIC);
        if gzip && credential_first && !checked {
            caller::check_credential(state, path, &parts.headers).await?;
        }
        if !gzip && bytes.len() <= PARSE_INLINE {
            return parse_body_capped(&bytes, false, cap).map(GwJson);
        }
        // A small compressed body (a statement, a poll) is inflated here,
        // at most INFLATE_INLINE bytes of it: one that inflates to more is
        // left, whole, to a blocking thread.
        if gzip
            && bytes.len() <= GZIP_INLINE
            && let Ok(inflated) = decode_body(&bytes, true, INFLATE_INLINE.min(cap))
        {
            return parse_body_capped(&inflated, false, cap).map(GwJson);
        }
        let permit = state.body_decoders().acquire().await.map_err(GwError::internal)?;
        let parsed = tokio::task::spawn_blocking(move || {
            metrics::gauge!(BODIES_DECODING).increment(1.0);
            let parsed = parse_body_capped::<T>(&bytes, gzip, cap);
            metrics::gauge!(BODIES_DECODING).decrement(1.0);
            parsed
        })
        .await
        .map_err(GwError::internal)?;
        drop(permit);
        parsed.map(GwJson)
    }
}

/// The first two bytes of a gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn too_large(cap: usize) -> GwError {
    GwError::bad_request(format!(
        "the request body is larger than {}, decompressed; send fewer bindings per request",
        if cap.is_multiple_of(1 << 20) { format!("{} MiB", cap >> 20) } else { format!("{} KiB", cap >> 10) }
    ))
}

/// Parses a request body as [`GwJson`] does once it has the bytes:
/// decompressed when `gzip_header` is set (`Content-Encoding: gzip`) or the
/// body starts with the gzip magic bytes, `{}` when empty, then JSON as `T`.
/// Every failure is a `bad_request`; this is the gateway JSON entry point
/// of the fuzz targets and property tests (SECURITY.md I01).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8], gzip_header: bool) -> Result<T, GwError> {
    parse_body_capped(bytes, gzip_header, MAX_BODY)
}

fn parse_body_capped<T: DeserializeOwned>(bytes: &[u8], gzip_header: bool, cap: usize) -> Result<T, GwError> {
    let body = decode_body(bytes, gzip_header, cap)?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
    serde_json::from_slice(body)
        .map_err(|e| GwError::bad_request(format!("the request body is not the JSON this endpoint expects: {e}")))
}

/// The body, decompressed when it is gzip, never holding more than `cap`
/// bytes: it is inflated a piece at a time, the buffer grows by doubling up
/// to the cap and no further, and a body that would pass the cap fails as
/// soon as it does.
fn decode_body(bytes: &[u8], gzip_header: bool, cap: usize) -> Result<std::borrow::Cow<'_, [u8]>, GwError> {
    let is_gzip = gzip_header || bytes.starts_with(&GZIP_MAGIC);
    if !is_gzip {
        if bytes.len() > cap {
            return Err(too_large(cap));
        }
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut piece = vec![0u8; 64 * 1024];
    let mut out: Vec<u8> = Vec::new();
    loop {
        let n = decoder
            .read(&mut piece)
            .map_err(|e| GwError::bad_request(format!("the gzip request body cannot be decompressed: {e}")))?;
        if n == 0 {
            break;
        }
        if n > cap - out.len() {
            return Err(too_large(cap));
        }
        if out.capacity() - out.len() < n {
            let grown = (out.capacity() * 2).max(out.len() + n).max(bytes.len().saturating_mul(4)).min(cap);
            out.reserve_exact(grown - out.len());
        }
        out.extend_from_slice(&piece[..n]);
    }
    Ok(std::borrow::Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_are_detected_by_header_or_magic() {
        let compressed = gzip(br#"{"a":1}"#);
        assert_eq!(&*decode_body(&compressed, false, MAX_BODY).unwrap(), br#"{"a":1}"#);
        assert_eq!(&*decode_body(&compressed, true, MAX_BODY).unwrap(), br#"{"a":1}"#);
        let plain: &[u8] = br#"{"b":2}"#;
        assert_eq!(&*decode_body(plain, false, MAX_BODY).unwrap(), br#"{"b":2}"#);
        assert!(decode_body(&[0x1f, 0x8b, 0, 0], false, MAX_BODY).is_err());
    }

    #[test]
    fn f10_inflating_never_holds_more_than_the_cap() {
        let cap = 1 << 20;
        // Exactly the cap inflates, into a buffer no larger than the cap.
        let exact = gzip(&vec![b' '; cap]);
        let out = decode_body(&exact, true, cap).unwrap();
        let std::borrow::Cow::Owned(out) = out else { panic!("inflated into a buffer of its own") };
        assert_eq!(out.len(), cap);
        assert!(out.capacity() <= cap, "capacity {} past the cap {cap}", out.capacity());
        // One byte more fails, and so does a bomb many times the cap.
        for size in [cap + 1, 64 * cap] {
            let error = decode_body(&gzip(&vec![b' '; size]), true, cap).unwrap_err();
            assert!(error.message.contains("larger than 1 MiB"), "{}", error.message);
        }
        // Several gzip members count together.
        let mut two = gzip(&vec![b' '; cap / 2 + 1]);
        two.extend(gzip(&vec![b' '; cap / 2 + 1]));
        assert!(decode_body(&two, true, cap).is_err());
        // Plain bodies are held to the cap too.
        assert!(decode_body(&vec![b' '; cap + 1], false, cap).is_err());
    }
}
