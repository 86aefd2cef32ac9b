//! The messaging layer of the writer (MS-PST 2.4; format notes §10 and §17 items 6–7): the
//! store skeleton, folders with their hierarchy, contents and FAI tables, and messages with
//! their recipient table, attachment table, attachments and embedded messages.
//!
//! [`StoreWriter`] hands every node to a [`NodeWriter`] (the NDB writer, or
//! [`MemoryNodes`] in tests) as soon as it is complete: a message is written when it arrives;
//! folders, their tables, the store PC, the named-property map and the table templates are
//! written by [`StoreWriter::finish`], when every folder's children are known.
//!
//! The skeleton follows Outlook's empty PST (`outlook-pst-rs_Empty.pst`, format notes §17
//! item 6) in kind, generated here: store PC 0x21, name-to-id map 0x61, root folder 0x122
//! (its own parent) with tables 0x12D/0x12E/0x12F, "Top of Outlook data file" 0x8022 (the
//! IPM subtree), "Search Root" 0x8042, "Deleted Items" 0x8062, "IPM_COMMON_VIEWS" 0x8082, the
//! search management queue 0x1E1 and activity list 0x201 (empty), and the table templates
//! 0x60D, 0x60E, 0x60F, 0x610, 0x671 and 0x692. Not generated: the search folder 0x2223 and
//! its nodes, and the nodes whose layout MS-PST leaves reserved (0xC01, 0xE01, 0xEE1, 0xF01,
//! the templates 0x62B–0x6F8 besides those above).

use mailmig_ir::{
    Address, Attachment, AttachmentContent, AttachmentKind, FolderKind, Message, Priority,
    PropValue, Property, dates,
};

use super::ltp::{
    NameMapBuilder, PropData, PropEntry, PropName, SubnodeIds, TableRow, build_pc, build_tc,
    build_tc_from,
};
use super::{NodeContent, SubnodeContent, WriteError};
use crate::ltp::nameid::PS_PUBLIC_STRINGS;
use crate::messaging::props::{PT_BINARY, PT_OBJECT, PT_STRING8, PT_UNICODE};
use crate::ndb::{
    NID_ATTACHMENT_TABLE, NID_MESSAGE_STORE, NID_NAME_TO_ID_MAP, NID_RECIPIENT_TABLE,
    NID_ROOT_FOLDER,
};

/// Where finished nodes go.
pub trait NodeWriter {
    /// Records node `nid` with parent `parent` (0 for none) and its content.
    fn add_node(&mut self, nid: u32, parent: u32, content: NodeContent) -> Result<(), WriteError>;
}

impl NodeWriter for super::ndb::NdbWriter {
    fn add_node(&mut self, nid: u32, parent: u32, content: NodeContent) -> Result<(), WriteError> {
        super::ndb::NdbWriter::add_node(self, nid, parent, content)
    }
}

/// Nodes kept in memory (tests and tools): (NID, parent NID, content) in arrival order.
#[derive(Clone, Debug, Default)]
pub struct MemoryNodes {
    /// The nodes.
    pub nodes: Vec<(u32, u32, NodeContent)>,
}

impl NodeWriter for MemoryNodes {
    fn add_node(&mut self, nid: u32, parent: u32, content: NodeContent) -> Result<(), WriteError> {
        self.nodes.push((nid, parent, content));
        Ok(())
    }
}

/// NID of "Top of Outlook data file", the IPM subtree.
pub const NID_IPM_SUBTREE: u32 = 0x8022;
/// NID of "Search Root" (the finder).
pub const NID_SEARCH_ROOT: u32 = 0x8042;
/// NID of "Deleted Items".
pub const NID_DELETED_ITEMS: u32 = 0x8062;
/// NID of "IPM_COMMON_VIEWS".
pub const NID_COMMON_VIEWS: u32 = 0x8082;

const PT_SHORT: u16 = 0x0002;
const PT_LONG: u16 = 0x0003;
const PT_FLOAT: u16 = 0x0004;
const PT_DOUBLE: u16 = 0x0005;
const PT_CURRENCY: u16 = 0x0006;
const PT_APPTIME: u16 = 0x0007;
const PT_ERROR: u16 = 0x000A;
const PT_BOOLEAN: u16 = 0x000B;
const PT_I8: u16 = 0x0014;
const PT_SYSTIME: u16 = 0x0040;
const PT_CLSID: u16 = 0x0048;

fn tag(id: u16, t: u16) -> u32 {
    (u32::from(id) << 16) | u32::from(t)
}

/// UTF-16LE without terminator (`PtypString`, MS-OXCDATA 2.11.1).
pub fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn p_str(id: u16, s: &str) -> PropEntry {
    PropEntry::new(tag(id, PT_UNICODE), utf16(s))
}
fn p_long(id: u16, v: i64) -> PropEntry {
    PropEntry::new(tag(id, PT_LONG), (v as i32).to_le_bytes().to_vec())
}
fn p_bool(id: u16, v: bool) -> PropEntry {
    PropEntry::new(tag(id, PT_BOOLEAN), vec![u8::from(v)])
}
fn p_bin(id: u16, b: &[u8]) -> PropEntry {
    PropEntry::new(tag(id, PT_BINARY), b.to_vec())
}
fn p_time(id: u16, ts: &mailmig_ir::Timestamp) -> PropEntry {
    PropEntry::new(
        tag(id, PT_SYSTIME),
        dates::to_filetime(ts).to_le_bytes().to_vec(),
    )
}

/// Total bytes of a node's data and of all its subnodes' data, recursively: the measure
/// written to `PidTagMessageSize` and `PidTagAttachSize` (format notes §17 item 7).
pub fn content_size(c: &NodeContent) -> u64 {
    c.data_len()
        + c.subnodes
            .iter()
            .map(|s| content_size(&s.content))
            .sum::<u64>()
}

fn subnodes_size(subs: &[SubnodeContent]) -> u64 {
    subs.iter().map(|s| content_size(&s.content)).sum()
}

/// `MAPI_ONE_OFF_UID` (MS-OXCDATA 2.2.5.1).
const ONE_OFF_UID: [u8; 16] = [
    0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02,
];

/// A one-off entry id (MS-OXCDATA 2.2.5.1): flags (0), `MAPI_ONE_OFF_UID`, version 0, flags
/// 0x8000 (strings are Unicode), then display name, address type and address, each UTF-16LE
/// and NUL-terminated.
pub fn one_off_entry_id(a: &Address) -> Vec<u8> {
    let mut e = vec![0u8; 4]; // rgbFlags
    e.extend_from_slice(&ONE_OFF_UID); // ProviderUID
    e.extend_from_slice(&0u16.to_le_bytes()); // dwVersion
    e.extend_from_slice(&0x8000u16.to_le_bytes()); // flags: MAPI_UNICODE
    let name = a
        .name
        .clone()
        .or_else(|| a.address.clone())
        .unwrap_or_default();
    let atype = a.addr_type.as_deref().unwrap_or("SMTP").to_string();
    let addr = a
        .address
        .clone()
        .or_else(|| a.smtp.clone())
        .unwrap_or_default();
    for s in [name, atype, addr] {
        e.extend_from_slice(&utf16(&s));
        e.extend_from_slice(&[0, 0]);
    }
    e
}

