//! Run engine: sections for every user, -j N == -j 1, isolation of failing and hanging
//! mailboxes, preflight, read-only inputs, report contents (ARCHITECTURE.md guarantees 1–5).

mod engine_support;

use std::fs;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine_support::*;
use mailmig_convert::engine::{self, EngineError, MailboxStatus, Progress};

#[test]
fn every_user_gets_a_section_even_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report = run(
        MemSource::new(vec![
            Behaviour::Messages(3),
            Behaviour::Messages(0),
            Behaviour::Messages(2),
        ]),
        &out,
        2,
    );
    for (i, n) in [(0, 3), (1, 0), (2, 2)] {
        let dir = out.join(format!("User_{i}"));
        let meta = fs::read_to_string(dir.join("mailbox.txt")).unwrap();
        assert!(meta.starts_with(&format!(
            "key=user00{i} name=User {i} dir=User_{i} no_mail=false"
        )));
        let msgs = fs::read_dir(&dir).unwrap().count() - 1;
        assert_eq!(msgs, n, "messages in {}", dir.display());
        assert_eq!(report.mailboxes[i].status, MailboxStatus::Converted);
        assert_eq!(report.mailboxes[i].written.messages, n as u64);
    }
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        fs::read_to_string(out.join("index.txt"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}

#[test]
fn no_mail_writes_every_section_and_pulls_no_message() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let source = MemSource::new(vec![Behaviour::Messages(5), Behaviour::Messages(0)]);
    let pulled = Arc::clone(&source.pulled);
    let mut opts = options(&out, 1);
    opts.no_mail = true;
    let report = engine::run(Arc::new(source), Arc::new(FileSink::default()), &opts).unwrap();
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    for i in 0..2 {
        let meta = fs::read_to_string(out.join(format!("User_{i}/mailbox.txt"))).unwrap();
        assert!(meta.contains("no_mail=true"), "{meta}");
        assert_eq!(
            fs::read_dir(out.join(format!("User_{i}"))).unwrap().count(),
            1
        );
    }
    assert!(report.no_mail);
    assert_eq!(report.totals.converted, 2);
    assert_eq!(report.exit_code(), 0);
}

fn mixed() -> Vec<Behaviour> {
    // Later mailboxes finish first with several workers, so commit order matters.
    (0..8u32)
        .map(|i| match i {
            3 => Behaviour::WithSkips(9),
            5 => Behaviour::OpenError,
            _ => Behaviour::Slow(6, Duration::from_millis(u64::from(8 - i) * 2)),
        })
        .collect()
}

#[test]
fn jobs_four_is_byte_identical_to_jobs_one() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    let four = tmp.path().join("four");
    let r1 = run(MemSource::new(mixed()), &one, 1);
    let r4 = run(MemSource::new(mixed()), &four, 4);
    assert_eq!(r4.timings.jobs, 4);
    let a = snapshot(&one);
    let b = snapshot(&four);
    assert!(a.len() > 40, "tree too small to mean anything: {}", a.len());
    assert_same_tree(&a, &b);
    assert_eq!(r1.exit_code(), 1);
    assert_eq!(r4.exit_code(), 1);
}

#[test]
fn largest_estimated_work_starts_first_and_commits_keep_mailbox_order() {
    let tmp = tempfile::tempdir().unwrap();
    let behaviours = || {
        (0..6)
            .map(|i| Behaviour::Messages(i + 1))
            .collect::<Vec<_>>()
    };
    let mut source = MemSource::new(behaviours());
    source.estimates = vec![Some(1), Some(50), None, Some(7), Some(50), Some(0)];
    let order = Arc::clone(&source.open_order);
    let estimated = tmp.path().join("estimated");
    let report = engine::run(
        Arc::new(source),
        Arc::new(FileSink::default()),
        &options(&estimated, 1),
    )
    .unwrap();
    // Largest first; ties and mailboxes without an estimate keep their order.
    assert_eq!(*order.lock().unwrap(), [1, 4, 3, 0, 2, 5]);
    let keys: Vec<&str> = report.mailboxes.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "user000", "user001", "user002", "user003", "user004", "user005"
        ]
    );
    // Without estimates: opened in order, and the same output.
    let plain_source = MemSource::new(behaviours());
    let plain_order = Arc::clone(&plain_source.open_order);
    let plain = tmp.path().join("plain");
    run(plain_source, &plain, 1);
    assert_eq!(*plain_order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    assert_same_tree(&snapshot(&plain), &snapshot(&estimated));
}

