//! Code pages: decoding legacy 8-bit and DBCS text to UTF-8 and encoding it back.
//!
//! * Windows ANSI pages (1250–1258, 874) and the DBCS pages (932 Shift-JIS, 936 GBK,
//!   949 Unified Hangul, 950 Big5) through `encoding_rs` (via the `codepage` number map);
//! * DOS OEM pages (437, 737, 775, 850, 852, 855, 857, 858, 860–866, 869) through `oem_cp`,
//!   since `encoding_rs` implements only the WHATWG set;
//! * UTF-16LE (1200), UTF-16BE (1201) and UTF-8 (65001).
//!
//! Decoding never fails: bytes a page does not define become U+FFFD, and the result is always
//! valid UTF-8. [`decode_checked`] reports whether that happened so readers can warn.

use std::borrow::Cow;

use encoding_rs::Encoding;
use oem_cp::code_table::{DECODING_TABLE_CP_MAP, ENCODING_TABLE_CP_MAP};
use oem_cp::code_table_type::TableType;

/// Windows Western European (the ANSI default of the Exchange migration files and PST).
pub const WINDOWS_1252: u16 = 1252;
/// DOS Latin-1 (the default OEM page of cc:Mail and MS Mail post offices).
pub const OEM_850: u16 = 850;
/// DOS US.
pub const OEM_437: u16 = 437;
/// UTF-16 little-endian.
pub const UTF_16LE: u16 = 1200;
/// UTF-16 big-endian.
pub const UTF_16BE: u16 = 1201;
/// UTF-8.
pub const UTF_8: u16 = 65001;

/// A code page the helpers cannot handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodePageError {
    /// The number is not a code page we can decode.
    #[error("unsupported code page {0}")]
    Unsupported(u16),
    /// A character has no representation in the target page.
    #[error("character {ch:?} cannot be written in code page {code_page}")]
    Unmappable {
        /// The character.
        ch: char,
        /// The target page.
        code_page: u16,
    },
}

/// How a page is implemented.
enum Page {
    Oem(&'static TableType),
    Whatwg(&'static Encoding),
    Utf16Le,
    Utf16Be,
}

fn page(code_page: u16) -> Option<Page> {
    match code_page {
        UTF_16LE => return Some(Page::Utf16Le),
        UTF_16BE => return Some(Page::Utf16Be),
        // 874 is Windows-874 (a superset of the OEM table) and 866 is the same in both.
        874 | 866 => {}
        cp => {
            if let Some(table) = DECODING_TABLE_CP_MAP.get(&cp) {
                return Some(Page::Oem(table));
            }
        }
    }
    codepage::to_encoding(code_page).map(Page::Whatwg)
}

/// True when [`decode`] knows `code_page`.
pub fn is_supported(code_page: u16) -> bool {
    page(code_page).is_some()
}

/// Decodes `bytes` in `code_page` to UTF-8; undefined bytes become U+FFFD. An unsupported code
/// page decodes as Windows-1252 (the caller should have checked [`is_supported`] and warned).
pub fn decode(bytes: &[u8], code_page: u16) -> Cow<'_, str> {
    decode_checked(bytes, code_page).0
}

/// Like [`decode`], also telling whether any byte was replaced (or the page was unsupported).
pub fn decode_checked(bytes: &[u8], code_page: u16) -> (Cow<'_, str>, bool) {
    if bytes.is_ascii()
        && !matches!(code_page, UTF_16LE | UTF_16BE)
        && let Ok(s) = std::str::from_utf8(bytes)
    {
        return (Cow::Borrowed(s), false);
    }
    match page(code_page) {
        Some(Page::Oem(table)) => match table.decode_string_checked(bytes) {
            Some(s) => (Cow::Owned(s), false),
            None => (Cow::Owned(table.decode_string_lossy(bytes)), true),
        },
        Some(Page::Whatwg(enc)) => {
            let (text, had_errors) = enc.decode_without_bom_handling(bytes);
            (text, had_errors)
        }
        Some(Page::Utf16Le) => {
            let (text, had_errors) = encoding_rs::UTF_16LE.decode_without_bom_handling(bytes);
            (text, had_errors)
        }
        Some(Page::Utf16Be) => {
            let (text, had_errors) = encoding_rs::UTF_16BE.decode_without_bom_handling(bytes);
            (text, had_errors)
        }
        None => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text, true)
        }
    }
}

