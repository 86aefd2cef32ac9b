//! The PST file HEADER and ROOT structures (MS-PST 2.2.2.6 HEADER, 2.2.2.5 ROOT; format notes
//! §2), and the PST CRC (MS-PST 5.3 "CRC Calculation"; format notes §2.6).

use super::NdbError;

/// Computes the MS-PST CRC: reflected CRC-32 (polynomial 0xEDB88320) with initial value 0
/// and no final XOR (MS-PST 5.3). `"123456789"` gives 0x2DFD2D88.
pub fn pst_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(!0);
    h.update(data);
    !h.finalize()
}

/// The three on-disk layouts of the NDB layer (format notes §2.1, §12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// 32-bit ("ANSI") file, `wVer` 14 or 15: 4-byte BIDs and offsets, 512-byte pages.
    Ansi,
    /// 64-bit ("Unicode") file, `wVer` 23 (also 21): 8-byte BIDs and offsets, 512-byte pages.
    Unicode,
    /// 64-bit file with 4 KiB pages and possibly zlib-compressed blocks, `wVer` 36 (OST of
    /// Outlook 2013 and later; layout from libpff's documentation).
    Unicode4k,
}

impl Format {
    /// Size of a BID, an NID key slot and a file offset in B-tree entries (8 or 4).
    pub fn id_size(self) -> usize {
        match self {
            Format::Ansi => 4,
            _ => 8,
        }
    }

    /// Page size in bytes (512, or 4096 for the 4K variant).
    pub fn page_size(self) -> usize {
        match self {
            Format::Unicode4k => 4096,
            _ => 512,
        }
    }

    /// Offset of the PAGETRAILER inside a page (MS-PST 2.2.2.7.1; format notes §3).
    pub fn page_trailer(self) -> usize {
        match self {
            Format::Ansi => 500,
            Format::Unicode => 496,
            Format::Unicode4k => 4072,
        }
    }

    /// Size of a BLOCKTRAILER (MS-PST 2.2.2.8.1; format notes §6.1).
    pub fn block_trailer_size(self) -> usize {
        match self {
            Format::Ansi => 12,
            Format::Unicode => 16,
            Format::Unicode4k => 24,
        }
    }

    /// Blocks are padded to a multiple of this (64, or 512 for the 4K variant).
    pub fn block_align(self) -> usize {
        match self {
            Format::Unicode4k => 512,
            _ => 64,
        }
    }

    /// Short human name.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Ansi => "ANSI",
            Format::Unicode => "Unicode",
            Format::Unicode4k => "Unicode 4K-page",
        }
    }
}

/// `bCryptMethod`: how external data blocks are encoded (MS-PST 2.2.2.6; format notes §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CryptMethod {
    /// `NDB_CRYPT_NONE` (0x00).
    None,
    /// `NDB_CRYPT_PERMUTE` (0x01, "compressible").
    Permute,
    /// `NDB_CRYPT_CYCLIC` (0x02, "high").
    Cyclic,
    /// Any other value (0x10 is reported for WIP-protected files); data cannot be decoded.
    Unknown(u8),
}

impl CryptMethod {
    /// From the raw `bCryptMethod` byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Self::None,
            1 => Self::Permute,
            2 => Self::Cyclic,
            other => Self::Unknown(other),
        }
    }

    /// Short human name.
    pub fn describe(self) -> String {
        match self {
            Self::None => "no encoding".into(),
            Self::Permute => "permute encoding".into(),
            Self::Cyclic => "cyclic encoding".into(),
            Self::Unknown(b) => format!("unknown encoding 0x{b:02X}"),
        }
    }
}

/// A BREF: a BID and the file offset of the page or block it names (MS-PST 2.2.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Bref {
    /// Block or page id.
    pub bid: u64,
    /// Absolute file offset.
    pub ib: u64,
}

/// The decoded file HEADER with its ROOT (MS-PST 2.2.2.6, 2.2.2.5; format notes §2.2–§2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `wMagicClient` as two characters: "SM" (PST), "SO" (OST), "AB" (PAB).
    pub magic_client: [u8; 2],
    /// `wVer`.
    pub version: u16,
    /// `wVerClient`.
    pub client_version: u16,
    /// `bPlatformCreate`.
    pub platform_create: u8,
    /// `bPlatformAccess`.
    pub platform_access: u8,
    /// Layout chosen from `wVer`.
    pub format: Format,
    /// `bCryptMethod`.
    pub crypt: CryptMethod,
    /// `dwCRCPartial` as stored.
    pub crc_partial: u32,
    /// CRC computed over bytes 8..479.
    pub crc_partial_computed: u32,
    /// `dwCRCFull` as stored (Unicode only).
    pub crc_full: Option<u32>,
    /// CRC computed over bytes 8..524 (Unicode only).
    pub crc_full_computed: Option<u32>,
    /// ROOT `ibFileEof`.
    pub file_eof: u64,
    /// ROOT `ibAMapLast`.
    pub amap_last: u64,
    /// ROOT `BREFNBT`: the node B-tree's root page.
    pub nbt_root: Bref,
    /// ROOT `BREFBBT`: the block B-tree's root page.
    pub bbt_root: Bref,
    /// ROOT `fAMapValid`.
    pub amap_valid: u8,
    /// `bSentinel` (0x80 expected).
    pub sentinel: u8,
    /// `bidNextB`.
    pub bid_next_b: u64,
    /// `bidNextP`.
    pub bid_next_p: u64,
    /// `dwUnique`.
    pub unique: u32,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