#[test]
fn workers_are_kept_between_mailboxes() {
    for jobs in [1, 3] {
        let tmp = tempfile::tempdir().unwrap();
        let source = MemSource::new((0..12).map(|i| Behaviour::Messages(i % 3)).collect());
        let threads = Arc::clone(&source.threads);
        let opts = options(&tmp.path().join("out"), jobs);
        let report = engine::run(Arc::new(source), Arc::new(FileSink::default()), &opts).unwrap();
        assert_eq!(report.totals.converted, 12);
        let n = threads.lock().unwrap().len();
        assert!(
            (1..=jobs).contains(&n),
            "12 mailboxes with -j{jobs} ran on {n} threads"
        );
    }
}

#[test]
fn blocking_source_is_abandoned_at_the_deadline_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let source = MemSource::new(vec![
        Behaviour::Messages(2),
        Behaviour::BlockForever(3),
        Behaviour::Endless,
        Behaviour::Messages(4),
    ]);
    let mut opts = options(&out, 2);
    // Generous for the two small mailboxes on a loaded machine: they must not time out too.
    opts.mailbox_time_budget = Some(Duration::from_secs(2));
    let t = Instant::now();
    // Run on a thread so that a regression (a run that waits for the blocked reader) fails
    // this test instead of hanging the test binary.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(engine::run(
            Arc::new(source),
            Arc::new(FileSink::default()),
            &opts,
        ));
    });
    let report = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("run() did not return: a blocked mailbox held up the run")
        .unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(10), "run took {took:?}");
    let st: Vec<_> = report.mailboxes.iter().map(|m| m.status).collect();
    assert_eq!(
        st,
        [
            MailboxStatus::Converted,
            MailboxStatus::TimedOut,
            MailboxStatus::TimedOut,
            MailboxStatus::Converted
        ]
    );
    assert!(
        report.mailboxes[1]
            .error
            .as_deref()
            .unwrap()
            .contains("abandoned")
    );
    // Partial output of timed-out mailboxes is never committed.
    assert!(!out.join("User_1").exists());
    assert!(!out.join("User_2").exists());
    assert_eq!(fs::read_dir(out.join("User_3")).unwrap().count(), 5);
    assert_eq!(report.totals.timed_out, 2);
    assert_eq!(report.exit_code(), 1);
    let index = fs::read_to_string(out.join("index.txt")).unwrap();
    assert!(
        !index.contains("user001") && index.contains("user003"),
        "{index}"
    );
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(on_disk["mailboxes"][1]["status"], "timed_out");
}

#[test]
fn open_error_and_panic_are_failed_mailboxes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report = run(
        MemSource::new(vec![
            Behaviour::OpenError,
            Behaviour::PanicAfter(2),
            Behaviour::Messages(1),
        ]),
        &out,
        3,
    );
    let m = &report.mailboxes;
    assert_eq!(m[0].status, MailboxStatus::Failed);
    assert!(
        m[0].error
            .as_deref()
            .unwrap()
            .contains("0xDEADBEEF at offset 512")
    );
    assert_eq!(m[1].status, MailboxStatus::Failed);
    assert!(
        m[1].error
            .as_deref()
            .unwrap()
            .contains("test source panics at message 2")
    );
    assert_eq!(m[1].written.messages, 0);
    assert_eq!(m[2].status, MailboxStatus::Converted);
    assert!(!out.join("User_0").exists() && !out.join("User_1").exists());
    assert!(out.join("User_2/0000.txt").is_file());
    assert_eq!(report.exit_code(), 1);
    assert!(report.problem_lines().iter().any(|l| l.contains("panic")));
}

