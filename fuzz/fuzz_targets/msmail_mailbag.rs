//! Fuzzes mailbag record decoding: the documented MAI name and the inferred header layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_msmail::po::mailbag::{inferred_header, mai_name, records};

fuzz_target!(|data: &[u8]| {
    let (recs, rem) = records(data);
    assert!(rem < 116);
    for (i, (off, rec)) in recs.enumerate() {
        let _ = mai_name(rec);
        let h = inferred_header(rec, i as u64, off, 850);
        for (_, _, o) in &h.issues {
            assert!(*o >= off && *o < off + 116);
        }
    }
    // Short input must not panic either.
    let _ = mai_name(data);
    let _ = inferred_header(data, 0, 0, 932);
});
