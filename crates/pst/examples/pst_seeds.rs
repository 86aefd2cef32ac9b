//! Writes decoded heap blocks (store PC, name map, root folder, its tables) of a PST as fuzz
//! seeds for the `pst_ltp` target: byte 0 = 0 (one block), then the heap.
//!
//! `cargo run -p mailmig-pst --example pst_seeds -- FILE.pst OUTDIR`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mailmig_ir::OpenOptions;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store =
        mailmig_pst::open_store(std::path::Path::new(&args[0]), &OpenOptions::default()).unwrap();
    let ndb = store.ndb();
    for nid in [0x21u32, 0x61, 0x122, 0x12D, 0x12E, 0x60E, 0x692, 0x671] {
        let Ok(e) = ndb.lookup_node(nid) else {
            continue;
        };
        let Ok(blocks) = ndb.read_data_tree(e.bid_data) else {
            continue;
        };
        let mut seed = vec![0u8];
        seed.extend_from_slice(&blocks[0]);
        std::fs::write(
            format!(
                "{}/{:x}-{}",
                args[1],
                nid,
                std::path::Path::new(&args[0])
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
            ),
            seed,
        )
        .unwrap();
    }
}
