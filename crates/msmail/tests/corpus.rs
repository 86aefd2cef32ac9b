//! Golden tests over `corpus/msmail/{valid,damaged}/<case>/`: each case's `input/` is built by
//! the code below (field by field, see `common/`), and `expected.json` holds the driver output.
//! Regenerate both with `MAILMIG_UPDATE_EXPECTED=1 cargo test -p mailmig-msmail --test corpus`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::{mbg_record, noise, synthetic_mmf, valid_po};
use mailmig_ir::{Budget, Driver, Limits, OpenOptions};
use mailmig_msmail::po::tree::MemoryTree;
use mailmig_msmail::{MmfDriver, MmffDriver, MsmailPostOfficeDriver};
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Po,
    Mmff,
    Mmf,
}

struct Case {
    group: &'static str,
    name: &'static str,
    kind: Kind,
    build: fn() -> MemoryTree,
    /// `(code, file, offset)` that the output must report (damaged cases).
    must_report: &'static [(&'static str, &'static str, Option<u64>)],
}

fn kb_example() -> Vec<u8> {
    let text = "Ada,\r\n\r\nThe plans for the second Difference Engine are attached.\r\nThe carriage drawing is still missing.\r\n\r\nCharles\r\n";
    let att = "Sheet 1: framing\r\nSheet 2: carry mechanism\r\n";
    format!(
        "VERSION:3.00\r\nTO:CSI:ANALYTIC/LONDON/ALOVELACE\r\nTO:SMTP:mary.somerville@example.org\r\nFROM:CSI:ANALYTIC/LONDON/CBABBAGE\r\nDATE:1993-10-08\r\nTIME:16:25\r\nSUBJECT:Drawings for Difference Engine No. 2\r\nATTACHMENTS:DE2PLAN.TXT {}\r\nTEXT:{}\r\n{text}{att}",
        att.len(),
        text.len()
    )
    .into_bytes()
}

