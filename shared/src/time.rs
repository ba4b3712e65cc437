//! Fixed-width UTC timestamps that sort as strings.
//!
//! chrono's default RFC 3339 output varies in its fraction digits and offset form, which breaks
//! string ordering in sort keys. A [`Timestamp`] is always `YYYY-MM-DDTHH:MM:SS.mmmZ`: 24 bytes,
//! millisecond precision, `Z`. Everything stored goes through it.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant at millisecond precision whose text form sorts chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(DateTime<Utc>);

/// A string that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp must be RFC 3339, e.g. 2026-01-31T12:00:00.000Z")]
pub struct TimestampError;

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps a chrono instant, truncating to milliseconds so that text and value agree.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        let millis = at.timestamp_millis();
        Self(Utc.timestamp_millis_opt(millis).single().unwrap_or(at))
    }

    /// Parses any RFC 3339 timestamp (any offset, any fraction) into UTC milliseconds.
    pub fn parse(value: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc3339(value)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(|_| TimestampError)
    }

    /// Seconds since the Unix epoch; the form DynamoDB's TTL expects.
    pub fn epoch_seconds(self) -> i64 {
        self.0.timestamp()
    }

    /// The UTC calendar day of this instant.
    pub fn day(self) -> NaiveDate {
        self.0.date_naive()
    }

    /// Start of the UTC day `date`.
    pub fn start_of_day(date: NaiveDate) -> Self {
        Self(
            date.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .unwrap_or_default(),
        )
    }

    /// This instant moved by `delta` (saturating at chrono's limits).
    pub fn plus(self, delta: Duration) -> Self {
        Self(self.0.checked_add_signed(delta).unwrap_or(self.0))
    }

    /// This instant moved back by `delta` (saturating at chrono's limits).
    pub fn minus(self, delta: Duration) -> Self {
        Self(self.0.checked_sub_signed(delta).unwrap_or(self.0))
    }

    /// The underlying chrono value.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Timestamp> for String {
    fn from(value: Timestamp) -> String {
        value.to_string()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self::from_datetime(value)
    }
}

/// A UTC day as `YYYY-MM-DD`, the form used in usage keys.
pub fn day_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn always_millis_and_z() {
        let t = Timestamp::parse("2026-03-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T08:00:00.000Z");
        let t = Timestamp::parse("2026-03-01T08:00:00.123456789Z").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T08:00:00.123Z");
        assert!(Timestamp::parse("2026-03-01").is_err());
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn days() {
        let t = Timestamp::parse("2026-03-01T23:59:59.999Z").unwrap();
        assert_eq!(day_key(t.day()), "2026-03-01");
        assert_eq!(
            Timestamp::start_of_day(t.day()).to_string(),
            "2026-03-01T00:00:00.000Z"
        );
        assert_eq!(
            t.plus(Duration::milliseconds(1)).day().to_string(),
            "2026-03-02"
        );
    }

    proptest! {
        #[test]
        fn string_order_is_time_order(a in 0i64..4_102_444_800_000, b in 0i64..4_102_444_800_000) {
            let ta = Timestamp::from_datetime(Utc.timestamp_millis_opt(a).unwrap());
            let tb = Timestamp::from_datetime(Utc.timestamp_millis_opt(b).unwrap());
            prop_assert_eq!(ta.to_string().len(), 24);
            prop_assert_eq!(ta.cmp(&tb), ta.to_string().cmp(&tb.to_string()));
            prop_assert_eq!(Timestamp::parse(&ta.to_string()).unwrap(), ta);
        }
    }
}
