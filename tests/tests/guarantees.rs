//! The run engine's guarantees, exercised through the real CLI as a child process
//! (ARCHITECTURE.md, "Guarantees of the run engine").

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Guarantee 5 [KB 842101]: a run killed midway (SIGKILL, no chance to clean up) and then
/// re-run produces a tree byte-identical to an uninterrupted run, with nothing merged or
/// duplicated. Killed twice at different points to cover staging, commit and journal.
#[test]
fn killed_run_resumes_to_identical_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 30, 100);
    let input = input.to_str().unwrap();

    let clean = tmp.path().join("clean");
    convert_ok(std::path::Path::new(input), "maildir", &clean, &[]);

    let resumed = tmp.path().join("resumed");
    let journal = resumed.join(".mailmig").join("journal.jsonl");
    let mut kills = 0;
    for wanted_lines in [3usize, 15] {
        let mut child = mailmig()
            .args([
                "convert",
                input,
                "--to",
                "maildir",
                "-o",
                resumed.to_str().unwrap(),
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let lines = std::fs::read_to_string(&journal)
                .map(|s| s.lines().count())
                .unwrap_or(0);
            if lines >= wanted_lines {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                panic!("the run finished before it could be killed; make the input larger");
            }
            assert!(Instant::now() < deadline, "no progress in the journal");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert!(
            !resumed.join("report.json").exists(),
            "killed before the end, so no report yet"
        );
    }
    assert_eq!(kills, 2);
    convert_ok(std::path::Path::new(input), "maildir", &resumed, &[]);
    assert_same_tree(&snapshot(&clean), &snapshot(&resumed));
    let r = report(&resumed);
    assert_eq!(r["totals"]["mailboxes"], 30);
    // The journal starts with one header line; 15 lines = 14 finished mailboxes.
    assert!(r["timings"]["resumed_mailboxes"].as_u64().unwrap() >= 14);
}

/// Guarantee 3 [KB Q255888]: `-j 4` output is byte-identical to `-j 1`, for every sink.
#[test]
fn parallel_output_equals_serial_output() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 12, 30);
    for to in [
        "maildir", "mbox", "eml", "jsonl", "iff", "ccmail", "mmff", "pst",
    ] {
        let a = tmp.path().join(format!("{to}-j1"));
        let b = tmp.path().join(format!("{to}-j4"));
        for (dir, j) in [(&a, "1"), (&b, "4")] {
            convert_ok(&input, to, dir, &["-j", j]);
        }
        assert_same_tree(&snapshot(&a), &snapshot(&b));
    }
}

/// Guarantee 2 [KB Q194218]: every mailbox user gets a section in every sink, also users with
/// no mail and runs with `--no-mail`.
#[test]
fn every_user_gets_a_section_in_every_sink() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 20, 5); // users 10 and 20 have no mail
    for to in ["maildir", "mbox", "eml", "jsonl", "pst"] {
        for no_mail in [false, true] {
            let out = tmp.path().join(format!("{to}-{no_mail}"));
            let extra: &[&str] = if no_mail { &["--no-mail"] } else { &[] };
            convert_ok(&input, to, &out, extra);
            let r = report(&out);
            let boxes = r["mailboxes"].as_array().unwrap();
            assert_eq!(boxes.len(), 20, "{to}: one report entry per user");
            for b in boxes {
                let dir = out.join(b["dir_name"].as_str().unwrap());
                assert!(
                    dir.is_dir(),
                    "{to} no_mail={no_mail}: no section for {}",
                    b["key"]
                );
                let files = count_files(&dir);
                assert!(files > 0, "{to}: section of {} is empty on disk", b["key"]);
                if to == "pst" {
                    // The user's PST opens, with the standard folders even without mail.
                    let pst = dir.join(format!("{}.pst", b["dir_name"].as_str().unwrap()));
                    let o = run(&["inspect", "--json", pst.to_str().unwrap()]);
                    assert_eq!(o.status.code(), Some(0), "{}", pst.display());
                    let i: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                    let folders = i["details"]["folders"].as_array().unwrap();
                    for kind in ["inbox", "deleted", "sent"] {
                        assert!(
                            folders.iter().any(|f| f["kind"] == kind),
                            "{}: no {kind} folder",
                            pst.display()
                        );
                    }
                    let in_pst: u64 = folders
                        .iter()
                        .map(|f| f["messages"].as_u64().unwrap())
                        .sum();
                    assert_eq!(in_pst, b["written"]["messages"].as_u64().unwrap());
                }
            }
            let written: u64 = boxes
                .iter()
                .map(|b| b["written"]["messages"].as_u64().unwrap())
                .sum();
            assert_eq!(
                written,
                if no_mail { 0 } else { 18 * 5 },
                "{to} no_mail={no_mail}"
            );
        }
    }
}

