//! Post-office integrity checks over trees built in code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{mbg_record, noise, valid_po};
use mailmig_ir::{Driver, Finding, Limits, OpenOptions, Severity, SourceError};
use mailmig_msmail::MsmailPostOfficeDriver;
use mailmig_msmail::po::integrity::{CheckOptions, check};
use mailmig_msmail::po::tree::{MemoryTree, walk};

fn run(t: &MemoryTree, experimental: bool) -> Vec<Finding> {
    let opts = CheckOptions {
        code_page: 850,
        experimental,
        limits: Limits::strict(),
    };
    check(&t.tree(), t, &opts).findings
}

fn find<'a>(f: &'a [Finding], code: &str) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.code == code).collect()
}

fn at(f: &Finding) -> (Option<&str>, Option<u64>) {
    (f.file.as_deref(), f.offset)
}

#[test]
fn valid_post_office_has_no_errors_and_counts_mailboxes() {
    let t = valid_po(3);
    let opts = CheckOptions {
        code_page: 850,
        experimental: false,
        limits: Limits::strict(),
    };
    let r = check(&t.tree(), &t, &opts);
    let errors: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(r.mailbox_records, Some(3));
    assert_eq!(r.details["counts"]["mailbag_records"], 6);
    assert_eq!(r.details["counts"]["mai_files"], 6);
    assert!(
        r.details["mailbags"][0].get("headers").is_none(),
        "headers only when experimental"
    );
}

#[test]
fn record_sizes_are_checked_with_offsets() {
    let mut t = valid_po(2);
    t.file("GLB/ACCESS.GLB", vec![0; 586 * 2 + 10]);
    t.file("KEY/00000001.KEY", vec![0; 561]);
    t.file("GLB/CONTROL.GLB", vec![0; 7]);
    let mut bag = mbg_record("A", b"s", [1, 1, 1, 1, 1993], b"00000040");
    bag.extend([0u8; 20]);
    t.file("MBG/00000001.MBG", bag);
    t.file("NME/GAL.NME", vec![0; 46]);
    let f = run(&t, false);
    let rs = find(&f, "msmail.record-size");
    assert!(
        rs.iter()
            .any(|x| at(x) == (Some("GLB/ACCESS.GLB"), Some(1172))),
        "{rs:#?}"
    );
    assert!(
        rs.iter()
            .any(|x| at(x) == (Some("MBG/00000001.MBG"), Some(116)))
    );
    assert!(rs.iter().any(|x| at(x) == (Some("NME/GAL.NME"), Some(45))));
    assert_eq!(
        at(find(&f, "msmail.key-size")[0]),
        (Some("KEY/00000001.KEY"), Some(560))
    );
    assert_eq!(
        at(find(&f, "msmail.fixed-size")[0]),
        (Some("GLB/CONTROL.GLB"), Some(7))
    );
}

#[test]
fn access_files_out_of_step() {
    let mut t = valid_po(3);
    t.file("GLB/ACCESS3.GLB", vec![0; 512 * 2]);
    let f = run(&t, false);
    let m = find(&f, "msmail.access-count-mismatch");
    assert_eq!(m.len(), 1);
    assert_eq!(at(m[0]), (Some("GLB/ACCESS3.GLB"), Some(1024)));
    let mut t = valid_po(1);
    t.file("GLB/ACCESS.GLB", vec![0; 586 * 4]);
    let f = run(&t, false);
    assert_eq!(
        at(find(&f, "msmail.access-count-mismatch")[0]),
        (Some("GLB/ACCESS.GLB"), Some(586))
    );
}

#[test]
fn shadow_files_must_match() {
    let mut t = valid_po(2);
    let mut shd = noise(7, 90);
    shd[50] ^= 0xFF;
    t.file("NME/ADMINSHD.NME", shd);
    t.file("GRP/ADMINSHD.GRP", vec![0; 24]);
    let f = run(&t, false);
    let s = find(&f, "msmail.shadow-mismatch");
    assert!(
        s.iter()
            .any(|x| at(x) == (Some("NME/ADMINSHD.NME"), Some(50))),
        "{s:#?}"
    );
    assert!(
        s.iter()
            .any(|x| at(x) == (Some("GRP/ADMINSHD.GRP"), Some(16)))
    );
}

#[test]
fn mailbag_references_and_stranded_files() {
    let mut t = valid_po(1);
    let mut bag = mbg_record("A", b"ok", [1, 1, 1, 1, 1993], b"00000040");
    bag.extend(mbg_record("A", b"gone", [1, 1, 1, 1, 1993], b"000000AA"));
    bag.extend(mbg_record("A", b"bad", [1, 1, 1, 1, 1993], b"0000XX00"));
    bag.extend(mbg_record("A", b"dup", [1, 1, 1, 1, 1993], b"00000040"));
    t.file("MBG/00000001.MBG", bag);
    t.file("MAI/MA3/00000099.MAI", noise(1, 10)); // wrong subdir and stranded
    t.file("KEY/0000000F.KEY", vec![0; 560]); // key without mailbag
    let f = run(&t, false);
    assert_eq!(
        at(find(&f, "msmail.missing-mai")[0]),
        (Some("MBG/00000001.MBG"), Some(116 + 0x43))
    );
    assert_eq!(
        at(find(&f, "msmail.bad-mai-name")[0]),
        (Some("MBG/00000001.MBG"), Some(232 + 0x43))
    );
    assert_eq!(
        at(find(&f, "msmail.duplicate-mai-reference")[0]),
        (Some("MBG/00000001.MBG"), Some(348 + 0x43))
    );
    assert_eq!(
        find(&f, "msmail.mai-wrong-subdir")[0].file.as_deref(),
        Some("MAI/MA3/00000099.MAI")
    );
    let stranded: Vec<_> = find(&f, "msmail.stranded-mai")
        .iter()
        .map(|x| x.file.clone().unwrap())
        .collect();
    assert_eq!(
        stranded,
        vec![
            "MAI/MA1/00000041.MAI".to_string(),
            "MAI/MA3/00000099.MAI".to_string()
        ]
    );
    assert_eq!(
        find(&f, "msmail.key-without-mbg")[0].file.as_deref(),
        Some("KEY/0000000F.KEY")
    );
    // CONTROL.GLB's counter (0x100) is above every MAI name here; lower it.
    let mut c = 1u32.to_le_bytes().to_vec();
    c.extend(0x50u32.to_le_bytes());
    t.file("GLB/CONTROL.GLB", c);
    let f = run(&t, false);
    assert_eq!(
        at(find(&f, "msmail.control-counter")[0]),
        (Some("GLB/CONTROL.GLB"), Some(4))
    );
}

