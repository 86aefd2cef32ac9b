//! The named-property lookup map at NID 0x61 (MS-PST 2.4.7; format notes §9): maps the
//! property ids 0x8000 and above used in PCs to `{GUID}:0xLID` or `{GUID}:name`.

use std::collections::HashMap;

use mailmig_ir::codepage;

use super::{RawProp, RawValue};
use crate::bytes::{le16, le32};

/// `PS_MAPI`.
pub const PS_MAPI: [u8; 16] = guid(0x0002_0328, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]);
/// `PS_PUBLIC_STRINGS`.
pub const PS_PUBLIC_STRINGS: [u8; 16] = guid(0x0002_0329, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]);

const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

/// Formats a GUID (MS-DTYP 2.3.4.2 byte order) as `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`.
pub fn format_guid(g: &[u8]) -> String {
    let b = |i: usize| g.get(i).copied().unwrap_or(0);
    format!(
        "{{{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        b(3),
        b(2),
        b(1),
        b(0),
        b(5),
        b(4),
        b(7),
        b(6),
        b(8),
        b(9),
        b(10),
        b(11),
        b(12),
        b(13),
        b(14),
        b(15)
    )
}

/// A named property's identity: a property set GUID with a numeric LID or a string name.
#[derive(Clone)]
pub struct NamedProp {
    guid: [u8; 16],
    lid: Option<u32>,
    name: Option<String>,
    /// [`NamedProp::key`], formatted on first use (every message of a store names the same
    /// properties). The fields it is made from are private, so it cannot go stale.
    key: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for NamedProp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedProp")
            .field("guid", &format_guid(&self.guid))
            .field("lid", &self.lid)
            .field("name", &self.name)
            .finish()
    }
}

/// Identity only: the formatted key is a cache.
impl PartialEq for NamedProp {
    fn eq(&self, other: &Self) -> bool {
        (self.guid, self.lid, &self.name) == (other.guid, other.lid, &other.name)
    }
}

impl Eq for NamedProp {}

impl NamedProp {
    /// A named property with a numeric LID or a string name.
    pub fn new(guid: [u8; 16], lid: Option<u32>, name: Option<String>) -> Self {
        Self {
            guid,
            lid,
            name,
            key: std::sync::OnceLock::new(),
        }
    }

    /// The property set GUID (16 bytes, MS-DTYP byte order).
    pub fn guid(&self) -> &[u8; 16] {
        &self.guid
    }

    /// The numeric LID, or `None` for string names.
    pub fn lid(&self) -> Option<u32> {
        self.lid
    }

    /// The string name, for string-named properties.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `{GUID}:0xNNNN` or `{GUID}:name`.
    pub fn key(&self) -> String {
        self.key
            .get_or_init(|| match (&self.name, self.lid) {
                (Some(n), _) => format!("{}:{n}", format_guid(&self.guid)),
                (None, Some(l)) => format!("{}:0x{l:04X}", format_guid(&self.guid)),
                (None, None) => format_guid(&self.guid),
            })
            .clone()
    }
}

/// The decoded map: property id (≥ 0x8000) → named property.
#[derive(Clone, Debug, Default)]
pub struct NameMap {
    map: HashMap<u16, NamedProp>,
}

impl NameMap {
    /// Builds the map from the PC at NID 0x61. Bad entries are skipped.
    pub fn from_props(props: &[RawProp]) -> Self {
        let get = |id: u16| {
            props
                .iter()
                .find(|p| p.id() == id)
                .and_then(|p| match &p.value {
                    RawValue::Bytes(b) => Some(b.clone()),
                    RawValue::Inline(_) => None,
                })
        };
        let guids = get(0x0002).unwrap_or_default();
        let entries = get(0x0003).unwrap_or_default();
        let strings = get(0x0004).unwrap_or_default();
        let (guids, entries, strings) = (guids.as_bytes(), entries.as_bytes(), strings.as_bytes());
        let mut map = HashMap::new();
        for e in entries.chunks_exact(8) {
            let prop_id = le32(e, 0);
            let gk = le16(e, 4);
            let idx = le16(e, 6);
            let is_string = gk & 1 == 1;
            let wguid = gk >> 1;
            let guid = match wguid {
                0 => [0u8; 16],
                1 => PS_MAPI,
                2 => PS_PUBLIC_STRINGS,
                n => {
                    let o = usize::from(n - 3) * 16;
                    match guids
                        .get(o..o + 16)
                        .and_then(|s| <[u8; 16]>::try_from(s).ok())
                    {
                        Some(g) => g,
                        None => continue,
                    }
                }
            };
            let (lid, name) = if is_string {
                let o = prop_id as usize;
                let len = strings.get(o..o + 4).map(|s| le32(s, 0) as usize);
                let Some(len) = len else { continue };
                let Some(text) = o
                    .checked_add(4)
                    .and_then(|s| strings.get(s..s.checked_add(len)?))
                else {
                    continue;
                };
                (None, Some(codepage::decode_utf16le(text)))
            } else {
                (Some(prop_id), None)
            };
            let Some(id) = idx.checked_add(0x8000) else {
                continue;
            };
            map.insert(id, NamedProp::new(guid, lid, name));
        }
        NameMap { map }
    }

    /// The named property behind property id `id`.
    pub fn get(&self, id: u16) -> Option<&NamedProp> {
        self.map.get(&id)
    }

    /// Finds the property id used for (`guid`, `lid`).
    pub fn find_lid(&self, guid: &[u8; 16], lid: u32) -> Option<u16> {
        self.map
            .iter()
            .find(|(_, v)| &v.guid == guid && v.lid == Some(lid))
            .map(|(k, _)| *k)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailmig_ir::Blob;

    #[test]
    fn decodes_lid_and_string_entries() {
        let custom = guid(0x0006_2004, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]);
        let mut entries = Vec::new();
        entries.extend_from_slice(&0x8083u32.to_le_bytes()); // dwPropertyID = LID
        entries.extend_from_slice(&(3u16 << 1).to_le_bytes()); // wGuid 3 = first stream GUID, N=0
        entries.extend_from_slice(&0u16.to_le_bytes()); // wPropIdx 0 → 0x8000
        entries.extend_from_slice(&0u32.to_le_bytes()); // offset 0 in string stream
        entries.extend_from_slice(&((2u16 << 1) | 1).to_le_bytes()); // PS_PUBLIC_STRINGS, N=1
        entries.extend_from_slice(&1u16.to_le_bytes()); // → 0x8001
        let name: Vec<u8> = "Keywords"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut strings = (name.len() as u32).to_le_bytes().to_vec();
        strings.extend_from_slice(&name);
        let props = vec![
            RawProp {
                tag: 0x0002_0102,
                value: RawValue::Bytes(Blob::from(&custom[..])),
            },
            RawProp {
                tag: 0x0003_0102,
                value: RawValue::Bytes(Blob::from(entries)),
            },
            RawProp {
                tag: 0x0004_0102,
                value: RawValue::Bytes(Blob::from(strings)),
            },
        ];
        let m = NameMap::from_props(&props);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.get(0x8000).unwrap().key(),
            "{00062004-0000-0000-C000-000000000046}:0x8083"
        );
        assert_eq!(
            m.get(0x8001).unwrap().key(),
            "{00020329-0000-0000-C000-000000000046}:Keywords"
        );
        assert_eq!(m.find_lid(&custom, 0x8083), Some(0x8000));
        // The cached key (formatted above) does not take part in equality.
        let named = m.get(0x8001).unwrap();
        assert_eq!(
            *named,
            NamedProp::new(PS_PUBLIC_STRINGS, None, Some("Keywords".into()))
        );
    }
}
