//! Bytes mapped onto the EXPORT format's alphabet (keywords, digits, separators, CRLF) so that
//! random input forms message structure; then read back, and re-written by the sink and read
//! again (the writer must accept whatever the reader produced).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_ccmail::{CcmailSink, ExportReader, ReaderConfig, scan_folder_names};
use mailmig_ir::Limits;

const TOKENS: &[&[u8]] = &[
    b"Message:", b"From: ", b"To: ", b"Cc: ", b"Bcc: ", b"Date: ", b"Subject: ", b"RRT: ",
    b"Contents:", b"Text item:", b"File item: ", b"Fax item:", b"Message item: ", b"OLE item:",
    b"Folder: ", b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b" ", b"  ", b"/", b"-", b":", b",",
    b" at ", b"#", b"Ada", b"Lovelace, Ada", b"LONDON", b"AM", b"PM", b"x.TXT", b"{\\rtf",
    b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9", b"12", b"31", b"99", b"1999",
    b"\x00", b"\x0A\x05\x01", b"\xA4", b"\x82\xA0",
];

fuzz_target!(|data: &[u8]| {
    let mut text = Vec::with_capacity(data.len() * 4);
    for &b in data {
        let t = TOKENS.get(usize::from(b) % TOKENS.len()).copied().unwrap_or(b" ");
        if usize::from(b) >= TOKENS.len() * 4 {
            text.extend_from_slice(t);
            text.extend_from_slice(b"\r\n");
        } else {
            text.extend_from_slice(t);
        }
    }
    let cfg = ReaderConfig::new("alpha.ccm").with_limits(Limits::strict());
    let scanned = scan_folder_names(&text, &cfg, &|| {});
    let sink = CcmailSink::new(850);
    let mut rewritten = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    for m in ExportReader::from_vec(text, cfg.clone()).take(100_000) {
        if let Ok(m) = m {
            if let Some(f) = &m.folder
                && !folders.iter().any(|n| n.eq_ignore_ascii_case(f))
            {
                folders.push(f.clone());
            }
            rewritten.extend(sink.render_message(&m, &[]).bytes);
        }
    }
    // The folder pre-scan walks the stream as the reader does, so it finds the reader's folders.
    assert_eq!(scanned, folders, "folder pre-scan and reader disagree");
    let mut r = ExportReader::from_vec(rewritten, cfg);
    for m in r.by_ref() {
        assert!(m.is_ok(), "writer output must read back without skipped items");
    }
    let s = r.stats();
    assert_eq!(s.scanned, 0, "writer output must frame by its sizes: {s:?}");
});
