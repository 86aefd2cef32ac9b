//! Lexical rules shared by `.PKL`, `.PRI` and `.SEC` section lines (`formats/exchange-iff.md` §3).
//!
//! The tokenizer works on bytes (§3.2: the separators `,` `"` `;` `!` `#` CR LF are below 0x40
//! and never trail bytes of a DBCS character); decoding with the code page happens per field.
//! Backslash handling (continuations, `DIRECTORY` escapes) is done on characters (§3.2 step 7).

use std::borrow::Cow;

/// How a physical line ended (§3.1 rule 8; lone CR or LF are accepted with a warning, KB Q192526).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnd {
    /// CR LF, as the rules require.
    CrLf,
    /// A lone LF.
    Lf,
    /// A lone CR.
    Cr,
    /// End of file without a line end (the rules require CR LF on the last line too).
    Eof,
}

/// One physical line: `data[start..end]` is its content, `next` the start of the next line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysLine {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last content byte (before the line end).
    pub end: usize,
    /// Offset of the next line.
    pub next: usize,
    /// The line end found.
    pub ending: LineEnd,
}

/// The physical line starting at `pos`, or `None` at end of data.
pub fn physical_line(data: &[u8], pos: usize) -> Option<PhysLine> {
    let rest = data.get(pos..)?;
    if rest.is_empty() {
        return None;
    }
    match memchr::memchr2(b'\r', b'\n', rest) {
        None => Some(PhysLine {
            start: pos,
            end: data.len(),
            next: data.len(),
            ending: LineEnd::Eof,
        }),
        Some(k) => {
            let end = pos + k;
            let (next, ending) = match (data.get(end), data.get(end + 1)) {
                (Some(b'\r'), Some(b'\n')) => (end + 2, LineEnd::CrLf),
                (Some(b'\r'), _) => (end + 1, LineEnd::Cr),
                _ => (end + 1, LineEnd::Lf),
            };
            Some(PhysLine {
                start: pos,
                end,
                next,
                ending,
            })
        }
    }
}

/// A logical line: one or more physical lines joined by `\\` continuations (§3.1 rule 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalLine<'a> {
    /// 1-based number of its first physical line.
    pub line_no: u64,
    /// Offset of its first byte.
    pub offset: usize,
    /// Offset of the next logical line.
    pub next: usize,
    /// Content, continuations removed.
    pub bytes: Cow<'a, [u8]>,
    /// True when any physical line ended in a lone CR or LF, or the last had no line end.
    pub odd_ending: bool,
    /// Number of physical lines.
    pub physical: u32,
    /// True when the joined line exceeded the length limit (then `bytes` is the first physical line).
    pub too_long: bool,
}

impl LogicalLine<'_> {
    /// True for a blank line (§3.1 rule 9).
    pub fn is_blank(&self) -> bool {
        self.bytes.is_empty()
    }

    /// True for a comment line: first character `!` (§3.1 rule 10).
    pub fn is_comment(&self) -> bool {
        self.bytes.first() == Some(&b'!')
    }
}

/// Reads logical lines from a primary file or packing list, counting physical lines.
#[derive(Clone, Debug)]
pub struct LineReader<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
    line_no: u64,
    code_page: u16,
    max_line_len: u64,
}

impl<'a> LineReader<'a> {
    /// Reads `data[start..end]`, numbering lines from `first_line`.
    pub fn new(
        data: &'a [u8],
        start: usize,
        end: usize,
        first_line: u64,
        code_page: u16,
        max_line_len: u64,
    ) -> Self {
        Self {
            data: data.get(..end.min(data.len())).unwrap_or(data),
            pos: start,
            end: end.min(data.len()),
            line_no: first_line,
            code_page,
            max_line_len,
        }
    }