impl Header {
    /// Size of the Unicode header (the largest); a file shorter than the ANSI header (512)
    /// cannot be a PST.
    pub const UNICODE_SIZE: usize = 564;

    /// True when both stored CRCs equal the computed ones.
    pub fn crc_ok(&self) -> bool {
        self.crc_partial == self.crc_partial_computed && self.crc_full == self.crc_full_computed
    }

    /// Parses the header from the start of the file. Does not check CRCs (see
    /// [`Header::crc_ok`]): the caller decides between strict and salvage handling.
    pub fn parse(b: &[u8]) -> Result<Self, NdbError> {
        Self::parse_as(b, None)
    }

    /// True for the `wVer` values MS-PST and libpff document (14, 15, 21, 23, 36).
    pub fn version_known(&self) -> bool {
        matches!(self.version, 14 | 15 | 21 | 23 | 36)
    }

    /// Parses the header with a forced layout (`None`: chosen from `wVer`). Used to retry an
    /// unknown `wVer` with the other layout (format notes §2.1).
    pub fn parse_as(b: &[u8], forced: Option<Format>) -> Result<Self, NdbError> {
        let short = |need: usize| NdbError::Truncated {
            what: "HEADER",
            offset: 0,
            need: need as u64,
            have: b.len() as u64,
        };
        let magic = b.get(0..4).ok_or_else(|| short(4))?;
        if magic != b"!BDN" {
            return Err(NdbError::Field {
                field: "HEADER dwMagic",
                offset: 0,
                value: u64::from(u32_at(b, 0).unwrap_or(0)),
            });
        }
        if b.len() < 512 {
            return Err(short(512));
        }
        let version = u16_at(b, 10).ok_or_else(|| short(12))?;
        // Unknown versions: ≥ 23 takes the Unicode layout, below the ANSI one (format notes §2.1).
        let format = match (forced, version) {
            (Some(f), _) => f,
            (None, 36) => Format::Unicode4k,
            (None, v) if v >= 23 || v == 21 => Format::Unicode,
            (None, _) => Format::Ansi,
        };
        if format != Format::Ansi && b.len() < Self::UNICODE_SIZE {
            return Err(short(Self::UNICODE_SIZE));
        }
        let crc_partial_computed = pst_crc(b.get(8..479).ok_or_else(|| short(479))?);
        let g16 = |o| u16_at(b, o).unwrap_or(0);
        let g32 = |o| u32_at(b, o).unwrap_or(0);
        let g64 = |o| u64_at(b, o).unwrap_or(0);
        let g8 = |o: usize| b.get(o).copied().unwrap_or(0);
        let mut h = Header {
            magic_client: [g8(8), g8(9)],
            version,
            client_version: g16(12),
            platform_create: g8(14),
            platform_access: g8(15),
            format,
            crypt: CryptMethod::None,
            crc_partial: g32(4),
            crc_partial_computed,
            crc_full: None,
            crc_full_computed: None,
            file_eof: 0,
            amap_last: 0,
            nbt_root: Bref::default(),
            bbt_root: Bref::default(),
            amap_valid: 0,
            sentinel: 0,
            bid_next_b: 0,
            bid_next_p: 0,
            unique: 0,
        };
        match format {
            Format::Ansi => {
                h.bid_next_b = u64::from(g32(24));
                h.bid_next_p = u64::from(g32(28));
                h.unique = g32(32);
                h.file_eof = u64::from(g32(168));
                h.amap_last = u64::from(g32(172));
                h.nbt_root = Bref {
                    bid: u64::from(g32(184)),
                    ib: u64::from(g32(188)),
                };
                h.bbt_root = Bref {
                    bid: u64::from(g32(192)),
                    ib: u64::from(g32(196)),
                };
                h.amap_valid = g8(200);
                h.sentinel = g8(460);
                h.crypt = CryptMethod::from_byte(g8(461));
            }
            Format::Unicode | Format::Unicode4k => {
                h.bid_next_p = g64(32);
                h.unique = g32(40);
                h.file_eof = g64(184);
                h.amap_last = g64(192);
                h.nbt_root = Bref {
                    bid: g64(216),
                    ib: g64(224),
                };
                h.bbt_root = Bref {
                    bid: g64(232),
                    ib: g64(240),
                };
                h.amap_valid = g8(248);
                h.sentinel = g8(512);
                h.crypt = CryptMethod::from_byte(g8(513));
                h.bid_next_b = g64(516);
                h.crc_full = Some(g32(524));
                h.crc_full_computed = b.get(8..524).map(pst_crc);
            }
        }
        Ok(h)
    }

