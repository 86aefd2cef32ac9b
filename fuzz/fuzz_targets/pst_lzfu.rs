//! Fuzz target: compressed-RTF decoding ([MS-OXRTFCP]) and HTML/text de-encapsulation
//! ([MS-OXRTFEX]) on arbitrary bytes. Neither may panic, hang or allocate beyond the limits.
//!
//! The input is used three ways: as a `PidTagRtfCompressed` value; with a valid LZFu/MELA header
//! placed in front (so the fuzzer reaches the decoder without guessing the header), its
//! decompressed output then fed to the de-encapsulators; and as RTF text directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_ir::Limits;
use mailmig_pst::rtf::{self, lzfu};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::strict();
    let _ = rtf::decompress_rtf(data, &limits);
    if let Ok(d) = rtf::decompress_rtf_lenient(data, &limits) {
        assert!(d.rtf.len() as u64 <= limits.max_allocation);
    }

    let (selector, body) = data.split_first().unwrap_or((&0, &[]));
    let comp_type = if selector & 1 == 0 {
        lzfu::COMPTYPE_COMPRESSED
    } else {
        lzfu::COMPTYPE_UNCOMPRESSED
    };
    let mut blob = Vec::with_capacity(body.len() + 16);
    blob.extend_from_slice(&(body.len() as u32 + 12).to_le_bytes());
    blob.extend_from_slice(&(body.len() as u32 * 8).to_le_bytes());
    blob.extend_from_slice(&comp_type.to_le_bytes());
    blob.extend_from_slice(&lzfu::crc(body).to_le_bytes());
    blob.extend_from_slice(body);
    if let Ok(d) = rtf::decompress_rtf_lenient(&blob, &limits) {
        // Each 17 input bytes decode to at most 136 output bytes.
        assert!(d.rtf.len() <= body.len() * 8 + 16);
        let _ = rtf::html_from_rtf(&d.rtf);
        let _ = rtf::text_from_rtf(&d.rtf);
    }

    let _ = rtf::encapsulation(data);
    let _ = rtf::html_from_rtf(data);
    let _ = rtf::text_from_rtf(data);
    // RTF-shaped input: prefix a \fromhtml1 header so the state machine is exercised.
    let mut doc = b"{\\rtf1\\ansi\\ansicpg932\\fromhtml1 ".to_vec();
    doc.extend_from_slice(data);
    if let Some(html) = rtf::html_from_rtf(&doc) {
        assert!(html.len() <= doc.len() * 4 + 16);
    }
});
