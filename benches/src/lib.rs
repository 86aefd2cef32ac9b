//! Benchmarks live in `benches/`; the peer comparison script in `peers/`.
