//! De-encapsulation of HTML and plain text carried in RTF ([MS-OXRTFEX] 2.2.3; format notes
//! `pst.md` §10.6): recognising `\fromhtml1` / `\fromtext`, copying `{\*\htmltag …}` groups and
//! the text outside `\htmlrtf … \htmlrtf0` regions, and decoding `\'hh`, `\uN`, `\ucN` and the
//! character control words of [MS-OXRTFEX] 2.1.3.1.4.2.
//!
//! The tokenizer follows the RTF specification 1.9.1 (control words of at most 32 letters with
//! an optional signed parameter and a space delimiter; control symbols; groups; `\bin`). Group
//! nesting is bounded by [`MAX_GROUP_DEPTH`]; deeper groups are skipped whole. The output is at
//! most a small multiple of the input, and nothing here panics on any input.
//!
//! Choices that are ours rather than the specification's (inferred, documented here):
//! * `{\*\mhtmltag …}` groups (rewritten URLs, not defined in [MS-OXRTFEX]) are skipped like any
//!   unknown ignorable destination; the `\htmltag` group that carries the original tag is used.
//! * `\htmlrtf` suppression also covers `\htmltag` groups opened while it is on ("MUST NOT copy
//!   any subsequent text and control words", 2.1.3.1.3).
//! * Symbol fonts (`\fcharset2`) and unknown character sets decode with the document's
//!   `\ansicpg`; a document without `\ansicpg` uses Windows-1252.

use std::collections::HashMap;

use mailmig_ir::codepage;

/// Deepest group nesting followed; content of deeper groups is skipped.
pub const MAX_GROUP_DEPTH: usize = 1024;
/// Most fonts remembered from a font table (more are decoded with `\ansicpg`).
const MAX_FONTS: usize = 4096;
/// Number of leading tokens searched for `\fromhtml` / `\fromtext` ([MS-OXRTFEX] 2.2.3.1).
const RECOGNITION_TOKENS: usize = 10;

/// What an RTF document encapsulates ([MS-OXRTFEX] 2.2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encapsulation {
    /// `\fromhtml` (version 1): the RTF carries the original HTML.
    Html,
    /// `\fromtext`: the RTF carries the original plain text.
    Text,
    /// Neither: an ordinary RTF document.
    None,
}

/// Tells what `rtf` encapsulates by looking for `\fromhtml` or `\fromtext` among its first ten
/// tokens (group openings and control words), as [MS-OXRTFEX] 2.2.3.1 prescribes.
pub fn encapsulation(rtf: &[u8]) -> Encapsulation {
    let mut lexer = Lexer::new(rtf);
    let mut seen = 0;
    while seen < RECOGNITION_TOKENS {
        match lexer.next_token() {
            None => break,
            Some(Token::Text(_) | Token::Run(_) | Token::Hex(_)) => {}
            Some(Token::Word(b"fromhtml", _)) => return Encapsulation::Html,
            Some(Token::Word(b"fromtext", _)) => return Encapsulation::Text,
            Some(_) => seen += 1,
        }
    }
    Encapsulation::None
}

/// Extracts the HTML encapsulated in `rtf` ([MS-OXRTFEX] 2.2.3.2).
///
/// Returns `None` unless the document is marked `\fromhtml` (see [`encapsulation`]) or when it
/// yields no HTML at all. Copies the contents of `{\*\htmltag[N] …}` groups (the parameter `N`
/// is ignored) and the document text outside those groups, except what lies in `\htmlrtf`
/// regions; `\par` and `\line` become CRLF, `\tab` a tab, `\{` `\}` `\\` themselves, `\'hh`
/// bytes are decoded with the current font's character set or `\ansicpg` (inside `\htmltag`
/// groups with `\ansicpg`), `\uN` gives U+N and skips the `\ucN` fallback characters.
pub fn html_from_rtf(rtf: &[u8]) -> Option<String> {
    if encapsulation(rtf) != Encapsulation::Html {
        return None;
    }
    Some(extract(rtf, Mode::Html)).filter(|s| !s.is_empty())
}

/// Extracts the plain text encapsulated in `rtf` ([MS-OXRTFEX] 2.2.3.3).
///
/// Returns `None` unless the document is marked `\fromtext`. The text of the document body is
/// copied with the same escapes as [`html_from_rtf`]; destinations (font table, `\*` groups,
/// pictures …) and `\htmlrtf` regions are left out.
pub fn text_from_rtf(rtf: &[u8]) -> Option<String> {
    if encapsulation(rtf) != Encapsulation::Text {
        return None;
    }
    Some(extract(rtf, Mode::Text))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Html,
    Text,
}

