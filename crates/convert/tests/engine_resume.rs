//! Resume (guarantee 5, KB 842101): a run interrupted at any point and re-run over the same
//! output directory ends with a tree byte-identical to an uninterrupted run (apart from
//! report.json timings), without redoing journaled mailboxes.

mod engine_support;

use std::fs;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use engine_support::*;
use mailmig_convert::engine::{self, MailboxStatus};

fn behaviours() -> Vec<Behaviour> {
    vec![
        Behaviour::Messages(4),
        Behaviour::Messages(0),
        Behaviour::WithSkips(6),
        Behaviour::Messages(3),
        Behaviour::OpenError,
        Behaviour::Messages(2),
    ]
}

#[test]
fn crash_states_resume_to_the_uninterrupted_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let r = run(MemSource::new(behaviours()), &reference, 2);
    assert_eq!(r.totals.failed, 1);
    let expected = snapshot(&reference);

    let out = tmp.path().join("out");
    run(MemSource::new(behaviours()), &out, 2);
    let state = out.join(".mailmig");
    let journal = state.join("journal.jsonl");
    let text = fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Header + 5 committed mailboxes (index 4 failed and is not journaled).
    assert_eq!(lines.len(), 6, "{text}");

    // Simulate a SIGKILL: journal holds mailboxes 0 and 1 and a torn line for mailbox 2, whose
    // directory had already been renamed into place (with stray content); mailbox 3 was being
    // staged; mailbox 5 never started; the sink's finish had half-moved its files; no report.
    let mut kept = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]);
    kept.push_str(&lines[3][..lines[3].len() / 2]);
    fs::write(&journal, kept).unwrap();
    fs::write(out.join("User_2/stray.txt"), "from the killed run").unwrap();
    fs::remove_dir_all(out.join("User_3")).unwrap();
    fs::create_dir_all(state.join("tmp/User_3")).unwrap();
    fs::write(state.join("tmp/User_3/0000.txt"), "half a message").unwrap();
    fs::remove_dir_all(out.join("User_5")).unwrap();
    fs::write(out.join("index.txt"), "stale").unwrap();
    fs::create_dir_all(state.join("tmp/.finish")).unwrap();
    fs::write(state.join("tmp/.finish/index.txt"), "half").unwrap();
    fs::remove_file(out.join("report.json")).unwrap();

    let source = MemSource::new(behaviours());
    let opened = Arc::clone(&source.opened);
    let report = run(source, &out, 3);
    // Mailboxes 0 and 1 came from the journal; 2, 3, 4, 5 were opened again.
    assert_eq!(opened.load(Ordering::SeqCst), 4);
    assert_eq!(report.timings.resumed_mailboxes, 2);
    assert_same_tree(&expected, &snapshot(&out));
    assert!(!state.join("tmp").exists());
    // The torn line was cut off and the journal is whole again.
    let text = fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count(), 6);

    // Running once more over a finished tree changes nothing and opens nothing.
    let source = MemSource::new(behaviours());
    let opened = Arc::clone(&source.opened);
    let again = run(source, &out, 1);
    assert_eq!(
        opened.load(Ordering::SeqCst),
        1,
        "only the failed mailbox is retried"
    );
    assert_eq!(again.timings.resumed_mailboxes, 5);
    assert_same_tree(&expected, &snapshot(&out));
}

#[test]
fn killed_during_first_commit_resumes() {
    // Killed after the header was written and mid-way through writing it: a torn header.
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    run(MemSource::new(behaviours()), &reference, 1);
    let out = tmp.path().join("out");
    fs::create_dir_all(out.join(".mailmig/tmp/User_0")).unwrap();
    let mut f = fs::File::create(out.join(".mailmig/journal.jsonl")).unwrap();
    f.write_all(b"{\"mailmig_journal\":1,\"finger").unwrap();
    drop(f);
    run(MemSource::new(behaviours()), &out, 2);
    assert_same_tree(&snapshot(&reference), &snapshot(&out));
}

#[test]
fn timed_out_mailbox_is_retried_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    // Mailbox 1 is the same mailbox in every run; in the first it gets stuck after 5
    // messages until its budget runs out. The budget leaves the other mailboxes ample time
    // on a loaded machine (100 ms did not, once, on a CI runner).
    let mailboxes = |stuck: bool| {
        vec![
            Behaviour::Messages(2),
            if stuck {
                Behaviour::StallAfter(5)
            } else {
                Behaviour::Messages(20)
            },
            Behaviour::Messages(1),
        ]
    };
    run(MemSource::new(mailboxes(false)), &reference, 1);

    let out = tmp.path().join("out");
    let mut opts = options(&out, 2);
    opts.mailbox_time_budget = Some(Duration::from_secs(2));
    let source = MemSource::new(mailboxes(true));
    let pulled = Arc::clone(&source.pulled);
    let first = engine::run(Arc::new(source), Arc::new(FileSink::default()), &opts).unwrap();
    let st: Vec<_> = first.mailboxes.iter().map(|m| m.status).collect();
    assert_eq!(
        st,
        [
            MailboxStatus::Converted,
            MailboxStatus::TimedOut,
            MailboxStatus::Converted
        ]
    );
    // Mailbox 1 had handed its 5 messages to the sink; none of them was committed.
    assert_eq!(pulled.load(Ordering::SeqCst), 2 + 5 + 1);
    assert_eq!(first.exit_code(), 1);
    assert!(!out.join("User_1").exists());

    let source = MemSource::new(mailboxes(false));
    let opened = Arc::clone(&source.opened);
    let second = run(source, &out, 2);
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    assert_eq!(second.mailboxes[1].status, MailboxStatus::Converted);
    assert_eq!(second.exit_code(), 0);
    assert_same_tree(&snapshot(&reference), &snapshot(&out));
}

#[test]
fn a_committed_directory_deleted_by_hand_is_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run(MemSource::new(behaviours()), &out, 2);
    let expected = snapshot(&out);
    fs::remove_dir_all(out.join("User_3")).unwrap();

    let source = MemSource::new(behaviours());
    let opened = Arc::clone(&source.opened);
    run(source, &out, 2);
    // User_3 and the failed User_4 are opened again; nothing else.
    assert_eq!(opened.load(Ordering::SeqCst), 2);
    assert_same_tree(&expected, &snapshot(&out));
    let journal = fs::read_to_string(out.join(".mailmig/journal.jsonl")).unwrap();
    assert_eq!(
        journal.lines().count(),
        7,
        "header, 5 mailboxes, User_3 again"
    );

    let source = MemSource::new(behaviours());
    let opened = Arc::clone(&source.opened);
    let report = run(source, &out, 2);
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    assert_eq!(report.timings.resumed_mailboxes, 5);
    assert_same_tree(&expected, &snapshot(&out));
}
