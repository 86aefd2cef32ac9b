//! MMFF addresses: `[address_type:]address` (`msmail.md` §10.3, KB Q94410, KB Q182665).

use mailmig_ir::Address;

/// Address types listed in KB Q94410 / KB Q182665 with the spelling the KB prints. The writer
/// uses this spelling; the reader accepts any case and stores the type upper-cased.
pub const KNOWN_TYPES: &[&str] = &[
    "CSI", "SMTP", "X400", "MHS", "Profs", "SNADS", "MSMail", "Fax", "MCI", "MS",
];

/// The default address type when none is written: MS Mail for PC Networks (KB Q94410).
pub const DEFAULT_TYPE: &str = "CSI";

fn looks_like_type(prefix: &str) -> bool {
    (1..=16).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses the value of a `TO:`/`CC:`/`FROM:` line (already decoded, leading spaces allowed).
///
/// The part before the first `:` is the address type when it is 1–16 letters, digits, `-` or
/// `_` (every type of KB Q94410 fits; the 16-character cap is **inferred**); otherwise the whole
/// value is a `CSI` address (`network/postoffice/mailbox`, the default type). The type is
/// upper-cased into [`Address::addr_type`], the rest kept verbatim in [`Address::address`];
/// `SMTP` values containing `@` also fill [`Address::smtp`].
pub fn parse_address(value: &str) -> Address {
    let value = value.trim_start_matches(' ');
    let (ty, rest) = match value.split_once(':') {
        Some((t, r)) if looks_like_type(t) => (t.to_ascii_uppercase(), r),
        _ => (DEFAULT_TYPE.to_string(), value),
    };
    let smtp = (ty == "SMTP" && rest.contains('@')).then(|| rest.to_string());
    Address {
        name: None,
        addr_type: Some(ty.into()),
        address: Some(rest.to_string()),
        smtp,
        properties: Vec::new(),
    }
}

/// The KB spelling of an address type (`PROFS` → `Profs`), or the type as given.
pub fn canonical_type(ty: &str) -> String {
    KNOWN_TYPES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(ty))
        .map_or_else(|| ty.to_string(), |k| (*k).to_string())
}

/// The `type` and `value` the writer emits for an IR address, or `None` when it has no
/// address at all. Missing types become `SMTP` when the value contains `@`, else `CSI`; the
/// display name is not representable in MMFF and is dropped.
pub fn render_parts(a: &Address) -> Option<(String, String)> {
    let value = a
        .address
        .as_deref()
        .filter(|v| !v.is_empty())
        .or(a.smtp.as_deref().filter(|v| !v.is_empty()))?;
    let ty = match a.addr_type.as_deref().filter(|t| looks_like_type(t)) {
        Some(t) => canonical_type(t),
        None if value.contains('@') => "SMTP".to_string(),
        None => DEFAULT_TYPE.to_string(),
    };
    Some((ty, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_q94410_forms() {
        let a = parse_address("CSI:ANALYTIC/LONDON/ALOVELACE");
        assert_eq!(a.addr_type.as_deref(), Some("CSI"));
        assert_eq!(a.address.as_deref(), Some("ANALYTIC/LONDON/ALOVELACE"));
        let b = parse_address("ANALYTIC/LONDON/CBABBAGE");
        assert_eq!(b.addr_type.as_deref(), Some("CSI"));
        assert_eq!(b.address.as_deref(), Some("ANALYTIC/LONDON/CBABBAGE"));
        let c = parse_address("  SMTP:mary@example.org");
        assert_eq!(c.smtp.as_deref(), Some("mary@example.org"));
        assert_eq!(c.internet_address(), Some("mary@example.org"));
        let d = parse_address("SMTP:mary");
        assert_eq!(d.smtp, None);
        let e = parse_address("X400:/c=US/admd=MCI/prmd=x/s=Smith");
        assert_eq!(e.addr_type.as_deref(), Some("X400"));
        assert_eq!(e.address.as_deref(), Some("/c=US/admd=MCI/prmd=x/s=Smith"));
        let f = parse_address("Fax:Bob^0DHome^0DAcme^0D555-1234^0D");
        assert_eq!(f.addr_type.as_deref(), Some("FAX"));
        let g = parse_address("MHS:user@host {NET/PO/USER}");
        assert_eq!(g.addr_type.as_deref(), Some("MHS"));
        assert_eq!(g.address.as_deref(), Some("user@host {NET/PO/USER}"));
        let h = parse_address("Profs:GW/HOST/USER");
        assert_eq!(
            render_parts(&h),
            Some(("Profs".into(), "GW/HOST/USER".into()))
        );
        let i = parse_address("MS:NET/PO/USER");
        assert_eq!(i.addr_type.as_deref(), Some("MS"));
    }

    #[test]
    fn render_defaults() {
        let a = Address::smtp(Some("Ann"), "ann@example.com");
        assert_eq!(
            render_parts(&a),
            Some(("SMTP".into(), "ann@example.com".into()))
        );
        let b = Address {
            address: Some("NET/PO/BOB".into()),
            ..Address::default()
        };
        assert_eq!(render_parts(&b), Some(("CSI".into(), "NET/PO/BOB".into())));
        assert_eq!(render_parts(&Address::default()), None);
    }
}
