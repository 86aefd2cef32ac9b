//! Dates: the IR [`Timestamp`] and decoders for the legacy date encodings.
//!
//! * DOS date/time words (FAT layout, used by MS Mail and cc:Mail file records);
//! * Windows `FILETIME` (100-ns ticks since 1601-01-01 UTC, [MS-DTYP] 2.3.3), used by PST;
//! * cc:Mail export dates `M/D/YY H:MM` (`formats/ccmail.md` §7: no zone, two-digit years below
//!   the pivot 70 are 20xx, day/month order configurable);
//! * Exchange migration-file dates `YYYYMMDDHHMMSS` (`formats/exchange-iff.md`, MAILMESSAGE
//!   columns `Send-Date`/`Received-Date`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// A point in time as the source recorded it.
///
/// Legacy stores often keep local wall-clock time with no zone (cc:Mail, MS Mail, the Exchange
/// migration files). Such a value has `offset == None` ("local time, zone unknown"); writers
/// must not invent a zone (RFC 5322 writers use `-0000`, RFC 5322 §3.3).
///
/// Serialises as ISO 8601: `2024-03-01T09:05:00+01:00`, or without offset for zone-unknown
/// values: `1999-03-14T09:05:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    /// Wall-clock date and time (in `offset` if known, else in an unknown local zone).
    pub datetime: PrimitiveDateTime,
    /// UTC offset, or `None` for "local time, zone unknown".
    pub offset: Option<UtcOffset>,
}

impl Timestamp {
    /// A UTC instant.
    pub fn utc(datetime: PrimitiveDateTime) -> Self {
        Self {
            datetime,
            offset: Some(UtcOffset::UTC),
        }
    }

    /// A local wall-clock time whose zone is unknown.
    pub fn local_unknown_zone(datetime: PrimitiveDateTime) -> Self {
        Self {
            datetime,
            offset: None,
        }
    }

    /// True when the zone is unknown.
    pub fn zone_unknown(&self) -> bool {
        self.offset.is_none()
    }

    /// Seconds since the Unix epoch, treating an unknown zone as UTC (for ordering and file
    /// names only, never for display).
    pub fn unix_seconds(&self) -> i64 {
        let off = self.offset.unwrap_or(UtcOffset::UTC);
        self.datetime.assume_offset(off).unix_timestamp()
    }

    /// RFC 5322 `date-time`, e.g. `Sun, 14 Mar 1999 09:05:00 -0000` for an unknown zone.
    pub fn to_rfc5322(&self) -> String {
        let d = self.datetime;
        let wd = match d.weekday() {
            time::Weekday::Monday => "Mon",
            time::Weekday::Tuesday => "Tue",
            time::Weekday::Wednesday => "Wed",
            time::Weekday::Thursday => "Thu",
            time::Weekday::Friday => "Fri",
            time::Weekday::Saturday => "Sat",
            time::Weekday::Sunday => "Sun",
        };
        let mon = MONTHS
            .get(usize::from(u8::from(d.month())).saturating_sub(1))
            .copied()
            .unwrap_or("Jan");
        let zone = match self.offset {
            None => "-0000".to_string(),
            Some(o) => {
                let total = o.whole_minutes();
                let sign = if total < 0 { '-' } else { '+' };
                let abs = total.unsigned_abs();
                format!("{sign}{:02}{:02}", abs / 60, abs % 60)
            }
        };
        format!(
            "{wd}, {} {mon} {:04} {:02}:{:02}:{:02} {zone}",
            d.day(),
            d.year(),
            d.hour(),
            d.minute(),
            d.second()
        )
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.datetime;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )?;
        if d.nanosecond() != 0 {
            write!(f, ".{:09}", d.nanosecond())?;
        }
        if let Some(o) = self.offset {
            let total = o.whole_minutes();
            let sign = if total < 0 { '-' } else { '+' };
            let abs = total.unsigned_abs();
            write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)?;
        }
        Ok(())
    }
}

/// Why a textual timestamp could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// The text does not have the expected shape.
    #[error("unparsable date {0:?}")]
    Syntax(String),
    /// The shape is right but the calendar value does not exist (e.g. `2/31/99`).
    #[error("invalid date {0:?}")]
    Invalid(String),
}

impl FromStr for Timestamp {
    type Err = DateError;

