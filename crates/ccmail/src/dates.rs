//! Date handling on top of [`mailmig_ir::dates::parse_ccmail_date`] (notes §7): clamping of
//! impossible days, the day/month order decision, the 1/1/1900 suspicion, and the right-to-left
//! split of file-item headers (notes §4.7, KB Q186216, KB Q192700).

use mailmig_ir::Timestamp;
use mailmig_ir::dates::{DateError, DateOrder, parse_ccmail_date};

/// What went wrong with a date (the value itself may still be usable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateProblem {
    /// The day did not exist in that month (e.g. `2/31/99`, KB Q233325) and was clamped to the
    /// month's last day (notes §7 rule 4).
    Clamped,
    /// No date could be made of the text (notes §7 rule 5).
    Unparsable,
    /// `1/1/1900`, the Import 8.0 year-2000 defect (KB Q192595, notes §7 rule 6); kept as is.
    Suspicious1900,
}

/// Parses a cc:Mail date with the rules of notes §7. The timestamp is local time with unknown
/// zone; a problem, if any, should become a warning with the raw text kept.
pub fn parse_date(
    text: &str,
    order: DateOrder,
    pivot: u8,
) -> (Option<Timestamp>, Option<DateProblem>) {
    match parse_ccmail_date(text, order, pivot) {
        Ok(ts) => {
            let d = ts.datetime;
            if d.year() == 1900 && u8::from(d.month()) == 1 && d.day() == 1 {
                (Some(ts), Some(DateProblem::Suspicious1900))
            } else {
                (Some(ts), None)
            }
        }
        Err(DateError::Invalid(_)) => match clamp(text, order, pivot) {
            Some(ts) => (Some(ts), Some(DateProblem::Clamped)),
            None => (None, Some(DateProblem::Unparsable)),
        },
        Err(_) => (None, Some(DateProblem::Unparsable)),
    }
}

/// Re-parses `text` with the day lowered to the last day of its month, when only the day is
/// out of range.
fn clamp(text: &str, order: DateOrder, pivot: u8) -> Option<Timestamp> {
    let t = text.trim();
    let (date, rest) = match t.find(char::is_whitespace) {
        Some(i) => (t.get(..i)?, t.get(i..)?),
        None => (t, ""),
    };
    let mut f = date.split(['/', '-', '.']);
    let a: u8 = f.next()?.parse().ok()?;
    let b: u8 = f.next()?.parse().ok()?;
    let y = f.next()?;
    let (month, day) = match order {
        DateOrder::MonthDay => (a, b),
        DateOrder::DayMonth => (b, a),
    };
    if !(1..=12).contains(&month) || !(29..=31).contains(&day) {
        return None;
    }
    let m = time::Month::try_from(month).ok()?;
    let yv: i32 = y.parse().ok()?;
    let year = if y.len() == 2 {
        if yv < i32::from(pivot) {
            2000 + yv
        } else {
            1900 + yv
        }
    } else {
        yv
    };
    let last = time::util::days_in_month(m, year);
    if day <= last {
        return None;
    }
    let fixed = format!("{month}/{last}/{y}{rest}");
    parse_ccmail_date(&fixed, DateOrder::MonthDay, pivot).ok()
}

/// Accumulates the evidence for the day/month order of one post office (notes §7 rule 2):
/// switch to day/month/year when some date has a first field above 12 and none has a second
/// field above 12.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderEvidence {
    /// Some date had a first field above 12.
    pub first_above_12: bool,
    /// Some date had a second field above 12.
    pub second_above_12: bool,
    /// Dates looked at.
    pub dates_seen: u64,
}

impl OrderEvidence {
    /// Adds the date at the start of `value` (a `Date:` header value).
    pub fn add(&mut self, value: &[u8]) {
        let mut fields = [0u32; 2];
        let mut idx = 0usize;
        let mut digits = 0usize;
        for &b in value.iter().take(12) {
            if b.is_ascii_digit() {
                digits += 1;
                if let Some(f) = fields.get_mut(idx) {
                    *f = f.saturating_mul(10).saturating_add(u32::from(b - b'0'));
                }
            } else if matches!(b, b'/' | b'-' | b'.') && digits > 0 {
                idx += 1;
                digits = 0;
                if idx == 2 {
                    break;
                }
            } else {
                return;
            }
        }
        if idx < 2 {
            return;
        }
        self.dates_seen += 1;
        self.first_above_12 |= fields[0] > 12;
        self.second_above_12 |= fields[1] > 12;
    }

    /// Merges evidence from another file of the same post office.
    pub fn merge(&mut self, other: OrderEvidence) {
        self.first_above_12 |= other.first_above_12;
        self.second_above_12 |= other.second_above_12;
        self.dates_seen += other.dates_seen;
    }

    /// True once no further date can change [`OrderEvidence::decide`]: a second field above 12
    /// makes the order month/day whatever follows, so scanning can stop there.
    pub fn is_settled(&self) -> bool {
        self.second_above_12
    }

    /// The order the evidence calls for.
    pub fn decide(&self) -> DateOrder {
        if self.first_above_12 && !self.second_above_12 {
            DateOrder::DayMonth
        } else {
            DateOrder::MonthDay
        }
    }
}

