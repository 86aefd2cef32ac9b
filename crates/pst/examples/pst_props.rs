//! Prints the raw properties of one node of a PST (store = 0x21 by default).
//!
//! `cargo run -p mailmig-pst --example pst_props -- FILE.pst [NID]`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mailmig_ir::OpenOptions;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = OpenOptions::default();
    o.salvage = true;
    let store = mailmig_pst::open_store(std::path::Path::new(&args[0]), &o).unwrap();
    let nid = args
        .get(1)
        .map(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap())
        .unwrap_or(0x21);
    for p in store.read_pc(nid).unwrap() {
        let v = mailmig_pst::messaging::props::to_prop_value(&p, store.code_page());
        let s = format!("{v:?}");
        println!("0x{:08X} {}", p.tag, &s[..s.len().min(150)]);
    }
}
