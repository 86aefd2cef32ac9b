//! SIGKILL at arbitrary points (guarantee 5): this test re-executes its own test binary as a
//! child that runs the engine, kills it with SIGKILL after increasing delays, and finally
//! resumes in-process; the tree must equal an uninterrupted run's.

mod engine_support;

use std::process::Command;
use std::time::{Duration, Instant};

use engine_support::*;

const CHILD_ENV: &str = "MAILMIG_ENGINE_KILL_CHILD_OUT";

fn behaviours() -> Vec<Behaviour> {
    (0..12)
        .map(|i| match i {
            4 => Behaviour::WithSkips(8),
            7 => Behaviour::Messages(0),
            _ => Behaviour::Slow(8, Duration::from_millis(4)),
        })
        .collect()
}

#[test]
fn killed_runs_resume_to_the_same_tree() {
    if let Some(out) = std::env::var_os(CHILD_ENV) {
        // Child: run (or resume) the conversion; the parent kills us at some point.
        run(MemSource::new(behaviours()), std::path::Path::new(&out), 2);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    run(MemSource::new(behaviours()), &reference, 1);
    let out = tmp.path().join("out");
    let exe = std::env::current_exe().unwrap();
    let mut kills = 0;
    let mut killed_before_report = false;
    for attempt in 0..12u64 {
        let mut child = Command::new(&exe)
            .args([
                "killed_runs_resume_to_the_same_tree",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(40 + attempt * 25);
        let start = Instant::now();
        let mut finished = false;
        while start.elapsed() < delay {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "child failed: {status}");
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if finished {
            break;
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        kills += 1;
        if !out.join("report.json").exists() {
            killed_before_report = true;
        }
    }
    assert!(
        kills >= 2,
        "the child finished too fast to be killed ({kills} kills)"
    );
    assert!(killed_before_report);
    let report = run(MemSource::new(behaviours()), &out, 3);
    assert_eq!(report.mailboxes.len(), 12);
    assert_same_tree(&snapshot(&reference), &snapshot(&out));
}