#[test]
fn report_counts_skips_and_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut source = MemSource::new(vec![Behaviour::WithSkips(10), Behaviour::Messages(6)]);
    source.infos[1].display_name = "User 0".into();
    let report = run(source, &out, 1);
    let m0 = &report.mailboxes[0];
    assert_eq!(m0.status, MailboxStatus::ConvertedWithSkips);
    // Items 0, 4, 8 skipped; 7 decoded: attachments on 3, 6, 9 (+ embedded on 5 with 1 inner).
    assert_eq!(m0.found.messages, 10);
    assert_eq!(m0.found.folders, 2);
    assert_eq!(m0.found.attachments, 3 + 2);
    assert_eq!(m0.found.embedded_messages, 1);
    assert_eq!(m0.found.attachment_bytes, 30 + 3);
    assert_eq!(m0.written.messages, 7);
    assert_eq!(m0.skipped.len(), 3);
    assert_eq!(m0.skipped[1].offset, Some(400));
    assert_eq!(m0.skipped[1].file.as_deref(), Some("po/mbox0.dat"));
    assert_eq!(m0.skipped[1].source_id.as_deref(), Some("m0-4"));
    assert_eq!(m0.warnings[0].warning.code, "test.section");
    assert_eq!(m0.warnings[1].source_id.as_deref(), Some("m0-1"));
    assert_eq!(m0.warnings[1].warning.offset, Some(42));
    assert_eq!(m0.directory_id.as_deref(), Some("DIR0"));
    assert_eq!(m0.source_files, ["po/mbox0.dat"]);
    // Same display name: de-duplicated deterministically.
    assert_eq!(report.mailboxes[1].dir_name, "User_0-2");
    assert!(out.join("User_0-2/0005.txt").is_file());
    assert_eq!(report.totals.found.messages, 16);
    assert_eq!(report.totals.written.messages, 13);
    assert_eq!(report.totals.skipped, 3);
    assert_eq!(report.exit_code(), 1);

    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(v["sink"], "testfile");
    assert_eq!(v["mailmig_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["post_office"]["name"], "TESTPO");
    assert_eq!(v["mailboxes"][0]["status"], "converted_with_skips");
    assert_eq!(
        v["mailboxes"][0]["skipped"][0]["reason"],
        "bad record checksum 0x0000"
    );
    assert_eq!(v["mailboxes"][0]["warnings"][1]["code"], "test.warn");
    assert_eq!(v["mailboxes"][1]["key"], "user001");
    assert!(v["mailboxes"][0]["timings"]["total_ms"].is_u64());
    assert!(v["timings"]["total_ms"].is_u64());
    assert_eq!(v["finish"]["files"][0], "index.txt");
    let back: mailmig_convert::engine::RunReport = serde_json::from_value(v).unwrap();
    assert_eq!(back.mailboxes, report.mailboxes);
}

#[test]
fn unrepresentable_messages_are_skipped_items() {
    struct Unrep(MemSource);
    impl mailmig_ir::Source for Unrep {
        fn post_office(&self) -> &mailmig_ir::PostOffice {
            self.0.post_office()
        }
        fn mailboxes(&self) -> &[mailmig_ir::MailboxInfo] {
            self.0.mailboxes()
        }
        fn open_mailbox<'s>(
            &'s self,
            mailbox: &mailmig_ir::MailboxInfo,
            budget: &mailmig_ir::Budget,
        ) -> Result<mailmig_ir::MailboxSection<'s>, mailmig_ir::SourceError> {
            let mut s = self.0.open_mailbox(mailbox, budget)?;
            let inner = std::mem::replace(&mut s.messages, Box::new(std::iter::empty()));
            s.messages = Box::new(inner.map(|m| {
                m.map(|mut m| {
                    if m.ids.native.as_deref() == Some("m0-1") {
                        m.subject = Some("UNREP".into());
                    }
                    m
                })
            }));
            Ok(s)
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let source = Unrep(MemSource::new(vec![Behaviour::Messages(3)]));
    let report = engine::run(
        Arc::new(source),
        Arc::new(FileSink::default()),
        &options(&out, 1),
    )
    .unwrap();
    let m = &report.mailboxes[0];
    assert_eq!(m.status, MailboxStatus::ConvertedWithSkips);
    assert_eq!(m.skipped[0].reason, "subject says UNREP");
    assert_eq!(m.skipped[0].source_id.as_deref(), Some("m0-1"));
    assert_eq!(m.skipped[0].offset, Some(100));
    assert_eq!(m.written.messages, 2);
}

#[test]
fn progress_reports_mailboxes_and_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = Arc::clone(&events);
    let mut opts = options(&tmp.path().join("out"), 2);
    opts.progress = Some(Arc::new(move |p: &Progress| {
        sink_events.lock().unwrap().push(p.clone())
    }));
    engine::run(
        Arc::new(MemSource::new(vec![
            Behaviour::Messages(3),
            Behaviour::Messages(2),
        ])),
        Arc::new(FileSink::default()),
        &opts,
    )
    .unwrap();
    let ev = events.lock().unwrap();
    assert_eq!(
        ev[0],
        Progress::Started {
            mailboxes: 2,
            resumed: 0
        }
    );
    let count = |f: &dyn Fn(&Progress) -> bool| ev.iter().filter(|p| f(p)).count();
    assert_eq!(count(&|p| matches!(p, Progress::MailboxStarted { .. })), 2);
    assert_eq!(count(&|p| matches!(p, Progress::Message { .. })), 5);
    assert_eq!(count(&|p| matches!(p, Progress::MailboxFinished { .. })), 2);
    assert!(ev.contains(&Progress::Message { index: 0, items: 3 }));
    assert_eq!(ev.last(), Some(&Progress::Finishing));
}