/// Guarantee 5: inputs are never modified (bytes and modification times unchanged).
#[test]
fn inputs_are_not_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 3, 4);
    let before = snapshot(&input);
    let mtime = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let po = input.join("post_office.jsonl");
    let t0 = mtime(&po);
    let out = tmp.path().join("out");
    convert_ok(&input, "eml", &out, &[]);
    assert_eq!(before, snapshot(&input));
    assert_eq!(t0, mtime(&po));
}

/// Preflight: an output directory holding something else is refused before anything is
/// written (exit 2), and so is resuming a run of different inputs.
#[test]
fn preflight_refuses_foreign_output_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 2, 2);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious.txt"), b"do not touch").unwrap();
    convert_expecting(2, &input, "mbox", &out, &[]);
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "nothing written"
    );

    let other = tmp.path().join("other");
    generate_jsonl(&other, 3, 2);
    let out2 = tmp.path().join("out2");
    convert_ok(&input, "mbox", &out2, &[]);
    let o = run(&[
        "convert",
        other.to_str().unwrap(),
        "--to",
        "mbox",
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a different run must not merge into this output"
    );
}

/// `--no-sync` changes only whether output is flushed, never what is written.
#[test]
fn no_sync_writes_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 4, 6);
    let a = tmp.path().join("sync");
    let b = tmp.path().join("nosync");
    convert_ok(&input, "eml", &a, &[]);
    convert_ok(&input, "eml", &b, &["--no-sync"]);
    assert_same_tree(&snapshot(&a), &snapshot(&b));
}

/// Guarantee 5 for sinks with post-office files (IFF packing list and directory, cc:Mail
/// directory export, JSON Lines post office): a run stopped after some mailboxes were
/// committed — simulated exactly at a commit boundary by removing the later journal lines,
/// their directories and everything written at the end — resumes to the same tree.
#[test]
fn resumed_runs_write_the_same_post_office_files() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    generate_jsonl(&input, 6, 3);
    for to in ["iff", "ccmail", "jsonl"] {
        let full = tmp.path().join(format!("{to}-full"));
        convert_ok(&input, to, &full, &[]);
        let part = tmp.path().join(format!("{to}-part"));
        copy_tree(&full, &part);
        // Keep the journal header and the first two mailboxes.
        let journal = part.join(".mailmig/journal.jsonl");
        let text = std::fs::read_to_string(&journal).unwrap();
        let kept: Vec<&str> = text.lines().take(3).collect();
        std::fs::write(&journal, format!("{}\n", kept.join("\n"))).unwrap();
        let r = report(&full);
        let dirs: Vec<String> = r["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["dir_name"].as_str().unwrap().to_string())
            .collect();
        for entry in std::fs::read_dir(&part).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if name == ".mailmig" || dirs[..2].contains(&name) {
                continue;
            }
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
        convert_ok(&input, to, &part, &[]);
        assert_same_tree(&snapshot(&full), &snapshot(&part));
    }
}