    /// Parses the [`Display`](fmt::Display) form.
    fn from_str(s: &str) -> Result<Self, DateError> {
        let syntax = || DateError::Syntax(s.to_string());
        let (date_part, rest) = s.split_once('T').ok_or_else(syntax)?;
        let mut dp = date_part.splitn(3, '-');
        let year: i32 = num(dp.next(), s)?;
        let month: u8 = num(dp.next(), s)?;
        let day: u8 = num(dp.next(), s)?;
        let time_len = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
        let (time_part, zone) = rest.split_at(time_len);
        let (hms, frac) = match time_part.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (time_part, None),
        };
        let mut tp = hms.splitn(3, ':');
        let hour: u8 = num(tp.next(), s)?;
        let minute: u8 = num(tp.next(), s)?;
        let second: u8 = num(tp.next(), s)?;
        let nanos: u32 = match frac {
            None => 0,
            Some(f) if f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) && !f.is_empty() => {
                let padded = format!("{f:0<9}");
                padded.parse().map_err(|_| syntax())?
            }
            Some(_) => return Err(syntax()),
        };
        let offset = match zone {
            "" => None,
            "Z" => Some(UtcOffset::UTC),
            z => {
                let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
                let body = z.get(1..).ok_or_else(syntax)?;
                let (h, m) = body.split_once(':').ok_or_else(syntax)?;
                let h: i8 = num(Some(h), s)?;
                let m: i8 = num(Some(m), s)?;
                Some(UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| syntax())?)
            }
        };
        let datetime = make_datetime(year, month, day, hour, minute, second, nanos)
            .ok_or_else(|| DateError::Invalid(s.to_string()))?;
        Ok(Self { datetime, offset })
    }
}

fn num<T: FromStr>(part: Option<&str>, whole: &str) -> Result<T, DateError> {
    part.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| DateError::Syntax(whole.to_string()))
}

fn make_datetime(
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanos: u32,
) -> Option<PrimitiveDateTime> {
    let month = Month::try_from(month).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Decodes an MS-DOS (FAT) date and time pair: date bits 15–9 year since 1980, 8–5 month,
/// 4–0 day; time bits 15–11 hour, 10–5 minute, 4–0 seconds/2. `None` when the fields do not
/// form a real date.
pub fn dos_datetime(date: u16, time: u16) -> Option<PrimitiveDateTime> {
    let year = 1980 + i32::from(date >> 9);
    let month = ((date >> 5) & 0x0F) as u8;
    let day = (date & 0x1F) as u8;
    let hour = (time >> 11) as u8;
    let minute = ((time >> 5) & 0x3F) as u8;
    let second = ((time & 0x1F) * 2) as u8;
    make_datetime(year, month, day, hour, minute, second, 0)
}

/// 100-ns intervals between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// Decodes a Windows `FILETIME` ([MS-DTYP] 2.3.3) as UTC. `0` and values the calendar cannot
/// hold (such as the `0x7FFF…` "never" markers some clients write) give `None`.
pub fn filetime(ticks: u64) -> Option<Timestamp> {
    if ticks == 0 {
        return None;
    }
    let since_unix = i128::from(ticks) - i128::from(FILETIME_UNIX_EPOCH);
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(since_unix * 100).ok()?;
    if dt.year() > 9999 {
        return None;
    }
    Some(Timestamp::utc(PrimitiveDateTime::new(dt.date(), dt.time())))
}

/// Encodes a timestamp as `FILETIME` ticks (unknown zones are taken as UTC).
pub fn to_filetime(ts: &Timestamp) -> u64 {
    let off = ts.offset.unwrap_or(UtcOffset::UTC);
    let nanos = ts.datetime.assume_offset(off).unix_timestamp_nanos();
    let ticks = nanos / 100 + i128::from(FILETIME_UNIX_EPOCH);
    u64::try_from(ticks.max(0)).unwrap_or(u64::MAX)
}

/// Order of the day and month fields in a numeric date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateOrder {
    /// `M/D/Y` — the default of US cc:Mail post offices.
    #[default]
    MonthDay,
    /// `D/M/Y`.
    DayMonth,
}

/// The default two-digit-year pivot: `yy < 70` → `20yy`, else `19yy` (`formats/ccmail.md` §7).
pub const DEFAULT_YEAR_PIVOT: u8 = 70;

