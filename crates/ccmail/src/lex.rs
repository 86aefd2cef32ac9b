//! Byte-level lexing shared by the stream and directory readers (notes §4.2): lines end in CR LF,
//! LF or a lone CR; keywords are ASCII and matched case-insensitively at line starts.

use memchr::memchr2;

/// One line: content `start..end` (terminator excluded) and the start of the next line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub start: usize,
    pub end: usize,
    pub next: usize,
}

/// The line starting at `pos`, never reaching past `limit`. At or past `limit` the line is
/// empty and `next == limit`, so callers must check `pos < limit` to make progress.
pub(crate) fn line_at(data: &[u8], pos: usize, limit: usize) -> Line {
    let limit = limit.min(data.len());
    if pos >= limit {
        return Line {
            start: limit,
            end: limit,
            next: limit,
        };
    }
    let hay = data.get(pos..limit).unwrap_or(&[]);
    match memchr2(b'\r', b'\n', hay) {
        None => Line {
            start: pos,
            end: limit,
            next: limit,
        },
        Some(i) => {
            let end = pos + i;
            let next = if data.get(end) == Some(&b'\r')
                && data.get(end + 1) == Some(&b'\n')
                && end + 1 < limit
            {
                end + 2
            } else {
                end + 1
            };
            Line {
                start: pos,
                end,
                next,
            }
        }
    }
}

/// Length of the line terminator at `pos` (0 when there is none).
pub(crate) fn terminator_len(data: &[u8], pos: usize, limit: usize) -> usize {
    match data.get(pos) {
        Some(b'\r') if pos < limit => {
            if data.get(pos + 1) == Some(&b'\n') && pos + 1 < limit {
                2
            } else {
                1
            }
        }
        Some(b'\n') if pos < limit => 1,
        _ => 0,
    }
}

/// Length of a line terminator that ends exactly at `end` (0, 1 or 2), not going below `floor`.
pub(crate) fn trailing_terminator(data: &[u8], floor: usize, end: usize) -> usize {
    if end <= floor {
        return 0;
    }
    match data.get(end - 1) {
        Some(b'\n') => {
            if end >= floor + 2 && data.get(end - 2) == Some(&b'\r') {
                2
            } else {
                1
            }
        }
        Some(b'\r') => 1,
        _ => 0,
    }
}

/// True when `hay` starts with the keyword `kw`, ignoring ASCII case (as
/// `<[u8]>::eq_ignore_ascii_case` on the prefix, which compares byte by byte).
///
/// Two bytes are the same letter in either case exactly when they differ at most in bit 5 and
/// the keyword's byte is a letter; every other byte must match exactly. Written as one OR of
/// differences, without a branch per byte, so that with a constant keyword (every caller's)
/// the compiler folds the letter test and compares whole words.
#[inline]
pub(crate) fn starts_with_ci(hay: &[u8], kw: &[u8]) -> bool {
    let Some(h) = hay.get(..kw.len()) else {
        return false;
    };
    let mut diff = 0u8;
    for (&a, &b) in h.iter().zip(kw) {
        let fold = if b.is_ascii_alphabetic() { 0x20 } else { 0 };
        diff |= (a | fold) ^ (b | fold);
    }
    diff == 0
}

/// True when `s` is the keyword `kw`, ignoring ASCII case ([`starts_with_ci`] of the whole).
#[inline]
pub(crate) fn eq_ci(s: &[u8], kw: &[u8]) -> bool {
    s.len() == kw.len() && starts_with_ci(s, kw)
}

/// `hay` without the keyword `kw` at its end, matched ignoring ASCII case ([`eq_ci`] of the
/// tail); `None` when `hay` does not end with it.
#[inline]
pub(crate) fn strip_suffix_ci<'h>(hay: &'h [u8], kw: &[u8]) -> Option<&'h [u8]> {
    let (head, tail) = hay.split_at_checked(hay.len().checked_sub(kw.len())?)?;
    eq_ci(tail, kw).then_some(head)
}

/// Trims ASCII spaces and tabs on both sides.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Trims ASCII spaces and tabs on the left.
pub(crate) fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// A `Key: value` line (notes §4.3 `other-line`): key of letters, digits, `-`, `_` and spaces,
/// starting with a letter or digit, at most 40 bytes; value without leading spaces.
pub(crate) fn split_key(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let head = line.get(..line.len().min(41))?;
    let colon = memchr::memchr(b':', head)?;
    let key = line.get(..colon)?;
    let first = *key.first()?;
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    if !key
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b' '))
    {
        return None;
    }
    let key = trim(key);
    let value = trim_start(line.get(colon + 1..)?);
    Some((key, value))
}

/// What a size line says (notes §4.4 step 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SizeLine {
    /// Not a size line (something else starts here).
    Absent,
    /// Blank or spaces only: "no size" (KB Q287056).
    Blank,
    /// A decimal number.
    Value(u64),
    /// Digits that overflow.
    Overflow,
}

