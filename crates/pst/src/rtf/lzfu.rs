//! Compressed RTF ([MS-OXRTFCP] sections 2.1.3.1 and 3.1; format notes `pst.md` §10.6):
//! the 16-byte header, the `LZFu` decoder with its 4096-byte dictionary and the stored `MELA`
//! variant, and the CRC over the compressed contents.
//!
//! Unlike `compressed-rtf` 1.0.1, nothing here trusts the header: `RAWSIZE` is checked against
//! [`Limits::max_allocation`] before any allocation, a `COMPSIZE` that runs past the data gives
//! the bytes that are there (flagged [`Decompressed::truncated`]), and the output can never grow
//! beyond what the input can describe (at most 8 × 17 bytes per 17 input bytes) nor beyond the
//! allocation limit.

use mailmig_ir::Limits;

use super::RtfError;

/// `COMPTYPE` of LZFu-compressed contents, "LZFu" read as a little-endian DWORD
/// ([MS-OXRTFCP] 2.1.3.1.1).
pub const COMPTYPE_COMPRESSED: u32 = 0x7546_5A4C;
/// `COMPTYPE` of stored (uncompressed) contents, "MELA" read as a little-endian DWORD
/// ([MS-OXRTFCP] 2.1.3.1.1).
pub const COMPTYPE_UNCOMPRESSED: u32 = 0x414C_454D;
/// Size of the header: `COMPSIZE`, `RAWSIZE`, `COMPTYPE` and `CRC`, four DWORDs.
pub const HEADER_LEN: usize = 16;

/// The string the decoder's dictionary starts with ([MS-OXRTFCP] 3.1.3.1, "initial dictionary");
/// 207 bytes, so the first write position is 207.
pub const INITIAL_DICTIONARY: &[u8; 207] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Size of the circular dictionary ([MS-OXRTFCP] 2.1.2.1): 4096 bytes, addressed by 12 bits.
const DICT_LEN: usize = 4096;
const DICT_MASK: usize = DICT_LEN - 1;

/// Which `COMPTYPE` a compressed-RTF blob declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressionKind {
    /// `LZFu` (0x75465A4C): dictionary-compressed contents.
    Lzfu,
    /// `MELA` (0x414C454D): the contents are the RTF bytes themselves.
    Mela,
}

/// The parsed 16-byte header of a compressed-RTF blob ([MS-OXRTFCP] 2.1.3.1.1, field names as
/// the specification spells them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `COMPSIZE`: size of the contents plus 12 (the header bytes that follow this field).
    pub comp_size: u32,
    /// `RAWSIZE`: size of the decompressed RTF as declared by the writer.
    pub raw_size: u32,
    /// `COMPTYPE`, decoded.
    pub kind: CompressionKind,
    /// `CRC`: [`crc`] of the contents for `LZFu`; zero for `MELA`.
    pub crc: u32,
}

impl Header {
    /// Parses and validates the header at the start of `data`.
    ///
    /// Fails when `data` is shorter than 16 bytes, `COMPTYPE` is neither `LZFu` nor `MELA`,
    /// `COMPSIZE` is below 12, or `RAWSIZE` exceeds `limits.max_allocation`. A `COMPSIZE` that
    /// runs past `data` is accepted here; decoding then reports the output as truncated.
    pub fn parse(data: &[u8], limits: &Limits) -> Result<Self, RtfError> {
        let dword = |at: usize| -> Result<u32, RtfError> {
            data.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or(RtfError::TooShort { len: data.len() })
        };
        let comp_size = dword(0)?;
        let raw_size = dword(4)?;
        let comp_type = dword(8)?;
        let crc = dword(12)?;
        let kind = match comp_type {
            COMPTYPE_COMPRESSED => CompressionKind::Lzfu,
            COMPTYPE_UNCOMPRESSED => CompressionKind::Mela,
            value => return Err(RtfError::UnknownCompType { value, offset: 8 }),
        };
        if comp_size < 12 {
            return Err(RtfError::CompSizeTooSmall {
                value: comp_size,
                offset: 0,
            });
        }
        if !limits.allows_allocation(u64::from(raw_size)) {
            return Err(RtfError::RawSizeOverLimit {
                value: raw_size,
                limit: limits.max_allocation,
                offset: 4,
            });
        }
        Ok(Self {
            comp_size,
            raw_size,
            kind,
            crc,
        })
    }
}