    /// Current position.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Number of the next physical line.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The next logical line. With `continuation`, a line that ends in `\\` outside quotes is
    /// joined with the next physical line, inserting nothing (§3.1 rule 11); comments never
    /// continue.
    pub fn next_line(&mut self, continuation: bool) -> Option<LogicalLine<'a>> {
        if self.pos >= self.end {
            return None;
        }
        let first = physical_line(self.data, self.pos)?;
        let line_no = self.line_no;
        self.line_no += 1;
        self.pos = first.next;
        let first_bytes = self.data.get(first.start..first.end).unwrap_or(&[]);
        let mut odd = first.ending != LineEnd::CrLf;
        if (first_bytes.len() as u64) > self.max_line_len {
            return Some(LogicalLine {
                line_no,
                offset: first.start,
                next: first.next,
                bytes: Cow::Borrowed(first_bytes),
                odd_ending: odd,
                physical: 1,
                too_long: true,
            });
        }
        let continues = |b: &[u8]| {
            continuation
                && b.first() != Some(&b'!')
                && ends_with_continuation(b, self.code_page)
                && !open_quote_at_end(b)
        };
        if !continues(first_bytes) || first.ending == LineEnd::Eof {
            return Some(LogicalLine {
                line_no,
                offset: first.start,
                next: first.next,
                bytes: Cow::Borrowed(first_bytes),
                odd_ending: odd,
                physical: 1,
                too_long: false,
            });
        }
        let mut joined: Vec<u8> = first_bytes
            .get(..first_bytes.len().saturating_sub(2))
            .unwrap_or(&[])
            .to_vec();
        let mut physical = 1u32;
        let mut too_long = false;
        while self.pos < self.end {
            let Some(line) = physical_line(self.data, self.pos) else {
                break;
            };
            self.line_no += 1;
            self.pos = line.next;
            physical = physical.saturating_add(1);
            odd |= line.ending != LineEnd::CrLf;
            let b = self.data.get(line.start..line.end).unwrap_or(&[]);
            if (joined.len() as u64).saturating_add(b.len() as u64) > self.max_line_len {
                too_long = true;
                break;
            }
            let mut candidate = joined.clone();
            candidate.extend_from_slice(b);
            if line.ending != LineEnd::Eof
                && ends_with_continuation(&candidate, self.code_page)
                && !open_quote_at_end(&candidate)
            {
                candidate.truncate(candidate.len().saturating_sub(2));
                joined = candidate;
                continue;
            }
            joined = candidate;
            break;
        }
        Some(LogicalLine {
            line_no,
            offset: first.start,
            next: self.pos,
            bytes: Cow::Owned(joined),
            odd_ending: odd,
            physical,
            too_long,
        })
    }
}

/// True when the code page is one of the DBCS pages in which `0x5C` can be a trail byte
/// (§3.2 step 7: 932, 936, 950; 949 lead bytes are included for safety).
fn lead_byte(code_page: u16, b: u8) -> bool {
    match code_page {
        932 => matches!(b, 0x81..=0x9F | 0xE0..=0xFC),
        936 | 949 | 950 => matches!(b, 0x81..=0xFE),
        _ => false,
    }
}

/// True when `line` ends with the two *characters* `\\` (§3.2 steps 2 and 7).
pub fn ends_with_continuation(line: &[u8], code_page: u16) -> bool {
    if !line.ends_with(b"\\\\") {
        return false;
    }
    if !matches!(code_page, 932 | 936 | 949 | 950) {
        return true;
    }
    // Walk character boundaries from the start: the last two characters must both be `\`.
    let mut i = 0usize;
    let mut last = usize::MAX;
    let mut before_last = usize::MAX;
    while i < line.len() {
        before_last = last;
        last = i;
        let b = line.get(i).copied().unwrap_or(0);
        i += if lead_byte(code_page, b) { 2 } else { 1 };
    }
    i == line.len() && last + 1 == line.len() && before_last + 2 == line.len()
}

/// True when a quoted field is still open at the end of `line` (§3.2 step 2).
pub fn open_quote_at_end(line: &[u8]) -> bool {
    matches!(
        tokenize(line, true),
        Err(LexError::UnterminatedQuote { .. })
    )
}

/// One raw field of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawField<'a> {
    /// The value, quotes removed and `""` collapsed.
    pub bytes: Cow<'a, [u8]>,
    /// True when the value was enclosed in quotes (then it is never a pointer, §3.2 step 4).
    pub quoted: bool,
}

/// A lexical error within one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    /// A quote opened at byte `column` is not closed.
    UnterminatedQuote {
        /// Byte position of the opening quote.
        column: usize,
    },
    /// A closing quote at byte `column` is followed by something other than `,` or the line end.
    StrayQuote {
        /// Byte position of the quote.
        column: usize,
    },
}

