//! Times for people: every time a person reads is an ISO 8601 UTC date.

use chrono::{DateTime, SecondsFormat, Utc};

/// `unix` seconds as an ISO 8601 UTC date (`2026-12-04T08:13:50Z`); a time out of chrono's range is printed as the
/// integer with its unit.
pub fn iso8601(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("unix time {unix}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn prints_utc_dates() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso8601(1_796_326_864), "2026-12-03T19:41:04Z");
        assert_eq!(super::iso8601(u64::MAX), format!("unix time {}", u64::MAX));
    }
}
