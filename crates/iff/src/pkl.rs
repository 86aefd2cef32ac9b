//! The packing list `.PKL` (`formats/exchange-iff.md` §2 and §4).

use mailmig_ir::Warning;

use crate::IffError;
use crate::lex::{LineReader, tokenize};

/// What a packing-list entry is, by extension (§4: "classify by extension").
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// `.PRI`.
    Primary,
    /// `.SEC`.
    Secondary,
    /// Anything else (listed but not used).
    Other,
}

/// One file line of the packing list.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PklEntry {
    /// The name as written (may contain a relative path with `\` or `/`).
    pub name: String,
    /// Its kind.
    pub kind: FileKind,
    /// 1-based line number in the packing list.
    pub line: u64,
    /// Byte offset of the line.
    pub offset: u64,
}

/// A parsed packing list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackingList {
    /// The code page of all primary and secondary files (§2).
    pub code_page: u16,
    /// The listed files in order.
    pub files: Vec<PklEntry>,
    /// Oddities met (missing blank line, lone line ends…).
    pub warnings: Vec<Warning>,
}

/// Classifies a file name by its extension.
pub fn classify(name: &str) -> FileKind {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pri") {
        FileKind::Primary
    } else if lower.ends_with(".sec") {
        FileKind::Secondary
    } else {
        FileKind::Other
    }
}

/// Finds the code-page line: skips `!` comments and blank lines and returns the first line if it
/// is a decimal number (§2, reader rule **\[I\]**), with its offset. `None` when the first
/// non-comment line is not a number.
pub fn code_page_line(data: &[u8]) -> Option<(u64, usize)> {
    let mut r = LineReader::new(data, 0, data.len(), 1, 1252, 4096);
    while let Some(l) = r.next_line(false) {
        let t = trim_ascii(&l.bytes);
        if t.is_empty() || t.first() == Some(&b'!') {
            continue;
        }
        if !t.is_empty() && t.len() <= 10 && t.iter().all(u8::is_ascii_digit) {
            let n = std::str::from_utf8(t).ok()?.parse::<u64>().ok()?;
            return Some((n, l.offset));
        }
        return None;
    }
    None
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Parses a packing list. `file` names it in errors and warnings. The packing list's own text
/// is decoded as Windows-1252 (§2: it is written in the Windows ANSI page, not the page it names).
pub fn parse_packing_list(data: &[u8], file: &str) -> Result<PackingList, IffError> {
    let mut warnings = Vec::new();
    let mut r = LineReader::new(data, 0, data.len(), 1, 1252, 1 << 16);
    let mut code_page: Option<u16> = None;
    let mut expect_blank = false;
    let mut files = Vec::new();
    let mut odd_endings = 0u64;
    let mut first_odd = None;
    while let Some(l) = r.next_line(false) {
        if l.odd_ending && r.position() < data.len() {
            odd_endings += 1;
            first_odd.get_or_insert(l.offset);
        }
        let t = trim_ascii(&l.bytes);
        if t.first() == Some(&b'!') {
            continue;
        }
        if code_page.is_none() {
            if t.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(t).into_owned();
            if !t.iter().all(u8::is_ascii_digit) {
                return Err(IffError::NoCodePage { file: file.into() });
            }
            let cp = text.parse::<u16>().map_err(|_| IffError::BadCodePage {
                file: file.into(),
                offset: l.offset as u64,
                raw: text.clone(),
            })?;
            code_page = Some(cp);
            expect_blank = true;
            continue;
        }
        if expect_blank {
            expect_blank = false;
            if !t.is_empty() {
                warnings.push(
                    Warning::new(
                        "iff.pkl-no-blank-line",
                        "the code-page line is not followed by a blank line",
                    )
                    .in_file(file)
                    .at(l.offset as u64),
                );
            }
        }
        if t.is_empty() {
            continue;
        }
        // Accept the `name,` CSV form: take the first field, unquoted.
        let name_bytes = match tokenize(t, true) {
            Ok(fields) => fields
                .into_iter()
                .next()
                .map(|f| f.bytes.into_owned())
                .unwrap_or_default(),
            Err(_) => t.to_vec(),
        };
        let name = mailmig_ir::codepage::decode(name_bytes.trim_ascii(), 1252).into_owned();
        if name.is_empty() {
            continue;
        }
        files.push(PklEntry {
            kind: classify(&name),
            name,
            line: l.line_no,
            offset: l.offset as u64,
        });
    }
    let Some(code_page) = code_page else {
        return Err(IffError::NoCodePage { file: file.into() });
    };
    if odd_endings > 0 {
        warnings.push(
            Warning::new(
                "iff.line-end",
                format!("{odd_endings} line(s) end in a lone CR or LF instead of CR LF"),
            )
            .in_file(file)
            .at(first_odd.unwrap_or(0) as u64),
        );
    }
    if matches!(code_page, 437 | 10000) {
        warnings.push(
            Warning::new(
                "iff.code-page-mismapped",
                format!(
                    "code page {code_page} is honoured, but Exchange's importer mis-mapped many characters with it (KB Q174725)"
                ),
            )
            .in_file(file),
        );
    }
    if !mailmig_ir::codepage::is_supported(code_page) {
        warnings.push(
            Warning::new(
                "iff.code-page-unsupported",
                format!("code page {code_page} is not supported; text is decoded as Windows-1252"),
            )
            .in_file(file),
        );
    }
    Ok(PackingList {
        code_page,
        files,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_example_packing_list() {
        let pkl = b"1252\r\n\r\nDIRECTORY.PRI\r\n00000001.PRI\r\n00000002.PRI\r\n00000001.SEC\r\n";
        let p = parse_packing_list(pkl, "LONDON.PKL").unwrap();
        assert_eq!(p.code_page, 1252);
        let names: Vec<_> = p.files.iter().map(|f| (f.name.as_str(), f.kind)).collect();
        assert_eq!(
            names,
            vec![
                ("DIRECTORY.PRI", FileKind::Primary),
                ("00000001.PRI", FileKind::Primary),
                ("00000002.PRI", FileKind::Primary),
                ("00000001.SEC", FileKind::Secondary)
            ]
        );
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn comment_before_code_page_and_csv_names() {
        // KB Q177418: `! CodePage` comment, then `932`.
        let pkl = b"! CodePage\r\n932\r\n\r\nA.PRI,\r\n\"B.SEC\"\r\n";
        let p = parse_packing_list(pkl, "x.pkl").unwrap();
        assert_eq!(p.code_page, 932);
        assert_eq!(p.files[0].name, "A.PRI");
        assert_eq!(p.files[1].name, "B.SEC");
        assert_eq!(code_page_line(pkl), Some((932, 12)));
    }

    #[test]
    fn missing_code_page_is_an_error() {
        let err = parse_packing_list(b"A.PRI\r\n", "x.pkl").unwrap_err();
        assert!(matches!(err, IffError::NoCodePage { .. }));
        let err = parse_packing_list(b"99999\r\n", "x.pkl").unwrap_err();
        assert!(matches!(err, IffError::BadCodePage { .. }));
    }
}