    /// `wMagicClient` as text ("SM", "SO", …).
    pub fn client_magic_str(&self) -> String {
        String::from_utf8_lossy(&self.magic_client).into_owned()
    }

    /// True for an OST (`wMagicClient` "SO").
    pub fn is_ost(&self) -> bool {
        &self.magic_client == b"SO"
    }

    /// One-line summary, e.g. `PST, Unicode (wVer 23), permute encoding`.
    pub fn summary(&self) -> String {
        let kind = if self.is_ost() {
            "OST"
        } else if &self.magic_client == b"AB" {
            "PAB"
        } else {
            "PST"
        };
        format!(
            "{kind}, {} (wVer {}), {}",
            self.format.describe(),
            self.version,
            self.crypt.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_test_vector() {
        assert_eq!(pst_crc(b"123456789"), 0x2DFD_2D88);
        assert_eq!(pst_crc(b""), 0);
    }

    /// Builds a minimal Unicode header field by field.
    fn unicode_header() -> Vec<u8> {
        let mut h = vec![0u8; 564];
        h[0..4].copy_from_slice(b"!BDN"); // dwMagic
        h[8..10].copy_from_slice(b"SM"); // wMagicClient
        h[10..12].copy_from_slice(&23u16.to_le_bytes()); // wVer = Unicode
        h[12..14].copy_from_slice(&19u16.to_le_bytes()); // wVerClient
        h[14] = 1; // bPlatformCreate
        h[15] = 1; // bPlatformAccess
        h[184..192].copy_from_slice(&0x4_2400u64.to_le_bytes()); // ROOT ibFileEof
        h[216..224].copy_from_slice(&0x24u64.to_le_bytes()); // BREFNBT.bid
        h[224..232].copy_from_slice(&0x4800u64.to_le_bytes()); // BREFNBT.ib
        h[232..240].copy_from_slice(&0x28u64.to_le_bytes()); // BREFBBT.bid
        h[240..248].copy_from_slice(&0x4A00u64.to_le_bytes()); // BREFBBT.ib
        h[248] = 2; // fAMapValid
        h[512] = 0x80; // bSentinel
        h[513] = 1; // bCryptMethod = permute
        let p = pst_crc(&h[8..479]);
        h[4..8].copy_from_slice(&p.to_le_bytes()); // dwCRCPartial
        let f = pst_crc(&h[8..524]);
        h[524..528].copy_from_slice(&f.to_le_bytes()); // dwCRCFull
        h
    }

    #[test]
    fn parses_unicode_header() {
        let h = Header::parse(&unicode_header()).unwrap();
        assert_eq!(h.format, Format::Unicode);
        assert_eq!(h.crypt, CryptMethod::Permute);
        assert_eq!(
            h.nbt_root,
            Bref {
                bid: 0x24,
                ib: 0x4800
            }
        );
        assert_eq!(
            h.bbt_root,
            Bref {
                bid: 0x28,
                ib: 0x4A00
            }
        );
        assert_eq!(h.file_eof, 0x4_2400);
        assert!(h.crc_ok());
        assert_eq!(h.summary(), "PST, Unicode (wVer 23), permute encoding");
    }

    #[test]
    fn detects_bad_crc_and_magic() {
        let mut b = unicode_header();
        b[300] ^= 0xFF;
        let h = Header::parse(&b).unwrap();
        assert!(!h.crc_ok());
        b[0] = b'X';
        let e = Header::parse(&b).unwrap_err().to_string();
        assert!(e.contains("dwMagic"), "{e}");
    }

    #[test]
    fn parses_ansi_header() {
        let mut h = vec![0u8; 512];
        h[0..4].copy_from_slice(b"!BDN"); // dwMagic
        h[8..10].copy_from_slice(b"SM"); // wMagicClient
        h[10..12].copy_from_slice(&14u16.to_le_bytes()); // wVer = ANSI
        h[184..188].copy_from_slice(&0x10u32.to_le_bytes()); // BREFNBT.bid
        h[188..192].copy_from_slice(&0x4600u32.to_le_bytes()); // BREFNBT.ib
        h[192..196].copy_from_slice(&0x12u32.to_le_bytes()); // BREFBBT.bid
        h[196..200].copy_from_slice(&0x4800u32.to_le_bytes()); // BREFBBT.ib
        h[460] = 0x80; // bSentinel
        h[461] = 2; // bCryptMethod = cyclic
        let hd = Header::parse(&h).unwrap();
        assert_eq!(hd.format, Format::Ansi);
        assert_eq!(hd.crypt, CryptMethod::Cyclic);
        assert_eq!(
            hd.nbt_root,
            Bref {
                bid: 0x10,
                ib: 0x4600
            }
        );
        assert_eq!(hd.bbt_root.ib, 0x4800);
        assert_eq!(hd.crc_full, None);
    }
}
