//! Mailbag (`.MBG`) records (`msmail.md` §5, KB Q108027).
//!
//! A mailbag is a sequence of 116-byte records **[D]** (KB Q77926). The only documented field
//! is the 8-hex-digit `.MAI` name, 54 bytes after the first character of the subject, i.e. at
//! record offset `0x43` **[D]** (KB Q108027). Sender, subject and the date words are
//! **inferred** from the two records of the one published dump and are read only when
//! `OpenOptions::experimental` is set; every output built from them is labelled "inferred".
//! All integers little-endian.

use mailmig_ir::codepage;

/// Size of one mailbag record **[D]** (KB Q77926).
pub const RECORD_SIZE: usize = 116;
/// Offset of the `.MAI` name within a record **[D]** (KB Q108027: 54 bytes after the subject's
/// first character, which the dump places at 0x0D).
pub const MAI_NAME_OFFSET: usize = 0x43;
/// Length of the `.MAI` name (8 hex digits, then a NUL).
pub const MAI_NAME_LEN: usize = 8;
/// Sender mailbox name, NUL-padded, 11 bytes **[I]**.
pub const SENDER_OFFSET: usize = 0x02;
/// Sender field length **[I]**.
pub const SENDER_LEN: usize = 11;
/// Subject, NUL-padded, 43 bytes **[I]**.
pub const SUBJECT_OFFSET: usize = 0x0D;
/// Subject field length **[I]**.
pub const SUBJECT_LEN: usize = 43;
/// Minute, hour, day, month, year as five 16-bit words **[I]**.
pub const DATE_OFFSET: usize = 0x38;

/// The `.MAI` name field of one record: 8 ASCII hex digits **[D]**.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaiName {
    /// Eight hex digits, upper-cased.
    Valid(String),
    /// Anything else, as lossy text of the 8 bytes.
    Invalid(String),
}

/// Reads the documented `.MAI` name of a record (`rec` must be a whole record; shorter input
/// gives `Invalid`).
pub fn mai_name(rec: &[u8]) -> MaiName {
    let raw = rec
        .get(MAI_NAME_OFFSET..MAI_NAME_OFFSET + MAI_NAME_LEN)
        .unwrap_or(&[]);
    if raw.len() == MAI_NAME_LEN && raw.iter().all(u8::is_ascii_hexdigit) {
        MaiName::Valid(String::from_utf8_lossy(raw).to_ascii_uppercase())
    } else {
        MaiName::Invalid(String::from_utf8_lossy(raw).replace('\0', "\\0"))
    }
}

/// One mailbag header decoded with the **inferred** layout of §5.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InferredHeader {
    /// Record number (0-based).
    pub index: u64,
    /// Byte offset of the record in the mailbag.
    pub offset: u64,
    /// Sender mailbox name **[I]**.
    pub sender: String,
    /// Subject **[I]**.
    pub subject: String,
    /// `yyyy-mm-dd hh:mm` when the five date words form a valid date **[I]**.
    pub date: Option<String>,
    /// The raw date words (minute, hour, day, month, year) **[I]**.
    pub date_words: [u16; 5],
    /// The `.MAI` name **[D]**, or the raw bytes when they are not 8 hex digits.
    pub mai: String,
    /// True when the MAI name is 8 hex digits.
    pub mai_valid: bool,
    /// Problems found in this record: `(code, message, offset in the file)`.
    #[serde(skip)]
    pub issues: Vec<(&'static str, String, u64)>,
}

fn nul_field(rec: &[u8], off: usize, len: usize, cp: u16) -> (String, &[u8]) {
    let raw = rec.get(off..off + len).unwrap_or(&[]);
    let end = memchr::memchr(0, raw).unwrap_or(raw.len());
    let bytes = raw.get(..end).unwrap_or(&[]);
    (codepage::decode(bytes, cp).into_owned(), bytes)
}

fn word(rec: &[u8], off: usize) -> u16 {
    match rec.get(off..off + 2) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// "Graphic characters in the subject" (KB Q123319) **[I]**: control bytes below 0x20 and the
/// CP850 box-drawing range 0xB0–0xDF.
fn has_graphic(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| b < 0x20 || (0xB0..=0xDF).contains(&b))
}