/// Parses a cc:Mail export date such as `6/2/98 8:39` or `9-11-1998` (date separator `/`, `-`
/// or `.`; two- or four-digit year; optional `H:MM` or `H:MM:SS` time; optional `AM`/`PM`).
/// Two-digit years below `pivot` are 20xx. The result is local time with unknown zone.
///
/// Returns [`DateError::Invalid`] for well-formed but impossible dates such as `2/31/99`, so the
/// caller can keep the raw text with a warning (KB Q233325).
pub fn parse_ccmail_date(text: &str, order: DateOrder, pivot: u8) -> Result<Timestamp, DateError> {
    let t = text.trim();
    match exact_ccmail_date(t.as_bytes()) {
        Some((a, b, y, hour, minute)) => ccmail_timestamp(
            (a, b),
            windowed_year(i32::from(y), pivot),
            (hour, minute, 0),
            order,
        )
        .ok_or_else(|| DateError::Invalid(t.to_string())),
        None => parse_ccmail_date_general(t, order, pivot),
    }
}

/// The fields of the form EXPORT writes, `M/D/YY` or `M/D/YY H:MM` (ASCII digits, one space):
/// `(first, second, year, hour, minute)`, or `None` for any other text. Parsing that form
/// directly gives the same result as [`parse_ccmail_date_general`], only faster (every message
/// carries a date).
fn exact_ccmail_date(b: &[u8]) -> Option<(u8, u8, u8, u8, u8)> {
    /// `min..=max` digits at `*i`, then `then` if given; advances `*i` past them.
    fn digits(b: &[u8], i: &mut usize, min: usize, max: usize, then: Option<u8>) -> Option<u8> {
        let start = *i;
        let mut v = 0u8;
        while *i - start < max
            && let Some(d @ b'0'..=b'9') = b.get(*i)
        {
            v = v * 10 + (d - b'0');
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        match then {
            Some(sep) if b.get(*i) == Some(&sep) => {
                *i += 1;
                Some(v)
            }
            Some(_) => None,
            None => Some(v),
        }
    }
    let mut i = 0usize;
    let a = digits(b, &mut i, 1, 2, Some(b'/'))?;
    let d = digits(b, &mut i, 1, 2, Some(b'/'))?;
    let y = digits(b, &mut i, 2, 2, None)?;
    match b.get(i) {
        None => Some((a, d, y, 0, 0)),
        Some(b' ') => {
            i += 1;
            let h = digits(b, &mut i, 1, 2, Some(b':'))?;
            let m = digits(b, &mut i, 2, 2, None)?;
            (i == b.len()).then_some((a, d, y, h, m))
        }
        Some(_) => None,
    }
}

/// The year of a two-digit year `y` in the window that starts at `pivot` (`y < pivot` is
/// 20yy, else 19yy).
fn windowed_year(y: i32, pivot: u8) -> i32 {
    if y < i32::from(pivot) {
        2000 + y
    } else {
        1900 + y
    }
}

/// The local time (zone unknown) of date fields `(a, b)` in `order`, or `None` for an
/// impossible date or time.
fn ccmail_timestamp(
    (a, b): (u8, u8),
    year: i32,
    (hour, minute, second): (u8, u8, u8),
    order: DateOrder,
) -> Option<Timestamp> {
    let (month, day) = match order {
        DateOrder::MonthDay => (a, b),
        DateOrder::DayMonth => (b, a),
    };
    make_datetime(year, month, day, hour, minute, second, 0).map(Timestamp::local_unknown_zone)
}

/// [`parse_ccmail_date`] for every accepted form; `t` is already trimmed.
fn parse_ccmail_date_general(t: &str, order: DateOrder, pivot: u8) -> Result<Timestamp, DateError> {
    let syntax = || DateError::Syntax(t.to_string());
    let mut words = t.split_whitespace();
    let date = words.next().ok_or_else(syntax)?;
    let time = words.next();
    let ampm = words.next();
    if words.next().is_some() {
        return Err(syntax());
    }
    let mut fields = date.split(['/', '-', '.']);
    let a: u8 = num(fields.next(), t)?;
    let b: u8 = num(fields.next(), t)?;
    let y_text = fields.next().ok_or_else(syntax)?;
    if fields.next().is_some() || !(y_text.len() == 2 || y_text.len() == 4) {
        return Err(syntax());
    }
    let y: i32 = num(Some(y_text), t)?;
    let year = if y_text.len() == 2 {
        windowed_year(y, pivot)
    } else {
        y
    };
    let (mut hour, minute, second) = match time {
        None => (0, 0, 0),
        Some(tm) => {
            let mut p = tm.split(':');
            let h: u8 = num(p.next(), t)?;
            let m: u8 = num(p.next(), t)?;
            let s: u8 = match p.next() {
                Some(s) => num(Some(s), t)?,
                None => 0,
            };
            if p.next().is_some() {
                return Err(syntax());
            }
            (h, m, s)
        }
    };
    match ampm.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("AM") if hour == 12 => hour = 0,
        Some("AM") => {}
        Some("PM") if hour < 12 => hour += 12,
        Some("PM") => {}
        Some(_) => return Err(syntax()),
    }
    ccmail_timestamp((a, b), year, (hour, minute, second), order)
        .ok_or_else(|| DateError::Invalid(t.to_string()))
}

