//! NDB writer throughput (`write::ndb::NdbWriter`): bytes of node data written per second,
//! including block trailers, CRCs, encoding, the B-trees, the maps, the header and the final
//! `fsync`.
//!
//! * `large_stream_*`: one 256 MiB attachment-like stream (an XXBLOCK tree), with no
//!   encoding and with permute encoding;
//! * `many_nodes`: 40,000 nodes of 1–3 KiB each, every fourth with two subnodes (NBT and
//!   BBT of several levels).
//!
//! Output goes to a temporary directory (the system temp dir; set `TMPDIR` to measure another
//! disk). Run: `cargo bench -p mailmig-pst --bench write`.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mailmig_pst::ndb::CryptMethod;
use mailmig_pst::write::ndb::NdbWriter;
use mailmig_pst::write::{NodeContent, SubnodeContent};

/// Deterministic pseudo-random bytes (xorshift64).
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn write_all(nodes: Vec<(u32, NodeContent)>, crypt: CryptMethod) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let mut w = NdbWriter::create(&dir.path().join("bench.pst"), crypt).unwrap();
    for (nid, c) in nodes {
        w.add_node(nid, 0x8022, c).unwrap();
    }
    w.finish().unwrap().file_size
}

fn large_stream(c: &mut Criterion) {
    const SIZE: usize = 256 << 20;
    let data = bytes(1, SIZE);
    let content = NodeContent::from_stream(&data);
    let mut g = c.benchmark_group("ndb_write");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(SIZE as u64));
    for (name, crypt) in [
        ("large_stream_none", CryptMethod::None),
        ("large_stream_permute", CryptMethod::Permute),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || vec![(0x20_0025u32, content.clone())],
                |nodes| write_all(nodes, crypt),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn many_nodes(c: &mut Criterion) {
    let mut nodes = Vec::new();
    let mut total = 0u64;
    for i in 0..40_000u32 {
        let size = 1024 + (i as usize * 37) % 2048;
        total += size as u64;
        let subnodes = if i % 4 == 0 {
            total += 2 * 300;
            vec![
                SubnodeContent {
                    nid: 0x671,
                    content: NodeContent::from_stream(&bytes(u64::from(i) + 7, 300)),
                },
                SubnodeContent {
                    nid: 0x692,
                    content: NodeContent::from_stream(&bytes(u64::from(i) + 9, 300)),
                },
            ]
        } else {
            Vec::new()
        };
        nodes.push((
            ((0x1_0000 + i) << 5) | 0x04,
            NodeContent {
                blocks: vec![bytes(u64::from(i), size)],
                stream: None,
                subnodes,
            },
        ));
    }
    let mut g = c.benchmark_group("ndb_write");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(total));
    g.bench_function("many_nodes", |b| {
        b.iter_batched(
            || nodes.clone(),
            |nodes| write_all(nodes, CryptMethod::Permute),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, large_stream, many_nodes);
criterion_main!(benches);
