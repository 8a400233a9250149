//! Wall-clock time as the platform stores and compares it: seconds and
//! milliseconds since the Unix epoch, and RFC 3339 for the wire.

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The epoch second at which something valid for `ttl` from now expires,
/// rounded up: expiries are compared with [`now`] (whole seconds, rounded
/// down), so rounding the issue time down would let a token announced as
/// valid for one second expire a millisecond after it was issued.
pub fn expires_after(ttl: std::time::Duration) -> i64 {
    expiry_at(now_ms(), ttl)
}

fn expiry_at(issued_ms: i64, ttl: std::time::Duration) -> i64 {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    issued_ms.saturating_add(ttl_ms).saturating_add(999).div_euclid(1000)
}

/// Formats epoch seconds as RFC 3339 (UTC).
pub fn rfc3339(epoch_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_never_comes_before_the_ttl_is_over() {
        let ttl = std::time::Duration::from_secs(1);
        // Issued late in a second: still valid a whole second later.
        assert_eq!(expiry_at(10_999, ttl), 12);
        assert_eq!(expiry_at(10_000, ttl), 11);
        for issued_ms in (0..5_000).step_by(7) {
            let expires = expiry_at(issued_ms, ttl);
            // Valid (expiry > now in whole seconds) at every millisecond of the ttl.
            for t_ms in issued_ms..issued_ms + 1000 {
                assert!(expires > t_ms / 1000, "issued at {issued_ms} ms, checked at {t_ms} ms");
            }
            assert!(expires * 1000 - issued_ms < 2000, "at most one second over");
        }
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
