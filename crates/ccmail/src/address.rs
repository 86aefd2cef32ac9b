//! cc:Mail addresses (notes §4.3 `address`, §4.5, §4.6): `Name at PO`, `#Board [at PO]` and bare
//! names, and the splitting of one header line into several addresses.

use mailmig_ir::Address;

/// The IR address type of cc:Mail native addresses.
pub const ADDR_TYPE: &str = "CCMAIL";

/// Parses one address: `Name at PO` (split at the **last** ` at `, notes §4.6 rule 3), a
/// bulletin board `#Board` or `#Board at PO`, or a bare name resolved by cc:Mail's name
/// resolution. The native text is kept whole in [`Address::address`]; the name part becomes
/// [`Address::name`] (`None` when EXPORT 8.3 dropped it and only `at PO` is left, KB Q249133).
pub fn parse_address(text: &str) -> Address {
    let t = text.trim();
    let missing_name = t
        .strip_prefix("at ")
        .is_some_and(|po| !po.is_empty() && !po.contains(' '));
    let name = if missing_name {
        None
    } else {
        match last_at(t.as_bytes()) {
            Some(i) => t.get(..i).map(str::trim).filter(|n| !n.is_empty()),
            None => Some(t).filter(|n| !n.is_empty()),
        }
    };
    Address {
        name: name.map(str::to_string),
        addr_type: Some(ADDR_TYPE.into()),
        address: Some(t.to_string()),
        smtp: None,
        properties: Vec::new(),
    }
}

/// Where the last ` at ` of `t` starts. Addresses are short, so each space from the end is
/// tried in turn (a `memmem` search costs more to set up than this).
fn last_at(t: &[u8]) -> Option<usize> {
    let mut end = t.len();
    while let Some(i) = memchr::memrchr(b' ', t.get(..end)?) {
        if t.get(i..).is_some_and(|rest| rest.starts_with(b" at ")) {
            return Some(i);
        }
        end = i;
    }
    None
}

/// The result of splitting one header line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplitLine {
    /// The addresses, in line order.
    pub addresses: Vec<Address>,
    /// True when the split was ambiguous (text without an ` at ` anchor that holds a comma);
    /// that text was kept as one recipient and the caller should warn (notes §4.6 rule 4).
    pub ambiguous: bool,
}

/// Splits a `To:`/`Cc:`/`Bcc:`/`From:` value into addresses (notes §4.6):
///
/// 1. scan left to right for ` at <PO>` where `<PO>` is a run of characters other than space
///    and comma followed by `,` or the end of the line; each match closes one address;
/// 2. text left over without an anchor is one bare name or bulletin board;
/// 3. the last ` at ` inside an address splits name and post office ([`parse_address`]);
/// 4. leftover text containing a comma is ambiguous: one recipient with the raw text.
pub fn split_address_line(value: &str) -> SplitLine {
    let mut addresses = Vec::new();
    let ambiguous = for_each_address(value, |a| addresses.push(a));
    SplitLine {
        addresses,
        ambiguous,
    }
}

/// [`split_address_line`] handing each address to `f` as it is found, without collecting
/// them; returns whether the split was ambiguous.
pub(crate) fn for_each_address(value: &str, mut f: impl FnMut(Address)) -> bool {
    let bytes = value.as_bytes();
    let mut seg_start = 0usize;
    let mut search = 0usize;
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b" at "));
    while let Some(rel) = bytes.get(search..).and_then(|s| FINDER.find(s)) {
        let at = search + rel;
        let po_start = at + 4;
        let mut po_end = po_start;
        while po_end < bytes.len() && !matches!(bytes.get(po_end), Some(b' ' | b',')) {
            po_end += 1;
        }
        let mut after = po_end;
        while matches!(bytes.get(after), Some(b' ' | b'\t')) {
            after += 1;
        }
        let closes = po_end > po_start && (after >= bytes.len() || bytes.get(after) == Some(&b','));
        if closes {
            if let Some(seg) = value.get(seg_start..po_end) {
                let seg = seg.trim();
                if !seg.is_empty() {
                    f(parse_address(seg));
                }
            }
            seg_start = (after + 1).min(bytes.len());
            search = seg_start;
        } else {
            search = at + 1;
        }
    }
    let mut ambiguous = false;
    if let Some(rest) = value.get(seg_start..) {
        let rest = rest.trim();
        if !rest.is_empty() {
            ambiguous = memchr::memchr(b',', rest.as_bytes()).is_some();
            f(parse_address(rest));
        }
    }
    ambiguous
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &SplitLine) -> Vec<&str> {
        s.addresses
            .iter()
            .filter_map(|a| a.address.as_deref())
            .collect()
    }

    #[test]
    fn last_first_with_comma_is_one_address() {
        let s = split_address_line("Grewal, Jeff at Hub");
        assert_eq!(texts(&s), ["Grewal, Jeff at Hub"]);
        assert_eq!(s.addresses[0].name.as_deref(), Some("Grewal, Jeff"));
        assert!(!s.ambiguous);
    }

    #[test]
    fn several_addresses_split_on_anchors() {
        let s = split_address_line("Ccuser at DB8, Ccuser2 at DB8, Smith, Jo at HQ");
        assert_eq!(
            texts(&s),
            ["Ccuser at DB8", "Ccuser2 at DB8", "Smith, Jo at HQ"]
        );
    }

    #[test]
    fn last_at_splits_name_and_po() {
        let s = split_address_line("Tom at Home at LONDON");
        assert_eq!(texts(&s), ["Tom at Home at LONDON"]);
        assert_eq!(s.addresses[0].name.as_deref(), Some("Tom at Home"));
    }

    #[test]
    fn bulletin_and_bare_names() {
        let s = split_address_line("#Engines at LONDON, #Local");
        assert_eq!(texts(&s), ["#Engines at LONDON", "#Local"]);
        let s = split_address_line("Babbage, Charles");
        assert!(s.ambiguous);
        assert_eq!(texts(&s), ["Babbage, Charles"]);
    }

    #[test]
    fn missing_name_part() {
        let a = parse_address("at LONDON");
        assert_eq!(a.name, None);
        assert_eq!(a.address.as_deref(), Some("at LONDON"));
        // Found by the round-trip property test: a name may start with "At".
        let a = parse_address("At Aa at A0");
        assert_eq!(a.name.as_deref(), Some("At Aa"));
    }
}