/// A FlatEntryList (MS-OXCDATA 2.3.3) of entry ids, each entry padded to 4 bytes.
fn flat_entry_list(ids: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in ids {
        body.extend_from_slice(&(e.len() as u32).to_le_bytes()); // cb
        body.extend_from_slice(e); // abEntry
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
    }
    let mut l = (ids.len() as u32).to_le_bytes().to_vec(); // cEntries
    l.extend_from_slice(&(body.len() as u32).to_le_bytes()); // cbEntries
    l.extend_from_slice(&body);
    l
}

/// `PidTagSearchKey` of an address: `TYPE:ADDRESS` upper-cased, NUL-terminated
/// (MS-OXCDATA / MS-OXOABK search key form).
fn search_key(a: &Address) -> Option<Vec<u8>> {
    let addr = a.address.as_deref().or(a.smtp.as_deref())?;
    let t = a.addr_type.as_deref().unwrap_or("SMTP");
    let mut v = format!("{t}:{addr}").to_ascii_uppercase().into_bytes();
    v.push(0);
    Some(v)
}

/// Parses `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}` into MS-DTYP byte order.
pub fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let s = s.strip_prefix('{')?.strip_suffix('}')?;
    let parts: Vec<&str> = s.split('-').collect();
    let [a, b, c, d, e] = parts.as_slice() else {
        return None;
    };
    if a.len() != 8 || b.len() != 4 || c.len() != 4 || d.len() != 4 || e.len() != 12 {
        return None;
    }
    let d1 = u32::from_str_radix(a, 16).ok()?;
    let d2 = u16::from_str_radix(b, 16).ok()?;
    let d3 = u16::from_str_radix(c, 16).ok()?;
    let tail = format!("{d}{e}");
    let mut g = [0u8; 16];
    g.get_mut(0..4)?.copy_from_slice(&d1.to_le_bytes());
    g.get_mut(4..6)?.copy_from_slice(&d2.to_le_bytes());
    g.get_mut(6..8)?.copy_from_slice(&d3.to_le_bytes());
    for i in 0..8 {
        let byte = u8::from_str_radix(tail.get(i * 2..i * 2 + 2)?, 16).ok()?;
        *g.get_mut(8 + i)? = byte;
    }
    Some(g)
}

/// Encodes a multi-valued variable-size value: `ulCount`, `rgulDataOffsets`, data (format
/// notes §8.4).
fn multi_variable(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = (items.len() as u32).to_le_bytes().to_vec();
    let mut off = 4 + 4 * items.len();
    for i in items {
        out.extend_from_slice(&(off as u32).to_le_bytes());
        off += i.len();
    }
    for i in items {
        out.extend_from_slice(i);
    }
    out
}