/// Splits a line into fields (§3.2 step 3). In `salvage` mode a quote followed by anything
/// but `,` or the line end is kept as a literal quote; otherwise it is an error.
pub fn tokenize(line: &[u8], salvage: bool) -> Result<Vec<RawField<'_>>, LexError> {
    let mut fields = Vec::new();
    let len = line.len();
    let mut i = 0usize;
    loop {
        if line.get(i) == Some(&b'"') {
            let open = i;
            let mut j = i + 1;
            let mut owned: Option<Vec<u8>> = None;
            loop {
                let rest = line.get(j..).unwrap_or(&[]);
                let Some(k) = memchr::memchr(b'"', rest) else {
                    return Err(LexError::UnterminatedQuote { column: open });
                };
                let q = j + k;
                let piece = line.get(j..q).unwrap_or(&[]);
                match line.get(q + 1) {
                    Some(b'"') => {
                        let v = owned.get_or_insert_with(Vec::new);
                        v.extend_from_slice(piece);
                        v.push(b'"');
                        j = q + 2;
                    }
                    None | Some(b',') => {
                        let bytes = match owned {
                            Some(mut v) => {
                                v.extend_from_slice(piece);
                                Cow::Owned(v)
                            }
                            None => Cow::Borrowed(piece),
                        };
                        fields.push(RawField {
                            bytes,
                            quoted: true,
                        });
                        i = q + 1;
                        break;
                    }
                    Some(_) => {
                        if !salvage {
                            return Err(LexError::StrayQuote { column: q });
                        }
                        // Salvage: keep the quote literally and read the rest of the field
                        // up to the next comma as unquoted text.
                        let mut v = owned.unwrap_or_default();
                        v.extend_from_slice(piece);
                        v.push(b'"');
                        let rest = line.get(q + 1..).unwrap_or(&[]);
                        let end = memchr::memchr(b',', rest).map_or(len, |k| q + 1 + k);
                        v.extend_from_slice(line.get(q + 1..end).unwrap_or(&[]));
                        fields.push(RawField {
                            bytes: Cow::Owned(v),
                            quoted: true,
                        });
                        i = end;
                        break;
                    }
                }
            }
        } else {
            let rest = line.get(i..).unwrap_or(&[]);
            let end = memchr::memchr(b',', rest).map_or(len, |k| i + k);
            fields.push(RawField {
                bytes: Cow::Borrowed(line.get(i..end).unwrap_or(&[])),
                quoted: false,
            });
            i = end;
        }
        if i >= len {
            break;
        }
        // line[i] is the separating comma.
        i += 1;
    }
    Ok(fields)
}

/// A `#FILE.SEC(offset)` pointer (§6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// The secondary file name as written.
    pub file: String,
    /// The byte offset.
    pub offset: u64,
}

/// Characters a secondary file name must not contain (§1).
const FORBIDDEN_IN_SEC_NAME: &[u8] = b"#();,\\/:*?\"<>|";

/// Recognises an unquoted pointer field `#<name>(<digits>)` (§3.2 step 4).
pub fn parse_pointer(field: &RawField<'_>) -> Option<Pointer> {
    if field.quoted {
        return None;
    }
    let b: &[u8] = &field.bytes;
    let inner = b.strip_prefix(b"#")?.strip_suffix(b")")?;
    let open = memchr::memrchr(b'(', inner)?;
    let name = inner.get(..open)?;
    let digits = inner.get(open + 1..)?;
    if name.is_empty()
        || name
            .iter()
            .any(|c| FORBIDDEN_IN_SEC_NAME.contains(c) || *c < 0x20)
        || digits.is_empty()
        || digits.len() > 19
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let offset = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(Pointer {
        file: mailmig_ir::codepage::decode(name, 1252).into_owned(),
        offset,
    })
}

/// Splits a multi-valued field on `;` outside quotes (§3.1 rules 5–6, §3.2 step 5). A value that
/// starts with `"` is quoted, with `""` for a literal quote. Empty values are dropped. The
/// boolean is true when a quote was malformed (then the rest is kept literally).
pub fn split_multi(text: &str) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut bad = false;
    let mut chars = text.chars().peekable();
    loop {
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        value.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            if !closed {
                bad = true;
            }
            // After the closing quote: `;` or end expected; anything else is kept literally.
            while let Some(&c) = chars.peek() {
                if c == ';' {
                    break;
                }
                bad = true;
                value.push(c);
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ';' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if !value.is_empty() {
            out.push(value);
        }
        if chars.next().is_none() {
            break;
        }
    }
    (out, bad)
}

/// Joins values into a multi-valued field: values containing `;` or `"`, or starting with `"`,
/// are wrapped in quotes with inner quotes doubled (§3.1 rule 6).
pub fn join_multi<S: AsRef<str>>(values: &[S]) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        let v = v.as_ref();
        if i > 0 {
            out.push(';');
        }
        if v.contains([';', '"']) {
            out.push('"');
            out.push_str(&v.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(v);
        }
    }
    out
}

/// Applies the `DIRECTORY` backslash escapes (§3.1 rule 4, §3.2 step 6): `\\` → `\`, `\r` → CR,
/// `\n` → LF; any other `\x` keeps both characters and is reported (the returned flag).
pub fn unescape_directory(text: &str) -> (String, bool) {
    if !text.contains('\\') {
        return (text.to_string(), false);
    }
    let mut out = String::with_capacity(text.len());
    let mut bad = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => {
                bad = true;
                out.push('\\');
                out.push(other);
            }
            None => {
                bad = true;
                out.push('\\');
            }
        }
    }
    (out, bad)
}

