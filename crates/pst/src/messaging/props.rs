//! A decoded property bag with typed getters, and conversion of MAPI property values to the
//! IR's [`PropValue`] (MS-OXCDATA 2.11.1 property types; format notes §8.4, §13).

use mailmig_ir::{Blob, PropValue, Timestamp, codepage, dates};

use crate::bytes::{le32, le64};
use crate::ltp::nameid::NameMap;
use crate::ltp::{RawProp, RawValue};

/// `PtypString8`.
pub const PT_STRING8: u16 = 0x001E;
/// `PtypString` (UTF-16LE).
pub const PT_UNICODE: u16 = 0x001F;
/// `PtypBinary`.
pub const PT_BINARY: u16 = 0x0102;
/// `PtypObject`.
pub const PT_OBJECT: u16 = 0x000D;

/// The properties of one object (message, recipient row, attachment, folder, store).
#[derive(Clone, Debug, Default)]
pub struct PropBag {
    /// The raw properties.
    pub props: Vec<RawProp>,
    /// Code page for `PtypString8` values.
    pub code_page: u16,
}

fn trim(s: String) -> String {
    let t = s.trim_end_matches('\0');
    if t.len() == s.len() { s } else { t.to_string() }
}

/// Decodes a `PtypString` value.
pub fn utf16(b: &[u8]) -> String {
    trim(codepage::decode_utf16le(b))
}

impl PropBag {
    /// A bag.
    pub fn new(props: Vec<RawProp>, code_page: u16) -> Self {
        Self { props, code_page }
    }

    /// The first property with this id (any type).
    pub fn get(&self, id: u16) -> Option<&RawProp> {
        self.props.iter().find(|p| p.id() == id)
    }

    /// A 32-bit (or 16-bit, boolean) integer.
    pub fn int(&self, id: u16) -> Option<i64> {
        let p = self.get(id)?;
        match (&p.value, p.ptype()) {
            (RawValue::Inline(v), 0x0002) => Some(i64::from(*v as u16 as i16)),
            (RawValue::Inline(v), 0x000B) => Some(i64::from(*v & 0xFF)),
            (RawValue::Inline(v), _) => Some(i64::from(*v as i32)),
            (RawValue::Bytes(b), 0x0014) if b.len() >= 8 => Some(le64(b.as_bytes(), 0) as i64),
            _ => None,
        }
    }

    /// A boolean.
    pub fn bool(&self, id: u16) -> Option<bool> {
        self.int(id).map(|v| v != 0)
    }

    /// A string (`PtypString` or `PtypString8`), decoded; empty strings give `None`.
    pub fn string(&self, id: u16) -> Option<String> {
        let p = self.get(id)?;
        let RawValue::Bytes(b) = &p.value else {
            return None;
        };
        let s = match p.ptype() {
            PT_UNICODE => utf16(b.as_bytes()),
            PT_STRING8 => trim(codepage::decode(b.as_bytes(), self.code_page).into_owned()),
            _ => return None,
        };
        (!s.is_empty()).then_some(s)
    }

    /// A binary value (also the bytes of any non-inline value).
    pub fn binary(&self, id: u16) -> Option<Blob> {
        match &self.get(id)?.value {
            RawValue::Bytes(b) => Some(b.clone()),
            RawValue::Inline(_) => None,
        }
    }

    /// A `PtypTime` value.
    pub fn time(&self, id: u16) -> Option<Timestamp> {
        let p = self.get(id)?;
        match (&p.value, p.ptype()) {
            (RawValue::Bytes(b), 0x0040) => dates::filetime(le64(b.as_bytes(), 0)),
            _ => None,
        }
    }
}

/// The IR name of a property: `0xIIIITTTT` for tags, `{GUID}:0xNNNN` / `{GUID}:name` for named
/// properties (id ≥ 0x8000 found in the map).
pub fn property_name(tag: u32, names: &NameMap) -> String {
    let id = (tag >> 16) as u16;
    if id >= 0x8000
        && let Some(n) = names.get(id)
    {
        return n.key();
    }
    hex_tag(tag)
}

/// `0xIIIITTTT` in upper case, without the formatting machinery (called for every property
/// kept).
fn hex_tag(tag: u32) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(10);
    s.push_str("0x");
    for shift in (0..8).rev() {
        let nibble = (tag >> (shift * 4)) & 0xF;
        s.push(char::from(
            HEX.get(nibble as usize).copied().unwrap_or(b'0'),
        ));
    }
    s
}

fn split_multi(b: &[u8]) -> Vec<&[u8]> {
    // ulCount, rgulDataOffsets[ulCount], data; element i ends where i+1 starts (format notes §8.4).
    let count = le32(b, 0) as usize;
    if count == 0 || count > b.len() / 4 {
        return Vec::new();
    }
    let mut offs = Vec::with_capacity(count + 1);
    for i in 0..count {
        offs.push(le32(b, 4 + i * 4) as usize);
    }
    offs.push(b.len());
    let mut out = Vec::with_capacity(count);
    for w in offs.windows(2) {
        let (s, e) = match w {
            [s, e] => (*s, *e),
            _ => continue,
        };
        out.push(b.get(s..e.max(s)).unwrap_or(&[]));
    }
    out
}

