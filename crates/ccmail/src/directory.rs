//! Directory exports (notes §5): the tolerant reader of `EXPORT /DIRECTORY` output and the
//! writer mailmig uses for its own round trips.
//!
//! The line syntax of a real directory export is unknown (**[U]**, §5.1). The reader follows the
//! tolerant grammar of §5.3: entries are blocks of lines separated by blank lines (or started by
//! a repeat of the block's first key); a line is `Key: value` or bare text; a location code is
//! any single character of `PpLlRrAa` standing alone as a field value or as the first token of
//! a line. Known keys **[I]**: `Name`, `Location` (also `Loc`, `Code`), `Addr` **[D]**,
//! `Comments` **[D]**, `FAN` / `Foreign alias` **[D]**, `Member`, `Type` (`List`,
//! `Bulletin board`), `Proxy`, and two mailmig conventions: a first block `Post office: NAME`
//! and `Export-File:` naming the stream of a mailbox user. Every other key is kept verbatim as
//! a property `ccmail:<Key>`; the location code is kept as `ccmail:location`.
//!
//! Kinds (§5.2): `#Name` entries are bulletin boards; entries with members (or `Type: List`) are
//! lists; `L` and `R` are mailbox users (they own a user file); `l r A a P p` become custom
//! recipients; entries without a location code become custom recipients with a warning.

use mailmig_ir::codepage;
use mailmig_ir::{
    Address, CommittedMailbox, DirectoryEntry, EntryKind, PostOffice, PropValue, Property, Warning,
};

use crate::lex::{line_at, split_key, trim};

/// Location codes of notes §5.2.
pub const LOCATION_CODES: &[char] = &['P', 'p', 'L', 'l', 'R', 'r', 'A', 'a'];

/// Property name of an entry's location code.
pub const LOCATION_PROPERTY: &str = "ccmail:location";

/// A parsed directory export.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirectoryExport {
    /// The post-office name from a `Post office:` block, if any.
    pub post_office: Option<String>,
    /// The entries, in file order.
    pub entries: Vec<DirectoryEntry>,
    /// `(entry id, relative path)` from `Export-File:` fields.
    pub export_files: Vec<(String, String)>,
    /// Problems met.
    pub warnings: Vec<Warning>,
    /// Entries that carried a location code.
    pub located: usize,
}

struct Field {
    key: Option<String>,
    value: String,
    offset: usize,
}