/// Formats a timestamp the way cc:Mail EXPORT writes it: `M/D/YY H:MM` (no leading zeros).
/// Years outside 1970–2069 are written with four digits so they survive the pivot.
pub fn format_ccmail_date(ts: &Timestamp) -> String {
    let d = ts.datetime;
    let y = d.year();
    let year = if (1970..2070).contains(&y) {
        format!("{:02}", y % 100)
    } else {
        format!("{y:04}")
    };
    format!(
        "{}/{}/{} {}:{:02}",
        u8::from(d.month()),
        d.day(),
        year,
        d.hour(),
        d.minute()
    )
}

/// Parses `YYYYMMDDHHMMSS` (Exchange migration files), local time with unknown zone.
pub fn parse_yyyymmddhhmmss(text: &str) -> Result<Timestamp, DateError> {
    let t = text.trim();
    if t.len() != 14 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DateError::Syntax(t.to_string()));
    }
    let field = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<u32>().ok());
    let parts = (
        field(0..4),
        field(4..6),
        field(6..8),
        field(8..10),
        field(10..12),
        field(12..14),
    );
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = parts else {
        return Err(DateError::Syntax(t.to_string()));
    };
    let small = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
    make_datetime(
        i32::try_from(y).unwrap_or(0),
        small(mo),
        small(d),
        small(h),
        small(mi),
        small(s),
        0,
    )
    .map(Timestamp::local_unknown_zone)
    .ok_or_else(|| DateError::Invalid(t.to_string()))
}

