//! Declares the `fuzzing` cfg set by cargo-fuzz, so `cfg!(fuzzing)` does not warn.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
