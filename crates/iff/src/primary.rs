//! Primary files `.PRI` (`formats/exchange-iff.md` §5): finding the `DIRECTORY`, `PAB` and
//! `MAILMESSAGE` sections, their header lines and data rows.

use mailmig_ir::Warning;

use crate::lex::{LineReader, LogicalLine, tokenize};

/// The keyword of a section line (§5; keywords are case-insensitive **\[I\]**).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// `DIRECTORY`.
    Directory,
    /// `PAB,<owner address>`.
    Pab {
        /// The owner address as written (`TYPE:addr` or `migrate:TYPE:addr`).
        owner: String,
    },
    /// `MAILMESSAGE,<address>` or `MAILMESSAGE,PublicMessages`.
    MailMessage {
        /// The address as written, or `PublicMessages`/`PublicMessage`.
        target: String,
    },
}

/// One section of a primary file, located but not yet interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimarySection {
    /// The keyword and its argument.
    pub kind: SectionKind,
    /// 1-based line number of the section line.
    pub line: u64,
    /// Byte offset of the section line.
    pub offset: usize,
    /// Column names of the header line (empty when the header is missing).
    pub header: Vec<String>,
    /// Byte offset where the data rows start.
    pub data_start: usize,
    /// Line number of the first data row.
    pub data_line: u64,
    /// Byte offset one past the last data row (its line end included).
    pub data_end: usize,
    /// Number of data rows (logical lines, comments excluded).
    pub rows: u64,
}

/// True when continuations apply inside a section of this kind (§3.1 rule 11: not in
/// `DIRECTORY`).
pub fn continuation_allowed(kind: &SectionKind) -> bool {
    !matches!(kind, SectionKind::Directory)
}

/// Recognises a section line: first field unquoted and one of the keywords.
fn section_keyword(line: &LogicalLine<'_>, code_page: u16) -> Option<SectionKind> {
    let first = line.bytes.split(|b| *b == b',').next()?;
    let is = |k: &str| first.trim_ascii().eq_ignore_ascii_case(k.as_bytes());
    if !(is("DIRECTORY") || is("PAB") || is("MAILMESSAGE")) {
        return None;
    }
    let fields = tokenize(&line.bytes, true).ok()?;
    let arg = fields
        .get(1)
        .map(|f| mailmig_ir::codepage::decode(&f.bytes, code_page).into_owned())
        .unwrap_or_default();
    if is("DIRECTORY") {
        Some(SectionKind::Directory)
    } else if is("PAB") {
        Some(SectionKind::Pab { owner: arg })
    } else {
        Some(SectionKind::MailMessage { target: arg })
    }
}

/// Scans a primary file for its sections. A section ends at a blank line, at the next section
/// line, or at end of file (§5). Lines outside sections are reported and ignored.
pub fn scan(
    data: &[u8],
    file: &str,
    code_page: u16,
    max_line_len: u64,
) -> (Vec<PrimarySection>, Vec<Warning>) {
    scan_releasing(data, file, code_page, max_line_len, &|| {})
}