#[test]
fn missing_directories_and_subdirectories() {
    let t = valid_po(1);
    let mut u = MemoryTree::new();
    // Rebuild without MAI/MA7 and without P1.
    for e in t.tree().entries {
        if e.path.starts_with("MAI/MA7") || e.path == "P1" {
            continue;
        }
        if e.is_dir {
            u.dir(&e.path);
        } else {
            u.file(&e.path, {
                use mailmig_msmail::po::tree::FileContents;
                (*t.read(&e.path, u64::MAX).unwrap()).as_ref().to_vec()
            });
        }
    }
    let f = run(&u, false);
    assert_eq!(
        find(&f, "msmail.missing-subdir")[0].file.as_deref(),
        Some("MAI/MA7")
    );
    let p1 = find(&f, "msmail.missing-dir");
    assert_eq!(p1.len(), 1);
    assert_eq!(
        (p1[0].file.as_deref(), p1[0].severity),
        (Some("P1"), Severity::Warning)
    );
}

#[test]
fn experimental_headers_are_labelled_inferred() {
    let mut t = valid_po(1);
    let mut bag = mbg_record(
        "MARTIAN",
        b"This is the subject",
        [25, 16, 8, 10, 1993],
        b"00000040",
    );
    bag.extend(mbg_record("X", b"Bad\x01\xB3", [0x5555; 5], b"00000041"));
    t.file("MBG/00000001.MBG", bag);
    let opts = CheckOptions {
        code_page: 850,
        experimental: true,
        limits: Limits::strict(),
    };
    let r = check(&t.tree(), &t, &opts);
    let h = &r.details["mailbags"][0]["headers"];
    assert!(h["layout"].as_str().unwrap().contains("inferred"));
    assert_eq!(h["items"][0]["sender"], "MARTIAN");
    assert_eq!(h["items"][0]["subject"], "This is the subject");
    assert_eq!(h["items"][0]["date"], "1993-10-08 16:25");
    assert_eq!(h["items"][0]["mai"], "00000040");
    let f = r.findings;
    assert!(
        find(&f, "msmail.mailbag-headers-inferred")[0]
            .message
            .contains("inferred")
    );
    assert_eq!(
        at(find(&f, "msmail.mailbag-all-fives")[0]),
        (Some("MBG/00000001.MBG"), Some(116 + 0x38))
    );
    assert_eq!(
        at(find(&f, "msmail.mailbag-graphic-subject")[0]),
        (Some("MBG/00000001.MBG"), Some(116 + 0x0D))
    );
    // Not experimental: no header listing, no inferred findings.
    let f = run(&t, false);
    assert!(find(&f, "msmail.mailbag-all-fives").is_empty());
    assert!(find(&f, "msmail.mailbag-headers-inferred").is_empty());
}

#[test]
fn disk_driver_detects_inspects_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    valid_po(2).write_to(dir.path()).unwrap();
    let d = MsmailPostOfficeDriver;
    let det = d.detect(dir.path(), &[]).unwrap();
    assert!(!det.convertible);
    assert_eq!(det.confidence, 90);
    let mut o = OpenOptions::default();
    o.experimental = true;
    let ins = d.inspect(dir.path(), &o).unwrap();
    assert!(
        ins.findings.iter().all(|f| f.severity < Severity::Warning),
        "{:#?}",
        ins.findings
    );
    assert_eq!(ins.details["mailbox_records"], 2);
    match d.open(&[dir.path().to_path_buf()], &o) {
        Err(SourceError::Unsupported { explanation, .. }) => {
            assert!(explanation.contains("encrypted"));
            assert!(explanation.contains("PST"));
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened"),
    }
    assert!(d.detect(&dir.path().join("GLB"), &[]).is_none());
}

#[cfg(unix)]
#[test]
fn walk_is_bounded_and_does_not_follow_links() {
    let dir = tempfile::tempdir().unwrap();
    valid_po(1).write_to(dir.path()).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("LOOP")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("MAI/MA0/LOOP")).unwrap();
    let t = walk(dir.path(), 1_000).unwrap();
    assert_eq!(
        t.skipped_links,
        vec!["LOOP".to_string(), "MAI/MA0/LOOP".to_string()]
    );
    assert!(!t.truncated);
    let t = walk(dir.path(), 10).unwrap();
    assert!(t.truncated);
    assert!(t.entries.len() <= 10);
    let opts = CheckOptions {
        code_page: 850,
        experimental: false,
        limits: Limits::strict(),
    };
    let r = check(
        &t,
        &mailmig_msmail::po::tree::DiskContents::new(dir.path()),
        &opts,
    );
    assert!(r.findings.iter().any(|f| f.code == "msmail.entry-limit"));
}