fn is_time_token(t: &str) -> bool {
    let mut parts = t.split(':');
    let ok = |p: Option<&str>, lens: &[usize]| {
        p.is_some_and(|p| lens.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let h = parts.next();
    let m = parts.next();
    let s = parts.next();
    ok(h, &[1, 2]) && ok(m, &[2]) && (s.is_none() || ok(s, &[2])) && parts.next().is_none()
}

fn is_date_token(t: &str) -> bool {
    let mut f = t.split(['/', '-', '.']);
    let digits = |p: Option<&str>, lens: &[usize]| {
        p.is_some_and(|p| lens.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    digits(f.next(), &[1, 2])
        && digits(f.next(), &[1, 2])
        && digits(f.next(), &[2, 4])
        && f.next().is_none()
}

/// Splits a file-item title from the right (notes §4.7): strips a trailing time token
/// (`H:MM[:SS]` with optional `AM`/`PM`), then a trailing date token (`M/D/YY`, `M-D-YYYY`, …);
/// the rest is the file name, which may contain spaces. Returns the name and the date text.
pub fn split_file_title(title: &str) -> (&str, Option<&str>) {
    let t = title.trim_end();
    let mut cut = t.len();
    let token_before = |end: usize| -> Option<(usize, &str)> {
        let s = t.get(..end)?.trim_end();
        if s.is_empty() {
            return None;
        }
        let start = s.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        Some((start, s.get(start..)?))
    };
    let mut date_found = false;
    if let Some((start, tok)) = token_before(cut)
        && (tok.eq_ignore_ascii_case("AM") || tok.eq_ignore_ascii_case("PM"))
        && let Some((s2, tok2)) = token_before(start)
        && is_time_token(tok2)
    {
        cut = s2;
    } else if let Some((start, tok)) = token_before(cut)
        && is_time_token(tok)
    {
        cut = start;
    }
    if let Some((start, tok)) = token_before(cut)
        && is_date_token(tok)
        && start > 0
    {
        cut = start;
        date_found = true;
    }
    if !date_found {
        return (t.trim(), None);
    }
    let name = t.get(..cut).unwrap_or("").trim();
    let date = t.get(cut..).map(str::trim);
    (name, date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailmig_ir::dates::DEFAULT_YEAR_PIVOT;
    use time::macros::datetime;

    #[test]
    fn clamps_impossible_day() {
        let (ts, p) = parse_date("2/31/99 17:20", DateOrder::MonthDay, DEFAULT_YEAR_PIVOT);
        assert_eq!(ts.map(|t| t.datetime), Some(datetime!(1999-02-28 17:20)));
        assert_eq!(p, Some(DateProblem::Clamped));
        let (ts, p) = parse_date("31/4/2001", DateOrder::DayMonth, DEFAULT_YEAR_PIVOT);
        assert_eq!(ts.map(|t| t.datetime), Some(datetime!(2001-04-30 0:00)));
        assert_eq!(p, Some(DateProblem::Clamped));
        let (ts, p) = parse_date("13/1/99", DateOrder::MonthDay, DEFAULT_YEAR_PIVOT);
        assert_eq!((ts, p), (None, Some(DateProblem::Unparsable)));
        let (_, p) = parse_date("1/1/1900 0:00", DateOrder::MonthDay, DEFAULT_YEAR_PIVOT);
        assert_eq!(p, Some(DateProblem::Suspicious1900));
    }

    #[test]
    fn order_evidence() {
        let mut e = OrderEvidence::default();
        e.add(b"3/14/99 9:05");
        assert_eq!(e.decide(), DateOrder::MonthDay);
        let mut e = OrderEvidence::default();
        e.add(b"14/3/99 9:05");
        e.add(b"1/2/99");
        assert_eq!(e.decide(), DateOrder::DayMonth);
        e.add(b"1/13/99");
        assert_eq!(e.decide(), DateOrder::MonthDay);
    }

    #[test]
    fn file_titles_split_from_the_right() {
        assert_eq!(
            split_file_title("NOTE_G.TXT 3/12/99"),
            ("NOTE_G.TXT", Some("3/12/99"))
        );
        assert_eq!(
            split_file_title("Att.txt 9-11-1998"),
            ("Att.txt", Some("9-11-1998"))
        );
        assert_eq!(
            split_file_title("My Report 2.DOC 3/12/99 4:05 PM"),
            ("My Report 2.DOC", Some("3/12/99 4:05 PM"))
        );
        assert_eq!(split_file_title("plain name.doc"), ("plain name.doc", None));
        assert_eq!(split_file_title("3/12/99"), ("3/12/99", None));
    }

    #[test]
    fn date_tokens() {
        for t in ["3/12/99", "12.1.1999", "9-11-98", "01/02/2003"] {
            assert!(is_date_token(t), "{t}");
        }
        for t in [
            "3/12",
            "3/12/99/1",
            "123/1/99",
            "1/123/99",
            "1/1/999",
            "1/1/9",
            "a/1/99",
            "1/1/9x",
            "/1/99",
            "1/1/",
            "",
        ] {
            assert!(!is_date_token(t), "{t}");
        }
    }
}
