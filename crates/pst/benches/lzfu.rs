//! Compressed-RTF throughput ([MS-OXRTFCP] decoder and [MS-OXRTFEX] de-encapsulation).
//!
//! Input: a deterministic HTML-in-RTF document of the kind Outlook writes (`\fromhtml1`,
//! `\*\htmltag` groups, `\htmlrtf` regions, `\'hh` escapes), about 4.5 MB raw, compressed with
//! `compress_rtf` to about 1 MB. Throughput is reported per compressed byte for decompression
//! and per RTF byte for de-encapsulation.
//!
//! Run: `cargo bench -p mailmig-pst --bench lzfu`.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use mailmig_ir::Limits;
use mailmig_pst::rtf::{compress_rtf, decompress_rtf, html_from_rtf};

/// A small xorshift generator so the document varies without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: &[&str] = &[
    "meeting",
    "quarterly",
    "report",
    "attached",
    "please",
    "review",
    "budget",
    "the",
    "and",
    "Gr\\'fc\\'dfe",
    "caf\\'e9",
    "invoice",
    "schedule",
    "tomorrow",
    "regards",
    "project",
];

fn document(target: usize) -> Vec<u8> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut out = String::from(
        "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl\r\n{\\f0\\fswiss\\fcharset0 Arial;}\r\n{\\f1\\fmodern Courier New;}}\r\n{\\colortbl\\red0\\green0\\blue0;\\red0\\green0\\blue255;}\r\n\\uc1\\pard\\plain\\deftab360 \\f0\\fs24 {\\*\\htmltag19 <html>}{\\*\\htmltag34 <head>}{\\*\\htmltag41 </head>}{\\*\\htmltag50 <body>}\r\n",
    );
    let mut paragraph = 0u64;
    while out.len() < target {
        paragraph += 1;
        out.push_str(&format!(
            "{{\\*\\htmltag64 <p class=MsoNormal id=p{paragraph}>}}\\htmlrtf {{\\htmlrtf0 "
        ));
        let words = 8 + rng.next() % 40;
        for _ in 0..words {
            let w = WORDS
                .get((rng.next() % WORDS.len() as u64) as usize)
                .copied()
                .unwrap_or("x");
            if rng.next().is_multiple_of(11) {
                out.push_str(&format!("{{\\*\\htmltag84 <b>}}\\htmlrtf {{\\b \\htmlrtf0 {w}{{\\*\\htmltag92 </b>}}\\htmlrtf }}\\htmlrtf0 "));
            } else {
                out.push_str(w);
                out.push(' ');
            }
            if rng.next().is_multiple_of(17) {
                out.push_str(&format!("{}", rng.next() % 100_000));
            }
        }
        out.push_str("\r\n{\\*\\htmltag72 </p>}\\htmlrtf\\par}\\htmlrtf0\r\n");
    }
    out.push_str("{\\*\\htmltag58 </body>}{\\*\\htmltag27 </html>}}");
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let raw = document(4_500_000);
    let packed = compress_rtf(&raw);
    let limits = Limits::default();
    assert_eq!(
        decompress_rtf(&packed, &limits).ok().as_deref(),
        Some(&raw[..])
    );
    eprintln!(
        "lzfu bench input: {} bytes raw, {} bytes compressed",
        raw.len(),
        packed.len()
    );

    let mut group = c.benchmark_group("rtf");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(packed.len() as u64));
    group.bench_function("decompress_lzfu_per_compressed_byte", |b| {
        b.iter(|| decompress_rtf(black_box(&packed), &limits))
    });
    group.throughput(Throughput::Bytes(raw.len() as u64));
    group.bench_function("decompress_lzfu_per_output_byte", |b| {
        b.iter(|| decompress_rtf(black_box(&packed), &limits))
    });
    group.bench_function("html_from_rtf_per_rtf_byte", |b| {
        b.iter(|| html_from_rtf(black_box(&raw)))
    });
    group.bench_function("compress_rtf_per_rtf_byte", |b| {
        b.iter(|| compress_rtf(black_box(&raw)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
