//! MMF identification: evidence, refusal to open, and what is not an MMF.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use mailmig_ir::{Driver, OpenOptions, SourceError};
use mailmig_msmail::MmfDriver;
use mailmig_msmail::mmf::{entropy, language_string};

#[test]
fn evidence_raises_confidence_but_never_to_100() {
    let dir = tempfile::tempdir().unwrap();
    let d = MmfDriver;
    let data = common::synthetic_mmf();
    let full = dir.path().join("MSMAIL.MMF");
    std::fs::write(&full, &data).unwrap();
    let det = d.detect(&full, &data[..4096]).unwrap();
    assert!(!det.convertible);
    assert!(
        det.confidence < 100 && det.confidence >= 80,
        "{}",
        det.confidence
    );
    // Same bytes without the .MMF name: only the weak evidence remains, below the threshold.
    let anon = dir.path().join("DATA.BIN");
    std::fs::write(&anon, &data).unwrap();
    assert!(d.detect(&anon, &data[..4096]).is_none());
    // An exported folder / migration .PAB with the evidence is reported with low confidence.
    let pab = dir.path().join("USER.PAB");
    std::fs::write(&pab, &data).unwrap();
    assert!(d.detect(&pab, &data[..4096]).unwrap().confidence < det.confidence);
    // The PO placeholder is never an MMF (KB Q104362), nor is MMFF text named .MMF.
    let pop = dir.path().join("POPULATE.MSM");
    std::fs::write(&pop, &data).unwrap();
    assert!(d.detect(&pop, &data[..4096]).is_none());
    let text = b"VERSION:3.00\rTO:N/P/A\rTEXT:0\r";
    let fake = dir.path().join("OUT.MMF");
    std::fs::write(&fake, text).unwrap();
    assert!(d.detect(&fake, text).is_none());
}

#[test]
fn po_mmf_directory_gives_owner_id_and_open_refuses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("MMF")).unwrap();
    let p = dir.path().join("MMF/0000001A.MMF");
    std::fs::write(&p, common::synthetic_mmf()).unwrap();
    let d = MmfDriver;
    let ins = d.inspect(&p, &OpenOptions::default()).unwrap();
    assert_eq!(ins.details["owner_hex_id"], "0000001A");
    assert_eq!(ins.details["variant"], "undetermined");
    assert_eq!(ins.details["decodable"], false);
    assert!(
        ins.findings
            .iter()
            .any(|f| f.code == "msmail.mmf-encrypted")
    );
    match d.open(&[p], &OpenOptions::default()) {
        Err(SourceError::Unsupported { explanation, .. }) => {
            assert!(explanation.contains("PST") && explanation.contains("mailmig convert"));
        }
        _ => panic!("MMF must not open"),
    }
}

#[test]
fn helpers() {
    let mut h = vec![0u8; 0x100];
    h[0x90..0x90 + 16].copy_from_slice(b"Deutsch (German)");
    assert_eq!(language_string(&h).as_deref(), Some("Deutsch (German)"));
    assert_eq!(language_string(&[0u8; 0x100]), None);
    assert!(entropy(&[7u8; 1000]) < 0.01);
    assert!((entropy(&(0..=255u8).collect::<Vec<_>>()) - 8.0).abs() < 1e-9);
}