fn mmff(eol: &str, lines: &[&str], body: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(eol.as_bytes());
    }
    v.extend_from_slice(format!("TEXT:{}{eol}", body.len()).as_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(tail);
    v
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            group: "valid",
            name: "po-three-users",
            kind: Kind::Po,
            must_report: &[],
            build: || valid_po(3),
        },
        Case {
            group: "valid",
            name: "mmff-kb-example",
            kind: Kind::Mmff,
            must_report: &[],
            build: || {
                let mut t = MemoryTree::new();
                t.file("MMFF1.MSG", kb_example());
                t
            },
        },
        Case {
            group: "valid",
            name: "mmff-mailboxes-cr-lf",
            kind: Kind::Mmff,
            must_report: &[],
            build: || {
                let mut t = MemoryTree::new();
                // CR terminators (FFAPI -F0), CP850 subject "Grüße" (0x81 = ü, 0xE1 = ß).
                let mut subj = b"SUBJECT:Gr".to_vec();
                subj.extend([0x81, 0xE1, b'e']);
                let mut a = b"VERSION:3.00\rTO:CSI:NET/PO/ALICE\rFROM:SMTP:bob@example.org\rDATE:1995-02-03\rTIME:09:05\r".to_vec();
                a.extend(subj);
                a.extend(b"\rPRIORITY:HIGH\rX-MAILER:Gateway 2.1\rTEXT:6\rHallo\r");
                t.file("alice/MMFF1.MSG", a);
                // LF terminators (-F1), extended HEADLEN header from an SMTP gateway (KB Q147034).
                let body =
                    b"From: carol@example.org\nTo: ALICE\nSubject: Hi\n\n-----\nFirst line\n";
                t.file(
                    "alice/MMFF2.MSG",
                    mmff(
                        "\n",
                        &[
                            "VERSION:3.00",
                            "TO:CSI:NET/PO/ALICE",
                            "FROM:SMTP:carol@example.org",
                            "SUBJECT:Hi",
                            "EXT:I:3:HEADLEN",
                            "5",
                        ],
                        body,
                        b"",
                    ),
                );
                // CR LF (-F2), two messages in one file, one attachment each.
                let one = mmff(
                    "\r\n",
                    &[
                        "VERSION:3.00",
                        "TO:NET/PO/DAVE",
                        "FROM:NET/PO/ALICE",
                        "SUBJECT:one",
                        "ATTACHMENTS:A B.TXT 3",
                    ],
                    b"x\r\n",
                    b"abc",
                );
                let mut two = one.clone();
                two.extend_from_slice(b"\r\n");
                two.extend_from_slice(&one);
                t.file("dave/MMFF1.MSG", two);
                t.file("dave/README.TXT", b"not an MMFF file\n".to_vec());
                t
            },
        },
        Case {
            group: "valid",
            name: "mmf-synthetic",
            kind: Kind::Mmf,
            must_report: &[("msmail.mmf-identified", "<input>/MSMAIL.MMF", None)],
            build: || {
                let mut t = MemoryTree::new();
                t.file("MSMAIL.MMF", synthetic_mmf());
                t
            },
        },
        Case {
            group: "damaged",
            name: "po-record-sizes",
            kind: Kind::Po,
            must_report: &[
                ("msmail.record-size", "GLB/ACCESS.GLB", Some(586 * 2)),
                ("msmail.key-size", "KEY/00000002.KEY", Some(300)),
                ("msmail.record-size", "MBG/00000001.MBG", Some(232)),
                ("msmail.fixed-size", "GLB/CONTROL.GLB", Some(7)),
                ("msmail.record-size", "MEM/00000001.MEM", Some(4)),
            ],
            build: || {
                let mut t = valid_po(2);
                t.file("GLB/ACCESS.GLB", vec![0; 586 * 2 + 100]); // 100 stray bytes
                t.file("KEY/00000002.KEY", vec![0; 300]); // short index
                let mut bag = mbg_record(
                    "ADMIN",
                    b"Report 0 for user 00000001",
                    [25, 16, 8, 10, 1993],
                    b"00000040",
                );
                bag.extend(mbg_record(
                    "ADMIN",
                    b"Report 1 for user 00000001",
                    [26, 16, 8, 10, 1993],
                    b"00000041",
                ));
                bag.extend([0u8; 50]); // torn third record
                t.file("MBG/00000001.MBG", bag);
                t.file("GLB/CONTROL.GLB", vec![1, 0, 0, 0, 0, 1, 0]); // 7 of 8 bytes
                t.file("MEM/00000001.MEM", vec![1, 0, 0, 0, 2, 0]); // 4·n violated
                t
            },
        },
        Case {
            group: "damaged",
            name: "po-access-shadow",
            kind: Kind::Po,
            must_report: &[
                (
                    "msmail.access-count-mismatch",
                    "GLB/ACCESS3.GLB",
                    Some(1024),
                ),
                ("msmail.shadow-mismatch", "NME/ADMINSHD.NME", Some(100)),
                ("msmail.shadow-mismatch", "GRP/ADMINSHD.GRP", None),
            ],
            build: || {
                let mut t = valid_po(3);
                t.file("GLB/ACCESS3.GLB", vec![0; 512 * 2]); // one user record short
                let mut shd = noise(7, 45 * 3);
                shd[100] ^= 1; // one flipped bit in the shadow name list
                t.file("NME/ADMINSHD.NME", shd);
                let mut u = MemoryTree::new();
                for e in t.tree().entries {
                    if e.path == "GRP/ADMINSHD.GRP" {
                        continue; // shadow group file missing
                    }
                    if e.is_dir {
                        u.dir(&e.path);
                    } else {
                        use mailmig_msmail::po::tree::FileContents;
                        u.file(
                            &e.path,
                            (*t.read(&e.path, u64::MAX).unwrap()).as_ref().to_vec(),
                        );
                    }
                }
                u
            },
        },
        Case {
            group: "damaged",
            name: "po-mailbag-references",
            kind: Kind::Po,
            must_report: &[
                ("msmail.missing-mai", "MBG/00000001.MBG", Some(116 + 0x43)),
                ("msmail.bad-mai-name", "MBG/00000001.MBG", Some(232 + 0x43)),
                ("msmail.stranded-mai", "MAI/MA1/00000041.MAI", None),
                ("msmail.mbg-without-key", "MBG/INQUEUE3.MBG", None),
                (
                    "msmail.mailbag-all-fives",
                    "MBG/00000001.MBG",
                    Some(232 + 0x38),
                ),
                (
                    "msmail.mailbag-graphic-subject",
                    "MBG/00000001.MBG",
                    Some(232 + 0x0D),
                ),
                ("msmail.control-counter", "GLB/CONTROL.GLB", Some(4)),
            ],
            build: || {
                let mut t = valid_po(1);
                let mut bag = mbg_record(
                    "ADMIN",
                    b"Report 0 for user 00000001",
                    [25, 16, 8, 10, 1993],
                    b"00000040",
                );
                bag.extend(mbg_record(
                    "ADMIN",
                    b"Lost message",
                    [30, 16, 8, 10, 1993],
                    b"0000A0B7",
                )); // no such MAI
                bag.extend(mbg_record(
                    "GARBLE",
                    b"\xB3\xB3\x01junk",
                    [0x5555; 5],
                    b"00\0\0\0\0\0\0",
                )); // corrupt (KB Q123319)
                t.file("MBG/00000001.MBG", bag);
                t.file("MBG/INQUEUE3.MBG", Vec::new()); // empty queue without its KEY
                let mut c = 1u32.to_le_bytes().to_vec();
                c.extend(0x41u32.to_le_bytes()); // counter below MAI 0000A0B7 in use
                t.file("GLB/CONTROL.GLB", c);
                t
            },
        },
        Case {
            group: "damaged",
            name: "mmff-sizes-and-tail",
            kind: Kind::Mmff,
            must_report: &[
                ("mmff.attachment-overrun", "MMFF1.MSG", Some(44)),
                ("mmff.text-overrun", "MMFF2.MSG", Some(9)),
                ("mmff.unparsed-tail", "MMFF3.MSG", Some(29)),
                ("mmff.bad-header-line", "MMFF3.MSG", Some(9)),
                ("mmff.skipped-message", "MMFF4.MSG", Some(0)),
                ("mmff.skipped-message", "MMFF5.MSG", Some(9)),
                ("mmff.invalid-date", "MMFF6.MSG", Some(9)),
            ],
            build: || {
                let mut t = MemoryTree::new();
                // Attachment declares 100 bytes, 3 remain.
                t.file(
                    "MMFF1.MSG",
                    b"TO:N/P/A\rATTACHMENTS:PLAN.TXT 100\rTEXT:3\rhi\rabc".to_vec(),
                );
                // TEXT size runs past the end.
                t.file("MMFF2.MSG", b"TO:N/P/A\rTEXT:500\rshort body\r".to_vec());
                // A header line without a token, and junk after the data.
                t.file(
                    "MMFF3.MSG",
                    b"TO:N/P/A\rjunk line\rTEXT:3\rhi\rGARBAGE".to_vec(),
                );
                // No TEXT: line at all.
                t.file("MMFF4.MSG", b"TO:N/P/A\rSUBJECT:never ends\r".to_vec());
                // Non-numeric TEXT size.
                t.file("MMFF5.MSG", b"TO:N/P/A\rTEXT:12x\r".to_vec());
                // Invalid date.
                t.file(
                    "MMFF6.MSG",
                    b"TO:N/P/A\rDATE:1993-13-45\rTIME:25:99\rTEXT:0\r".to_vec(),
                );
                t
            },
        },
        Case {
            group: "damaged",
            name: "mmf-truncated",
            kind: Kind::Mmf,
            must_report: &[
                ("msmail.mmf-small", "<input>/MSMAIL.MMF", Some(5000)),
                ("msmail.mmf-repaired", "<input>/MSMAIL.MMF", None),
            ],
            build: || {
                let mut t = MemoryTree::new();
                let mut v = synthetic_mmf();
                v.truncate(5000); // cut short, as after a full disk (KB Q97651)
                t.file("MSMAIL.MMF", v);
                t.file("MSMAIL.BAK", noise(9, 100)); // repair-tool copy (KB Q104362)
                t.file("MSMAIL.001", noise(10, 100));
                t
            },
        },
    ]
}

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/msmail")
}

