//! A calendar date (proleptic Gregorian), used for feature time validity.

use crate::error::{EngineError, Result};
use std::fmt;

/// A day, stored as days since 1970-01-01. Ordering is chronological.
///
/// # Examples
/// ```
/// use cim_engine::Date;
/// let d = Date::parse("2024-02-29").unwrap();
/// assert_eq!(d.to_string(), "2024-02-29");
/// assert_eq!(Date::parse("1970-01-02").unwrap().days_since_epoch(), 1);
/// assert!(Date::parse("2023-02-29").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    pub fn from_days_since_epoch(days: i32) -> Self {
        Date(days)
    }

    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Parses `YYYY-MM-DD`; a trailing time (`T...` or ` ...`) is ignored.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || EngineError::InvalidDate {
            text: text.to_string(),
        };
        let day_part = text.trim().split(['T', ' ']).next().ok_or_else(bad)?;
        let mut parts = day_part.splitn(3, '-');
        let (y, m, d) = (parts.next(), parts.next(), parts.next());
        let (Some(y), Some(m), Some(d)) = (y, m, d) else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let y: i32 = y.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        let d: u32 = d.parse().map_err(|_| bad())?;
        Date::from_ymd(y, m, d).ok_or_else(bad)
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days-from-civil algorithm (public-domain description), written out here.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_for_four_centuries() {
        for days in -200_000..200_000 {
            let d = Date(days);
            let (y, m, dd) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, dd), Some(d));
        }
    }

    #[test]
    fn rejects_garbage() {
        for t in [
            "",
            "2024",
            "2024-13-01",
            "2024-00-10",
            "24-01-01",
            "2024-1-1",
            "abcd-ef-gh",
        ] {
            assert!(Date::parse(t).is_err(), "{t}");
        }
        assert_eq!(
            Date::parse("2020-06-01T12:00:00Z").unwrap().to_string(),
            "2020-06-01"
        );
    }
}
