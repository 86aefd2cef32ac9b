//! Secondary files `.SEC` (`formats/exchange-iff.md` §7): the title line, section lines
//! `Type,Length,Encoding,Islast,Name,Position,Format`, and reading a message's chain of
//! sections from a `#FILE.SEC(offset)` pointer (§6, §7.2).

use std::ops::Range;

use mailmig_ir::{Budget, Limits, Warning};

use crate::IffError;
use crate::lex::{LineEnd, physical_line, tokenize};

/// The title line at the top of every secondary file (§7.1).
pub const TITLE_LINE: &str = "Type,Length,Encoding,Islast,Name,Position,Format";

/// How far the salvage resynchronisation scans forward for a section line (§6: 64 KiB).
pub const RESYNC_WINDOW: usize = 64 * 1024;

/// The `Type` of a section (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionType {
    /// Message body text.
    Body,
    /// Attachment data.
    Attachment,
    /// Calendar data (format unknown, §14).
    Schedule,
    /// A free document.
    Document,
    /// Any other multi-line value moved out of a primary file.
    Other,
}

impl SectionType {
    fn parse(b: &[u8]) -> Option<Self> {
        let t = b.trim_ascii();
        [
            ("body", Self::Body),
            ("attachment", Self::Attachment),
            ("schedule", Self::Schedule),
            ("document", Self::Document),
            ("other", Self::Other),
        ]
        .into_iter()
        .find(|(n, _)| t.eq_ignore_ascii_case(n.as_bytes()))
        .map(|(_, v)| v)
    }

    /// The spelling the writer uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Body => "Body",
            Self::Attachment => "Attachment",
            Self::Schedule => "Schedule",
            Self::Document => "Document",
            Self::Other => "Other",
        }
    }
}

/// The `Format` of a section (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionFormat {
    /// `None` (or empty): plain data.
    None,
    /// `Macbinary`: MacBinary-encoded Macintosh file.
    MacBinary,
    /// Another value (kept, warned).
    Unknown,
}

/// One parsed section of a secondary file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// `Type`.
    pub kind: SectionType,
    /// Offset of the section line.
    pub offset: usize,
    /// The data bytes (`Length` bytes after the section line).
    pub data: Range<usize>,
    /// `Islast`; `None` when empty or unrecognised.
    pub is_last: Option<bool>,
    /// `Name`, raw bytes (decoded with the code page by the caller).
    pub name: Vec<u8>,
    /// `Position`, if given and numeric.
    pub position: Option<i64>,
    /// `Format`.
    pub format: SectionFormat,
    /// Offset of the next section (after the separator line and any further blank lines).
    pub next: usize,
}

/// Parses the section line at `offset` and locates its data. `file` names the file in errors.
///
/// Errors: [`IffError::OffsetPastEnd`], [`IffError::NotSectionHeader`],
/// [`IffError::LengthPastEnd`].
pub fn section_at(
    data: &[u8],
    offset: usize,
    file: &str,
    limits: &Limits,
) -> Result<Section, IffError> {
    if offset >= data.len() {
        return Err(IffError::OffsetPastEnd {
            file: file.into(),
            offset: offset as u64,
            len: data.len() as u64,
        });
    }
    let not_header = |at: usize| {
        let rest = data.get(at..).unwrap_or(&[]);
        let cut = rest
            .iter()
            .position(|b| *b == b'\r' || *b == b'\n')
            .unwrap_or(rest.len())
            .min(80);
        IffError::NotSectionHeader {
            file: file.into(),
            offset: at as u64,
            raw: String::from_utf8_lossy(rest.get(..cut).unwrap_or(&[])).into_owned(),
        }
    };
    let mut line = physical_line(data, offset).ok_or_else(|| not_header(offset))?;
    let bytes = data.get(line.start..line.end).unwrap_or(&[]);
    if bytes.eq_ignore_ascii_case(TITLE_LINE.as_bytes()) {
        line = physical_line(data, line.next).ok_or_else(|| not_header(offset))?;
    }
    if (line.end - line.start) as u64 > limits.max_line_len || line.ending == LineEnd::Eof {
        return Err(not_header(line.start));
    }
    let bytes = data.get(line.start..line.end).unwrap_or(&[]);
    let fields = tokenize(bytes, true).map_err(|_| not_header(line.start))?;
    if fields.len() != 7 {
        return Err(not_header(line.start));
    }
    let f = |i: usize| fields.get(i).map(|f| &f.bytes[..]).unwrap_or(&[]);
    let kind = SectionType::parse(f(0)).ok_or_else(|| not_header(line.start))?;
    let len_text = f(1).trim_ascii();
    if len_text.is_empty() || len_text.len() > 19 || !len_text.iter().all(u8::is_ascii_digit) {
        return Err(not_header(line.start));
    }
    let length: u64 = std::str::from_utf8(len_text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| not_header(line.start))?;
    let is_last = {
        let t = f(3).trim_ascii();
        if t.eq_ignore_ascii_case(b"TRUE") {
            Some(true)
        } else if t.eq_ignore_ascii_case(b"FALSE") {
            Some(false)
        } else {
            None
        }
    };
    let position = std::str::from_utf8(f(5).trim_ascii())
        .ok()
        .and_then(|s| s.parse::<i64>().ok());
    let format = {
        let t = f(6).trim_ascii();
        if t.is_empty() || t.eq_ignore_ascii_case(b"None") {
            SectionFormat::None
        } else if t.eq_ignore_ascii_case(b"Macbinary") {
            SectionFormat::MacBinary
        } else {
            SectionFormat::Unknown
        }
    };
    let start = line.next;
    let available = (data.len() - start) as u64;
    if length > available || !limits.allows_allocation(length) {
        return Err(IffError::LengthPastEnd {
            file: file.into(),
            offset: line.start as u64,
            length,
            available,
        });
    }
    let end = start + length as usize;
    // Skip the separator line end, then any further blank lines (§7.2 step 3).
    let mut next = end;
    match (data.get(next), data.get(next + 1)) {
        (Some(b'\r'), Some(b'\n')) => next += 2,
        (Some(b'\r' | b'\n'), _) => next += 1,
        _ => {}
    }
    loop {
        match (data.get(next), data.get(next + 1)) {
            (Some(b'\r'), Some(b'\n')) => next += 2,
            (Some(b'\r' | b'\n'), _) => next += 1,
            _ => break,
        }
    }
    Ok(Section {
        kind,
        offset: line.start,
        data: start..end,
        is_last,
        name: f(4).to_vec(),
        position,
        format,
        next,
    })
}