/// Converts a raw property to the IR value. Unknown types keep their bytes.
pub fn to_prop_value(p: &RawProp, code_page: u16) -> PropValue {
    let t = p.ptype();
    let bytes = match &p.value {
        RawValue::Inline(v) => {
            return match t {
                0x0002 => PropValue::Int(i64::from(*v as u16 as i16)),
                0x000B => PropValue::Bool(*v & 0xFF != 0),
                0x0004 => PropValue::Float(f64::from(f32::from_bits(*v))),
                _ => PropValue::Int(i64::from(*v as i32)),
            };
        }
        RawValue::Bytes(b) => b,
    };
    let b = bytes.as_bytes();
    let s8 = |x: &[u8]| trim(codepage::decode(x, code_page).into_owned());
    match t {
        0x0005 | 0x0007 => PropValue::Float(f64::from_bits(le64(b, 0))),
        0x0006 | 0x0014 => PropValue::Int(le64(b, 0) as i64),
        0x0040 => match dates::filetime(le64(b, 0)) {
            Some(ts) => PropValue::Time(ts),
            None => PropValue::Int(le64(b, 0) as i64),
        },
        PT_UNICODE => PropValue::Text(utf16(b)),
        PT_STRING8 => PropValue::Text(s8(b)),
        0x101F => PropValue::Multi(
            split_multi(b)
                .into_iter()
                .map(|x| PropValue::Text(utf16(x)))
                .collect(),
        ),
        0x101E => PropValue::Multi(
            split_multi(b)
                .into_iter()
                .map(|x| PropValue::Text(s8(x)))
                .collect(),
        ),
        0x1102 => PropValue::Multi(
            split_multi(b)
                .into_iter()
                .map(|x| PropValue::Binary(Blob::from(x)))
                .collect(),
        ),
        0x1002 => PropValue::Multi(
            b.chunks_exact(2)
                .map(|c| {
                    PropValue::Int(i64::from(i16::from_le_bytes([
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                    ])))
                })
                .collect(),
        ),
        0x1003 => PropValue::Multi(
            b.chunks_exact(4)
                .map(|c| PropValue::Int(i64::from(le32(c, 0) as i32)))
                .collect(),
        ),
        0x1014 => PropValue::Multi(
            b.chunks_exact(8)
                .map(|c| PropValue::Int(le64(c, 0) as i64))
                .collect(),
        ),
        0x1040 => PropValue::Multi(
            b.chunks_exact(8)
                .map(|c| match dates::filetime(le64(c, 0)) {
                    Some(ts) => PropValue::Time(ts),
                    None => PropValue::Int(le64(c, 0) as i64),
                })
                .collect(),
        ),
        0x1048 => PropValue::Multi(
            b.chunks_exact(16)
                .map(|c| PropValue::Binary(Blob::from(c)))
                .collect(),
        ),
        _ => PropValue::Binary(bytes.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_tag_matches_format() {
        for tag in [0u32, 0x0E07_0003, 0xFFFF_FFFF, 0x8000_101F, 0x1234_ABCD] {
            assert_eq!(hex_tag(tag), format!("0x{tag:08X}"));
        }
        assert_eq!(
            property_name(0x0037_001F, &NameMap::default()),
            "0x0037001F"
        );
    }

    #[test]
    fn multi_string_offsets() {
        // ulCount 2, offsets 12 and 16, then "A\0" "BC\0" in UTF-16 without terminators.
        let mut b = Vec::new();
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&12u32.to_le_bytes());
        b.extend_from_slice(&14u32.to_le_bytes());
        b.extend_from_slice(&[b'A', 0, b'B', 0, b'C', 0]);
        let p = RawProp {
            tag: 0x8000_101F,
            value: RawValue::Bytes(Blob::from(b)),
        };
        assert_eq!(
            to_prop_value(&p, 1252),
            PropValue::Multi(vec![
                PropValue::Text("A".into()),
                PropValue::Text("BC".into())
            ])
        );
    }

    #[test]
    fn typed_getters() {
        let bag = PropBag::new(
            vec![
                RawProp {
                    tag: 0x0E07_0003,
                    value: RawValue::Inline(0x19),
                },
                RawProp {
                    tag: 0x0037_001E,
                    value: RawValue::Bytes(Blob::from(&b"Gr\xFC\xDFe\0"[..])),
                },
                RawProp {
                    tag: 0x0039_0040,
                    value: RawValue::Bytes(Blob::from(&0x01C8_0000_0000_0000u64.to_le_bytes()[..])),
                },
            ],
            1252,
        );
        assert_eq!(bag.int(0x0E07), Some(0x19));
        assert_eq!(bag.string(0x0037).as_deref(), Some("Grüße"));
        assert!(bag.time(0x0039).is_some());
        assert_eq!(
            property_name(0x0E1F_000B, &NameMap::default()),
            "0x0E1F000B"
        );
    }
}