/// Formats `YYYYMMDDHHMMSS` (the zone, if any, is dropped: the format has none).
pub fn format_yyyymmddhhmmss(ts: &Timestamp) -> String {
    let d = ts.datetime;
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    proptest::proptest! {
        /// The fast path for `M/D/YY[ H:MM]` gives what the general parser gives, on text of
        /// that shape and on near misses (other separators, widths and spacing).
        #[test]
        fn ccmail_fast_path_matches_general(
            t in "[0-9]{0,3}[/.-][0-9]{0,3}[/.-][0-9]{1,5}( {1,2}[0-9]{0,3}:[0-9]{0,3}( ?[AaPp][Mm])?)?",
            day_month in proptest::bool::ANY,
            pivot in 0u8..100,
        ) {
            let order = if day_month { DateOrder::DayMonth } else { DateOrder::MonthDay };
            let general = parse_ccmail_date_general(t.trim(), order, pivot);
            proptest::prop_assert_eq!(
                format!("{:?}", parse_ccmail_date(&t, order, pivot)),
                format!("{general:?}")
            );
        }
    }

    #[test]
    fn ccmail_fast_path_takes_the_export_form_only() {
        assert_eq!(
            exact_ccmail_date(b"12/31/98 23:59"),
            Some((12, 31, 98, 23, 59))
        );
        assert_eq!(exact_ccmail_date(b"1/2/03"), Some((1, 2, 3, 0, 0)));
        for other in [
            &b"1/2/2003"[..],
            b"1-2-03",
            b"1/2/03  8:00",
            b"1/2/03 8:0",
            b"1/2/03 8:00 PM",
        ] {
            assert_eq!(exact_ccmail_date(other), None);
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "1999-03-14T09:05:00",
            "2024-02-29T23:59:59+01:00",
            "2001-01-01T00:00:00-05:30",
            "2020-05-06T07:08:09.123400000+00:00",
        ] {
            let ts: Timestamp = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(ts.to_string(), s);
        }
        assert!(matches!(
            "1999-02-30T00:00:00".parse::<Timestamp>(),
            Err(DateError::Invalid(_))
        ));
        assert!("garbage".parse::<Timestamp>().is_err());
    }

    #[test]
    fn rfc5322_unknown_zone_is_minus_zero() {
        let ts = Timestamp::local_unknown_zone(datetime!(1999-03-14 9:05));
        assert_eq!(ts.to_rfc5322(), "Sun, 14 Mar 1999 09:05:00 -0000");
        let ts = Timestamp {
            datetime: datetime!(2024-01-02 3:04:05),
            offset: UtcOffset::from_hms(-5, -30, 0).ok(),
        };
        assert_eq!(ts.to_rfc5322(), "Tue, 2 Jan 2024 03:04:05 -0530");
    }

    #[test]
    fn dos_fields() {
        // 1998-06-02 08:39:10: date = (18<<9)|(6<<5)|2, time = (8<<11)|(39<<5)|5
        let d = dos_datetime((18 << 9) | (6 << 5) | 2, (8 << 11) | (39 << 5) | 5);
        assert_eq!(d, Some(datetime!(1998-06-02 8:39:10)));
        assert_eq!(dos_datetime(0, 0), None, "month 0 is not a date");
    }

    #[test]
    fn filetime_epochs() {
        assert_eq!(
            filetime(FILETIME_UNIX_EPOCH).map(|t| t.to_string()),
            Some("1970-01-01T00:00:00+00:00".to_string())
        );
        assert_eq!(filetime(0), None);
        assert_eq!(filetime(0x7FFF_FFFF_FFFF_FFFF), None);
        let ts = Timestamp::utc(datetime!(2009-07-13 10:11:12));
        assert_eq!(filetime(to_filetime(&ts)), Some(ts));
    }

    #[test]
    fn ccmail_dates() {
        let p = |s| parse_ccmail_date(s, DateOrder::MonthDay, DEFAULT_YEAR_PIVOT);
        assert_eq!(
            p("6/2/98 8:39").map(|t| t.datetime),
            Ok(datetime!(1998-06-02 8:39))
        );
        assert_eq!(
            p("1/4/00 16:20").map(|t| t.datetime),
            Ok(datetime!(2000-01-04 16:20))
        );
        assert_eq!(p("1/4/69 0:00").map(|t| t.datetime.year()), Ok(2069));
        assert_eq!(p("1/4/70 0:00").map(|t| t.datetime.year()), Ok(1970));
        assert_eq!(
            p("9-11-1998").map(|t| t.datetime),
            Ok(datetime!(1998-09-11 0:00))
        );
        assert_eq!(p("3/14/99 1:05 PM").map(|t| t.datetime.hour()), Ok(13));
        assert!(matches!(p("2/31/99 17:20"), Err(DateError::Invalid(_))));
        assert!(matches!(p("yesterday"), Err(DateError::Syntax(_))));
        assert!(p("6/2/98 8:39").is_ok_and(|t| t.zone_unknown()));
        let dm = parse_ccmail_date("13/2/98", DateOrder::DayMonth, 70);
        assert_eq!(dm.map(|t| t.datetime), Ok(datetime!(1998-02-13 0:00)));
        let ts = Timestamp::local_unknown_zone(datetime!(2003-12-01 7:05));
        assert_eq!(format_ccmail_date(&ts), "12/1/03 7:05");
        assert_eq!(p(&format_ccmail_date(&ts)), Ok(ts));
    }

    #[test]
    fn yyyymmddhhmmss() {
        let ts = parse_yyyymmddhhmmss("19990314090500");
        assert_eq!(ts.map(|t| t.datetime), Ok(datetime!(1999-03-14 9:05)));
        assert!(matches!(
            parse_yyyymmddhhmmss("19990230090500"),
            Err(DateError::Invalid(_))
        ));
        assert!(matches!(
            parse_yyyymmddhhmmss("1999031409050"),
            Err(DateError::Syntax(_))
        ));
        let ts = Timestamp::local_unknown_zone(datetime!(2000-01-02 3:04:05));
        assert_eq!(format_yyyymmddhhmmss(&ts), "20000102030405");
    }
}
