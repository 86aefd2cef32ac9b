//! Fuzzes the MMFF reader (and the writer on what it read). The first byte picks raw mode or
//! alphabet mode, where bytes ≥ 0x80 expand to MMFF tokens and terminators so that random input
//! forms structure (STYLE.md, "Tests and fuzzing").
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailmig_ir::Limits;
use mailmig_ir::blob::SharedBytes;
use mailmig_msmail::mmff::reader::{ReadOptions, read_file};
use mailmig_msmail::mmff::writer::{WriterOptions, write_message};

const ALPHABET: &[&[u8]] = &[
    b"VERSION:3.00", b"TO:", b"CC:", b"FROM:", b"DATE:1993-10-08", b"TIME:16:25", b"SUBJECT:",
    b"PRIORITY:HIGH", b"ATTACHMENTS:A.TXT ", b"XATTACH:X[Y]", b"XTEXT:B", b"TEXT:", b"EXT:I:3:HEADLEN",
    b"\r", b"\n", b"\r\n", b"12", b"3", b"0", b" ", b"CSI:", b"SMTP:a@b", b"-----", b"VERSION:",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let input: Vec<u8> = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut v = Vec::new();
        for &b in rest {
            if b >= 0x80 {
                v.extend_from_slice(ALPHABET[usize::from(b) % ALPHABET.len()]);
            } else {
                v.push(b);
            }
        }
        v
    };
    let shared: SharedBytes = Arc::new(input);
    let limits = Limits::strict();
    let cp = [850u16, 852, 932, 1252][usize::from(mode >> 1) % 4];
    let parsed = read_file(
        &shared,
        &ReadOptions { code_page: cp, limits: &limits, file_name: "fuzz", base_dir: None },
    );
    for m in parsed.items.into_iter().flatten() {
        let mut out = Vec::new();
        write_message(&m, &WriterOptions::default(), &mut out);
        let again: SharedBytes = Arc::new(out);
        let re = read_file(
            &again,
            &ReadOptions { code_page: 850, limits: &limits, file_name: "fuzz2", base_dir: None },
        );
        assert!(!re.items.is_empty());
    }
});
