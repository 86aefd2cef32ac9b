//! Single-byte code page to UTF-8 with AVX-512 (VBMI and VBMI2), 32 input bytes at a time.
//!
//! The vector code's `unsafe` is kept to this module: the CPU features are checked once
//! (`is_x86_feature_detected!`) before any of it runs, and every load and store goes through a
//! slice whose length was checked first, so a wrong computation here cannot touch memory
//! outside the buffers. Its output is not checked as UTF-8 again in release builds: the
//! caller relies on it being the two-byte encodings of the page's table, stored whole and in
//! order, which tests check against the IR's decoder for every pair of bytes on every
//! single-byte page (and debug builds check on every text).
//!
//! A block of 32 bytes:
//!
//! * ASCII and bytes whose character takes two bytes of UTF-8 (the accented letters of every
//!   single-byte page), all ASCII included: each byte becomes a 16-bit lane holding its first
//!   and second UTF-8 byte (two 128-entry lookups, `vpermi2b`), and the unused second bytes
//!   of ASCII lanes are squeezed out (`vpcompressb`);
//! * any byte that needs three UTF-8 bytes (box drawing, `€`) or is undefined in the page:
//!   handed back to the scalar expansion.

use std::arch::x86_64::{
    __m512i, _mm256_loadu_si256, _mm256_mask_blend_epi8, _mm256_mask_cmpeq_epi8_mask,
    _mm256_movemask_epi8, _mm256_setzero_si256, _mm512_castsi256_si512, _mm512_castsi512_si256,
    _mm512_cvtepu8_epi16, _mm512_loadu_si512, _mm512_maskz_compress_epi8, _mm512_or_si512,
    _mm512_permutex2var_epi8, _mm512_slli_epi16, _mm512_storeu_si512, _pdep_u64,
};
use std::slice::ChunksExact;

/// The 128 high bytes of a page as the first and the second byte of their UTF-8 encoding. A
/// second byte of zero (never a UTF-8 continuation byte) marks a byte the vector path leaves
/// to the scalar expansion.
#[derive(Debug)]
pub(crate) struct Tables {
    first: [u8; 128],
    second: [u8; 128],
}

/// Bytes of output one block may store: the 64 of a full vector store.
const STORE: usize = 64;

impl Tables {
    /// The tables of the page whose bytes encode as `utf8` (little-endian) with lengths `len`
    /// (bits 0–2, and bit 7 set when undefined), or `None` when this CPU lacks the features.
    pub(crate) fn new(utf8: &[u32; 256], len: &[u8; 256]) -> Option<Self> {
        if !(is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vbmi")
            && is_x86_feature_detected!("avx512vbmi2")
            && is_x86_feature_detected!("bmi2")
            && is_x86_feature_detected!("popcnt"))
        {
            return None;
        }
        let mut first = [0u8; 128];
        let mut second = [0u8; 128];
        for (i, (f, s)) in first.iter_mut().zip(second.iter_mut()).enumerate() {
            let (e, l) = (*utf8.get(128 + i)?, *len.get(128 + i)?);
            if l == 2 {
                let [b0, b1, ..] = e.to_le_bytes();
                (*f, *s) = (b0, b1);
            }
        }
        Some(Self { first, second })
    }

    /// Expands the blocks of `blocks` into `out` from its start while `out` has room for a
    /// full store after the position reached; returns the length written and the OR of the
    /// scalar length entries (from `slow`, which expands one block at a given position). The
    /// blocks not taken are left in `blocks`. With `out` as large as the scalar expansion asks
    /// (three bytes per input byte and 40), every block is taken: a block at input byte `i`
    /// starts at most at output byte `3 * i`, so at least 136 bytes remain.
    pub(crate) fn expand_blocks(
        &self,
        blocks: &mut ChunksExact<'_, u8>,
        out: &mut [u8],
        slow: impl FnMut(&[u8], &mut [u8], usize) -> Option<(usize, u8)>,
    ) -> Option<(usize, u8)> {
        // SAFETY: `new` returned `Some` only after checking every feature `run` enables.
        #[allow(unsafe_code)]
        unsafe {
            self.run(blocks, out, slow)
        }
    }

    #[target_feature(enable = "popcnt,avx2,avx512f,avx512bw,avx512vl,avx512vbmi,avx512vbmi2,bmi2")]
    fn run(
        &self,
        blocks: &mut ChunksExact<'_, u8>,
        out: &mut [u8],
        mut slow: impl FnMut(&[u8], &mut [u8], usize) -> Option<(usize, u8)>,
    ) -> Option<(usize, u8)> {
        let (f_lo, f_hi) = halves(&self.first);
        let (s_lo, s_hi) = halves(&self.second);
        let mut at = 0usize;
        let mut flags = 0u8;
        while out.len().saturating_sub(at) >= STORE {
            let Some(b) = blocks.next() else { break };
            let b = <&[u8; 32]>::try_from(b).ok()?;
            let dst = <&mut [u8; STORE]>::try_from(out.get_mut(at..at + STORE)?).ok()?;
            // SAFETY: `b` is 32 readable bytes.
            #[allow(unsafe_code)]
            let x = unsafe { _mm256_loadu_si256(b.as_ptr().cast()) };
            let high = _mm256_movemask_epi8(x).cast_unsigned();
            // No branch on an all-ASCII block (whose lanes all compress to their first byte):
            // in text with an accented letter every few words, which blocks are ASCII cannot
            // be predicted, and the misses cost more than the permutes. (Text that is all
            // ASCII never comes here: `Decoder::decode` borrows it.)
            // Bit 6 of a high byte picks the table half, bits 0–5 the entry.
            let wide = _mm512_castsi256_si512(x);
            let first = _mm512_castsi512_si256(_mm512_permutex2var_epi8(f_lo, wide, f_hi));
            let second = _mm512_castsi512_si256(_mm512_permutex2var_epi8(s_lo, wide, s_hi));
            if _mm256_mask_cmpeq_epi8_mask(high, second, _mm256_setzero_si256()) != 0 {
                let (o, f) = slow(b, out, at)?;
                at += o;
                flags |= f;
                continue;
            }
            let lead = _mm256_mask_blend_epi8(high, x, first);
            let lanes = _mm512_or_si512(
                _mm512_cvtepu8_epi16(lead),
                _mm512_slli_epi16::<8>(_mm512_cvtepu8_epi16(second)),
            );
            // Every first byte, and the second byte of the high ones.
            let keep = 0x5555_5555_5555_5555 | _pdep_u64(u64::from(high), 0xAAAA_AAAA_AAAA_AAAA);
            let packed = _mm512_maskz_compress_epi8(keep, lanes);
            // SAFETY: `dst` is 64 writable bytes.
            #[allow(unsafe_code)]
            unsafe {
                _mm512_storeu_si512(dst.as_mut_ptr().cast(), packed);
            }
            at += 32 + high.count_ones() as usize;
        }
        Some((at, flags))
    }
}

/// The two 64-byte halves of a 128-entry table as vectors.
#[target_feature(enable = "avx512f")]
fn halves(t: &[u8; 128]) -> (__m512i, __m512i) {
    let (lo, hi) = t.split_at(64);
    // SAFETY: each half is 64 readable bytes.
    #[allow(unsafe_code)]
    unsafe {
        (
            _mm512_loadu_si512(lo.as_ptr().cast()),
            _mm512_loadu_si512(hi.as_ptr().cast()),
        )
    }
}