/// Encodes an IR value as a property of type `want` when they agree, otherwise as the type
/// the value itself calls for. Returns (type, bytes), or `None` for a value with no PST form.
fn encode_value(want: u16, v: &PropValue) -> Option<(u16, Vec<u8>)> {
    Some(match v {
        PropValue::Bool(b) => (PT_BOOLEAN, vec![u8::from(*b)]),
        PropValue::Int(i) => match want {
            PT_SHORT => (PT_SHORT, (*i as i16).to_le_bytes().to_vec()),
            PT_BOOLEAN => (PT_BOOLEAN, vec![u8::from(*i != 0)]),
            PT_ERROR => (PT_ERROR, (*i as i32).to_le_bytes().to_vec()),
            PT_I8 | PT_CURRENCY | PT_SYSTIME => (want, i.to_le_bytes().to_vec()),
            _ if i32::try_from(*i).is_ok() => (PT_LONG, (*i as i32).to_le_bytes().to_vec()),
            _ => (PT_I8, i.to_le_bytes().to_vec()),
        },
        PropValue::Float(f) => match want {
            PT_FLOAT => (PT_FLOAT, (*f as f32).to_bits().to_le_bytes().to_vec()),
            PT_APPTIME => (PT_APPTIME, f.to_bits().to_le_bytes().to_vec()),
            _ => (PT_DOUBLE, f.to_bits().to_le_bytes().to_vec()),
        },
        PropValue::Text(s) => (PT_UNICODE, utf16(s)),
        PropValue::Binary(b) => match want {
            PT_CLSID if b.len() == 16 => (PT_CLSID, b.as_bytes().to_vec()),
            0x00FB => (0x00FB, b.as_bytes().to_vec()),
            _ => (PT_BINARY, b.as_bytes().to_vec()),
        },
        PropValue::Time(t) => (PT_SYSTIME, dates::to_filetime(t).to_le_bytes().to_vec()),
        PropValue::Multi(items) => {
            let first = items.first();
            match first {
                None => return None,
                Some(PropValue::Text(_)) => {
                    let v: Option<Vec<Vec<u8>>> = items
                        .iter()
                        .map(|i| match i {
                            PropValue::Text(s) => Some(utf16(s)),
                            _ => None,
                        })
                        .collect();
                    (0x101F, multi_variable(&v?))
                }
                Some(PropValue::Binary(_)) if want == 0x1048 => {
                    let mut out = Vec::new();
                    for i in items {
                        match i {
                            PropValue::Binary(b) if b.len() == 16 => {
                                out.extend_from_slice(b.as_bytes())
                            }
                            _ => return None,
                        }
                    }
                    (0x1048, out)
                }
                Some(PropValue::Binary(_)) => {
                    let v: Option<Vec<Vec<u8>>> = items
                        .iter()
                        .map(|i| match i {
                            PropValue::Binary(b) => Some(b.as_bytes().to_vec()),
                            _ => None,
                        })
                        .collect();
                    (0x1102, multi_variable(&v?))
                }
                Some(PropValue::Int(_)) => {
                    let mut out = Vec::new();
                    let t = match want {
                        0x1002 | 0x1014 => want,
                        _ => 0x1003,
                    };
                    for i in items {
                        let PropValue::Int(n) = i else { return None };
                        match t {
                            0x1002 => out.extend_from_slice(&(*n as i16).to_le_bytes()),
                            0x1014 => out.extend_from_slice(&n.to_le_bytes()),
                            _ => out.extend_from_slice(&(*n as i32).to_le_bytes()),
                        }
                    }
                    (t, out)
                }
                Some(PropValue::Time(_)) => {
                    let mut out = Vec::new();
                    for i in items {
                        let PropValue::Time(t) = i else { return None };
                        out.extend_from_slice(&dates::to_filetime(t).to_le_bytes());
                    }
                    (0x1040, out)
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// Converts one kept IR property back to a PST property: `0xIIIITTTT` names are tags,
/// `{GUID}:0xNNNN` and `{GUID}:name` are named properties (mapped through `names`), any
/// other name (another format's key) becomes a string-named property in PS_PUBLIC_STRINGS.
/// Returns `None` for properties that cannot or must not be copied: `PtypObject` values
/// (their subnodes are not carried by the IR), unnamed ids ≥ 0x8000, empty multi-values, and
/// named properties once the store's 32,767 named ids are used up.
pub fn kept_property(
    p: &Property,
    names: &mut NameMapBuilder,
) -> Result<Option<PropEntry>, WriteError> {
    let n: &str = &p.name;
    if let Some(hex) = n.strip_prefix("0x").filter(|h| h.len() == 8) {
        let Ok(t) = u32::from_str_radix(hex, 16) else {
            return Ok(None);
        };
        let (id, ty) = ((t >> 16) as u16, (t & 0xFFFF) as u16);
        if id >= 0x8000 || ty == PT_OBJECT || id == 0 {
            return Ok(None);
        }
        let want = if ty == PT_STRING8 { PT_UNICODE } else { ty };
        return Ok(encode_value(want, &p.value).map(|(t, b)| PropEntry::new(tag(id, t), b)));
    }
    if let Some((g, rest)) = n.split_once("}:").filter(|_| n.starts_with('{'))
        && let Some(guid) = parse_guid(&format!("{g}}}"))
    {
        let name = match rest
            .strip_prefix("0x")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
        {
            Some(lid) => PropName::Lid(lid),
            None => PropName::Name(rest.to_string()),
        };
        return named(guid, name, p, names);
    }
    named(PS_PUBLIC_STRINGS, PropName::Name(n.to_string()), p, names)
}

/// `p` as the named property (`guid`, `name`), its type taken from the value.
fn named(
    guid: [u8; 16],
    name: PropName,
    p: &Property,
    names: &mut NameMapBuilder,
) -> Result<Option<PropEntry>, WriteError> {
    let id = match names.id_for(guid, name) {
        Ok(id) => id,
        // The store's 32,767 named ids are used up: this property is left out rather than
        // the message.
        Err(WriteError::TooLarge(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(encode_value(0, &p.value).map(|(t, b)| PropEntry::new(tag(id, t), b)))
}

/// mailmig's own property set `{8B7E2A54-3C1D-4F6A-9E2B-5D0C7A1F3E64}` (a GUID chosen for
/// this writer), holding the source identifiers of written messages.
pub const PSETID_MAILMIG: [u8; 16] = [
    0x54, 0x2A, 0x7E, 0x8B, 0x1D, 0x3C, 0x6A, 0x4F, 0x9E, 0x2B, 0x5D, 0x0C, 0x7A, 0x1F, 0x3E, 0x64,
];

/// Name of the [`PSETID_MAILMIG`] property keeping a message's source native id.
pub const NAME_SOURCE_ID: &str = "mailmig:source-id";
/// Name of the [`PSETID_MAILMIG`] property keeping a message's source entry id.
pub const NAME_SOURCE_ENTRY_ID: &str = "mailmig:source-entry-id";
/// Name of the [`PSETID_MAILMIG`] property keeping a message's source file.
pub const NAME_SOURCE_FILE: &str = "mailmig:source-file";

/// Columns of hierarchy tables (and template 0x60D): display name, content and unread
/// counts, has-subfolders, container class.
pub const HIERARCHY_COLUMNS: &[u32] = &[
    0x3001_001F,
    0x3602_0003,
    0x3603_0003,
    0x360A_000B,
    0x3613_001F,
];
/// Columns of contents tables (and templates 0x60E, 0x610).
pub const CONTENTS_COLUMNS: &[u32] = &[
    0x0017_0003, // PidTagImportance
    0x001A_001F, // PidTagMessageClass
    0x0037_001F, // PidTagSubject
    0x0039_0040, // PidTagClientSubmitTime
    0x0042_001F, // PidTagSentRepresentingName
    0x0E03_001F, // PidTagDisplayCc
    0x0E04_001F, // PidTagDisplayTo
    0x0E06_0040, // PidTagMessageDeliveryTime
    0x0E07_0003, // PidTagMessageFlags
    0x0E08_0003, // PidTagMessageSize
    0x1035_001F, // PidTagInternetMessageId
];
/// Columns of FAI contents tables (and template 0x60F).
pub const FAI_COLUMNS: &[u32] = &[0x001A_001F, 0x0E07_0003, 0x3001_001F, 0x0E08_0003];
/// Columns of recipient tables (and template 0x692).
pub const RECIPIENT_COLUMNS: &[u32] = &[
    0x0C15_0003, // PidTagRecipientType
    0x0E0F_000B, // PidTagResponsibility
    0x0FFE_0003, // PidTagObjectType
    0x0FFF_0102, // PidTagEntryId
    0x3001_001F, // PidTagDisplayName
    0x3002_001F, // PidTagAddressType
    0x3003_001F, // PidTagEmailAddress
    0x300B_0102, // PidTagSearchKey
    0x3900_0003, // PidTagDisplayType
    0x39FE_001F, // PidTagSmtpAddress
    0x5FF6_001F, // PidTagRecipientDisplayName
];
/// Columns of attachment tables (and template 0x671).
pub const ATTACHMENT_COLUMNS: &[u32] = &[0x0E20_0003, 0x3704_001F, 0x3705_0003, 0x370B_0003];

fn cells_of(props: &[PropEntry], columns: &[u32]) -> Vec<(u32, Vec<u8>)> {
    props
        .iter()
        .filter(|p| columns.contains(&p.tag))
        .filter_map(|p| match &p.data {
            PropData::Bytes(b) => Some((p.tag, b.clone())),
            PropData::Blob(b) => Some((p.tag, b.as_bytes().to_vec())),
            PropData::Object { .. } => None,
        })
        .collect()
}

/// Table cells as (tag, value bytes).
type Cells = Vec<(u32, Vec<u8>)>;

/// A message built into node content, with what its folder's table row needs.
#[derive(Clone, Debug)]
pub struct BuiltMessage {
    /// The message node's data and subnodes.
    pub content: NodeContent,
    /// `PidTagMessageSize` as written.
    pub size: u64,
    /// Cells for the contents table row.
    pub cells: Vec<(u32, Vec<u8>)>,
    /// Attachments at every level.
    pub attachments: u64,
}

/// Builds messages into node contents; holds the store-wide named-property map.
#[derive(Debug, Default)]
pub struct MessageBuilder {
    /// Named properties used so far.
    pub names: NameMapBuilder,
    /// Embedding depth limit (deeper embedded messages are written as their bytes' absence,
    /// with the attachment kept).
    pub max_depth: u32,
}

impl MessageBuilder {
    /// A builder with the IR's default embedding depth limit.
    pub fn new() -> Self {
        // The source-id names are registered up front: libpff refuses a store whose map has
        // no entries or no GUIDs ("missing name to id map entries data" / "class identifiers
        // data"), as an empty mailbox's would otherwise be.
        let mut names = NameMapBuilder::new();
        for n in [NAME_SOURCE_ID, NAME_SOURCE_ENTRY_ID, NAME_SOURCE_FILE] {
            let _ = names.id_for(PSETID_MAILMIG, PropName::Name(n.into()));
        }
        MessageBuilder {
            names,
            max_depth: mailmig_ir::Limits::default().max_embedding_depth,
        }
    }

    fn message_props(
        &mut self,
        m: &Message,
        attachments: bool,
    ) -> Result<Vec<PropEntry>, WriteError> {
        let mut p = vec![p_str(0x001A, &m.class.0)];
        if let Some(s) = &m.subject {
            // A subject that itself starts with the prefix marker gets an empty marker so that
            // readers strip exactly that (format notes §10.3).
            if s.starts_with('\u{1}') {
                p.push(p_str(0x0037, &format!("\u{1}\u{1}{s}")));
            } else {
                p.push(p_str(0x0037, s));
            }
        }
        if let Some(t) = &m.sent {
            p.push(p_time(0x0039, t));
        }
        if let Some(t) = &m.received {
            p.push(p_time(0x0E06, t));
        }
        let addr = |p: &mut Vec<PropEntry>, a: &Address, ids: [u16; 4]| {
            let [n, t, e, s] = ids;
            if let Some(x) = &a.name {
                p.push(p_str(n, x));
            }
            if let Some(x) = &a.addr_type {
                p.push(p_str(t, x));
            }
            if let Some(x) = &a.address {
                p.push(p_str(e, x));
            }
            if let Some(x) = &a.smtp {
                p.push(p_str(s, x));
            }
        };
        if let Some(a) = &m.from {
            addr(&mut p, a, [0x0042, 0x0064, 0x0065, 0x5D02]);
        }
        if let Some(a) = m.sender.as_ref().or(m.from.as_ref()) {
            addr(&mut p, a, [0x0C1A, 0x0C1E, 0x0C1F, 0x5D01]);
        }
        if let Some(id) = &m.ids.message_id {
            p.push(p_str(0x1035, &format!("<{id}>")));
        }
        if let Some(h) = &m.headers {
            p.push(p_str(0x007D, h));
        }
        // A text body the reader derived from an RTF-only message (format notes §10.6) is
        // not written back: the original had none, and readers derive it again.
        let text_from_rtf = m.body.text_from_rtf && m.body.rtf.is_some();
        if let (Some(t), false) = (&m.body.text, text_from_rtf) {
            p.push(p_str(0x1000, t));
        }
        let html_stored = m.body.html.is_some() && !(m.body.html_from_rtf && m.body.rtf.is_some());
        if let (Some(h), true) = (&m.body.html, html_stored) {
            p.push(p_bin(0x1013, h.as_bytes()));
            p.push(p_long(0x3FDE, 65001));
        }
        if let Some(r) = &m.body.rtf {
            p.push(p_bin(0x1009, &crate::rtf::compress_rtf(r.as_bytes())));
            p.push(p_bool(0x0E1F, true));
        }
        let native = if html_stored {
            3
        } else if m.body.rtf.is_some() {
            2
        } else if m.body.text.is_some() && !text_from_rtf {
            1
        } else {
            0
        };
        if native != 0 {
            p.push(p_long(0x1016, native));
        }
        let mut flags = 0i64;
        if m.flags.read {
            flags |= 0x01;
        }
        if m.flags.unsent || m.flags.draft {
            flags |= 0x08;
        }
        if attachments {
            flags |= 0x10;
        }
        if m.flags.associated {
            flags |= 0x40;
        }
        p.push(p_long(0x0E07, flags));
        if m.flags.flagged {
            p.push(p_long(0x1090, 2));
        }
        if m.flags.answered {
            p.push(p_long(0x1081, 102));
        }
        if m.flags.receipt_requested {
            p.push(p_bool(0x0029, true));
        }
        p.push(p_long(
            0x0017,
            match m.priority {
                Priority::Low => 0,
                Priority::Normal => 1,
                Priority::High => 2,
            },
        ));
        let join = |v: &[Address]| {
            v.iter()
                .filter_map(|a| a.name.clone().or_else(|| a.address.clone()))
                .collect::<Vec<_>>()
                .join("; ")
        };
        for (id, list) in [(0x0E04u16, &m.to), (0x0E03, &m.cc), (0x0E02, &m.bcc)] {
            let s = join(list);
            if !s.is_empty() {
                p.push(p_str(id, &s));
            }
        }
        // The source's own PidTagReplyRecipientEntries, when kept, may hold address-book
        // entry ids the IR's reply-to cannot express: it wins over a rebuilt one.
        let kept_reply = m.properties.iter().any(|p| p.name == "0x004F0102");
        if !m.reply_to.is_empty() && !kept_reply {
            let ids: Vec<Vec<u8>> = m.reply_to.iter().map(one_off_entry_id).collect();
            p.push(p_bin(0x004F, &flat_entry_list(&ids)));
            p.push(p_str(0x0050, &join(&m.reply_to)));
        }
        if let Some(k) = &m.ids.record_key {
            p.push(p_bin(0x0FF9, k.as_bytes()));
        }
        if let Some(k) = &m.ids.search_key {
            p.push(p_bin(0x300B, k.as_bytes()));
        }
        if let Some(n) = &m.ids.native {
            let id = self
                .names
                .id_for(PSETID_MAILMIG, PropName::Name(NAME_SOURCE_ID.into()))?;
            p.push(p_str(id, n));
        }
        if let Some(e) = &m.ids.entry_id {
            let id = self
                .names
                .id_for(PSETID_MAILMIG, PropName::Name(NAME_SOURCE_ENTRY_ID.into()))?;
            p.push(p_bin(id, e.as_bytes()));
        }
        if let Some(f) = &m.ids.file {
            let id = self
                .names
                .id_for(PSETID_MAILMIG, PropName::Name(NAME_SOURCE_FILE.into()))?;
            p.push(p_str(id, f));
        }
        Ok(p)
    }

    /// Builds one message (and, recursively, its embedded messages) at embedding `depth`.
    pub fn build(&mut self, m: &Message, depth: u32) -> Result<BuiltMessage, WriteError> {
        let mut subnodes: Vec<SubnodeContent> = Vec::new();
        let mut ids = SubnodeIds::new();
        // Recipient table (always present, as Outlook writes it). Its columns are Outlook's
        // plus those of the recipients' kept properties.
        let mut rows = Vec::new();
        let mut columns: Vec<u32> = RECIPIENT_COLUMNS.to_vec();
        let mut recipient_props = Vec::new();
        for (rtype, list) in [(1i64, &m.to), (2, &m.cc), (3, &m.bcc)] {
            for a in list {
                let mut r = vec![
                    p_long(0x0C15, rtype),
                    p_bool(0x0E0F, true),
                    p_long(0x0FFE, 6),
                    p_long(0x3900, 0),
                ];
                if let Some(n) = &a.name {
                    r.push(p_str(0x3001, n));
                    r.push(p_str(0x5FF6, n));
                }
                if let Some(t) = &a.addr_type {
                    r.push(p_str(0x3002, t));
                }
                if let Some(x) = &a.address {
                    r.push(p_str(0x3003, x));
                }
                if let Some(x) = &a.smtp {
                    r.push(p_str(0x39FE, x));
                }
                if a.address.is_some() || a.smtp.is_some() {
                    r.push(p_bin(0x0FFF, &one_off_entry_id(a)));
                }
                if let Some(k) = search_key(a) {
                    r.push(p_bin(0x300B, &k));
                }
                for kp in &a.properties {
                    if let Some(e) = kept_property(kp, &mut self.names)?
                        && !r.iter().any(|x| x.tag == e.tag)
                        && matches!(e.data, PropData::Bytes(_))
                    {
                        // A table has at most 255 columns (TCINFO cCols); two are the row id
                        // and version. Properties beyond that are not written.
                        if !columns.contains(&e.tag) {
                            if columns.len() >= 253 {
                                continue;
                            }
                            columns.push(e.tag);
                        }
                        r.push(e);
                    }
                }
                recipient_props.push(r);
            }
        }
        for (i, r) in recipient_props.iter().enumerate() {
            rows.push(TableRow {
                row_id: i as u32,
                cells: cells_of(r, &columns),
            });
        }
        subnodes.push(SubnodeContent {
            nid: NID_RECIPIENT_TABLE,
            content: build_tc(&columns, &rows)?,
        });
        // Attachments.
        let mut att_rows = Vec::new();
        let mut attachments = 0u64;
        for a in &m.attachments {
            let anid = ids.next(crate::ndb::NID_TYPE_ATTACHMENT)?;
            let (content, cells, n) = self.build_attachment(a, depth)?;
            attachments += 1 + n;
            att_rows.push(TableRow {
                row_id: anid,
                cells,
            });
            subnodes.push(SubnodeContent { nid: anid, content });
        }
        if !att_rows.is_empty() {
            subnodes.push(SubnodeContent {
                nid: NID_ATTACHMENT_TABLE,
                content: build_tc(ATTACHMENT_COLUMNS, &att_rows)?,
            });
        }
        let mut props = self.message_props(m, !m.attachments.is_empty())?;
        for kp in &m.properties {
            if let Some(e) = kept_property(kp, &mut self.names)? {
                props.push(e);
            }
        }
        // PidTagMessageSize.
        let base = subnodes_size(&subnodes);
        let size = insert_own_size(&mut props, 0x0E08, base, &ids)?;
        let cells = cells_of(&props, CONTENTS_COLUMNS);
        let blocks = build_pc(props, &mut subnodes, &mut ids)?;
        Ok(BuiltMessage {
            content: NodeContent {
                blocks,
                stream: None,
                subnodes,
            },
            size,
            cells,
            attachments,
        })
    }

    /// Builds one attachment PC and its subnodes; returns the content, the attachment table
    /// cells and the number of attachments inside an embedded message.
    fn build_attachment(
        &mut self,
        a: &Attachment,
        depth: u32,
    ) -> Result<(NodeContent, Cells, u64), WriteError> {
        let mut subnodes = Vec::new();
        let mut ids = SubnodeIds::new();
        let mut p = Vec::new();
        let mut nested = 0u64;
        let method: i64 = match (&a.content, a.kind) {
            (AttachmentContent::Message(_), _) => 5,
            (_, AttachmentKind::Reference) => 4,
            (AttachmentContent::Data(_), AttachmentKind::Ole) => 6,
            _ => 1,
        };
        p.push(p_long(0x3705, method));
        match &a.content {
            AttachmentContent::Data(d) if method == 6 => {
                let nid = ids.next(NID_TYPE_LTP_OBJECT)?;
                p.push(PropEntry {
                    tag: tag(0x3701, PT_OBJECT),
                    data: PropData::Object {
                        nid,
                        size: u32::try_from(d.len()).unwrap_or(u32::MAX),
                        content: NodeContent::from_blob(d.clone()),
                    },
                });
            }
            AttachmentContent::Data(d) => p.push(PropEntry {
                tag: tag(0x3701, PT_BINARY),
                data: PropData::Blob(d.clone()),
            }),
            AttachmentContent::Message(inner) if depth < self.max_depth => {
                let built = self.build(inner, depth + 1)?;
                nested = built.attachments;
                let nid = ids.next(crate::ndb::NID_TYPE_NORMAL_MESSAGE)?;
                p.push(PropEntry {
                    tag: tag(0x3701, PT_OBJECT),
                    data: PropData::Object {
                        nid,
                        size: u32::try_from(built.size).unwrap_or(u32::MAX),
                        content: built.content,
                    },
                });
            }
            AttachmentContent::Message(_) | AttachmentContent::None => {}
        }
        if let Some(n) = &a.name {
            p.push(p_str(0x3707, n));
            p.push(p_str(0x3704, n));
            p.push(p_str(0x3001, n));
            if let Some((_, ext)) = n
                .rsplit_once('.')
                .filter(|(s, e)| !s.is_empty() && !e.is_empty())
            {
                p.push(p_str(0x3703, &format!(".{ext}")));
            }
        } else if let Some(s) = a.message().and_then(|m| m.subject.as_deref()) {
            p.push(p_str(0x3001, s));
        }
        if let Some(mt) = &a.mime_type {
            p.push(p_str(0x370E, mt));
        }
        if let Some(c) = &a.content_id {
            p.push(p_str(0x3712, c));
        }
        p.push(p_long(
            0x370B,
            a.position
                .and_then(|x| i32::try_from(x).ok())
                .map_or(-1, i64::from),
        ));
        if a.inline {
            p.push(p_long(0x3714, 0x4));
            p.push(p_bool(0x7FFE, true));
        }
        if let Some(t) = &a.modified {
            p.push(p_time(0x3008, t));
        }
        if let Some(k) = &a.ids.record_key {
            p.push(p_bin(0x0FF9, k.as_bytes()));
        }
        if let Some(k) = &a.ids.search_key {
            p.push(p_bin(0x300B, k.as_bytes()));
        }
        for kp in &a.properties {
            if let Some(e) = kept_property(kp, &mut self.names)? {
                let id = e.tag >> 16;
                if id != 0x3701 && id != 0x3705 {
                    p.push(e);
                }
            }
        }
        // PidTagAttachSize.
        insert_own_size(&mut p, 0x0E20, 0, &ids)?;
        let cells = cells_of(&p, ATTACHMENT_COLUMNS);
        let blocks = build_pc(p, &mut subnodes, &mut ids)?;
        Ok((
            NodeContent {
                blocks,
                stream: None,
                subnodes,
            },
            cells,
            nested,
        ))
    }
}

/// Puts the object's own size property `size_id` (`PidTagMessageSize`, `PidTagAttachSize`)
/// first in `props` and returns it: the bytes of the PC's blocks and subnodes plus `base`
/// (subnodes built apart). A trial build with the value 0 learns the size; an inline value
/// does not change the layout, so the real build has the same size.
fn insert_own_size(
    props: &mut Vec<PropEntry>,
    size_id: u16,
    base: u64,
    ids: &SubnodeIds,
) -> Result<u64, WriteError> {
    let mut trial_subs = Vec::new();
    let mut trial_ids = ids.clone();
    let mut trial = props.clone();
    trial.insert(0, p_long(size_id, 0));
    let trial_blocks = build_pc(trial, &mut trial_subs, &mut trial_ids)?;
    let size = base
        + trial_blocks.iter().map(|b| b.len() as u64).sum::<u64>()
        + subnodes_size(&trial_subs);
    props.insert(
        0,
        p_long(
            size_id,
            i64::try_from(size)
                .unwrap_or(i64::MAX)
                .min(i64::from(i32::MAX)),
        ),
    );
    Ok(size)
}

/// NID type of an OLE storage subnode: `NID_TYPE_LTP`, like other raw value streams.
const NID_TYPE_LTP_OBJECT: u8 = super::ltp::NID_TYPE_LTP;

/// A folder of the store being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FolderHandle(usize);

#[derive(Clone, Debug)]
struct FolderState {
    nid: u32,
    parent: Option<usize>,
    name: String,
    class: Option<String>,
    kind: Option<FolderKind>,
    children: Vec<usize>,
    contents: PackedRows,
    fai: PackedRows,
    unread: u64,
}

/// The rows of a folder's contents or FAI table, kept until [`StoreWriter::finish`] writes
/// the table: all cells of all rows packed in one buffer (tag, length, bytes), which goes to
/// the store's [`RowSpill`] file in chunks of [`SPILL_CHUNK`] bytes when there is one. What
/// stays in memory per row is its id and the length of its cells.
#[derive(Clone, Debug, Default)]
struct PackedRows {
    bytes: Vec<u8>,
    /// Row id and the length of its cells.
    rows: Vec<(u32, u32)>,
    /// Spilled chunks: (offset, length) in the spill file, in row order.
    chunks: Vec<(u64, usize)>,
}

/// Bytes of packed rows a folder keeps in memory before writing them to the spill file.
const SPILL_CHUNK: usize = 16 * 1024;

/// A temporary file holding packed table rows until the tables are written (an unlinked
/// file in the mailbox's output directory, so nothing is left behind).
#[derive(Debug)]
pub struct RowSpill {
    file: std::fs::File,
    len: u64,
}

impl RowSpill {
    /// Spills into `file` (read-write, empty; normally `tempfile::tempfile_in`).
    pub fn new(file: std::fs::File) -> Self {
        RowSpill { file, len: 0 }
    }

    fn io(source: std::io::Error) -> WriteError {
        WriteError::Io {
            path: "(table row spill file)".into(),
            source,
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(u64, usize), WriteError> {
        use std::io::{Seek, SeekFrom, Write};
        let at = self.len;
        self.file.seek(SeekFrom::Start(at)).map_err(Self::io)?;
        self.file.write_all(bytes).map_err(Self::io)?;
        self.len += bytes.len() as u64;
        Ok((at, bytes.len()))
    }

    fn read(&mut self, at: u64, len: usize, out: &mut Vec<u8>) -> Result<(), WriteError> {
        use std::io::{Read, Seek, SeekFrom};
        self.file.seek(SeekFrom::Start(at)).map_err(Self::io)?;
        let start = out.len();
        out.resize(start + len, 0);
        let dst = out.get_mut(start..).unwrap_or(&mut []);
        self.file.read_exact(dst).map_err(Self::io)
    }
}

impl PackedRows {
    fn push(&mut self, row: &TableRow, spill: Option<&mut RowSpill>) -> Result<(), WriteError> {
        let before = self.bytes.len();
        for (tag, value) in &row.cells {
            self.bytes.extend_from_slice(&tag.to_le_bytes());
            self.bytes
                .extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_le_bytes());
            self.bytes.extend_from_slice(value);
        }
        let len = u32::try_from(self.bytes.len() - before)
            .map_err(|_| WriteError::Unrepresentable("table row over 4 GiB".into()))?;
        self.rows.push((row.row_id, len));
        if let Some(spill) = spill
            && self.bytes.len() >= SPILL_CHUNK
        {
            self.chunks.push(spill.append(&self.bytes)?);
            self.bytes.clear();
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// All packed bytes in row order (spilled chunks read back, then the buffer).
    fn all_bytes(&self, spill: Option<&mut RowSpill>) -> Result<Vec<u8>, WriteError> {
        let mut out = Vec::new();
        if let Some(spill) = spill {
            for &(at, len) in &self.chunks {
                spill.read(at, len, &mut out)?;
            }
        }
        out.extend_from_slice(&self.bytes);
        Ok(out)
    }

    /// The rows as [`TableRow`]s, decoded one at a time from `bytes` (from [`Self::all_bytes`]).
    fn decode<'b>(&'b self, bytes: &'b [u8]) -> impl ExactSizeIterator<Item = TableRow> + 'b {
        let mut start = 0usize;
        self.rows.iter().map(move |&(row_id, len)| {
            let end = start.saturating_add(len as usize);
            let mut rest = bytes.get(start..end).unwrap_or(&[]);
            start = end;
            let mut cells = Vec::new();
            while let (Some(tag), Some(len)) = (rest.get(..4), rest.get(4..8)) {
                let tag = u32::from_le_bytes(<[u8; 4]>::try_from(tag).unwrap_or_default());
                let len = u32::from_le_bytes(<[u8; 4]>::try_from(len).unwrap_or_default());
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                let Some(value) = rest.get(8..8usize.saturating_add(len)) else {
                    break;
                };
                cells.push((tag, value.to_vec()));
                rest = rest.get(8 + len..).unwrap_or(&[]);
            }
            TableRow { row_id, cells }
        })
    }
}

/// What [`StoreWriter::write_message`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageWritten {
    /// The message's NID.
    pub nid: u32,
    /// Attachments at every level.
    pub attachments: u64,
    /// Bytes of node data (`PidTagMessageSize`).
    pub size: u64,
}

/// Writes a PST's messaging layer: the skeleton, the folders and the messages (see the
/// module docs).
pub struct StoreWriter<W: NodeWriter> {
    out: W,
    display_name: String,
    record_key: [u8; 16],
    folders: Vec<FolderState>,
    next_folder: u32,
    next_message: u32,
    messages: MessageBuilder,
    spill: Option<RowSpill>,
}

/// Standard folders created under the IPM subtree besides Deleted Items, as (kind, name,
/// container class).
const STANDARD: &[(FolderKind, &str, &str)] = &[
    (FolderKind::Inbox, "Inbox", "IPF.Note"),
    (FolderKind::Outbox, "Outbox", "IPF.Note"),
    (FolderKind::Sent, "Sent Items", "IPF.Note"),
    (FolderKind::Drafts, "Drafts", "IPF.Note"),
    (FolderKind::Calendar, "Calendar", "IPF.Appointment"),
    (FolderKind::Contacts, "Contacts", "IPF.Contact"),
    (FolderKind::Journal, "Journal", "IPF.Journal"),
    (FolderKind::Notes, "Notes", "IPF.StickyNote"),
    (FolderKind::Tasks, "Tasks", "IPF.Task"),
    (FolderKind::Junk, "Junk E-mail", "IPF.Note"),
];

impl<W: NodeWriter> StoreWriter<W> {
    /// Starts a store named `display_name` whose record key (the store UID in every entry
    /// id) is `record_key`, with the skeleton folders and the standard folders (Inbox, Outbox,
    /// Sent Items, Deleted Items, Drafts, Calendar, Contacts, Journal, Notes, Tasks, Junk
    /// E-mail) — present even when no message follows.
    pub fn new(out: W, display_name: &str, record_key: [u8; 16]) -> Self {
        let mut s = StoreWriter {
            out,
            display_name: display_name.to_string(),
            record_key,
            folders: Vec::new(),
            next_folder: 0x405,
            next_message: 0x1_0000,
            messages: MessageBuilder::new(),
            spill: None,
        };
        let root = s.push_folder(NID_ROOT_FOLDER, None, "", None, Some(FolderKind::Root));
        let ipm = s.push_folder(
            NID_IPM_SUBTREE,
            Some(root),
            "Top of Outlook data file",
            None,
            None,
        );
        s.push_folder(NID_SEARCH_ROOT, Some(root), "Search Root", None, None);
        s.push_folder(NID_COMMON_VIEWS, Some(root), "IPM_COMMON_VIEWS", None, None);
        s.push_folder(
            NID_DELETED_ITEMS,
            Some(ipm),
            "Deleted Items",
            Some("IPF.Note"),
            Some(FolderKind::Deleted),
        );
        for (kind, name, class) in STANDARD {
            let nid = s.alloc_folder_nid();
            s.push_folder(nid, Some(ipm), name, Some(class), Some(*kind));
        }
        s
    }

    /// Keeps the folders' table rows in `spill` instead of memory until [`Self::finish`], so
    /// memory does not grow with the number of messages (only an id and a length per row).
    pub fn spill_rows_to(&mut self, spill: RowSpill) {
        self.spill = Some(spill);
    }

    fn alloc_folder_nid(&mut self) -> u32 {
        let nid = (self.next_folder << 5) | u32::from(crate::ndb::NID_TYPE_NORMAL_FOLDER);
        self.next_folder += 1;
        nid
    }

    fn push_folder(
        &mut self,
        nid: u32,
        parent: Option<usize>,
        name: &str,
        class: Option<&str>,
        kind: Option<FolderKind>,
    ) -> usize {
        let i = self.folders.len();
        self.folders.push(FolderState {
            nid,
            parent,
            name: name.to_string(),
            class: class.map(str::to_string),
            kind,
            children: Vec::new(),
            contents: PackedRows::default(),
            fai: PackedRows::default(),
            unread: 0,
        });
        if let Some(f) = parent.and_then(|p| self.folders.get_mut(p)) {
            f.children.push(i);
        }
        i
    }

    /// The IPM subtree ("Top of Outlook data file").
    pub fn ipm_subtree(&self) -> FolderHandle {
        FolderHandle(1)
    }

    /// The standard folder of `kind` (Deleted Items, Inbox, …), if the store has one.
    pub fn standard_folder(&self, kind: FolderKind) -> Option<FolderHandle> {
        if kind == FolderKind::Root {
            return Some(self.ipm_subtree());
        }
        self.folders
            .iter()
            .position(|f| f.kind == Some(kind))
            .map(FolderHandle)
    }

    /// Renames a folder and optionally sets its container class.
    pub fn rename_folder(&mut self, f: FolderHandle, name: &str, class: Option<&str>) {
        if let Some(s) = self.folders.get_mut(f.0) {
            if !name.is_empty() {
                s.name = name.to_string();
            }
            if let Some(c) = class {
                s.class = Some(c.to_string());
            }
        }
    }

    /// Adds a folder under `parent`.
    pub fn add_folder(
        &mut self,
        parent: FolderHandle,
        name: &str,
        class: Option<&str>,
    ) -> Result<FolderHandle, WriteError> {
        if parent.0 >= self.folders.len() || parent.0 == 0 {
            return Err(WriteError::Unrepresentable(
                "folder parent out of range".into(),
            ));
        }
        if self.next_folder >= 1 << 26 {
            return Err(WriteError::TooLarge("too many folders".into()));
        }
        let nid = self.alloc_folder_nid();
        Ok(FolderHandle(self.push_folder(
            nid,
            Some(parent.0),
            name,
            class,
            None,
        )))
    }

    /// The NID of a folder.
    pub fn folder_nid(&self, f: FolderHandle) -> Option<u32> {
        self.folders.get(f.0).map(|s| s.nid)
    }

    /// Writes one message into folder `f` now (FAI messages, `flags.associated`, become
    /// `NID_TYPE_ASSOC_MESSAGE` nodes listed in the folder's FAI table).
    pub fn write_message(
        &mut self,
        f: FolderHandle,
        m: &Message,
    ) -> Result<MessageWritten, WriteError> {
        let folder_nid = self
            .folders
            .get(f.0)
            .map(|s| s.nid)
            .ok_or_else(|| WriteError::Unrepresentable("folder out of range".into()))?;
        if self.next_message >= 1 << 27 {
            return Err(WriteError::TooLarge("too many messages".into()));
        }
        let t = if m.flags.associated {
            crate::ndb::NID_TYPE_ASSOC_MESSAGE
        } else {
            crate::ndb::NID_TYPE_NORMAL_MESSAGE
        };
        let nid = (self.next_message << 5) | u32::from(t);
        self.next_message += 1;
        // What one message cannot hold (a heap of more than 65,535 pages, a table of more
        // than 255 columns) skips that message, not the mailbox.
        let built = self.messages.build(m, 0).map_err(|e| match e {
            WriteError::TooLarge(why) => WriteError::Unrepresentable(why),
            other => other,
        })?;
        self.out.add_node(nid, folder_nid, built.content)?;
        if let Some(s) = self.folders.get_mut(f.0) {
            let row = TableRow {
                row_id: nid,
                cells: built.cells,
            };
            if m.flags.associated {
                let mut row = row;
                row.cells.retain(|(t, _)| FAI_COLUMNS.contains(t));
                if let Some(subj) = &m.subject {
                    row.cells.push((0x3001_001F, utf16(subj)));
                }
                s.fai.push(&row, self.spill.as_mut())?;
            } else {
                s.contents.push(&row, self.spill.as_mut())?;
                if !m.flags.read {
                    s.unread += 1;
                }
            }
        }
        Ok(MessageWritten {
            nid,
            attachments: built.attachments,
            size: built.size,
        })
    }

    fn entry_id(&self, nid: u32) -> Vec<u8> {
        let mut v = vec![0u8; 4];
        v.extend_from_slice(&self.record_key);
        v.extend_from_slice(&nid.to_le_bytes());
        v
    }

    fn folder_nid_of(&self, kind: FolderKind) -> Option<u32> {
        self.standard_folder(kind).and_then(|f| self.folder_nid(f))
    }

    /// Writes the folders with their tables, the store PC, the named-property map, the
    /// search-management nodes and the table templates; returns the node writer.
    pub fn finish(mut self) -> Result<W, WriteError> {
        let folders = std::mem::take(&mut self.folders);
        for (i, f) in folders.iter().enumerate() {
            let mut props = vec![
                p_str(0x3001, &f.name),
                p_long(0x3602, f.contents.len() as i64),
                p_long(0x3603, f.unread as i64),
                p_bool(0x360A, !f.children.is_empty()),
            ];
            if let Some(c) = &f.class {
                props.push(p_str(0x3613, c));
            }
            if f.nid == NID_IPM_SUBTREE {
                for &(id, kind) in crate::messaging::SPECIAL_FOLDER_ENTRY_IDS {
                    let nid = folders.iter().find(|x| x.kind == Some(kind)).map(|x| x.nid);
                    if let Some(nid) = nid {
                        props.push(p_bin(id, &self.entry_id(nid)));
                    }
                }
            }
            let mut subs = Vec::new();
            let mut ids = SubnodeIds::new();
            let blocks = build_pc(props, &mut subs, &mut ids)?;
            let parent = match f.parent.and_then(|p| folders.get(p)) {
                Some(p) => p.nid,
                None => f.nid,
            };
            self.out.add_node(
                f.nid,
                parent,
                NodeContent {
                    blocks,
                    stream: None,
                    subnodes: subs,
                },
            )?;
            let rows: Vec<TableRow> = f
                .children
                .iter()
                .filter_map(|c| folders.get(*c))
                .map(|c| {
                    let mut cells = vec![
                        (0x3001_001F, utf16(&c.name)),
                        (
                            0x3602_0003,
                            (c.contents.len() as u32).to_le_bytes().to_vec(),
                        ),
                        (0x3603_0003, (c.unread as u32).to_le_bytes().to_vec()),
                        (0x360A_000B, vec![u8::from(!c.children.is_empty())]),
                    ];
                    if let Some(cl) = &c.class {
                        cells.push((0x3613_001F, utf16(cl)));
                    }
                    TableRow {
                        row_id: c.nid,
                        cells,
                    }
                })
                .collect();
            let base = f.nid & !0x1F;
            self.out
                .add_node(base | 0x0D, 0, build_tc(HIERARCHY_COLUMNS, &rows)?)?;
            let bytes = f.contents.all_bytes(self.spill.as_mut())?;
            self.out.add_node(
                base | 0x0E,
                0,
                build_tc_from(CONTENTS_COLUMNS, f.contents.decode(&bytes))?,
            )?;
            drop(bytes);
            let bytes = f.fai.all_bytes(self.spill.as_mut())?;
            self.out.add_node(
                base | 0x0F,
                0,
                build_tc_from(FAI_COLUMNS, f.fai.decode(&bytes))?,
            )?;
            let _ = i;
        }
        self.folders = folders;
        // Store PC (MS-PST 2.4.3).
        let mut mask = 0x01 | 0x08 | 0x40 | 0x80;
        let mut props = vec![
            p_bin(0x0FF9, &self.record_key),
            p_str(0x3001, &self.display_name),
            p_bin(0x35E0, &self.entry_id(NID_IPM_SUBTREE)),
            p_bin(0x35E3, &self.entry_id(NID_DELETED_ITEMS)),
            p_bin(0x35E6, &self.entry_id(NID_COMMON_VIEWS)),
            p_bin(0x35E7, &self.entry_id(NID_SEARCH_ROOT)),
            p_long(0x67FF, 0),
        ];
        if let Some(n) = self.folder_nid_of(FolderKind::Outbox) {
            props.push(p_bin(0x35E2, &self.entry_id(n)));
            mask |= 0x04;
        }
        if let Some(n) = self.folder_nid_of(FolderKind::Sent) {
            props.push(p_bin(0x35E4, &self.entry_id(n)));
            mask |= 0x10;
        }
        props.push(p_long(0x35DF, mask));
        let mut subs = Vec::new();
        let mut ids = SubnodeIds::new();
        let blocks = build_pc(props, &mut subs, &mut ids)?;
        self.out.add_node(
            NID_MESSAGE_STORE,
            0,
            NodeContent {
                blocks,
                stream: None,
                subnodes: subs,
            },
        )?;
        // Named-property map (MS-PST 2.4.7).
        let mut subs = Vec::new();
        let mut ids = SubnodeIds::new();
        let blocks = build_pc(self.messages.names.properties(), &mut subs, &mut ids)?;
        self.out.add_node(
            NID_NAME_TO_ID_MAP,
            0,
            NodeContent {
                blocks,
                stream: None,
                subnodes: subs,
            },
        )?;
        // Search management queue and search activity list: empty (MS-PST 2.4.8).
        self.out.add_node(0x1E1, 0, NodeContent::default())?;
        self.out.add_node(0x201, 0, NodeContent::default())?;
        // Table templates (MS-PST 2.4.4.5 and the special NIDs list).
        for (nid, cols) in [
            (0x60Du32, HIERARCHY_COLUMNS),
            (0x60E, CONTENTS_COLUMNS),
            (0x60F, FAI_COLUMNS),
            (0x610, CONTENTS_COLUMNS),
            (0x671, ATTACHMENT_COLUMNS),
            (0x692, RECIPIENT_COLUMNS),
        ] {
            self.out.add_node(nid, 0, build_tc(cols, &[])?)?;
        }
        Ok(self.out)
    }

    /// Named properties used so far.
    pub fn named_property_count(&self) -> usize {
        self.messages.names.len()
    }
}
