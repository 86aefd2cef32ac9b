//! Fuzzes the post-office integrity checks over in-memory trees built from the fuzz bytes:
//! repeated `[name selector][len lo][len hi][data…]` chunks, names drawn from the documented
//! layout so that the record-size and cross-reference checks see plausible trees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_ir::Limits;
use mailmig_msmail::po::integrity::{CheckOptions, check};
use mailmig_msmail::po::tree::MemoryTree;

const NAMES: &[&str] = &[
    "GLB/ACCESS.GLB", "GLB/ACCESS2.GLB", "GLB/ACCESS3.GLB", "GLB/CONTROL.GLB", "GLB/MASTER.GLB",
    "GLB/GROUP.GLB", "GLB/GALINDEX.GLB", "GLB/SVRCONF.GLB", "NME/ADMIN.NME", "NME/ADMINSHD.NME",
    "GRP/ADMIN.GRP", "GRP/ADMINSHD.GRP", "MEM/00000001.MEM", "MBG/00000001.MBG", "MBG/00000002.MBG",
    "MBG/INQUEUE3.MBG", "KEY/00000001.KEY", "KEY/00000003.KEY", "MAI/MA0/00000040.MAI",
    "MAI/MA1/00000041.MAI", "MAI/MA2/00000041.MAI", "FOLDERS/SERIALNO.IDX",
    "FOLDERS/PUB/FOLDROOT.IDX", "FOLDERS/PUB/01000000.FLD", "ATT/AT0/00000040.ATT", "MMF/00000001.MMF",
];
const DIRS: &[&str] = &["GLB", "MBG", "KEY", "MAI", "ATT", "NME", "MAI/MA0", "ATT/AT0", "P1"];

fuzz_target!(|data: &[u8]| {
    let mut t = MemoryTree::new();
    let mut rest = data;
    while let [sel, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (body, next) = tail.split_at(len);
        if *sel >= 0xF0 {
            t.dir(DIRS[usize::from(*sel) % DIRS.len()]);
        } else {
            t.file(NAMES[usize::from(*sel) % NAMES.len()], body.to_vec());
        }
        rest = next;
    }
    let opts = CheckOptions { code_page: 850, experimental: true, limits: Limits::strict() };
    let r = check(&t.tree(), &t, &opts);
    for f in &r.findings {
        assert!(!f.code.is_empty());
    }
});
