//! Time as the chat core, the renderers and the store need it: the present moment in both
//! clocks, and calendar days in UTC or the server's local time.

use std::time::Instant;

use chrono::{Datelike, Local, NaiveDate, TimeZone, Utc};

/// Milliseconds since the Unix epoch: wall-clock time as plain data.
pub type UnixMillis = u64;

/// The present moment, in both clocks the core needs.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// For deadlines.
    pub mono: Instant,
    /// For timestamps shown to people and stored.
    pub wall: UnixMillis,
}

impl Now {
    pub fn system() -> Now {
        Now {
            mono: Instant::now(),
            wall: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        }
    }
}

/// The calendar day of a wall-clock time, in UTC or the server's local time.
pub fn day_of(at: UnixMillis, utc: bool) -> NaiveDate {
    let ms = i64::try_from(at).unwrap_or(i64::MAX);
    if utc {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.date_naive())
    } else {
        Local
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.date_naive())
    }
    .unwrap_or_default()
}

/// `YYYY-MM-DD` of a day.
pub fn format_day(day: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
}

/// Parses a strict `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The wall-clock span `[from, to)` of a day, in Unix ms. Local midnight is taken at its first
/// occurrence (a daylight-saving change may make a day 23 or 25 hours long).
pub fn day_bounds(day: NaiveDate, utc: bool) -> Option<(UnixMillis, UnixMillis)> {
    let start = |d: NaiveDate| -> Option<UnixMillis> {
        let midnight = d.and_hms_opt(0, 0, 0)?;
        let ms = if utc {
            Utc.from_utc_datetime(&midnight).timestamp_millis()
        } else {
            Local
                .from_local_datetime(&midnight)
                .earliest()?
                .timestamp_millis()
        };
        u64::try_from(ms).ok()
    };
    Some((start(day)?, start(day.succ_opt()?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_strictly() {
        assert_eq!(
            parse_day("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        for bad in [
            "2023-02-29",
            "2024-2-01",
            "24-02-01",
            "2024-02-01x",
            "today",
            "2024-13-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_day_bounds_cover_one_day() {
        let day = parse_day("2024-01-01").unwrap();
        let (from, to) = day_bounds(day, true).unwrap();
        assert_eq!(from, 1_704_067_200_000);
        assert_eq!(to - from, 86_400_000);
        assert_eq!(day_of(from, true), day);
        assert_eq!(day_of(to - 1, true), day);
        assert_eq!(format_day(day_of(to, true)), "2024-01-02");
    }
}