/// Classifies a line as a size line: optional spaces, optional digits, optional spaces.
pub(crate) fn size_line(line: &[u8]) -> SizeLine {
    let t = trim(line);
    if t.is_empty() {
        return SizeLine::Blank;
    }
    if !t.iter().all(u8::is_ascii_digit) {
        return SizeLine::Absent;
    }
    let mut v: u64 = 0;
    for &b in t {
        match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(n) => v = n,
            None => return SizeLine::Overflow,
        }
    }
    SizeLine::Value(v)
}

/// Item kinds named by an item header line (notes §4.3 `item-header`, §4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Text,
    File,
    Fax,
    Message,
    Ole,
    Other,
}

/// What the key of an item header ends with, matched without case.
const ITEM_SUFFIX: &[u8] = b" item";

/// An item header `<Words> item:[ title]`: the kind, the words before `item`, and the title.
pub(crate) fn item_header(line: &[u8]) -> Option<(ItemKind, &[u8], &[u8])> {
    let head = line.get(..line.len().min(48))?;
    let colon = memchr::memchr(b':', head)?;
    let before = line.get(..colon)?;
    // At least one letter, then the suffix.
    let words = strip_suffix_ci(before, ITEM_SUFFIX)?;
    if !words.first()?.is_ascii_alphabetic() {
        return None;
    }
    if !words.iter().all(|&b| b.is_ascii_alphabetic() || b == b' ') {
        return None;
    }
    let kind = if eq_ci(words, b"text") {
        ItemKind::Text
    } else if eq_ci(words, b"file") {
        ItemKind::File
    } else if eq_ci(words, b"fax") {
        ItemKind::Fax
    } else if eq_ci(words, b"message") {
        ItemKind::Message
    } else if eq_ci(words, b"ole") {
        ItemKind::Ole
    } else {
        ItemKind::Other
    };
    let title = trim(line.get(colon + 1..)?);
    Some((kind, words, title))
}

/// False only for a line that cannot be an item header, judged from what [`split_key`] made of
/// it: an item header is either no `Key:` line (its words may be longer than a key) or one
/// whose key ends in ` item`, since its words and ` item` are letters and spaces after a
/// letter, which `split_key` keeps unchanged as the key.
pub(crate) fn may_be_item_header(key_value: Option<(&[u8], &[u8])>) -> bool {
    key_value.is_none_or(|(key, _)| strip_suffix_ci(key, ITEM_SUFFIX).is_some())
}

/// True when the line starting at `pos` is `Message:` (optionally followed by spaces and other
/// bytes, for blocks that are not CRLF-separated, KB Q184391).
pub(crate) fn is_message_line(data: &[u8], pos: usize, limit: usize) -> bool {
    data.get(pos..limit.min(data.len()))
        .is_some_and(|h| starts_with_ci(h, b"Message:"))
}

/// True when a keyword line that can follow an item payload starts at `pos`: `Message:`,
/// `Contents:` or any item header (notes §4.4 step 2).
pub(crate) fn is_keyword_line(data: &[u8], pos: usize, limit: usize) -> bool {
    let Some(rest) = data.get(pos..limit.min(data.len())) else {
        return false;
    };
    // Every keyword starts with a letter; most calls land on a line terminator.
    if !rest.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    if starts_with_ci(rest, b"Message:") || starts_with_ci(rest, b"Contents:") {
        return true;
    }
    let l = line_at(data, pos, limit);
    data.get(l.start..l.end)
        .is_some_and(|line| item_header(line).is_some())
}