/// The result of [`decompress_rtf_lenient`]: the RTF bytes and what was wrong on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decompressed {
    /// The decompressed RTF (for `MELA`, the stored bytes).
    pub rtf: Vec<u8>,
    /// Which `COMPTYPE` the header declared.
    pub kind: CompressionKind,
    /// `RAWSIZE` as declared; may differ from `rtf.len()` when the writer lied or the data was cut.
    pub raw_size: u32,
    /// For `LZFu`: the stored `CRC` equals the CRC of the complete contents. For `MELA`: the
    /// stored `CRC` is zero, as [MS-OXRTFCP] 2.1.3.1.1 requires. False whenever the contents are
    /// cut short.
    pub crc_ok: bool,
    /// The data ended before `COMPSIZE` said it would, or (`LZFu`) before the end-of-stream
    /// reference, or (`MELA`) before `RAWSIZE` bytes; or the output reached the allocation
    /// limit. `rtf` holds what could be decoded.
    pub truncated: bool,
}

impl Decompressed {
    /// True when the blob decoded cleanly: CRC good, nothing cut, `RAWSIZE` bytes produced.
    pub fn is_clean(&self) -> bool {
        self.crc_ok && !self.truncated && self.rtf.len() as u64 == u64::from(self.raw_size)
    }
}

/// The CRC of [MS-OXRTFCP] 3.1.3.2 (the same as MS-PST's): reflected CRC-32, polynomial
/// 0xEDB88320, initial value 0, no final XOR. `crc(b"123456789") == 0x2DFD2D88`.
pub fn crc(data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(!0);
    hasher.update(data);
    !hasher.finalize()
}

/// Decompresses a `PidTagRtfCompressed` value strictly: any damage is an error.
///
/// Returns the RTF when the header is valid, the CRC matches, the contents are complete and end
/// with the end-of-stream reference (`LZFu`) or hold `RAWSIZE` bytes (`MELA`). A CRC mismatch is
/// [`RtfError::CrcMismatch`] and cut data [`RtfError::Truncated`]; callers that want the data
/// anyway (salvage) use [`decompress_rtf_lenient`], which never fails after the header.
pub fn decompress_rtf(data: &[u8], limits: &Limits) -> Result<Vec<u8>, RtfError> {
    let out = decompress_rtf_lenient(data, limits)?;
    if out.truncated {
        return Err(RtfError::Truncated {
            offset: data.len() as u64,
            produced: out.rtf.len() as u64,
            raw_size: out.raw_size,
        });
    }
    if !out.crc_ok {
        let header = Header::parse(data, limits)?;
        // For MELA the only valid CRC is zero; report that as the expected value.
        let computed = match header.kind {
            CompressionKind::Mela => 0,
            CompressionKind::Lzfu => contents(data, &header).map_or(0, |(c, _)| crc(c)),
        };
        return Err(RtfError::CrcMismatch {
            stored: header.crc,
            computed,
            offset: 12,
        });
    }
    Ok(out.rtf)
}