fn update() -> bool {
    std::env::var("MAILMIG_UPDATE_EXPECTED").is_ok_and(|v| v == "1")
}

fn files_below(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !e.file_name().to_string_lossy().starts_with('.') {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn run_case(case: &Case, input: &Path) -> Value {
    let mut o = OpenOptions::default();
    o.experimental = true;
    o.limits = Limits::strict();
    let v = match case.kind {
        Kind::Po => {
            let d = MsmailPostOfficeDriver;
            json!({
                "detect": d.detect(input, &[]),
                "inspect": d.inspect(input, &o).unwrap(),
                "open": d.open(&[input.to_path_buf()], &o).err().map(|e| e.to_string()),
            })
        }
        Kind::Mmf => {
            let p = input.join("MSMAIL.MMF");
            let head = std::fs::read(&p).unwrap();
            let d = MmfDriver;
            let mut ins = serde_json::to_value(d.inspect(&p, &o).unwrap()).unwrap();
            ins["details"]["modified_unix"] = Value::Null;
            json!({
                "detect": d.detect(&p, &head[..head.len().min(4096)]),
                "inspect": ins,
                "open": d.open(std::slice::from_ref(&p), &o).err().map(|e| e.to_string()),
            })
        }
        Kind::Mmff => {
            let d = MmffDriver;
            let src = d.open(&[input.to_path_buf()], &o).unwrap();
            let mut boxes = Vec::new();
            for mb in src.mailboxes() {
                let sec = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
                let items: Vec<Value> = sec
                    .messages
                    .map(|r| match r {
                        Ok(m) => json!({ "message": m }),
                        Err(s) => json!({ "skipped": s }),
                    })
                    .collect();
                boxes.push(json!({ "mailbox": mb, "folders": sec.folders, "items": items }));
            }
            json!({
                "detect": d.detect(input, &[]),
                "inspect": d.inspect(input, &o).unwrap(),
                "post_office": src.post_office(),
                "mailboxes": boxes,
            })
        }
    };
    let text = serde_json::to_string(&v)
        .unwrap()
        .replace(&input.display().to_string(), "<input>");
    serde_json::from_str(&text).unwrap()
}

/// One test (not two) so that regeneration never races with reading.
#[test]
fn corpus_inputs_and_golden_outputs() {
    for case in cases() {
        let dir = corpus_root().join(case.group).join(case.name);
        let input = dir.join("input");
        let tree = (case.build)();
        if update() {
            let _ = std::fs::remove_dir_all(&input);
            std::fs::create_dir_all(&input).unwrap();
            tree.write_to(&input).unwrap();
        }
        let scratch = tempfile::tempdir().unwrap();
        tree.write_to(scratch.path()).unwrap();
        assert!(
            files_below(&input) == files_below(scratch.path()),
            "{}/{}: corpus input differs from its builder; run with MAILMIG_UPDATE_EXPECTED=1",
            case.group,
            case.name
        );
        let got = run_case(&case, &input);
        let expected_path = dir.join("expected.json");
        if update() {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&got).unwrap() + "\n",
            )
            .unwrap();
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
                panic!(
                    "{} missing; run with MAILMIG_UPDATE_EXPECTED=1",
                    expected_path.display()
                )
            }),
        )
        .unwrap();
        assert!(
            got == expected,
            "{}/{}: output differs from expected.json (MAILMIG_UPDATE_EXPECTED=1 regenerates)",
            case.group,
            case.name
        );

        let findings = got["inspect"]["findings"].as_array().unwrap();
        for (code, file, offset) in case.must_report {
            assert!(
                findings.iter().any(|f| f["code"] == *code
                    && f["file"] == *file
                    && f.get("offset").and_then(Value::as_u64) == *offset),
                "{}/{}: missing finding {code} {file} {offset:?}",
                case.group,
                case.name
            );
        }
        if case.group == "valid" {
            assert!(
                findings.iter().all(|f| f["severity"] == "info"),
                "{}/{}: valid fixture has warnings: {findings:#?}",
                case.group,
                case.name
            );
        }
    }
}