/// Position just after `kw` and any spaces, and after one line terminator if the line ends
/// there. When other bytes follow on the same line they are left to be read as the next line
/// (blocks not separated by CRLF, KB Q184391).
pub(crate) fn after_keyword(data: &[u8], pos: usize, kw_len: usize, limit: usize) -> usize {
    let mut p = pos.saturating_add(kw_len).min(limit);
    while p < limit && matches!(data.get(p), Some(b' ' | b'\t')) {
        p += 1;
    }
    p + terminator_len(data, p, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_all_terminators() {
        let d = b"a\r\nb\nc\rd";
        let l = line_at(d, 0, d.len());
        assert_eq!((l.start, l.end, l.next), (0, 1, 3));
        let l = line_at(d, 3, d.len());
        assert_eq!((l.end, l.next), (4, 5));
        let l = line_at(d, 5, d.len());
        assert_eq!((l.end, l.next), (6, 7));
        let l = line_at(d, 7, d.len());
        assert_eq!((l.end, l.next), (8, 8));
        let l = line_at(d, 8, d.len());
        assert_eq!(l.next, 8);
    }

    #[test]
    fn size_lines() {
        assert_eq!(size_line(b" 42 "), SizeLine::Value(42));
        assert_eq!(size_line(b"   "), SizeLine::Blank);
        assert_eq!(size_line(b""), SizeLine::Blank);
        assert_eq!(size_line(b"From: x"), SizeLine::Absent);
        assert_eq!(size_line(b"99999999999999999999999"), SizeLine::Overflow);
    }

    #[test]
    fn item_headers() {
        let (k, _, t) = item_header(b"Text item: Note G").unwrap();
        assert_eq!((k, t), (ItemKind::Text, &b"Note G"[..]));
        let (k, _, t) = item_header(b"File item: NOTE G.TXT 3/12/99").unwrap();
        assert_eq!((k, t), (ItemKind::File, &b"NOTE G.TXT 3/12/99"[..]));
        assert_eq!(item_header(b"FAX ITEM:").map(|x| x.0), Some(ItemKind::Fax));
        assert_eq!(
            item_header(b"Voice Mail item: x").map(|x| x.0),
            Some(ItemKind::Other)
        );
        assert!(item_header(b"Subject: item: x").is_none());
        assert!(item_header(b"From: a at b").is_none());
    }

    #[test]
    fn keys() {
        assert_eq!(
            split_key(b"Subject:  hi "),
            Some((&b"Subject"[..], &b"hi "[..]))
        );
        assert_eq!(split_key(b"no colon here"), None);
        assert_eq!(split_key(b":x"), None);
        // A key of at most 40 bytes.
        let forty = format!("{}: v", "K".repeat(40));
        assert_eq!(
            split_key(forty.as_bytes()),
            Some((&forty.as_bytes()[..40], &b"v"[..]))
        );
        assert_eq!(split_key(format!("{}: v", "K".repeat(41)).as_bytes()), None);
    }

    #[test]
    fn keyword_case_folding_on_every_byte_pair() {
        // Each byte of a keyword position against each input byte: only the letter's two cases
        // match, never a byte that differs in bit 5 from a non-letter (`:` and `\x1a`).
        for k in 0..=255u8 {
            for a in 0..=255u8 {
                assert_eq!(
                    starts_with_ci(&[a, b'x'], &[k]),
                    a.eq_ignore_ascii_case(&k),
                    "{a:#04x} {k:#04x}"
                );
                assert_eq!(eq_ci(&[a], &[k]), a.eq_ignore_ascii_case(&k));
            }
        }
        assert!(starts_with_ci(b"mESSAGE: 1", b"Message:"));
        assert!(!starts_with_ci(b"Message\x1a", b"Message:"));
        assert!(!starts_with_ci(b"Messag", b"Message:"));
        assert!(!eq_ci(b"texts", b"text"));
        assert_eq!(strip_suffix_ci(b"Text ITEM", b" item"), Some(&b"Text"[..]));
        assert_eq!(strip_suffix_ci(b" item", b" item"), Some(&b""[..]));
        assert_eq!(strip_suffix_ci(b"item", b" item"), None);
        assert_eq!(strip_suffix_ci(b"Text items", b" item"), None);
    }

    proptest::proptest! {
        /// The same answer as the standard library's comparison of the prefix, on the keyword
        /// with bytes flipped in case or changed, cut short or lengthened.
        #[test]
        fn keyword_match_is_the_standard_one(
            kw in proptest::sample::select(vec![&b"Message:"[..], b"Contents:", b" item", b"ole"]),
            flips in proptest::collection::vec(
                proptest::prop_oneof![4 => proptest::strategy::Just(0u8), 4 => proptest::strategy::Just(0x20u8), 1 => proptest::num::u8::ANY],
                0..12,
            ),
        ) {
            let hay: Vec<u8> = flips
                .iter()
                .enumerate()
                .map(|(i, f)| kw.get(i).copied().unwrap_or(b' ') ^ f)
                .collect();
            let want = hay.get(..kw.len()).is_some_and(|h| h.eq_ignore_ascii_case(kw));
            proptest::prop_assert_eq!(starts_with_ci(&hay, kw), want);
        }

        /// No item header is ruled out by its key: lines built from item-header pieces, key
        /// bytes and separators, cut anywhere.
        #[test]
        fn item_headers_are_never_ruled_out_by_their_key(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b"Text"[..], b"FILE", b"Voice Mail", b" item", b" ITEM", b"item", b":", b" ",
                    b"\t", b"-", b"_", b"7", b"x", b"\xe9", b"title 3/12/99", b"From",
                ]),
                0..12,
            ),
        ) {
            let line = parts.concat();
            if item_header(&line).is_some() {
                proptest::prop_assert!(may_be_item_header(split_key(&line)), "{:?}", line.escape_ascii().to_string());
            }
        }
    }

    #[test]
    fn header_keys_rule_out_item_headers() {
        assert!(!may_be_item_header(split_key(b"From: a at b")));
        assert!(!may_be_item_header(split_key(b"Subject: Text item: x")));
        assert!(may_be_item_header(split_key(b"Text item: x")));
        assert!(may_be_item_header(split_key(b"Voice Mail ITEM:")));
        assert!(may_be_item_header(split_key(b"no colon")));
        assert!(may_be_item_header(split_key(&[b'a'; 50])));
    }
}