#[test]
fn preflight_refuses_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let src = || Arc::new(MemSource::new(vec![Behaviour::Messages(1)]));
    let sink = || Arc::new(FileSink::default());

    // Non-empty output without a journal.
    let busy = tmp.path().join("busy");
    fs::create_dir(&busy).unwrap();
    fs::write(busy.join("precious.txt"), "keep").unwrap();
    let err = engine::run(src(), sink(), &options(&busy, 1)).unwrap_err();
    assert!(
        matches!(err, EngineError::OutputNotEmpty { ref path } if *path == busy),
        "{err}"
    );
    assert_eq!(fs::read_dir(&busy).unwrap().count(), 1);

    // Unreadable (missing) input, named in the error; nothing created.
    let out = tmp.path().join("out");
    let mut opts = options(&out, 1);
    opts.inputs = vec![tmp.path().join("no-such-input.pst")];
    let err = engine::run(src(), sink(), &opts).unwrap_err();
    assert!(err.to_string().contains("no-such-input.pst"), "{err}");
    assert!(!out.exists());

    // Output is a file.
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let err = engine::run(src(), sink(), &options(&file, 1)).unwrap_err();
    assert!(
        matches!(err, EngineError::OutputNotDirectory { .. }),
        "{err}"
    );

    // Output inside an input directory.
    let input = tmp.path().join("input");
    fs::create_dir(&input).unwrap();
    let mut opts = options(&input.join("out"), 1);
    opts.inputs = vec![input.clone()];
    let err = engine::run(src(), sink(), &opts).unwrap_err();
    assert!(
        matches!(err, EngineError::OutputOverlapsInput { .. }),
        "{err}"
    );
    assert_eq!(fs::read_dir(&input).unwrap().count(), 0);

    // A finished run of a different fingerprint is not resumed.
    let done = tmp.path().join("done");
    engine::run(src(), sink(), &options(&done, 1)).unwrap();
    let mut other = options(&done, 1);
    other.fingerprint = "another run".into();
    let before = snapshot(&done);
    let err = engine::run(src(), sink(), &other).unwrap_err();
    assert!(
        matches!(err, EngineError::FingerprintMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("journal.jsonl"), "{err}");
    assert_same_tree(&before, &snapshot(&done));
}

#[test]
fn inputs_are_never_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.dat");
    fs::write(&input, b"legacy mail bytes \x00\x01\x02").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    fs::File::options()
        .write(true)
        .open(&input)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let before_meta = fs::metadata(&input).unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(&out, 2);
    opts.inputs = vec![input.clone()];
    let report = engine::run(
        Arc::new(MemSource::new(vec![
            Behaviour::FromFile(2, input.clone()),
            Behaviour::FromFile(1, input.clone()),
        ])),
        Arc::new(FileSink::default()),
        &opts,
    )
    .unwrap();
    assert_eq!(report.exit_code(), 0);
    assert!(
        fs::read_to_string(out.join("User_0/0001.txt"))
            .unwrap()
            .contains("legacy mail bytes")
    );
    assert_eq!(fs::read(&input).unwrap(), b"legacy mail bytes \x00\x01\x02");
    let after_meta = fs::metadata(&input).unwrap();
    assert_eq!(after_meta.modified().unwrap(), old);
    assert_eq!(
        after_meta.modified().unwrap(),
        before_meta.modified().unwrap()
    );
    assert_eq!(after_meta.len(), before_meta.len());
    assert!(after_meta.permissions().readonly() == before_meta.permissions().readonly());
}

#[test]
fn finish_files_colliding_with_a_mailbox_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let sink = FileSink {
        finish_names: vec!["user_0".into()],
    };
    let err = engine::run(
        Arc::new(MemSource::new(vec![Behaviour::Messages(1)])),
        Arc::new(sink),
        &options(&out, 1),
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::FinishCollision { .. }), "{err}");
    assert!(out.join("User_0/0000.txt").is_file());
}

#[cfg(target_os = "linux")]
#[test]
fn preflight_refuses_an_output_without_room() {
    let tmp = tempfile::tempdir().unwrap();
    // A sparse input whose apparent size is more than twice the free space (ext4 allows
    // 16 TiB files), by a margin: other processes may free space while the test runs.
    let vfs = rustix::fs::statvfs(tmp.path()).unwrap();
    let free = vfs.f_bavail * vfs.f_frsize;
    let size = (free + (free / 4).max(1 << 30)) * 2;
    let input = tmp.path().join("huge.pst");
    fs::File::create(&input).unwrap().set_len(size).unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(&out, 1);
    opts.inputs = vec![input];
    let err = engine::run(
        Arc::new(MemSource::new(vec![Behaviour::Messages(1)])),
        Arc::new(FileSink::default()),
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(err, EngineError::InsufficientSpace { needed, .. } if needed == size / 2),
        "{err}"
    );
    assert!(!out.exists());
}