/// Salvage resynchronisation (§6): the nearest section line to `offset`, looking first at the
/// start of the line containing `offset`, then forward up to [`RESYNC_WINDOW`] bytes.
pub fn resync(data: &[u8], offset: usize, file: &str, limits: &Limits) -> Option<Section> {
    let offset = offset.min(data.len());
    let line_start = data
        .get(..offset)
        .and_then(|b| memchr::memrchr2(b'\n', b'\r', b))
        .map_or(0, |k| k + 1);
    if let Ok(s) = section_at(data, line_start, file, limits) {
        return Some(s);
    }
    let limit = offset.saturating_add(RESYNC_WINDOW).min(data.len());
    let mut pos = offset;
    while pos < limit {
        let line = physical_line(data, pos)?;
        if line.start != line_start
            && let Ok(s) = section_at(data, line.start, file, limits)
        {
            return Some(s);
        }
        if line.next <= pos {
            break;
        }
        pos = line.next;
    }
    None
}

/// A message's sections, read from a pointer (§7.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// The sections in order.
    pub sections: Vec<Section>,
    /// Oddities met (unterminated chain, resynchronisation…).
    pub warnings: Vec<Warning>,
}

/// Reads the chain of sections starting at `offset` (§7.2): continues while `Islast` is `FALSE`,
/// stops at `TRUE`, at end of file or at a line that is not a section line (warned), and after
/// `limits.max_items` sections (error). The first section must parse; in `salvage` mode a
/// pointer that misses a section line is resynchronised (§6) with a warning.
pub fn read_chain(
    data: &[u8],
    offset: u64,
    file: &str,
    limits: &Limits,
    budget: &Budget,
    salvage: bool,
) -> Result<Chain, IffError> {
    let mut chain = Chain::default();
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let first = match section_at(data, start, file, limits) {
        Ok(s) => s,
        Err(e @ IffError::NotSectionHeader { .. }) if salvage => {
            let Some(s) = resync(data, start, file, limits) else {
                return Err(e);
            };
            chain.warnings.push(
                Warning::new(
                    "iff.pointer-resync",
                    format!(
                        "pointer offset {offset} is not a section line; used the section line at offset {}",
                        s.offset
                    ),
                )
                .in_file(file)
                .at(offset),
            );
            s
        }
        Err(e) => return Err(e),
    };
    let mut current = first;
    loop {
        budget.check()?;
        if chain.sections.len() as u64 >= limits.max_items {
            return Err(IffError::TooManySections {
                file: file.into(),
                offset,
                limit: limits.max_items,
            });
        }
        let is_last = current.is_last;
        let next = current.next;
        let at = current.offset;
        chain.sections.push(current);
        match is_last {
            Some(true) => break,
            None => {
                chain.warnings.push(
                    Warning::new(
                        "iff.islast-invalid",
                        "Islast is neither TRUE nor FALSE; treated as TRUE",
                    )
                    .in_file(file)
                    .at(at as u64),
                );
                break;
            }
            Some(false) => {}
        }
        if next >= data.len() {
            chain.warnings.push(
                Warning::new(
                    "iff.chain-eof",
                    "Islast is FALSE but the file ends; chain stopped",
                )
                .in_file(file)
                .at(at as u64),
            );
            break;
        }
        match section_at(data, next, file, limits) {
            Ok(s) => current = s,
            Err(e @ IffError::LengthPastEnd { .. }) => return Err(e),
            Err(_) => {
                chain.warnings.push(
                    Warning::new(
                        "iff.chain-broken",
                        "Islast is FALSE but no section line follows; chain stopped",
                    )
                    .in_file(file)
                    .at(next as u64),
                );
                break;
            }
        }
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secondary file of the worked example (§13), byte for byte.
    pub(crate) fn example_sec() -> Vec<u8> {
        let mut v = Vec::new();
        // title line: 48 characters + CR LF = 50 bytes
        v.extend_from_slice(b"Type,Length,Encoding,Islast,Name,Position,Format\r\n");
        // message 1 Body section line, 20 bytes
        v.extend_from_slice(b"Body,103,,FALSE,,,\r\n");
        // 103 data bytes
        v.extend_from_slice(b"Charles,\r\n\r\nThe draft of Note G is attached. The table of\r\nBernoulli numbers starts on page 3.\r\n\r\nAda\r\n");
        // separator
        v.extend_from_slice(b"\r\n");
        // message 1 Attachment section line, 41 bytes
        v.extend_from_slice(b"Attachment,29,,TRUE,NOTE_G.TXT,103,None\r\n");
        // 29 data bytes
        v.extend_from_slice(b"B0 = 1\r\nB1 = -1/2\r\nB2 = 1/6\r\n");
        // separator
        v.extend_from_slice(b"\r\n");
        // message 2 Body section line, 18 bytes
        v.extend_from_slice(b"Body,56,,TRUE,,,\r\n");
        // 56 data bytes
        v.extend_from_slice(b"Mary,\r\n\r\nThank you for the introduction to Mr Babbage.\r\n");
        // separator
        v.extend_from_slice(b"\r\n");
        v
    }

    #[test]
    fn example_offsets_match_the_table() {
        let sec = example_sec();
        assert_eq!(sec.len(), 323);
        let l = Limits::default();
        let b = Budget::unlimited();
        let c = read_chain(&sec, 50, "00000001.SEC", &l, &b, false).unwrap();
        assert_eq!(c.sections.len(), 2);
        assert_eq!(c.sections[0].kind, SectionType::Body);
        assert_eq!(c.sections[0].data, 70..173);
        assert_eq!(c.sections[1].offset, 175);
        assert_eq!(c.sections[1].name, b"NOTE_G.TXT");
        assert_eq!(c.sections[1].position, Some(103));
        assert_eq!(c.sections[1].next, 247);
        let c2 = read_chain(&sec, 247, "00000001.SEC", &l, &b, false).unwrap();
        assert_eq!(c2.sections[0].data.len(), 56);
        assert_eq!(c2.sections[0].next, 323);
        // Pointing at the title line skips it (§7.2 step 1).
        let c0 = read_chain(&sec, 0, "x", &l, &b, false).unwrap();
        assert_eq!(c0.sections[0].offset, 50);
    }

    #[test]
    fn bad_pointers_and_lengths() {
        let sec = example_sec();
        let l = Limits::default();
        let b = Budget::unlimited();
        assert!(matches!(
            read_chain(&sec, 60, "s", &l, &b, false),
            Err(IffError::NotSectionHeader { offset: 60, .. })
        ));
        // Salvage: resync to the section line containing offset 60 (starts at 50).
        let c = read_chain(&sec, 60, "s", &l, &b, true).unwrap();
        assert_eq!(c.sections[0].offset, 50);
        assert_eq!(c.warnings[0].code, "iff.pointer-resync");
        assert!(matches!(
            read_chain(&sec, 999, "s", &l, &b, false),
            Err(IffError::OffsetPastEnd { .. })
        ));
        let long = b"Body,999,,TRUE,,,\r\nabc\r\n";
        assert!(matches!(
            read_chain(long, 0, "s", &l, &b, false),
            Err(IffError::LengthPastEnd {
                length: 999,
                available: 5,
                ..
            })
        ));
    }

    #[test]
    fn looping_chain_is_bounded() {
        // Every section says Islast=FALSE; the chain ends at EOF with a warning.
        let mut data = Vec::new();
        for _ in 0..1000 {
            data.extend_from_slice(b"Other,0,,FALSE,,,\r\n\r\n");
        }
        let mut l = Limits::default();
        l.max_items = 100;
        let r = read_chain(&data, 0, "s", &l, &Budget::unlimited(), false);
        assert!(matches!(
            r,
            Err(IffError::TooManySections { limit: 100, .. })
        ));
    }
}