/// Parses a directory export (notes §5.3) decoded with `code_page`; `file` names the file in
/// warnings. Never fails; damage becomes warnings.
pub fn parse_directory(data: &[u8], code_page: u16, file: &str) -> DirectoryExport {
    let mut out = DirectoryExport::default();
    let mut blocks: Vec<Vec<Field>> = Vec::new();
    let mut cur: Vec<Field> = Vec::new();
    let mut p = 0usize;
    while p < data.len() {
        let l = line_at(data, p, data.len());
        let raw = data.get(l.start..l.end).unwrap_or(&[]);
        p = l.next;
        let t = trim(raw);
        if t.is_empty() {
            if !cur.is_empty() {
                blocks.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let field = match split_key(t) {
            Some((k, v)) => Field {
                key: Some(String::from_utf8_lossy(k).into_owned()),
                value: codepage::decode(trim(v), code_page).into_owned(),
                offset: l.start,
            },
            None => Field {
                key: None,
                value: codepage::decode(t, code_page).into_owned(),
                offset: l.start,
            },
        };
        let repeats_first = match (cur.first().and_then(|f| f.key.as_deref()), &field.key) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        if repeats_first {
            blocks.push(std::mem::take(&mut cur));
        }
        cur.push(field);
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    let warn = |out: &mut DirectoryExport, code: &str, msg: String, offset: usize| {
        out.warnings.push(
            Warning::new(code, msg)
                .in_file(file.to_string())
                .at(offset as u64),
        );
    };
    for block in blocks {
        let Some(first) = block.first() else {
            continue;
        };
        if first
            .key
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("Post office"))
        {
            if out.post_office.is_none() && !first.value.is_empty() {
                out.post_office = Some(first.value.clone());
            }
            continue;
        }
        let block_offset = first.offset;
        let mut e = DirectoryEntry::default();
        let mut name: Option<String> = None;
        let mut loc: Option<char> = None;
        let mut type_hint: Option<EntryKind> = None;
        let mut addr: Option<String> = None;
        let mut export_file: Option<String> = None;
        for f in &block {
            let single = single_code(&f.value);
            match f.key.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => {
                    let v = f.value.trim();
                    let (code, rest) = match v.split_once([' ', '\t']) {
                        Some((c, r)) if single_code(c).is_some() => (single_code(c), r.trim()),
                        _ => (
                            single_code(v),
                            if single_code(v).is_some() { "" } else { v },
                        ),
                    };
                    if let Some(c) = code
                        && loc.is_none()
                    {
                        loc = Some(c);
                        e.properties.push(Property::new(
                            LOCATION_PROPERTY,
                            PropValue::Text(c.to_string()),
                        ));
                    }
                    if name.is_none() && !rest.is_empty() {
                        name = Some(rest.to_string());
                    }
                }
                Some("name") => {
                    if name.is_none() {
                        name = Some(f.value.clone());
                    }
                }
                Some("location" | "loc" | "code" | "location code") if single.is_some() => {
                    if loc.is_none() {
                        loc = single;
                        e.properties.push(Property::new(
                            LOCATION_PROPERTY,
                            PropValue::Text(f.value.trim().to_string()),
                        ));
                    }
                }
                Some("addr" | "address") => addr = Some(f.value.clone()),
                Some("comments" | "comment") => e.comment = Some(f.value.clone()),
                Some("fan" | "foreign alias" | "foreign alias name") => {
                    e.proxy_addresses.push(format!("FAN:{}", f.value));
                }
                Some("proxy") => e.proxy_addresses.push(f.value.clone()),
                Some("member" | "members") => e.members.push(f.value.clone()),
                Some("export-file") => export_file = Some(f.value.clone()),
                Some("type") if f.value.eq_ignore_ascii_case("list") => {
                    type_hint = Some(EntryKind::List);
                }
                Some("type") if f.value.to_ascii_lowercase().starts_with("bulletin") => {
                    type_hint = Some(EntryKind::BulletinBoard);
                }
                Some(_) => {
                    if single.is_some() && loc.is_none() {
                        loc = single;
                        e.properties.push(Property::new(
                            LOCATION_PROPERTY,
                            PropValue::Text(f.value.trim().to_string()),
                        ));
                    } else {
                        let key = f.key.clone().unwrap_or_default();
                        e.properties.push(Property::new(
                            format!("ccmail:{key}"),
                            PropValue::Text(f.value.clone()),
                        ));
                    }
                }
            }
        }
        let Some(name) = name.or_else(|| {
            block
                .iter()
                .find(|f| !f.value.is_empty())
                .map(|f| f.value.clone())
        }) else {
            continue;
        };
        e.kind = if let Some(k) = type_hint {
            k
        } else if name.starts_with('#') {
            EntryKind::BulletinBoard
        } else if !e.members.is_empty() {
            EntryKind::List
        } else {
            match loc {
                Some('L' | 'R') => EntryKind::MailboxUser,
                Some(_) => EntryKind::CustomRecipient,
                None => {
                    warn(
                        &mut out,
                        "ccmail.directory-no-location",
                        format!(
                            "directory entry {name:?} has no location code; kept as a custom recipient"
                        ),
                        block_offset,
                    );
                    EntryKind::CustomRecipient
                }
            }
        };
        if loc.is_some() {
            out.located += 1;
        }
        if out.entries.iter().any(|x| x.id.eq_ignore_ascii_case(&name)) {
            warn(
                &mut out,
                "ccmail.directory-duplicate",
                format!(
                    "directory entry {name:?} appears more than once; the first is used for mailboxes"
                ),
                block_offset,
            );
        }
        e.id = name.clone();
        e.display_name = name.clone();
        e.address = addr.map(|a| Address {
            name: Some(name.clone()),
            addr_type: Some(crate::address::ADDR_TYPE.into()),
            address: Some(a),
            smtp: None,
            properties: Vec::new(),
        });
        if let Some(f) = export_file {
            out.export_files.push((name.clone(), f));
        }
        out.entries.push(e);
    }
    if let Some(po) = out.post_office.clone() {
        for e in &mut out.entries {
            if e.kind == EntryKind::MailboxUser && e.address.is_none() {
                e.address = Some(Address::native(
                    Some(&e.display_name),
                    crate::address::ADDR_TYPE,
                    &format!("{} at {po}", e.display_name),
                ));
            }
        }
    }
    out
}

fn single_code(v: &str) -> Option<char> {
    let mut chars = v.trim().chars();
    let c = chars.next()?;
    (chars.next().is_none() && LOCATION_CODES.contains(&c)).then_some(c)
}

/// Writes a directory export for `post_office` (the format the reader above reads): a
/// `Post office:` block, then one block per entry, then an `L` block for each committed
/// mailbox that has no directory entry. Mailbox users get `Export-File: <dir>/MAILBOX.CCM`
/// naming their stream (matched by key, then by display name).
pub fn write_directory(
    post_office: &PostOffice,
    mailboxes: &[CommittedMailbox],
    code_page: u16,
) -> Vec<u8> {
    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, key: &str, value: &str| {
        let v = value.replace(['\r', '\n'], " ");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&codepage::encode_lossy(v.trim(), code_page));
        out.extend_from_slice(b"\r\n");
    };
    if !post_office.name.is_empty() {
        put(&mut out, "Post office", &post_office.name);
        out.extend_from_slice(b"\r\n");
    }
    let mut used = vec![false; mailboxes.len()];
    for e in &post_office.directory.entries {
        let name = if e.display_name.is_empty() {
            &e.id
        } else {
            &e.display_name
        };
        put(&mut out, "Name", name);
        let loc = e
            .properties
            .iter()
            .find_map(|p| match (&p.value, p.name == LOCATION_PROPERTY) {
                (PropValue::Text(t), true) => Some(t.clone()),
                _ => None,
            });
        let loc = loc.or_else(|| match e.kind {
            EntryKind::MailboxUser => Some("L".into()),
            EntryKind::CustomRecipient => Some("l".into()),
            _ => None,
        });
        if let Some(l) = loc {
            put(&mut out, "Location", &l);
        }
        match e.kind {
            EntryKind::List => put(&mut out, "Type", "List"),
            EntryKind::BulletinBoard => put(&mut out, "Type", "Bulletin board"),
            _ => {}
        }
        if let Some(a) = e.address.as_ref().and_then(|a| a.address.as_deref()) {
            put(&mut out, "Addr", a);
        }
        if let Some(c) = &e.comment {
            put(&mut out, "Comments", c);
        }
        for p in &e.proxy_addresses {
            match p.strip_prefix("FAN:") {
                Some(f) => put(&mut out, "FAN", f),
                None => put(&mut out, "Proxy", p),
            }
        }
        for m in &e.members {
            put(&mut out, "Member", m);
        }
        for p in &e.properties {
            if p.name == LOCATION_PROPERTY {
                continue;
            }
            if let (Some(key), PropValue::Text(v)) = (p.name.strip_prefix("ccmail:"), &p.value)
                && split_key(format!("{key}:").as_bytes()).is_some()
            {
                put(&mut out, key, v);
            }
        }
        if e.kind == EntryKind::MailboxUser {
            let hit = mailboxes
                .iter()
                .position(|m| m.key == e.id)
                .or_else(|| mailboxes.iter().position(|m| m.display_name == *name));
            if let Some(i) = hit
                && let (Some(m), Some(u)) = (mailboxes.get(i), used.get_mut(i))
            {
                *u = true;
                put(
                    &mut out,
                    "Export-File",
                    &format!("{}/{}", m.dir_name, crate::writer::STREAM_FILE),
                );
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    for (m, u) in mailboxes.iter().zip(&used) {
        if *u {
            continue;
        }
        let name = if m.display_name.is_empty() {
            &m.key
        } else {
            &m.display_name
        };
        put(&mut out, "Name", name);
        put(&mut out, "Location", "L");
        put(
            &mut out,
            "Export-File",
            &format!("{}/{}", m.dir_name, crate::writer::STREAM_FILE),
        );
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_blocks_and_codes() {
        let d = b"Post office: LONDON\r\n\r\nName: Lovelace, Ada\r\nLocation: L\r\nComments: first programmer\r\n\r\nL Babbage, Charles\r\nAddr: LONDON\r\n\r\nName: Somerville, Mary\r\nLocation: l\r\nAddr: CAMBRIDGE\r\nName: #Engines\r\nName: Engineers\r\nMember: Lovelace, Ada\r\nMember: Babbage, Charles\r\n\r\nName: Nobody\r\nHobby: chess\r\n";
        let x = parse_directory(d, 850, "DIR.TXT");
        assert_eq!(x.post_office.as_deref(), Some("LONDON"));
        let kinds: Vec<(&str, EntryKind)> =
            x.entries.iter().map(|e| (e.id.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("Lovelace, Ada", EntryKind::MailboxUser),
                ("Babbage, Charles", EntryKind::MailboxUser),
                ("Somerville, Mary", EntryKind::CustomRecipient),
                ("#Engines", EntryKind::BulletinBoard),
                ("Engineers", EntryKind::List),
                ("Nobody", EntryKind::CustomRecipient),
            ]
        );
        assert_eq!(x.entries[0].comment.as_deref(), Some("first programmer"));
        assert_eq!(
            x.entries[0]
                .address
                .as_ref()
                .and_then(|a| a.address.as_deref()),
            Some("Lovelace, Ada at LONDON")
        );
        assert_eq!(x.entries[4].members.len(), 2);
        assert_eq!(x.entries[5].properties[0].name, "ccmail:Hobby");
        assert!(
            x.warnings
                .iter()
                .any(|w| w.code == "ccmail.directory-no-location")
        );
    }
}