/// Decodes one record with the inferred layout. `offset` is the record's file offset.
pub fn inferred_header(rec: &[u8], index: u64, offset: u64, cp: u16) -> InferredHeader {
    let (sender, _) = nul_field(rec, SENDER_OFFSET, SENDER_LEN, cp);
    let (subject, subject_raw) = nul_field(rec, SUBJECT_OFFSET, SUBJECT_LEN, cp);
    let w: [u16; 5] = std::array::from_fn(|i| word(rec, DATE_OFFSET + 2 * i));
    let [minute, hour, day, month, year] = w;
    let mut issues = Vec::new();
    let date_off = offset + DATE_OFFSET as u64;
    let date = (|| {
        let m = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
        let d = time::Date::from_calendar_date(i32::from(year), m, u8::try_from(day).ok()?).ok()?;
        let t =
            time::Time::from_hms(u8::try_from(hour).ok()?, u8::try_from(minute).ok()?, 0).ok()?;
        (1980..=2099).contains(&year).then(|| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                d.year(),
                u8::from(d.month()),
                d.day(),
                t.hour(),
                t.minute()
            )
        })
    })();
    if w.iter().all(|&x| x == 0x5555) || w.iter().filter(|&&x| x == 0x5555).count() >= 3 {
        issues.push((
            "msmail.mailbag-all-fives",
            "date words are all fives, a sign of a corrupt mailbag record (KB Q123319)".to_string(),
            date_off,
        ));
    } else if date.is_none() {
        issues.push((
            "msmail.mailbag-invalid-date",
            format!("date words {w:?} (minute, hour, day, month, year; inferred layout) are not a valid date"),
            date_off,
        ));
    }
    if has_graphic(subject_raw) {
        issues.push((
            "msmail.mailbag-graphic-subject",
            "subject holds control or graphic characters, a sign of corruption (KB Q123319)"
                .to_string(),
            offset + SUBJECT_OFFSET as u64,
        ));
    }
    let (mai, mai_valid) = match mai_name(rec) {
        MaiName::Valid(s) => (s, true),
        MaiName::Invalid(s) => (s, false),
    };
    InferredHeader {
        index,
        offset,
        sender,
        subject,
        date,
        date_words: w,
        mai,
        mai_valid,
        issues,
    }
}

/// Splits a mailbag into whole records; returns them with their offsets and the number of
/// trailing bytes that do not form a whole record.
pub fn records(data: &[u8]) -> (impl Iterator<Item = (u64, &[u8])>, usize) {
    let rem = data.len() % RECORD_SIZE;
    let it = data
        .chunks_exact(RECORD_SIZE)
        .enumerate()
        .map(|(i, r)| ((i * RECORD_SIZE) as u64, r));
    (it, rem)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record 1 of the KB Q108027 dump, rebuilt field by field from the layout table of §5.
    pub(crate) fn kb_record(subject: &str, minute: u16, mai: &str) -> Vec<u8> {
        let mut r = vec![0u8; RECORD_SIZE];
        r[0x02..0x02 + 7].copy_from_slice(b"Martian"); // sender [I], NUL-padded
        r[0x0D..0x0D + subject.len()].copy_from_slice(subject.as_bytes()); // subject [I]
        r[0x38..0x3A].copy_from_slice(&minute.to_le_bytes()); // minute [I]
        r[0x3A..0x3C].copy_from_slice(&16u16.to_le_bytes()); // hour [I]
        r[0x3C..0x3E].copy_from_slice(&8u16.to_le_bytes()); // day [I]
        r[0x3E..0x40].copy_from_slice(&10u16.to_le_bytes()); // month [I]
        r[0x40..0x42].copy_from_slice(&1993u16.to_le_bytes()); // year [I]
        r[0x43..0x4B].copy_from_slice(mai.as_bytes()); // MAI name [D]
        r[0x4E..0x50].copy_from_slice(&0x0228u16.to_le_bytes()); // unknown [U]
        r[0x58..0x5A].copy_from_slice(&0x0018u16.to_le_bytes()); // unknown [U]
        r[0x6C..0x70].copy_from_slice(&0x005B_C998u32.to_le_bytes()); // unknown [U]
        r
    }

    #[test]
    fn kb_q108027_record_decodes() {
        let r = kb_record("This is the subject", 25, "00000062");
        // KB Q108027: the MAI name starts 54 bytes after the subject's first character.
        assert_eq!(SUBJECT_OFFSET + 54, MAI_NAME_OFFSET);
        let h = inferred_header(&r, 0, 0, 850);
        assert_eq!(h.sender, "Martian");
        assert_eq!(h.subject, "This is the subject");
        assert_eq!(h.date.as_deref(), Some("1993-10-08 16:25"));
        assert_eq!(h.mai, "00000062");
        assert!(h.issues.is_empty());
    }

    #[test]
    fn corrupt_records_are_flagged() {
        let mut r = kb_record("Bad \u{1}subject", 25, "0000006Z");
        for i in 0..5 {
            r[0x38 + 2 * i..0x3A + 2 * i].copy_from_slice(&0x5555u16.to_le_bytes());
        }
        let h = inferred_header(&r, 3, 348, 850);
        assert!(!h.mai_valid);
        let codes: Vec<_> = h.issues.iter().map(|i| (i.0, i.2)).collect();
        assert_eq!(
            codes,
            vec![
                ("msmail.mailbag-all-fives", 348 + 0x38),
                ("msmail.mailbag-graphic-subject", 348 + 0x0D)
            ]
        );
    }
}