/// Decompresses a `PidTagRtfCompressed` value, tolerating damage after a valid header.
///
/// Fails only on the header checks of [`Header::parse`]. Everything after that is decoded as far
/// as the data allows, and the flags of [`Decompressed`] say what was wrong: a CRC mismatch
/// (`crc_ok == false`, the caller should warn), cut contents (`truncated`). Output is capped at
/// `limits.max_allocation` bytes. Trailing bytes after `COMPSIZE + 4` are ignored.
pub fn decompress_rtf_lenient(data: &[u8], limits: &Limits) -> Result<Decompressed, RtfError> {
    let header = Header::parse(data, limits)?;
    let (body, complete) = contents(data, &header).unwrap_or((&[], false));
    let cap = usize::try_from(limits.max_allocation).unwrap_or(usize::MAX);
    match header.kind {
        CompressionKind::Mela => {
            let want = usize::try_from(header.raw_size).unwrap_or(usize::MAX);
            let take = want.min(body.len()).min(cap);
            let rtf = body.get(..take).unwrap_or_default().to_vec();
            Ok(Decompressed {
                truncated: take < want,
                rtf,
                kind: header.kind,
                raw_size: header.raw_size,
                crc_ok: header.crc == 0,
            })
        }
        CompressionKind::Lzfu => {
            let crc_ok = complete && crc(body) == header.crc;
            // Each 17 input bytes (a control byte and 8 references) produce at most 8 × 17 bytes,
            // so the reservation is bounded by the input as well as by RAWSIZE (already checked).
            let bound = body.len().saturating_mul(8).saturating_add(16);
            let reserve = usize::try_from(header.raw_size)
                .unwrap_or(usize::MAX)
                .min(bound)
                .min(cap);
            let (rtf, ended) = decode_lzfu(body, reserve, cap);
            Ok(Decompressed {
                truncated: !complete || !ended,
                rtf,
                kind: header.kind,
                raw_size: header.raw_size,
                crc_ok,
            })
        }
    }
}

