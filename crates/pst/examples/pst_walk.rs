//! Times a full walk (every message decoded) of each file given, for profiling.
//!
//! `cargo run --release -p mailmig-pst --example pst_walk -- FILE...`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mailmig_ir::{Budget, Driver, OpenOptions};
use mailmig_pst::PstDriver;

fn main() {
    let mut opts = OpenOptions::default();
    opts.salvage = true;
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for p in std::env::args().skip(1) {
        let t = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..reps {
            let src = PstDriver.open(&[p.clone().into()], &opts).unwrap();
            for mb in src.mailboxes().to_vec() {
                let sec = src.open_mailbox(&mb, &Budget::unlimited()).unwrap();
                n += sec.messages.flatten().count();
            }
        }
        println!(
            "{:>8.2} ms {n:>5} msgs {p}",
            t.elapsed().as_secs_f64() * 1000.0 / reps as f64
        );
    }
}