/// Decodes UTF-16LE (PST `PtypString`, [MS-PST] 2.3.3.5 / [MS-OXCDATA] 2.11.1); an odd trailing
/// byte and unpaired surrogates become U+FFFD.
pub fn decode_utf16le(bytes: &[u8]) -> String {
    let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// Encodes `text` in `code_page`, failing on the first character the page cannot represent.
pub fn encode(text: &str, code_page: u16) -> Result<Vec<u8>, CodePageError> {
    match page(code_page) {
        None => Err(CodePageError::Unsupported(code_page)),
        Some(Page::Utf16Le) => Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        Some(Page::Utf16Be) => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        Some(Page::Oem(_)) => {
            let table = ENCODING_TABLE_CP_MAP
                .get(&code_page)
                .ok_or(CodePageError::Unsupported(code_page))?;
            let mut out = Vec::with_capacity(text.len());
            for ch in text.chars() {
                if ch.is_ascii() {
                    out.push(ch as u8);
                } else {
                    let b = table
                        .get(&ch)
                        .ok_or(CodePageError::Unmappable { ch, code_page })?;
                    out.push(*b);
                }
            }
            Ok(out)
        }
        Some(Page::Whatwg(enc)) => {
            if enc == encoding_rs::UTF_8 {
                return Ok(text.as_bytes().to_vec());
            }
            let (bytes, _, had_errors) = enc.encode(text);
            if had_errors {
                let ch = text
                    .chars()
                    .find(|c| {
                        let mut buf = [0u8; 4];
                        enc.encode(c.encode_utf8(&mut buf)).2
                    })
                    .unwrap_or('\u{FFFD}');
                return Err(CodePageError::Unmappable { ch, code_page });
            }
            Ok(bytes.into_owned())
        }
    }
}

/// Encodes `text` in `code_page`, writing `?` for characters the page lacks. Unsupported pages
/// fall back to Windows-1252.
pub fn encode_lossy(text: &str, code_page: u16) -> Vec<u8> {
    match encode(text, code_page) {
        Ok(bytes) => bytes,
        Err(_) => {
            let cp = if is_supported(code_page) {
                code_page
            } else {
                WINDOWS_1252
            };
            let mut out = Vec::with_capacity(text.len());
            let mut buf = [0u8; 4];
            for ch in text.chars() {
                match encode(ch.encode_utf8(&mut buf), cp) {
                    Ok(b) => out.extend_from_slice(&b),
                    Err(_) => out.push(b'?'),
                }
            }
            out
        }
    }
}

/// Maps a MIME / Microsoft charset name to a code page number.
///
/// Handles the WHATWG labels (via `encoding_rs`), Microsoft's own aliases as they appear in
/// `PidTagInternetCodepage`-era mail and MLang (`ks_c_5601-1987`, `unicode`, `unicodeFFFE`,
/// `x-sjis`, `_iso-2022-jp$ESC`, `cp850`/`ibm850` …). `_autodetect*` and unknown names give
/// `None`.
pub fn code_page_for_charset(name: &str) -> Option<u16> {
    let n = name.trim().trim_matches('"').to_ascii_lowercase();
    let oem = n
        .strip_prefix("ibm")
        .or_else(|| n.strip_prefix("cp"))
        .or_else(|| n.strip_prefix("oem"))
        .or_else(|| n.strip_prefix("dos-"))
        .and_then(|d| d.parse::<u16>().ok())
        .filter(|cp| DECODING_TABLE_CP_MAP.get(cp).is_some() || *cp == 866 || *cp == 874);
    if let Some(cp) = oem {
        return Some(cp);
    }
    let alias = match n.as_str() {
        "unicode" | "utf-16" | "utf-16le" => Some(UTF_16LE),
        "unicodefffe" | "utf-16be" => Some(UTF_16BE),
        "ks_c_5601" | "ks_c_5601-1987" | "ks_c_5601_1987" | "korean" => Some(949),
        "x-sjis" | "shift-jis" | "shift_jis" | "sjis" | "ms_kanji" => Some(932),
        "_iso-2022-jp$esc" | "_iso-2022-jp$sio" | "csiso2022jp" => Some(50220),
        "big5-hkscs" => Some(950),
        "gb2312-80" | "x-gbk" => Some(936),
        "x-ansi" | "ansi" => Some(WINDOWS_1252),
        "utf8" | "x-unicode20utf8" | "unicode-2-0-utf-8" => Some(UTF_8),
        _ if n.starts_with("_autodetect") => return None,
        _ => None,
    };
    if alias.is_some() {
        return alias;
    }
    if let Some(cp) = n
        .strip_prefix("windows-")
        .and_then(|d| d.parse::<u16>().ok())
        && is_supported(cp)
    {
        return Some(cp);
    }
    let enc = Encoding::for_label_no_replacement(n.as_bytes())?;
    codepage::from_encoding(enc).or(match enc.name() {
        "UTF-8" => Some(UTF_8),
        "UTF-16LE" => Some(UTF_16LE),
        "UTF-16BE" => Some(UTF_16BE),
        _ => None,
    })
}

/// The MIME charset name to declare for text encoded in `code_page` (used by writers).
pub fn charset_name(code_page: u16) -> &'static str {
    match page(code_page) {
        Some(Page::Whatwg(enc)) => enc.name(),
        Some(Page::Utf16Le) => "UTF-16LE",
        Some(Page::Utf16Be) => "UTF-16BE",
        Some(Page::Oem(_)) => match code_page {
            437 => "IBM437",
            737 => "ibm737",
            775 => "IBM775",
            850 => "IBM850",
            852 => "IBM852",
            855 => "IBM855",
            857 => "IBM857",
            858 => "IBM00858",
            860 => "IBM860",
            861 => "IBM861",
            862 => "IBM862",
            863 => "IBM863",
            864 => "IBM864",
            865 => "IBM865",
            869 => "IBM869",
            _ => "x-unknown",
        },
        None => "x-unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oem_pages_decode_and_encode() {
        // "Müller" in CP850: ü = 0x81
        assert_eq!(decode(b"M\x81ller", 850), "Müller");
        assert_eq!(encode("Müller", 850).unwrap(), b"M\x81ller");
        // CP437 box drawing and CP866 Cyrillic
        assert_eq!(decode(&[0xC9, 0xCD, 0xBB], 437), "╔═╗");
        assert_eq!(decode(&[0x8F, 0xE0, 0xA8, 0xA2, 0xA5, 0xE2], 866), "Привет");
        assert_eq!(decode(&[0x80], 737), "Α");
        assert_eq!(decode(&[0xAC], 852), "Č");
        assert!(matches!(
            encode("日本", 850),
            Err(CodePageError::Unmappable {
                ch: '日',
                code_page: 850
            })
        ));
        assert_eq!(encode_lossy("a日b", 850), b"a?b");
    }

    #[test]
    fn windows_and_dbcs_pages() {
        assert_eq!(decode(b"\x80 caf\xe9", 1252), "€ café");
        assert_eq!(decode(&[0x93, 0xFA, 0x96, 0x7B], 932), "日本");
        assert_eq!(encode("日本", 932).unwrap(), vec![0x93, 0xFA, 0x96, 0x7B]);
        assert_eq!(decode(&[0xC4, 0xE3, 0xBA, 0xC3], 936), "你好");
        assert_eq!(decode(&[0xC7, 0xD1], 949), "한");
        assert_eq!(decode(&[0xA4, 0xA4], 950), "中");
        assert_eq!(decode(&[0x41, 0x00, 0xE9, 0x00], UTF_16LE), "Aé");
        assert_eq!(decode_utf16le(&[0x41, 0x00, 0x42]), "A\u{FFFD}");
    }

    #[test]
    fn unknown_pages_are_flagged_and_output_stays_utf8() {
        let (text, bad) = decode_checked(b"\xff\xfe", 12345);
        assert!(bad);
        assert!(!text.is_empty());
        assert!(!is_supported(12345));
        assert!(encode("x", 12345).is_err());
        let (_, bad) = decode_checked(&[0x81, 0xFF], 932);
        assert!(bad, "a lone lead byte is an error in Shift-JIS");
    }

    #[test]
    fn charset_aliases() {
        assert_eq!(code_page_for_charset("ks_c_5601-1987"), Some(949));
        assert_eq!(code_page_for_charset("Windows-1252"), Some(1252));
        assert_eq!(code_page_for_charset("iso-8859-1"), Some(1252));
        assert_eq!(code_page_for_charset("unicode"), Some(UTF_16LE));
        assert_eq!(code_page_for_charset("x-sjis"), Some(932));
        assert_eq!(code_page_for_charset("shift_jis"), Some(932));
        assert_eq!(code_page_for_charset("utf-8"), Some(UTF_8));
        assert_eq!(code_page_for_charset("IBM850"), Some(850));
        assert_eq!(code_page_for_charset("cp437"), Some(437));
        assert_eq!(code_page_for_charset("gb2312"), Some(936));
        assert_eq!(code_page_for_charset("big5"), Some(950));
        assert_eq!(code_page_for_charset("_autodetect_all"), None);
        assert_eq!(code_page_for_charset("no-such-thing"), None);
        assert_eq!(charset_name(850), "IBM850");
        assert_eq!(charset_name(1252), "windows-1252");
    }
}