/// Compresses `raw` into a `PidTagRtfCompressed` value of `COMPTYPE` `LZFu` ([MS-OXRTFCP]
/// 3.1.3.1): header with `COMPSIZE`, `RAWSIZE` and the CRC, then control bytes, literals and
/// references, ending with the end-of-stream reference.
///
/// Greedy matching through a hash of the next three bytes over the dictionary's current
/// window (the initial dictionary included). The output is valid for every decoder but not
/// byte-identical to Outlook's encoder, whose match search the specification describes only
/// in outline. Used for fixtures and benchmarks, and by writers that need a compressed body.
/// Inputs over 4 GiB (whose size `RAWSIZE` cannot hold) are cut to `u32::MAX` bytes.
pub fn compress_rtf(raw: &[u8]) -> Vec<u8> {
    let raw = raw.get(..raw.len().min(u32::MAX as usize)).unwrap_or(raw);
    // The dictionary is the last 4096 bytes of INITIAL_DICTIONARY ++ raw: the byte at position
    // `p` of that virtual stream sits at dictionary offset `p & 0xFFF`.
    let base = INITIAL_DICTIONARY.len();
    let at = |p: usize| -> u8 {
        if p < base {
            INITIAL_DICTIONARY.get(p).copied().unwrap_or(0)
        } else {
            raw.get(p - base).copied().unwrap_or(0)
        }
    };
    const HASH_BITS: u32 = 14;
    let hash = |p: usize| -> usize {
        let v = u32::from(at(p)) | u32::from(at(p + 1)) << 8 | u32::from(at(p + 2)) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    };
    let mut table = vec![usize::MAX; 1 << HASH_BITS];
    for p in 0..base.saturating_sub(2) {
        if let Some(slot) = table.get_mut(hash(p)) {
            *slot = p;
        }
    }
    let end = base + raw.len();
    let mut body = Vec::with_capacity(raw.len() / 2 + 16);
    let mut cur = base;
    loop {
        let control_at = body.len();
        body.push(0u8);
        let mut control = 0u8;
        let mut finished = false;
        for bit in 0..8 {
            if cur >= end {
                // End of stream: a reference to the write position (length field 0).
                control |= 1 << bit;
                body.extend_from_slice(&(((cur & DICT_MASK) as u16) << 4).to_be_bytes());
                finished = true;
                break;
            }
            let mut best = 0;
            let mut best_pos = 0;
            if cur + 3 <= end {
                let h = hash(cur);
                let candidate = table.get(h).copied().unwrap_or(usize::MAX);
                if let Some(slot) = table.get_mut(h) {
                    *slot = cur;
                }
                // Distance at most 4096 - 18: the copied bytes must not be overwritten by the
                // copy itself wrapping around the ring.
                if candidate != usize::MAX && cur - candidate <= DICT_LEN - 18 {
                    let max = (end - cur).min(17);
                    while best < max && at(candidate + best) == at(cur + best) {
                        best += 1;
                    }
                    best_pos = candidate;
                }
            }
            if best >= 3 {
                control |= 1 << bit;
                let token = (((best_pos & DICT_MASK) as u16) << 4) | (best as u16 - 2);
                body.extend_from_slice(&token.to_be_bytes());
                for p in cur + 1..cur + best {
                    if p + 3 <= end
                        && let Some(slot) = table.get_mut(hash(p))
                    {
                        *slot = p;
                    }
                }
                cur += best;
            } else {
                body.push(at(cur));
                cur += 1;
            }
        }
        if let Some(c) = body.get_mut(control_at) {
            *c = control;
        }
        if finished {
            break;
        }
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    let comp_size = u32::try_from(body.len() + 12).unwrap_or(u32::MAX);
    out.extend_from_slice(&comp_size.to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&COMPTYPE_COMPRESSED.to_le_bytes());
    out.extend_from_slice(&crc(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The contents after the header, as far as `COMPSIZE` says and the data has; the flag is false
/// when `COMPSIZE` runs past the data.
fn contents<'a>(data: &'a [u8], header: &Header) -> Option<(&'a [u8], bool)> {
    let rest = data.get(HEADER_LEN..)?;
    let declared = usize::try_from(header.comp_size - 12).unwrap_or(usize::MAX);
    Some(match rest.get(..declared) {
        Some(body) => (body, true),
        None => (rest, false),
    })
}

/// Runs the `LZFu` decoder of [MS-OXRTFCP] 3.1.3.1 over `body`, producing at most `cap` bytes
/// (with `reserve` bytes reserved up front). The flag is true when the end-of-stream reference
/// was reached (and `cap` not hit).
///
/// Each control byte announces eight tokens, least significant bit first: 0 is a literal byte,
/// 1 a two-byte big-endian reference whose high 12 bits are a dictionary offset and low 4 bits
/// the length minus 2. A reference whose offset equals the write position ends the stream.
///
/// The 4096-byte ring is not kept separately: the output itself is the dictionary, preceded by
/// the ring's initial contents laid out so that index `i` of the buffer sits at ring offset
/// `i & 0xFFF` (4096 zero bytes, then [`INITIAL_DICTIONARY`], so the output starts at ring
/// offset 207). Ring offset `o` seen at write position `w` is then the byte `(w - o) & 0xFFF`
/// positions back, and references become slice copies within the output.
fn decode_lzfu(body: &[u8], reserve: usize, cap: usize) -> (Vec<u8>, bool) {
    const PREFIX: usize = DICT_LEN + INITIAL_DICTIONARY.len();
    let mut out = Vec::with_capacity(PREFIX.saturating_add(reserve).saturating_add(COPY));
    out.resize(DICT_LEN, 0);
    out.extend_from_slice(INITIAL_DICTIONARY);
    let limit = PREFIX.saturating_add(cap);
    let ended = decode_into(body, &mut out, limit);
    out.drain(..PREFIX);
    (out, ended)
}

/// Bytes copied for every reference whose source lies at least this far back: the longest
/// reference (17 bytes) rounded up to whole 8-byte moves. The output is reserved with this
/// much room to spare, so that the bytes copied past a reference's end do not grow it while
/// the stream holds to its `RAWSIZE`.
const COPY: usize = 24;

fn decode_into(body: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
    let mut input = body.iter().copied();
    while let Some(control) = input.next() {
        for bit in 0..8 {
            if control & (1 << bit) == 0 {
                let Some(byte) = input.next() else {
                    return false;
                };
                if out.len() >= limit {
                    return false;
                }
                out.push(byte);
            } else {
                let (Some(hi), Some(lo)) = (input.next(), input.next()) else {
                    return false;
                };
                let reference = u16::from_be_bytes([hi, lo]);
                let offset = usize::from(reference >> 4);
                let length = usize::from(reference & 0xF) + 2;
                let write = out.len() & DICT_MASK;
                if offset == write {
                    return true;
                }
                if out.len().saturating_add(length) > limit {
                    return false;
                }
                let distance = (write.wrapping_sub(offset)) & DICT_MASK;
                let start = out.len() - distance;
                if distance >= COPY {
                    // A copy of a fixed size, which the compiler can inline, instead of one of
                    // `length` bytes; the bytes past `length` are cut off again.
                    let end = out.len() + length;
                    out.extend_from_within(start..start + COPY);
                    out.truncate(end);
                } else if distance >= length {
                    out.extend_from_within(start..start + length);
                } else {
                    // The source overlaps the bytes being written (a run): copy byte by byte.
                    for i in start..start + length {
                        let byte = out.get(i).copied().unwrap_or(0);
                        out.push(byte);
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// [MS-OXRTFCP] 4.1 (Example 1, simple compressed RTF), the bytes as printed there.
    const SPEC_SIMPLE: &[u8] = &[
        0x2d, 0x00, 0x00, 0x00, // COMPSIZE = 45 = 33 bytes of contents + 12
        0x2b, 0x00, 0x00, 0x00, // RAWSIZE = 43
        0x4c, 0x5a, 0x46, 0x75, // COMPTYPE = "LZFu"
        0xf1, 0xc5, 0xc7, 0xa7, // CRC = 0xA7C7C5F1
        0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3,
        0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a,
        0x80, 0x0f, 0xa0, // contents: control bytes, literals and references
    ];
    const SPEC_SIMPLE_RAW: &[u8] = b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n";

    /// [MS-OXRTFCP] 4.2 (Example 2, a reference that reads bytes it is writing).
    const SPEC_CROSSING: &[u8] = &[
        0x1a, 0x00, 0x00, 0x00, // COMPSIZE = 26 = 14 bytes of contents + 12
        0x1c, 0x00, 0x00, 0x00, // RAWSIZE = 28
        0x4c, 0x5a, 0x46, 0x75, // COMPTYPE = "LZFu"
        0xe2, 0xd4, 0x4b, 0x51, // CRC = 0x514BD4E2
        0x41, 0x00, 0x04, 0x20, 0x57, 0x58, 0x59, 0x5a, 0x0d, 0x6e, 0x7d, 0x01, 0x0e, 0xb0,
    ];
    const SPEC_CROSSING_RAW: &[u8] = b"{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}";

    /// A small, honest LZFu compressor for fixtures: greedy longest match over the current
    /// dictionary window (the encoder of [MS-OXRTFCP] 3.1.3.1 in spirit, not byte-exact with
    /// Outlook's), then the end-of-stream reference. Returns a complete blob with header.
    pub(crate) fn compress(raw: &[u8]) -> Vec<u8> {
        let mut dict = [0u8; DICT_LEN];
        dict[..INITIAL_DICTIONARY.len()].copy_from_slice(INITIAL_DICTIONARY);
        let mut write = INITIAL_DICTIONARY.len();
        let mut filled = INITIAL_DICTIONARY.len();
        let mut body = Vec::new();
        let mut pos = 0;
        let mut done = false;
        while !done {
            let control_at = body.len();
            body.push(0u8);
            for bit in 0..8 {
                if pos >= raw.len() {
                    // End-of-stream: a reference to the current write position.
                    body[control_at] |= 1 << bit;
                    body.extend_from_slice(&((write as u16) << 4).to_be_bytes());
                    done = true;
                    break;
                }
                let max = (raw.len() - pos).min(17);
                let (mut best_len, mut best_off) = (0, 0);
                for start in 0..filled.min(DICT_LEN) {
                    if start == write {
                        continue;
                    }
                    // Simulate the byte-by-byte copy so overlapping matches are found correctly.
                    let mut sim = dict;
                    let (mut s, mut w, mut len) = (start, write, 0);
                    while len < max && sim[s] == raw[pos + len] {
                        sim[w] = sim[s];
                        s = (s + 1) & DICT_MASK;
                        w = (w + 1) & DICT_MASK;
                        len += 1;
                    }
                    if len > best_len {
                        best_len = len;
                        best_off = start;
                    }
                }
                if best_len >= 2 {
                    body[control_at] |= 1 << bit;
                    let token = ((best_off as u16) << 4) | (best_len as u16 - 2);
                    body.extend_from_slice(&token.to_be_bytes());
                    for i in 0..best_len {
                        dict[write] = dict[(best_off + i) & DICT_MASK];
                        write = (write + 1) & DICT_MASK;
                    }
                    filled = (filled + best_len).min(DICT_LEN);
                    pos += best_len;
                } else {
                    body.push(raw[pos]);
                    dict[write] = raw[pos];
                    write = (write + 1) & DICT_MASK;
                    filled = (filled + 1).min(DICT_LEN);
                    pos += 1;
                }
            }
        }
        wrap(COMPTYPE_COMPRESSED, raw.len() as u32, crc(&body), &body)
    }

    /// Builds header + contents field by field.
    pub(crate) fn wrap(comp_type: u32, raw_size: u32, crc: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(body.len() as u32 + 12).to_le_bytes()); // COMPSIZE
        out.extend_from_slice(&raw_size.to_le_bytes()); // RAWSIZE
        out.extend_from_slice(&comp_type.to_le_bytes()); // COMPTYPE
        out.extend_from_slice(&crc.to_le_bytes()); // CRC
        out.extend_from_slice(body); // CONTENTS
        out
    }

    fn limits() -> Limits {
        Limits::strict()
    }

    #[test]
    fn crc_matches_the_documented_test_vector() {
        assert_eq!(crc(b"123456789"), 0x2DFD_2D88);
        assert_eq!(crc(b""), 0);
    }

    #[test]
    fn initial_dictionary_is_207_bytes() {
        assert_eq!(INITIAL_DICTIONARY.len(), 207);
        assert!(
            INITIAL_DICTIONARY.starts_with(b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}")
        );
        assert!(INITIAL_DICTIONARY.ends_with(b"\\tab\\tx"));
    }

    #[test]
    fn spec_example_1_simple() {
        assert_eq!(
            decompress_rtf(SPEC_SIMPLE, &limits()).unwrap(),
            SPEC_SIMPLE_RAW
        );
        let d = decompress_rtf_lenient(SPEC_SIMPLE, &limits()).unwrap();
        assert!(d.is_clean());
        assert_eq!(d.kind, CompressionKind::Lzfu);
        assert_eq!(crc(&SPEC_SIMPLE[16..]), 0xA7C7_C5F1);
    }

    #[test]
    fn spec_example_2_reference_crossing_the_write_position() {
        assert_eq!(
            decompress_rtf(SPEC_CROSSING, &limits()).unwrap(),
            SPEC_CROSSING_RAW
        );
    }

    #[test]
    fn own_compressor_round_trips_and_wraps_the_dictionary() {
        // Longer than 4096 bytes so the write position wraps around the ring.
        let mut raw = b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 ".to_vec();
        for i in 0..600 {
            raw.extend_from_slice(format!("{{\\*\\htmltag84 <p>}}line {i}\\par ").as_bytes());
        }
        raw.push(b'}');
        assert!(raw.len() > 2 * DICT_LEN);
        let packed = compress(&raw);
        assert!(
            packed.len() < raw.len() / 2,
            "the fixture really compresses"
        );
        assert_eq!(decompress_rtf(&packed, &limits()).unwrap(), raw);
        // The spec example decoded with our compressor's output for the same input also agrees.
        assert_eq!(
            decompress_rtf(&compress(SPEC_SIMPLE_RAW), &limits()).unwrap(),
            SPEC_SIMPLE_RAW
        );
    }

    #[test]
    fn fixed_size_reference_copies_neither_change_the_output_nor_grow_it() {
        // Far references (copied COPY bytes at a time, then cut) and a run (copied byte by
        // byte).
        let mut raw = Vec::new();
        for i in 0..400u32 {
            raw.extend_from_slice(format!("<td class=c{}>cell</td>", i % 13).as_bytes());
        }
        raw.extend_from_slice(&[b'z'; 40]);
        // Ends with a far reference, whose extra bytes would pass the reserved size.
        raw.extend_from_slice(b"<td class=c5>cell</td>");
        let packed = compress_rtf(&raw);
        let out = decompress_rtf_lenient(&packed, &limits()).unwrap();
        assert!(!out.truncated && out.crc_ok);
        assert_eq!(out.rtf, raw);
        let prefix = DICT_LEN + INITIAL_DICTIONARY.len();
        assert!(out.rtf.capacity() <= prefix + raw.len() + COPY);
    }

    #[test]
    fn public_compressor_round_trips() {
        let mut long = Vec::new();
        for i in 0..3000u32 {
            long.extend_from_slice(format!("{{\\*\\htmltag84 <td>}}{}\\par ", i % 97).as_bytes());
        }
        let inputs: [&[u8]; 6] = [
            b"",
            b"x",
            SPEC_SIMPLE_RAW,
            SPEC_CROSSING_RAW,
            &[b'a'; 5000],
            &long,
        ];
        for raw in inputs {
            let packed = compress_rtf(raw);
            let d = decompress_rtf_lenient(&packed, &limits()).unwrap();
            assert!(d.is_clean(), "input of {} bytes", raw.len());
            assert_eq!(d.rtf, raw);
        }
        assert!(compress_rtf(&long).len() < long.len() / 4);
        // The initial dictionary is used: the RTF prologue costs two references, not literals.
        assert!(compress_rtf(SPEC_SIMPLE_RAW).len() <= SPEC_SIMPLE.len() + 4);
        // The empty stream is a control byte and the end reference at offset 207 (0x0CF0).
        assert_eq!(&compress_rtf(b"")[16..], &[0x01, 0x0C, 0xF0]);
    }

    proptest::proptest! {
        #[test]
        fn compressor_and_decoder_agree(raw in proptest::collection::vec(
            proptest::sample::select(b"{}\\rtf1 ansi par htmltag abc\r\n".to_vec()), 0..6000)) {
            let packed = compress_rtf(&raw);
            proptest::prop_assert_eq!(decompress_rtf(&packed, &limits()).unwrap(), raw);
        }

        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = decompress_rtf_lenient(&data, &limits());
        }
    }

    #[test]
    fn mela_stored_contents() {
        let raw = b"{\\rtf1 stored}";
        let blob = wrap(COMPTYPE_UNCOMPRESSED, raw.len() as u32, 0, raw);
        assert_eq!(decompress_rtf(&blob, &limits()).unwrap(), raw);
        let d = decompress_rtf_lenient(&blob, &limits()).unwrap();
        assert_eq!(d.kind, CompressionKind::Mela);
        assert!(d.is_clean());
        // RAWSIZE beyond the stored bytes: what is there, flagged.
        let mut short = blob.clone();
        short[4..8].copy_from_slice(&100u32.to_le_bytes());
        let d = decompress_rtf_lenient(&short, &limits()).unwrap();
        assert!(d.truncated);
        assert_eq!(d.rtf, raw);
        assert!(matches!(
            decompress_rtf(&short, &limits()),
            Err(RtfError::Truncated { .. })
        ));
        // MELA with a non-zero CRC: data returned by the lenient call, an error in strict mode.
        let bad_crc = wrap(COMPTYPE_UNCOMPRESSED, raw.len() as u32, 7, raw);
        let d = decompress_rtf_lenient(&bad_crc, &limits()).unwrap();
        assert!(!d.crc_ok);
        assert_eq!(d.rtf, raw);
        assert_eq!(
            decompress_rtf(&bad_crc, &limits()),
            Err(RtfError::CrcMismatch {
                stored: 7,
                computed: 0,
                offset: 12
            })
        );
    }

    #[test]
    fn short_headers_are_errors_not_panics() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                decompress_rtf_lenient(&SPEC_SIMPLE[..len], &limits()),
                Err(RtfError::TooShort { len })
            );
        }
    }

    #[test]
    fn unknown_comptype_and_tiny_compsize() {
        let mut bad = SPEC_SIMPLE.to_vec();
        bad[8..12].copy_from_slice(b"LZFv");
        assert_eq!(
            decompress_rtf(&bad, &limits()),
            Err(RtfError::UnknownCompType {
                value: 0x7646_5A4C,
                offset: 8
            })
        );
        let mut bad = SPEC_SIMPLE.to_vec();
        bad[0..4].copy_from_slice(&3u32.to_le_bytes());
        assert!(matches!(
            decompress_rtf(&bad, &limits()),
            Err(RtfError::CompSizeTooSmall {
                value: 3,
                offset: 0
            })
        ));
    }

    #[test]
    fn lying_rawsize_is_refused_before_allocating() {
        let mut bad = SPEC_SIMPLE.to_vec();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decompress_rtf_lenient(&bad, &limits()),
            Err(RtfError::RawSizeOverLimit {
                value: u32::MAX,
                offset: 4,
                ..
            })
        ));
        // A RAWSIZE within limits but wrong still decodes what the stream holds.
        let mut small = SPEC_SIMPLE.to_vec();
        small[4..8].copy_from_slice(&1u32.to_le_bytes());
        let d = decompress_rtf_lenient(&small, &limits()).unwrap();
        assert_eq!(d.rtf, SPEC_SIMPLE_RAW);
        assert!(!d.is_clean());
    }

    #[test]
    fn compsize_beyond_the_data_gives_truncated_output() {
        for cut in HEADER_LEN..SPEC_SIMPLE.len() {
            let d = decompress_rtf_lenient(&SPEC_SIMPLE[..cut], &limits()).unwrap();
            assert!(d.truncated, "cut at {cut}");
            assert!(!d.crc_ok);
            assert!(SPEC_SIMPLE_RAW.starts_with(&d.rtf), "prefix at cut {cut}");
            assert!(matches!(
                decompress_rtf(&SPEC_SIMPLE[..cut], &limits()),
                Err(RtfError::Truncated { .. })
            ));
        }
        // A COMPSIZE that claims more than there is, over complete contents.
        let mut lying = SPEC_SIMPLE.to_vec();
        lying[0..4].copy_from_slice(&1000u32.to_le_bytes());
        let d = decompress_rtf_lenient(&lying, &limits()).unwrap();
        assert_eq!(d.rtf, SPEC_SIMPLE_RAW);
        assert!(d.truncated);
    }

    #[test]
    fn crc_mismatch_is_reported_and_data_still_returned() {
        let mut bad = SPEC_SIMPLE.to_vec();
        bad[12] ^= 0xFF;
        assert_eq!(
            decompress_rtf(&bad, &limits()),
            Err(RtfError::CrcMismatch {
                stored: 0xA7C7_C50E,
                computed: 0xA7C7_C5F1,
                offset: 12
            })
        );
        let d = decompress_rtf_lenient(&bad, &limits()).unwrap();
        assert!(!d.crc_ok);
        assert!(!d.truncated);
        assert_eq!(d.rtf, SPEC_SIMPLE_RAW);
    }

    #[test]
    fn trailing_bytes_after_compsize_are_ignored() {
        let mut padded = SPEC_SIMPLE.to_vec();
        padded.extend_from_slice(&[0xAA; 7]);
        assert_eq!(decompress_rtf(&padded, &limits()).unwrap(), SPEC_SIMPLE_RAW);
    }

    #[test]
    fn output_is_capped_by_the_allocation_limit() {
        let raw = vec![b'x'; 10_000];
        let packed = compress(&raw);
        let mut tiny = Limits::strict();
        tiny.max_allocation = 20_000;
        assert_eq!(decompress_rtf(&packed, &tiny).unwrap(), raw);
        // RAWSIZE lies low and the limit is below the real size: output stops at the limit.
        let mut lying = packed.clone();
        lying[4..8].copy_from_slice(&100u32.to_le_bytes());
        tiny.max_allocation = 1000;
        let d = decompress_rtf_lenient(&lying, &tiny).unwrap();
        assert!(d.truncated);
        assert!(d.rtf.len() <= 1000);
    }

    #[test]
    fn missing_end_marker_is_truncated() {
        // One control byte announcing 8 literals, then only the literals: no end reference.
        let body = [0x00, b'{', b'\\', b'r', b't', b'f', b'1', b' ', b'}'];
        let blob = wrap(COMPTYPE_COMPRESSED, 8, crc(&body), &body);
        let d = decompress_rtf_lenient(&blob, &limits()).unwrap();
        assert_eq!(d.rtf, b"{\\rtf1 }");
        assert!(d.truncated);
        assert!(d.crc_ok);
    }
}
