//! Synthetic fixtures built field by field (clean room, `msmail.md` §11 item 5). Shared by the
//! integration tests and the corpus generator.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mailmig_msmail::po::layout::MAIN_DIRS;
use mailmig_msmail::po::tree::MemoryTree;

/// One 116-byte mailbag record (`msmail.md` §5), field by field.
pub fn mbg_record(sender: &str, subject: &[u8], date: [u16; 5], mai: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 116];
    r[0x02..0x02 + sender.len()].copy_from_slice(sender.as_bytes()); // sender, NUL-padded [I]
    r[0x0D..0x0D + subject.len()].copy_from_slice(subject); // subject, NUL-padded [I]
    for (i, w) in date.iter().enumerate() {
        // minute, hour, day, month, year as LE words [I]
        r[0x38 + 2 * i..0x3A + 2 * i].copy_from_slice(&w.to_le_bytes());
    }
    r[0x43..0x43 + mai.len()].copy_from_slice(mai); // MAI name, 8 hex digits [D] (KB Q108027)
    r[0x4E..0x50].copy_from_slice(&0x0228u16.to_le_bytes()); // unknown word seen in the dump [U]
    r[0x58..0x5A].copy_from_slice(&0x0018u16.to_le_bytes()); // unknown word seen in the dump [U]
    r
}

/// Deterministic filler standing in for encrypted `.MAI`/`.ATT` content (never decoded).
pub fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A consistent post office with `users` local users, each with a mailbag of two records whose
/// `.MAI` files exist.
pub fn valid_po(users: u32) -> MemoryTree {
    let mut t = MemoryTree::new();
    for (d, _) in MAIN_DIRS {
        t.dir(d);
    }
    for h in b"0123456789ABCDEF" {
        t.dir(&format!("MAI/MA{}", *h as char)); // MAI\MA0…MAF (KB Q77926)
        t.dir(&format!("ATT/AT{}", *h as char)); // ATT\AT0…ATF (KB Q77926)
    }
    let n = users as usize;
    t.file("GLB/ACCESS.GLB", vec![0; 586 * n]); // 586-byte records (KB Q77926), content [U]
    t.file("GLB/ACCESS2.GLB", vec![0; 69 * n]); // 69-byte records
    t.file("GLB/ACCESS3.GLB", vec![0; 512 * n]); // 512-byte records
    let mut control = Vec::new();
    control.extend(1u32.to_le_bytes()); // first counter (KB Q122852)
    control.extend(0x100u32.to_le_bytes()); // second counter: MAI/ATT name generator
    t.file("GLB/CONTROL.GLB", control);
    t.file("GLB/MASTER.GLB", vec![0; 176]); // serial number, network type [U]
    t.file("GLB/FLAG.GLB", vec![0; 2]);
    t.file("GLB/GLOBAL.GLB", vec![0; 512]);
    t.file("GLB/NETWORK.GLB", vec![0; 122]); // one network
    t.file("GLB/GROUP.GLB", vec![0; 4 + 51]); // 4-byte header, one group
    t.file("NME/ADMIN.NME", noise(7, 45 * n)); // 45-byte name records, layout [U]
    t.file("NME/ADMINSHD.NME", noise(7, 45 * n)); // identical shadow (KB Q135932)
    t.file("GRP/ADMIN.GRP", vec![0; 8 + 8]); // 8 + 8·n
    t.file("GRP/ADMINSHD.GRP", vec![0; 8 + 8]);
    t.file("FOLDERS/SERIALNO.IDX", 0x10u32.to_le_bytes().to_vec()); // next folder id
    t.file("FOLDERS/PUB/FOLDROOT.IDX", vec![0; 100 + 158]); // 100 + 158·n
    t.file("FOLDERS/PUB/00000003.FLD", noise(3, 300)); // a shared folder
    for u in 0..users {
        let id = format!("{:08X}", u + 1);
        let mut bag = Vec::new();
        for j in 0..2u32 {
            let mai = format!("{:08X}", 0x40 + u * 2 + j);
            let subject = format!("Report {j} for user {id}");
            bag.extend(mbg_record(
                "ADMIN",
                subject.as_bytes(),
                [25 + j as u16, 16, 8, 10, 1993],
                mai.as_bytes(),
            ));
            let last = mai.chars().last().unwrap();
            t.file(&format!("MAI/MA{last}/{mai}.MAI"), noise(u * 2 + j, 200));
        }
        t.file(&format!("MBG/{id}.MBG"), bag); // 116-byte records
        t.file(&format!("KEY/{id}.KEY"), vec![0; 560]); // 560 bytes (KB Q104279)
        t.file(&format!("MMF/{id}.MMF"), noise(100 + u, 64)); // placeholder MMF on the PO
    }
    t.file("MMF/POPULATE.MSM", Vec::new()); // placeholder, not an MMF (KB Q104362)
    t
}

/// A synthetic file that carries the heuristic MMF evidence of §2.6 (not a real MMF: random
/// bytes, the language string at 0x90, 40 KB).
pub fn synthetic_mmf() -> Vec<u8> {
    let mut v = noise(42, 40 * 1024);
    let lang = b"English (American)\0";
    v[0x90..0x90 + lang.len()].copy_from_slice(lang);
    v
}