/// The inverse of [`unescape_directory`]: doubles backslashes and writes CR and LF as `\r`, `\n`.
pub fn escape_directory(text: &str) -> Cow<'_, str> {
    if !text.contains(['\\', '\r', '\n']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters that force a value to be quoted as a whole (§3.1 rule 2).
pub const QUOTE_SET: [char; 7] = ['#', '!', ',', '\\', '"', '%', '.'];

/// Quotes `text` when it contains a character of [`QUOTE_SET`], doubling inner quotes (§3.1
/// rules 2–3).
pub fn quote_field(text: &str) -> Cow<'_, str> {
    if text.contains(QUOTE_SET) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &[u8]) -> Vec<(String, bool)> {
        tokenize(line, false)
            .unwrap()
            .into_iter()
            .map(|f| (String::from_utf8(f.bytes.into_owned()).unwrap(), f.quoted))
            .collect()
    }

    #[test]
    fn splits_quoted_and_doubled_quotes() {
        assert_eq!(
            texts(b"a,\"b, c\",\"x\"\"y\",,"),
            vec![
                ("a".into(), false),
                ("b, c".into(), true),
                ("x\"y".into(), true),
                (String::new(), false),
                (String::new(), false),
            ]
        );
        assert_eq!(texts(b""), vec![(String::new(), false)]);
    }

    #[test]
    fn quote_errors() {
        assert_eq!(
            tokenize(b"a,\"open", false),
            Err(LexError::UnterminatedQuote { column: 2 })
        );
        assert_eq!(
            tokenize(b"\"ab\"c,d", false),
            Err(LexError::StrayQuote { column: 3 })
        );
        let salvaged = tokenize(b"\"ab\"c,d", true).unwrap();
        assert_eq!(&*salvaged[0].bytes, b"ab\"c");
        assert_eq!(&*salvaged[1].bytes, b"d");
    }

    #[test]
    fn pointers_only_unquoted() {
        let f = tokenize(b"#00000001.SEC(50),\"#A.SEC(1)\",#A.SEC(x)", false).unwrap();
        assert_eq!(
            parse_pointer(&f[0]),
            Some(Pointer {
                file: "00000001.SEC".into(),
                offset: 50
            })
        );
        assert_eq!(parse_pointer(&f[1]), None);
        assert_eq!(parse_pointer(&f[2]), None);
    }

    #[test]
    fn multi_values_rule_6() {
        // SDK example: "SMTP:x@y;""X400:C=US;A= ;P=Org;S=Doe"""
        let f = tokenize(b"\"SMTP:x@y;\"\"X400:C=US;A= ;P=Org;S=Doe\"\"\"", false).unwrap();
        let text = String::from_utf8(f[0].bytes.to_vec()).unwrap();
        let (values, bad) = split_multi(&text);
        assert!(!bad);
        assert_eq!(values, vec!["SMTP:x@y", "X400:C=US;A= ;P=Org;S=Doe"]);
        assert_eq!(join_multi(&values), text);
    }

    #[test]
    fn directory_escapes() {
        assert_eq!(
            unescape_directory("a\\\\b\\r\\n"),
            ("a\\b\r\n".into(), false)
        );
        assert_eq!(unescape_directory("a\\qb"), ("a\\qb".into(), true));
        assert_eq!(escape_directory("a\\b\r\n"), "a\\\\b\\r\\n");
    }

    #[test]
    fn continuation_joins_without_inserting() {
        let data = b"Obj-class,Email-\\\\\r\nAddress\r\nnext\r\n";
        let mut r = LineReader::new(data, 0, data.len(), 1, 1252, 1 << 20);
        let l = r.next_line(true).unwrap();
        assert_eq!(&*l.bytes, b"Obj-class,Email-Address");
        assert_eq!(l.physical, 2);
        let n = r.next_line(true).unwrap();
        assert_eq!(&*n.bytes, b"next");
        assert_eq!(n.line_no, 3);
        // Without continuation (DIRECTORY) the backslashes stay.
        let mut r = LineReader::new(data, 0, data.len(), 1, 1252, 1 << 20);
        assert_eq!(&*r.next_line(false).unwrap().bytes, b"Obj-class,Email-\\\\");
    }

    #[test]
    fn continuation_respects_dbcs_trail_bytes() {
        // Shift-JIS 0x95 0x5C is one character ("表"), so `...\x95\\\\` ends in
        // "表" + "\" — not two backslash characters — and must not continue.
        assert!(!ends_with_continuation(b"a\x95\\\\", 932));
        assert!(ends_with_continuation(b"a\x95\\\\\\", 932));
        assert!(ends_with_continuation(b"a\\\\", 1252));
    }

    #[test]
    fn quoting_rule() {
        assert_eq!(quote_field("Sent Items"), "Sent Items");
        assert_eq!(quote_field("a.b"), "\"a.b\"");
        assert_eq!(quote_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