/// [`scan`] over a mapped file, calling `release` every
/// [`RELEASE_EVERY`](mailmig_ir::blob::RELEASE_EVERY) bytes scanned (to release the map's
/// pages).
pub fn scan_releasing(
    data: &[u8],
    file: &str,
    code_page: u16,
    max_line_len: u64,
    release: &dyn Fn(),
) -> (Vec<PrimarySection>, Vec<Warning>) {
    let mut released_at = 0usize;
    let mut sections: Vec<PrimarySection> = Vec::new();
    let mut warnings = Vec::new();
    let mut reader = LineReader::new(data, 0, data.len(), 1, code_page, max_line_len);
    // State: index of the open section and whether its header has been read.
    let mut open: Option<(usize, bool)> = None;
    let mut odd_endings = 0u64;
    let mut first_odd = 0usize;
    loop {
        let continuation = match open {
            Some((i, _)) => sections
                .get(i)
                .is_some_and(|s| continuation_allowed(&s.kind)),
            None => true,
        };
        let Some(line) = reader.next_line(continuation) else {
            break;
        };
        if mailmig_ir::blob::release_due(line.next, &mut released_at) {
            release();
        }
        if line.odd_ending && line.next < data.len() {
            if odd_endings == 0 {
                first_odd = line.offset;
            }
            odd_endings += 1;
        }
        if line.is_blank() {
            open = None;
            continue;
        }
        if line.is_comment() {
            continue;
        }
        if let Some(kind) = section_keyword(&line, code_page) {
            sections.push(PrimarySection {
                kind,
                line: line.line_no,
                offset: line.offset,
                header: Vec::new(),
                data_start: line.next,
                data_line: reader.line_no(),
                data_end: line.next,
                rows: 0,
            });
            open = Some((sections.len() - 1, false));
            continue;
        }
        match open {
            Some((i, false)) => {
                if let Some(s) = sections.get_mut(i) {
                    s.header = match tokenize(&line.bytes, true) {
                        Ok(fields) => fields
                            .iter()
                            .map(|f| {
                                mailmig_ir::codepage::decode(&f.bytes, code_page)
                                    .trim()
                                    .to_string()
                            })
                            .collect(),
                        Err(_) => Vec::new(),
                    };
                    s.data_start = line.next;
                    s.data_line = reader.line_no();
                    s.data_end = line.next;
                }
                open = Some((i, true));
            }
            Some((i, true)) => {
                if let Some(s) = sections.get_mut(i) {
                    s.rows += 1;
                    s.data_end = line.next;
                }
            }
            None => warnings.push(
                Warning::new(
                    "iff.line-outside-section",
                    format!("line {} is outside any section; ignored", line.line_no),
                )
                .in_file(file)
                .at(line.offset as u64),
            ),
        }
    }
    if odd_endings > 0 {
        warnings.push(
            Warning::new(
                "iff.line-end",
                format!(
                    "{odd_endings} line(s) end in a lone CR or LF instead of CR LF (KB Q192526)"
                ),
            )
            .in_file(file)
            .at(first_odd as u64),
        );
    }
    (sections, warnings)
}

/// The documented `MAILMESSAGE` header (§5.3).
pub const MAILMESSAGE_HEADER: [&str; 12] = [
    "Folder",
    "Sender",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "Send-Date",
    "Received-Date",
    "Priority",
    "Unread",
    "Unsent",
    "Body",
];

/// The documented `PAB` header (§5.2), all 24 columns.
pub const PAB_HEADER: [&str; 24] = [
    "Obj-class",
    "Display-Name",
    "Email-Address",
    "First",
    "Last",
    "Address",
    "City",
    "State",
    "Zip",
    "Country",
    "Title",
    "Company",
    "Department",
    "Office",
    "Assistant",
    "Bus-Num",
    "Bus2-Num",
    "Assist-Num",
    "Fax-Num",
    "Home-Num",
    "Home2-Num",
    "Mobile-Num",
    "Pager-Num",
    "Note",
];

/// The documented `DIRECTORY` header (§5.1).
pub const DIRECTORY_HEADER: [&str; 8] = [
    "Obj-class",
    "Mode",
    "Common-Name",
    "Display-Name",
    "Last Name",
    "First Name",
    "Secondary-Proxy-Addresses",
    "Home-Server",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sections_of_the_example() {
        let pri = b"! mailmig example\r\nPAB,\"CCMAIL:Lovelace, Ada at LONDON\"\r\nObj-class,Display-Name,Email-Address\r\nentry,M,CCMAIL:M\r\n\r\nMAILMESSAGE,\"CCMAIL:Lovelace, Ada at LONDON\"\r\nFolder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\nInbox,a,b,,,s,,,,,,#X.SEC(50)\r\nInbox,a,b,,,t,,,,,,#X.SEC(60)\r\nMAILMESSAGE,PublicMessages\r\nFolder\r\n";
        let (s, w) = scan(pri, "1.PRI", 1252, 1 << 20);
        assert!(w.is_empty());
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].kind,
            SectionKind::Pab {
                owner: "CCMAIL:Lovelace, Ada at LONDON".into()
            }
        );
        assert_eq!(s[0].rows, 1);
        assert_eq!(s[1].rows, 2);
        assert_eq!(s[1].header.len(), 12);
        assert_eq!(s[1].data_line, 8);
        assert_eq!(
            &pri[s[1].data_start..s[1].data_end],
            &b"Inbox,a,b,,,s,,,,,,#X.SEC(50)\r\nInbox,a,b,,,t,,,,,,#X.SEC(60)\r\n"[..]
        );
        assert_eq!(
            s[2].kind,
            SectionKind::MailMessage {
                target: "PublicMessages".into()
            }
        );
        assert_eq!(s[2].rows, 0);
    }
}