/// One RTF token. Control words borrow their name from the input.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    /// A control word and its parameter.
    Word(&'a [u8], Option<i32>),
    /// A control symbol other than `\'`, `\{`, `\}`, `\\` (e.g. `\*`, `\~`, `\_`).
    Symbol(u8),
    /// `\'hh`.
    Hex(u8),
    /// A literal byte of text: the escaped `{`, `}` and `\`.
    Text(u8),
    /// A run of literal text bytes (no braces, backslashes or line breaks).
    Run(&'a [u8]),
}

/// The RTF tokenizer (RTF specification 1.9.1, "Conventions of an RTF Reader").
struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Skips `n` raw bytes (the data of `\binN`).
    fn skip_raw(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.data.len());
    }

    fn next_token(&mut self) -> Option<Token<'a>> {
        loop {
            let b = self.bump()?;
            return Some(match b {
                b'{' => Token::Open,
                b'}' => Token::Close,
                // Raw line breaks are not text in RTF.
                b'\r' | b'\n' => continue,
                b'\\' => self.control(),
                _ => {
                    let start = self.pos - 1;
                    while self
                        .peek()
                        .is_some_and(|c| !matches!(c, b'{' | b'}' | b'\\' | b'\r' | b'\n'))
                    {
                        self.pos += 1;
                    }
                    Token::Run(self.data.get(start..self.pos).unwrap_or_default())
                }
            });
        }
    }

    fn control(&mut self) -> Token<'a> {
        let Some(first) = self.peek() else {
            return Token::Text(b'\\');
        };
        if !first.is_ascii_alphabetic() {
            self.pos += 1;
            return match first {
                b'{' | b'}' | b'\\' => Token::Text(first),
                // `\` before a raw line break is `\par`.
                b'\r' | b'\n' => Token::Word(b"par", None),
                b'\'' => match self.hex_pair() {
                    Some(v) => Token::Hex(v),
                    None => Token::Symbol(b'\''),
                },
                other => Token::Symbol(other),
            };
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let name = self.data.get(start..self.pos).unwrap_or_default();
        let negative = self.peek() == Some(b'-')
            && self
                .data
                .get(self.pos + 1)
                .is_some_and(|c| c.is_ascii_digit());
        if negative {
            self.pos += 1;
        }
        let mut param: Option<i64> = None;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            self.pos += 1;
            let v = param.unwrap_or(0);
            // Saturate: the value is clamped to i32 below, longer digit runs only need consuming.
            param = Some(v.saturating_mul(10).saturating_add(i64::from(d - b'0')));
        }
        if self.peek() == Some(b' ') {
            self.pos += 1;
        }
        let param = param.map(|v| {
            let v = if negative { -v } else { v };
            i32::try_from(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0)
        });
        Token::Word(name, param)
    }

    fn hex_pair(&mut self) -> Option<u8> {
        let hi = hex_digit(self.peek()?)?;
        self.pos += 1;
        let lo = match self.peek().and_then(hex_digit) {
            Some(lo) => {
                self.pos += 1;
                lo
            }
            // A single digit: take it as the value (writers never do this; readers differ).
            None => return Some(hi),
        };
        Some((hi << 4) | lo)
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Where the text of a group goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dest {
    /// The document body.
    Body,
    /// A `\*\htmltag` group.
    HtmlTag,
    /// The font table: `\fN` and `\fcharsetN` / `\cpgN` define fonts, text is discarded.
    FontTable,
    /// Anything else that is not text (header tables, pictures, unknown `\*` groups).
    Skip,
}

/// Group-scoped state ("the state transfers when entering groups and is restored on exit").
#[derive(Clone, Copy, Debug)]
struct GroupState {
    dest: Dest,
    htmlrtf: bool,
    uc: u32,
    font: Option<i32>,
}

/// Collects output, decoding runs of code-page bytes together (so DBCS pairs split into `\'hh`
/// escapes and literal trail bytes decode as one character).
struct Output {
    text: String,
    pending: Vec<u8>,
    pending_cp: u16,
    high_surrogate: Option<u16>,
}

impl Output {
    fn new(capacity: usize) -> Self {
        Self {
            text: String::with_capacity(capacity),
            pending: Vec::new(),
            pending_cp: codepage::WINDOWS_1252,
            high_surrogate: None,
        }
    }

    /// True when ASCII can be appended directly (no code-page bytes or surrogate pending).
    fn plain(&self) -> bool {
        self.pending.is_empty() && self.high_surrogate.is_none()
    }

    fn byte(&mut self, b: u8, cp: u16) {
        self.lone_surrogate();
        if self.pending.is_empty() && b.is_ascii() {
            self.text.push(char::from(b));
            return;
        }
        if cp != self.pending_cp {
            self.flush();
            self.pending_cp = cp;
        }
        self.pending.push(b);
    }

    fn str(&mut self, s: &str) {
        self.lone_surrogate();
        self.flush();
        self.text.push_str(s);
    }

    fn unit(&mut self, unit: u16) {
        self.flush();
        match (self.high_surrogate.take(), unit) {
            (Some(hi), 0xDC00..=0xDFFF) => {
                let c = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.text.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            (hi, 0xD800..=0xDBFF) => {
                if hi.is_some() {
                    self.text.push('\u{FFFD}');
                }
                self.high_surrogate = Some(unit);
            }
            (hi, _) => {
                if hi.is_some() {
                    self.text.push('\u{FFFD}');
                }
                self.text
                    .push(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'));
            }
        }
    }

    fn lone_surrogate(&mut self) {
        if self.high_surrogate.take().is_some() {
            self.text.push('\u{FFFD}');
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let decoded = codepage::decode(&self.pending, self.pending_cp);
            self.text.push_str(&decoded);
            self.pending.clear();
        }
    }

    fn finish(mut self) -> String {
        self.lone_surrogate();
        self.flush();
        self.text
    }
}

/// Maps an RTF `\fcharsetN` to a Windows code page (format notes `pst.md` §10.6; Microsoft's
/// charset ids). `None` for DEFAULT_CHARSET, SYMBOL_CHARSET and unknown values.
fn charset_code_page(charset: i32) -> Option<u16> {
    Some(match charset {
        0 => 1252,
        77 => 10000,
        128 => 932,
        129 => 949,
        130 => 1361,
        134 => 936,
        136 => 950,
        161 => 1253,
        162 => 1254,
        163 => 1258,
        177 => 1255,
        178 => 1256,
        186 => 1257,
        204 => 1251,
        222 => 874,
        238 => 1250,
        _ => return None,
    })
}

/// Control words that start a destination whose content is not text of the document body.
fn is_skipped_destination(word: &[u8]) -> bool {
    matches!(
        word,
        b"colortbl"
            | b"stylesheet"
            | b"info"
            | b"pict"
            | b"object"
            | b"header"
            | b"headerl"
            | b"headerr"
            | b"headerf"
            | b"footer"
            | b"footerl"
            | b"footerr"
            | b"footerf"
            | b"listtable"
            | b"listoverridetable"
            | b"revtbl"
            | b"rsidtbl"
            | b"pntext"
            | b"pntxta"
            | b"pntxtb"
            | b"fldinst"
            | b"datafield"
            | b"themedata"
            | b"colorschememapping"
            | b"latentstyles"
            | b"datastore"
            | b"xmlnstbl"
            | b"filetbl"
            | b"generator"
            | b"bkmkstart"
            | b"bkmkend"
            | b"xe"
            | b"tc"
            | b"txe"
            | b"footnote"
            | b"annotation"
    )
}

/// Text equivalents of character control words ([MS-OXRTFEX] 2.1.3.1.4.2).
fn word_text(word: &[u8]) -> Option<&'static str> {
    Some(match word {
        b"par" | b"line" => "\r\n",
        b"tab" => "\t",
        b"lquote" => "\u{2018}",
        b"rquote" => "\u{2019}",
        b"ldblquote" => "\u{201C}",
        b"rdblquote" => "\u{201D}",
        b"bullet" => "\u{2022}",
        b"endash" => "\u{2013}",
        b"emdash" => "\u{2014}",
        _ => return None,
    })
}

/// The de-encapsulating reader of [MS-OXRTFEX] 2.2.3.2 / 2.2.3.3 as one state machine.
fn extract(rtf: &[u8], mode: Mode) -> String {
    let mut lexer = Lexer::new(rtf);
    let mut out = Output::new(rtf.len() / 2);
    let mut stack: Vec<GroupState> = Vec::new();
    let mut state = GroupState {
        dest: Dest::Body,
        htmlrtf: false,
        uc: 1,
        font: None,
    };
    let mut overflow = 0usize;
    let mut started = false;
    let mut ansi_cp = codepage::WINDOWS_1252;
    let mut default_font: Option<i32> = None;
    let mut fonts: HashMap<i32, u16> = HashMap::new();
    let mut defining_font: Option<i32> = None;
    let mut star = false;
    let mut skip_fallback = 0u32;

    while let Some(token) = lexer.next_token() {
        if overflow > 0 {
            match token {
                Token::Open => overflow += 1,
                Token::Close => overflow -= 1,
                Token::Word(b"bin", Some(n)) => lexer.skip_raw(usize::try_from(n).unwrap_or(0)),
                _ => {}
            }
            continue;
        }
        match token {
            Token::Open => {
                skip_fallback = 0;
                star = false;
                if stack.len() >= MAX_GROUP_DEPTH {
                    overflow = 1;
                    continue;
                }
                started = true;
                stack.push(state);
                continue;
            }
            Token::Close => {
                skip_fallback = 0;
                star = false;
                match stack.pop() {
                    Some(outer) => state = outer,
                    None => break,
                }
                if stack.is_empty() && started {
                    // The document group closed; anything after it is not RTF.
                    break;
                }
                continue;
            }
            _ => {}
        }
        // Destination selection happens before fallback skipping: `\*` and destination words
        // open groups, they are never fallback text.
        if let Token::Symbol(b'*') = token {
            star = true;
            continue;
        }
        if let Token::Word(word, _) = token {
            if star {
                star = false;
                state.dest = match (state.dest, word) {
                    (Dest::Skip, _) => Dest::Skip,
                    (_, b"htmltag") => Dest::HtmlTag,
                    _ => Dest::Skip,
                };
                continue;
            }
            if word == b"fonttbl" {
                state.dest = Dest::FontTable;
                continue;
            }
            if is_skipped_destination(word) {
                state.dest = Dest::Skip;
                continue;
            }
        }
        star = false;
        if let Token::Word(b"bin", param) = token {
            lexer.skip_raw(param.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
            skip_fallback = skip_fallback.saturating_sub(1);
            continue;
        }
        let token = match token {
            Token::Run(run) if skip_fallback > 0 => {
                let n = run.len().min(skip_fallback as usize);
                skip_fallback -= n as u32;
                match run.get(n..) {
                    Some(rest) if !rest.is_empty() => Token::Run(rest),
                    _ => continue,
                }
            }
            _ if skip_fallback > 0 => {
                skip_fallback -= 1;
                continue;
            }
            other => other,
        };
        if state.dest == Dest::FontTable {
            match token {
                Token::Word(b"f", Some(n)) => defining_font = Some(n),
                Token::Word(b"fcharset", Some(cs)) => {
                    if let (Some(font), Some(cp)) = (defining_font, charset_code_page(cs))
                        && (fonts.len() < MAX_FONTS || fonts.contains_key(&font))
                    {
                        fonts.insert(font, cp);
                    }
                }
                Token::Word(b"cpg", Some(cp)) => {
                    if let (Some(font), Ok(cp)) = (defining_font, u16::try_from(cp))
                        && codepage::is_supported(cp)
                        && (fonts.len() < MAX_FONTS || fonts.contains_key(&font))
                    {
                        fonts.insert(font, cp);
                    }
                }
                _ => {}
            }
            continue;
        }
        // Group-scoped and document-wide state changes apply even inside suppressed regions.
        if let Token::Word(word, param) = token {
            match word {
                b"htmlrtf" => {
                    state.htmlrtf = param != Some(0);
                    continue;
                }
                b"uc" => {
                    state.uc = param
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(1)
                        .min(16);
                    continue;
                }
                b"f" => {
                    state.font = param;
                    continue;
                }
                b"deff" => {
                    default_font = param;
                    continue;
                }
                b"ansicpg" => {
                    if let Some(cp) = param.and_then(|n| u16::try_from(n).ok())
                        && codepage::is_supported(cp)
                    {
                        ansi_cp = cp;
                    }
                    continue;
                }
                _ => {}
            }
        }
        let emit = !state.htmlrtf
            && match state.dest {
                Dest::Body => true,
                Dest::HtmlTag => mode == Mode::Html,
                Dest::FontTable | Dest::Skip => false,
            };
        let code_page = || {
            if state.dest == Dest::HtmlTag {
                ansi_cp
            } else {
                state
                    .font
                    .or(default_font)
                    .and_then(|f| fonts.get(&f).copied())
                    .unwrap_or(ansi_cp)
            }
        };
        match token {
            Token::Text(b) | Token::Hex(b) => {
                if emit {
                    out.byte(b, code_page());
                }
            }
            Token::Run(run) => {
                if emit {
                    if out.plain()
                        && run.is_ascii()
                        && let Ok(ascii) = std::str::from_utf8(run)
                    {
                        out.text.push_str(ascii);
                    } else {
                        let cp = code_page();
                        for &b in run {
                            out.byte(b, cp);
                        }
                    }
                }
            }
            Token::Word(b"u", Some(n)) => {
                if emit {
                    // \uN is a signed 16-bit value; negative values stand for N + 65536.
                    out.unit((n & 0xFFFF) as u16);
                }
                skip_fallback = state.uc;
            }
            Token::Word(word, _) => {
                if emit && let Some(s) = word_text(word) {
                    out.str(s);
                }
            }
            Token::Symbol(b'~') => {
                if emit {
                    out.str("\u{A0}");
                }
            }
            Token::Symbol(b'_') => {
                if emit {
                    out.str("\u{AD}");
                }
            }
            Token::Symbol(_) | Token::Open | Token::Close => {}
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(rtf: &str) -> String {
        html_from_rtf(rtf.as_bytes()).expect("html")
    }

    #[test]
    fn recognises_fromhtml_and_fromtext_in_the_header_only() {
        assert_eq!(
            encapsulation(b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl}}"),
            Encapsulation::Html
        );
        assert_eq!(
            encapsulation(b"{\\rtf1\\ansi\\fromtext \\deff0}"),
            Encapsulation::Text
        );
        assert_eq!(
            encapsulation(b"{\\rtf1\\ansi\\deff0 hello}"),
            Encapsulation::None
        );
        // Beyond the first ten tokens it does not count.
        let late = "{\\rtf1\\a\\b\\c\\d\\e\\f\\g\\h\\i\\j\\fromhtml1 x}";
        assert_eq!(encapsulation(late.as_bytes()), Encapsulation::None);
        assert_eq!(html_from_rtf(late.as_bytes()), None);
        assert_eq!(html_from_rtf(b"{\\rtf1\\fromtext hi}"), None);
        assert_eq!(
            text_from_rtf(b"{\\rtf1\\fromhtml1 {\\*\\htmltag <p>}}"),
            None
        );
    }

    #[test]
    fn htmltag_groups_and_body_text() {
        let rtf = "{\\rtf1\\ansi\\fromhtml1 {\\*\\htmltag64}{\\*\\htmltag84 <p>}Hello {\\*\\htmltag148 <b>}world{\\*\\htmltag156 </b>}{\\*\\htmltag92 </p>}}";
        assert_eq!(html(rtf), "<p>Hello <b>world</b></p>");
    }

    #[test]
    fn htmlrtf_regions_are_suppressed_and_group_scoped() {
        let rtf =
            "{\\rtf1\\fromhtml1 A\\htmlrtf B\\htmlrtf0 C{\\htmlrtf D{E}}F\\htmlrtf1 G\\htmlrtf0 H}";
        assert_eq!(html(rtf), "ACFH");
        // A \htmltag group opened while suppression is on is suppressed as well.
        let rtf = "{\\rtf1\\fromhtml1 \\htmlrtf {\\*\\htmltag <x>}\\htmlrtf0 {\\*\\htmltag <y>}}";
        assert_eq!(html(rtf), "<y>");
    }

    #[test]
    fn par_tab_and_escaped_braces() {
        let rtf = "{\\rtf1\\fromhtml1 {\\*\\htmltag <style>\\par p \\{color:red;\\}\\par\r\n</style>}a\\tab b\\line c\\\\}";
        assert_eq!(
            html(rtf),
            "<style>\r\np {color:red;}\r\n</style>a\tb\r\nc\\"
        );
    }

    #[test]
    fn hex_escapes_use_ansicpg_and_font_charsets() {
        // \ansicpg1251: \'e0 is CYRILLIC SMALL LETTER A.
        assert_eq!(html("{\\rtf1\\ansicpg1251\\fromhtml1 \\'e0}"), "а");
        // Default 1252 without \ansicpg.
        assert_eq!(html("{\\rtf1\\fromhtml1 caf\\'e9}"), "café");
        // Font 1 is Greek (\fcharset161): \'e1 is alpha; font 0 is the ANSI default.
        let rtf = "{\\rtf1\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}{\\f1\\fnil\\fcharset161 Greek;}}\\'e1{\\f1 \\'e1}\\'e1}";
        assert_eq!(html(rtf), "áαá");
        // Inside \htmltag the document code page applies, not the font's.
        let rtf = "{\\rtf1\\ansicpg1252\\fromhtml1 {\\fonttbl{\\f1\\fcharset161 G;}}\\f1 {\\*\\htmltag <a title=\"\\'e1\">}}";
        assert_eq!(html(rtf), "<a title=\"á\">");
    }

    #[test]
    fn dbcs_pairs_split_across_escape_and_literal() {
        // Shift-JIS: 0x93 0xFA 0x96 0x7B is 日本; the trail byte 0x7B would be '{' so it is escaped.
        assert_eq!(
            html("{\\rtf1\\ansicpg932\\fromhtml1 \\'93\\'fa\\'96\\{}"),
            "日本"
        );
        // Trail byte written as a literal letter: 0x83 0x41 is katakana A.
        assert_eq!(html("{\\rtf1\\ansicpg932\\fromhtml1 \\'83A}"), "ア");
    }

    #[test]
    fn unicode_escapes_with_uc_skipping() {
        assert_eq!(html("{\\rtf1\\fromhtml1 \\u8364?x}"), "€x");
        assert_eq!(html("{\\rtf1\\fromhtml1 \\uc2\\u8364\\'80\\'80x}"), "€x");
        assert_eq!(html("{\\rtf1\\fromhtml1 \\uc0\\u8364 x}"), "€x");
        // Negative parameter: -3913 + 65536 = 0xF0B7.
        assert_eq!(html("{\\rtf1\\fromhtml1 \\u-3913?}"), "\u{F0B7}");
        // Surrogate pair: U+1F600 = D83D DE00 = -10179, -8704.
        assert_eq!(html("{\\rtf1\\fromhtml1 \\u-10179?\\u-8704?}"), "\u{1F600}");
        // A lone high surrogate becomes U+FFFD.
        assert_eq!(html("{\\rtf1\\fromhtml1 \\u-10179?a}"), "\u{FFFD}a");
        // \uc is group scoped; the skip count resets at a group boundary.
        assert_eq!(html("{\\rtf1\\fromhtml1 {\\uc3 }\\u233 ab}"), "éb");
    }

    #[test]
    fn character_control_words_and_symbols() {
        let rtf = "{\\rtf1\\fromhtml1 \\lquote a\\rquote \\ldblquote b\\rdblquote \\bullet\\endash\\emdash\\~\\_}";
        assert_eq!(
            html(rtf),
            "\u{2018}a\u{2019}\u{201C}b\u{201D}\u{2022}\u{2013}\u{2014}\u{A0}\u{AD}"
        );
    }

    #[test]
    fn header_destinations_and_unknown_star_groups_are_skipped() {
        let rtf = "{\\rtf1\\fromhtml1 {\\fonttbl{\\f0 Arial;}}{\\colortbl;\\red0\\green0\\blue0;}{\\*\\generator Foo;}{\\*\\mhtmltag84 <img src=\"cid:x\">}{\\*\\htmltag84 <img src=\"y\">}{\\pict\\bin3 }}}}x}";
        assert_eq!(html(rtf), "<img src=\"y\">x");
    }

    #[test]
    fn the_specification_example_3_1() {
        // [MS-OXRTFEX] 3.1, the RTF as printed there (abridged to its first two paragraphs).
        let rtf = concat!(
            "{\\rtf1\\ANSI\\ansicpg1251\\fromhtml1 \\deff0\r\n",
            "{\\fonttbl {\\f0\\fmodern Courier New;}{\\f1\\fswiss Arial;}{\\f2\\fswiss\\fcharset0 Arial;}}\r\n",
            "{\\colortbl\\red0\\green0\\blue0;\\red0\\green0\\blue255;}\r\n",
            "{\\*\\htmltag64}\r\n",
            "\\uc1\\pard\\plain\\deftab360 \\f0\\fs24\r\n",
            "{\\*\\htmltag <HTML><head>\\par\r\n",
            " <style>\\par\r\n",
            " p.MsoNormal \\{font-family:Arial;\\}\\par\r\n",
            " </style>\\par\r\n",
            " </head>\\par\r\n",
            " <body>\\par\r\n",
            " <p\\par\r\n",
            " class=\"MsoNormal\">}\r\n",
            "{\\htmlrtf \\f1 \\htmlrtf0 Note the line break inside a P tag. {\\*\\htmltag <b>}{\\htmlrtf \\b \\htmlrtf0 This is a bold text{\\*\\htmltag </b>}} \\htmlrtf\\par\\htmlrtf0}\r\n",
            "\\htmlrtf \\par \\htmlrtf0\r\n",
            "{\\*\\htmltag </p>\\par\r\n",
            " <p class=\"MsoNormal\">\\par}\r\n",
            "{\\htmlrtf \\f1 \\htmlrtf0 This is a normal text with a character references:\r\n",
            "{\\*\\htmltag &nbsp;}\\htmlrtf \\'a0\\htmlrtf0  {\\*\\htmltag &lt;}\\htmlrtf <\\htmlrtf0  {\\*\\htmltag &uml;}\\htmlrtf {\\f2\\'a8}\\htmlrtf0{\\*\\htmltag <br>\\par}\\htmlrtf\\line\\htmlrtf0\r\n",
            "characters which have special meaning in RTF: \\{\\}\\\\{\\*\\htmltag <br>\\par}\\htmlrtf\\line\\htmlrtf0\\htmlrtf\\par\\htmlrtf0}\r\n",
            "{\\*\\htmltag </p>\\par\r\n </body>\\par\r\n </HTML>\\par}}"
        );
        let expected = concat!(
            "<HTML><head>\r\n <style>\r\n p.MsoNormal {font-family:Arial;}\r\n </style>\r\n </head>\r\n <body>\r\n <p\r\n class=\"MsoNormal\">",
            "Note the line break inside a P tag. <b>This is a bold text</b> ",
            "</p>\r\n <p class=\"MsoNormal\">\r\n",
            "This is a normal text with a character references:",
            "&nbsp; &lt; &uml;<br>\r\n",
            "characters which have special meaning in RTF: {}\\<br>\r\n",
            "</p>\r\n </body>\r\n </HTML>\r\n"
        );
        assert_eq!(html(rtf), expected);
    }

    #[test]
    fn fromtext_extraction() {
        let rtf = "{\\rtf1\\ansi\\ansicpg1252\\fromtext \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}\r\n{\\*\\generator x;}\\pard Line one\\par\r\nSecond\\tab line \\'e9\\par\r\n}";
        assert_eq!(
            text_from_rtf(rtf.as_bytes()).unwrap(),
            "Line one\r\nSecond\tline é\r\n"
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut rtf = String::from("{\\rtf1\\fromhtml1 a");
        rtf.push_str(&"{".repeat(MAX_GROUP_DEPTH * 3));
        rtf.push('x');
        rtf.push_str(&"}".repeat(MAX_GROUP_DEPTH * 3));
        rtf.push_str("b}");
        assert_eq!(html(&rtf), "ab");
    }

    #[test]
    fn malformed_input_does_not_panic() {
        let samples: [&[u8]; 10] = [
            b"",
            b"\\",
            b"{\\rtf1\\fromhtml1 \\'",
            b"{\\rtf1\\fromhtml1 \\'4",
            b"{\\rtf1\\fromhtml1 \\u",
            b"{\\rtf1\\fromhtml1 \\u99999999999999999999 x",
            b"{\\rtf1\\fromhtml1 \\bin99999999999 x",
            b"}}}{\\rtf1\\fromhtml1 x",
            b"{\\rtf1\\fromhtml1 \\uc-5\\u65 x}",
            b"{\\rtf1\\fromhtml1 \\fonttbl\\f-1\\fcharset-1\\cpg99999;}",
        ];
        for s in samples {
            let _ = html_from_rtf(s);
            let _ = text_from_rtf(s);
            let _ = encapsulation(s);
        }
        assert_eq!(html("{\\rtf1\\fromhtml1 \\'4}"), "\u{4}");
        assert_eq!(html("{\\rtf1\\fromhtml1 x"), "x");
    }
}
