//! The run engine: converts every mailbox of a [`Source`] through a [`Sink`] into an output
//! directory, in isolation and in parallel, with a journal for resuming and a `report.json`.
//!
//! It implements the five "Guarantees of the run engine" of ARCHITECTURE.md:
//!
//! 1. **Nothing hangs** (KB Q245568). Each mailbox runs on a worker thread of its own (kept
//!    for the next mailbox once it is done) under a [`Budget`] of
//!    [`RunOptions::mailbox_time_budget`]. The coordinator watches the deadline from outside:
//!    at the deadline it cancels the budget, and if the worker has not reported within
//!    [`ABANDON_GRACE`] it abandons the thread (which keeps running detached, and can never
//!    commit: only the coordinator commits; the next mailbox gets a new thread). The mailbox
//!    is reported `timed_out`, its staging directory is discarded, and the run goes on.
//!    Abandoned threads do not keep the process alive: the CLI ends with
//!    `std::process::exit`. A source that fails to open a mailbox, or panics in its iterator
//!    (caught with `catch_unwind`; requires `panic = "unwind"`), gives a `failed` mailbox and
//!    the run goes on.
//! 2. **Every user gets a section** (KB Q194218): every [`MailboxInfo`] goes through
//!    [`Sink::open_mailbox`] and [`MailboxWriter::finish`], also with zero messages; with
//!    [`RunOptions::no_mail`] the message stream is dropped without pulling an item.
//! 3. **`-j N` equals `-j 1`** (KB Q255888). Mailbox directory names depend only on the
//!    mailbox list ([`layout::dir_names`]); commits, journal lines and report entries happen in
//!    mailbox order whatever order the workers finish in. Preflight checks run before anything
//!    is written. A mailbox whose mail was not written is `failed`/`timed_out` in the report and
//!    makes [`RunReport::exit_code`] 1.
//! 4. **Clone fidelity** is the sinks' job; the report carries each mailbox's key, directory id
//!    and source files.
//! 5. **Copy, never modify; resume to the same result** (KB 842101). The engine never opens an
//!    input for writing (sources open them read-only) and refuses an output directory inside an
//!    input. Each mailbox is written to `out_dir/.mailmig/tmp/<dir_name>/`, `fsync`ed, renamed
//!    to `out_dir/<dir_name>`, and then a line is appended to `out_dir/.mailmig/journal.jsonl`
//!    and `fsync`ed. Sink post-office files are staged in `.mailmig/tmp/.finish/` and renamed
//!    into the root; `report.json` is written to a temporary file and renamed. A process killed
//!    at any point (SIGKILL) leaves either a stale staging directory (cleared by the next run),
//!    a committed directory without a journal line (removed and redone by the next run), a torn
//!    last journal line (cut off), or finished files that the next run rewrites identically.
//!    Re-running with the same [`RunOptions::fingerprint`] skips journaled mailboxes (taking
//!    their report entries from the journal) and ends with a tree byte-identical to an
//!    uninterrupted run, apart from the `timings` objects of `report.json`.
//!
//! Within one process, do not start a second run over the same output directory while a
//! worker abandoned by an earlier run may still be alive (it could still write into its old
//! staging directory); the CLI runs once per process and ends with `std::process::exit`.
//!
//! The journal stays in `.mailmig/` after a run so that re-running over a finished output is a
//! cheap no-op; `.mailmig/` is engine state, not output, and holds timings.

pub mod journal;
pub mod layout;
pub mod report;
mod worker;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use mailmig_ir::{Budget, CommittedMailbox, MailboxInfo, Sink, Source};

pub use journal::{JournalEntry, JournalHeader};
pub use layout::{Durability, dir_names};
pub use report::{
    FinishReport, FoundCounts, MailboxReport, MailboxStatus, MailboxTimings, PostOfficeSummary,
    ReportWarning, RunReport, RunTimings, Totals,
};

use journal::Journal;
use layout::{OutputState, REPORT_FILE, STATE_DIR};
use worker::{WorkerJob, WorkerOutcome};

#[cfg(doc)]
use mailmig_ir::MailboxWriter;

/// How long after its deadline (and the cancellation of its budget) a mailbox's worker may
/// still report before the coordinator abandons it.
pub const ABANDON_GRACE: Duration = Duration::from_millis(500);

/// Name of the staging directory for [`Sink::finish`] output, inside `.mailmig/tmp/`. It
/// starts with a dot, which no mailbox directory name can.
const FINISH_STAGING: &str = ".finish";

/// A progress callback; called from worker threads, so it must be cheap and thread-safe.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A progress event for [`RunOptions::progress`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The run starts: `mailboxes` in all, `resumed` of them already done (journaled).
    Started {
        /// Mailboxes in the source.
        mailboxes: usize,
        /// Mailboxes taken from the journal.
        resumed: usize,
    },
    /// A worker started a mailbox.
    MailboxStarted {
        /// Position in the source's mailbox list.
        index: usize,
        /// Mailbox key.
        key: String,
        /// Output directory name.
        dir_name: String,
    },
    /// A worker pulled one more item (message or skipped item) of a mailbox.
    Message {
        /// Position in the source's mailbox list.
        index: usize,
        /// Items pulled so far in this mailbox.
        items: u64,
    },
    /// A mailbox is done (committed, failed, timed out, or taken from the journal).
    MailboxFinished {
        /// Position in the source's mailbox list.
        index: usize,
        /// Mailbox key.
        key: String,
        /// Outcome.
        status: MailboxStatus,
        /// True when it was taken from the journal.
        resumed: bool,
    },
    /// Every mailbox is done; the sink's post-office files and `report.json` are being written.
    Finishing,
}

/// What [`run`] does.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Output directory: created if missing; must be empty or hold a journal of the same run.
    pub out_dir: PathBuf,
    /// Mailboxes converted at once (0 is taken as 1). The output does not depend on it.
    pub jobs: usize,
    /// `--no-mail`: write every section without pulling any message.
    pub no_mail: bool,
    /// Wall-clock budget per mailbox; `None` for none.
    pub mailbox_time_budget: Option<Duration>,
    /// The input paths, checked for readability in preflight (and that the output is not
    /// inside one of them).
    pub inputs: Vec<PathBuf>,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
    /// Whether committed output is flushed to disk (default: it is).
    pub durability: Durability,
    /// The caller's description of inputs, format and options; stored in the journal so that
    /// resuming into an output directory of a different run is refused.
    pub fingerprint: String,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("out_dir", &self.out_dir)
            .field("jobs", &self.jobs)
            .field("no_mail", &self.no_mail)
            .field("mailbox_time_budget", &self.mailbox_time_budget)
            .field("inputs", &self.inputs)
            .field("progress", &self.progress.is_some())
            .field("fingerprint", &self.fingerprint)
            .field("durability", &self.durability)
            .finish()
    }
}

/// A fatal error: the run could not start, or the output tree could not be kept consistent.
/// Per-mailbox problems are not errors; they are in the [`RunReport`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// An input cannot be read.
    #[error("input {path}: {source}")]
    InputUnreadable {
        /// The input.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The output path exists and is not a directory.
    #[error("output {path} exists and is not a directory")]
    OutputNotDirectory {
        /// The output path.
        path: PathBuf,
    },
    /// The output directory holds files but no journal of a mailmig run.
    #[error(
        "output directory {path} is not empty and holds no mailmig journal (.mailmig/journal.jsonl); choose an empty or new directory"
    )]
    OutputNotEmpty {
        /// The output directory.
        path: PathBuf,
    },
    /// The output directory cannot be written.
    #[error("output directory {path} is not writable: {source}")]
    OutputNotWritable {
        /// The output directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The output directory is inside an input directory, or an input inside the output.
    #[error("output {output} overlaps input {input}; inputs are never written to")]
    OutputOverlapsInput {
        /// The output directory.
        output: PathBuf,
        /// The input.
        input: PathBuf,
    },
    /// The output directory holds the journal of a different run.
    #[error("{path} belongs to a different run ({found}); this run is {expected}")]
    FingerprintMismatch {
        /// The journal.
        path: PathBuf,
        /// What the journal records.
        found: String,
        /// What this run is.
        expected: String,
    },
    /// The journal cannot be parsed, or disagrees with the source's mailbox list.
    #[error("journal {path} line {line}: {message}")]
    JournalCorrupt {
        /// The journal.
        path: PathBuf,
        /// 1-based line number (0: the file as a whole).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The output file system has clearly too little free space for the inputs.
    #[error(
        "output {path}: {available} bytes free, at least {needed} needed (half the size of the inputs)"
    )]
    InsufficientSpace {
        /// The output directory.
        path: PathBuf,
        /// Bytes needed at least.
        needed: u64,
        /// Bytes available to this user.
        available: u64,
    },
    /// A file the sink's `finish` wrote would replace a mailbox directory or the report.
    #[error("post-office file {path} collides with a mailbox directory or report.json")]
    FinishCollision {
        /// The colliding path in the output root.
        path: PathBuf,
    },
    /// A file-system operation on the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// An [`EngineError::Io`].
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

struct Running {
    budget: Budget,
    abandon_at: Option<Instant>,
}

/// Converts every mailbox of `source` through `sink` into [`RunOptions::out_dir`] and writes
/// `report.json`; see the module docs for the guarantees.
///
/// Returns the report (also written to `out_dir/report.json`) once every mailbox is committed,
/// failed or timed out. Errors only for preflight failures and for file-system failures that
/// leave the output tree unable to record progress.
pub fn run(
    source: Arc<dyn Source>,
    sink: Arc<dyn Sink>,
    opts: &RunOptions,
) -> Result<RunReport, EngineError> {
    let started = Instant::now();
    let out_dir = opts.out_dir.as_path();
    let header = JournalHeader {
        mailmig_journal: journal::JOURNAL_VERSION,
        fingerprint: opts.fingerprint.clone(),
        sink: sink.name().to_string(),
        no_mail: opts.no_mail,
    };
    let state = layout::preflight(&opts.inputs, out_dir, &header)?;

    let state_dir = out_dir.join(STATE_DIR);
    let tmp_dir = state_dir.join("tmp");
    layout::remove_path(&tmp_dir).map_err(|e| EngineError::io(&tmp_dir, e))?;
    fs::create_dir_all(&tmp_dir).map_err(|e| EngineError::io(&tmp_dir, e))?;
    let journal_path = state_dir.join("journal.jsonl");
    if state == OutputState::Fresh {
        layout::remove_path(&journal_path).map_err(|e| EngineError::io(&journal_path, e))?;
    }
    let (mut journal, entries) = Journal::open(&journal_path, &header, opts.durability)?;

    let mailboxes: &[MailboxInfo] = source.mailboxes();
    let names = dir_names(mailboxes);
    let mut slots: Vec<Option<MailboxReport>> = vec![None; mailboxes.len()];
    for (line, entry) in entries.into_iter().enumerate() {
        let index = usize::try_from(entry.index).unwrap_or(usize::MAX);
        let consistent = mailboxes
            .get(index)
            .is_some_and(|m| m.key == entry.report.key)
            && names.get(index) == Some(&entry.report.dir_name);
        if !consistent {
            return Err(EngineError::JournalCorrupt {
                path: journal_path,
                line: line as u64 + 2,
                message: format!(
                    "mailbox {} ({:?}, {:?}) does not match the source's mailbox list",
                    entry.index, entry.report.key, entry.report.dir_name
                ),
            });
        }
        // A later line for the same mailbox (redone after its directory was deleted) wins.
        if let Some(slot) = slots.get_mut(index) {
            *slot = Some(entry.report);
        }
    }
    for slot in &mut slots {
        // A committed directory deleted by hand since is simply redone.
        if slot
            .as_ref()
            .is_some_and(|r| !out_dir.join(&r.dir_name).is_dir())
        {
            *slot = None;
        }
    }
    let resumed = slots.iter().filter(|s| s.is_some()).count();

    let progress = opts.progress.clone();
    let emit = |p: Progress| {
        if let Some(f) = &progress {
            f(&p);
        }
    };
    emit(Progress::Started {
        mailboxes: mailboxes.len(),
        resumed,
    });
    for (index, slot) in slots.iter().enumerate() {
        if let Some(r) = slot {
            emit(Progress::MailboxFinished {
                index,
                key: r.key.clone(),
                status: r.status,
                resumed: true,
            });
        }
    }

    let jobs = opts.jobs.max(1);
    let mut todo = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    // The largest estimated work starts first, so that a long mailbox does not start last and
    // run alone while the other workers idle. The sort is stable: mailboxes without an estimate
    // (every one, for most sources) keep their order. Commits stay in mailbox order.
    todo.sort_by_key(|&i| std::cmp::Reverse(source.work_estimate(i).unwrap_or(0)));
    let mut todo = todo.into_iter();
    let mut outcomes: HashMap<usize, WorkerOutcome> = HashMap::new();
    let mut running: BTreeMap<usize, Running> = BTreeMap::new();
    let mut next_commit: usize = 0;
    let (tx, rx) = mpsc::channel::<(usize, WorkerOutcome)>();
    let mut pool = worker::Pool::new();

    loop {
        while running.len() < jobs {
            let Some(index) = todo.next() else { break };
            let (Some(info), Some(dir_name)) = (mailboxes.get(index), names.get(index)) else {
                continue;
            };
            let budget = Budget::new(opts.mailbox_time_budget);
            emit(Progress::MailboxStarted {
                index,
                key: info.key.clone(),
                dir_name: dir_name.clone(),
            });
            let job = WorkerJob {
                index,
                source: Arc::clone(&source),
                sink: Arc::clone(&sink),
                dir_name: dir_name.clone(),
                staging: tmp_dir.join(dir_name),
                no_mail: opts.no_mail,
                durability: opts.durability,
                budget: budget.clone(),
                progress: progress.clone(),
                done: tx.clone(),
            };
            match pool.dispatch(job) {
                Ok(()) => {
                    running.insert(
                        index,
                        Running {
                            budget,
                            abandon_at: None,
                        },
                    );
                }
                Err(e) => {
                    outcomes.insert(index, failed_outcome(format!("cannot start thread: {e}")));
                }
            }
        }

        commit_ready(
            &mut next_commit,
            &mut slots,
            &mut outcomes,
            mailboxes,
            &names,
            out_dir,
            &tmp_dir,
            &mut journal,
            &emit,
        )?;

        if running.is_empty() {
            if todo.len() == 0 {
                break;
            }
            continue;
        }

        let now = Instant::now();
        let wake = running
            .values()
            .filter_map(|r| r.abandon_at.or(r.budget.deadline()))
            .min();
        let received = match wake {
            Some(t) => rx.recv_timeout(t.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok((index, outcome)) => {
                // The worker that sent it is free again, abandoned or not.
                pool.finished();
                // A late report from an abandoned worker is ignored: its mailbox is timed out.
                if running.remove(&index).is_some() {
                    outcomes.insert(index, outcome);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let mut abandoned = Vec::new();
                for (&index, r) in running.iter_mut() {
                    match (r.abandon_at, r.budget.deadline()) {
                        (Some(at), _) if now >= at => abandoned.push(index),
                        (None, Some(deadline)) if now >= deadline => {
                            r.budget.cancel();
                            r.abandon_at = now.checked_add(ABANDON_GRACE).or(Some(now));
                        }
                        _ => {}
                    }
                }
                for index in abandoned {
                    running.remove(&index);
                    let mut o = failed_outcome(format!(
                        "time budget exceeded; the mailbox's reader did not stop and was abandoned after {} ms",
                        opts.mailbox_time_budget
                            .unwrap_or_default()
                            .saturating_add(ABANDON_GRACE)
                            .as_millis()
                    ));
                    o.status = MailboxStatus::TimedOut;
                    outcomes.insert(index, o);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Unreachable while `tx` lives; treat every running mailbox as failed.
                for (index, _) in std::mem::take(&mut running) {
                    outcomes.insert(index, failed_outcome("worker channel closed".into()));
                }
            }
        }
    }
    commit_ready(
        &mut next_commit,
        &mut slots,
        &mut outcomes,
        mailboxes,
        &names,
        out_dir,
        &tmp_dir,
        &mut journal,
        &emit,
    )?;

    emit(Progress::Finishing);
    let reports: Vec<MailboxReport> = slots.into_iter().flatten().collect();
    let by_key: HashMap<&str, &MailboxInfo> = source
        .mailboxes()
        .iter()
        .map(|m| (m.key.as_str(), m))
        .collect();
    let committed: Vec<CommittedMailbox> = reports
        .iter()
        .filter(|r| r.status.is_committed())
        .map(|r| CommittedMailbox {
            key: r.key.clone(),
            dir_name: r.dir_name.clone(),
            display_name: r.display_name.clone(),
            path: out_dir.join(&r.dir_name),
            mailbox: by_key
                .get(r.key.as_str())
                .map(|m| (*m).clone())
                .unwrap_or_default(),
        })
        .collect();
    let finish = run_finish(
        &*source,
        &*sink,
        &committed,
        &names,
        out_dir,
        &tmp_dir,
        opts.durability,
    )?;

    let po = source.post_office();
    let mut report = RunReport {
        schema: report::REPORT_SCHEMA_VERSION,
        mailmig_version: env!("CARGO_PKG_VERSION").to_string(),
        sink: sink.name().to_string(),
        no_mail: opts.no_mail,
        post_office: PostOfficeSummary {
            name: po.name.clone(),
            format: po.format.name().to_string(),
            code_page: po.code_page,
            warnings: po.warnings.clone(),
        },
        totals: Totals::default(),
        mailboxes: reports,
        finish,
        timings: RunTimings {
            total_ms: 0,
            resumed_mailboxes: resumed as u64,
            jobs: jobs as u64,
        },
    };
    report.compute_totals();
    report.timings.total_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut json = serde_json::to_vec_pretty(&report)
        .map_err(|e| EngineError::io(out_dir.join(REPORT_FILE), e.into()))?;
    json.push(b'\n');
    layout::write_atomic(
        &tmp_dir.join(REPORT_FILE),
        &out_dir.join(REPORT_FILE),
        &json,
        opts.durability,
    )?;
    // Staging is empty now unless an abandoned worker still writes into it; best effort.
    let _ = layout::remove_path(&tmp_dir);
    Ok(report)
}

fn failed_outcome(error: String) -> WorkerOutcome {
    WorkerOutcome {
        status: MailboxStatus::Failed,
        error: Some(error),
        found: FoundCounts::default(),
        written: mailmig_ir::WrittenStats::default(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        warnings_omitted: 0,
        elapsed_ms: 0,
    }
}

/// Commits, in mailbox order, every finished mailbox from `next_commit` on: renames its staging
/// directory into place and journals it, or discards the staging directory of a failed one.
#[allow(clippy::too_many_arguments)]
fn commit_ready(
    next_commit: &mut usize,
    slots: &mut [Option<MailboxReport>],
    outcomes: &mut HashMap<usize, WorkerOutcome>,
    mailboxes: &[MailboxInfo],
    names: &[String],
    out_dir: &Path,
    tmp_dir: &Path,
    journal: &mut Journal,
    emit: &dyn Fn(Progress),
) -> Result<(), EngineError> {
    while let Some(slot) = slots.get_mut(*next_commit) {
        let index = *next_commit;
        if slot.is_some() {
            *next_commit += 1;
            continue;
        }
        let Some(outcome) = outcomes.remove(&index) else {
            return Ok(());
        };
        let (Some(info), Some(dir_name)) = (mailboxes.get(index), names.get(index)) else {
            return Ok(());
        };
        let staging = tmp_dir.join(dir_name);
        let dest = out_dir.join(dir_name);
        let report = MailboxReport {
            key: info.key.clone(),
            display_name: info.display_name.clone(),
            dir_name: dir_name.clone(),
            directory_id: info.directory_id.clone(),
            source_files: info.source_files.clone(),
            status: outcome.status,
            error: outcome.error,
            found: outcome.found,
            written: outcome.written,
            skipped: outcome.skipped,
            warnings: outcome.warnings,
            warnings_omitted: outcome.warnings_omitted,
            timings: MailboxTimings {
                total_ms: outcome.elapsed_ms,
            },
        };
        // A directory here was renamed in by a run killed before it journaled; redo it.
        layout::remove_path(&dest).map_err(|e| EngineError::io(&dest, e))?;
        if report.status.is_committed() {
            fs::rename(&staging, &dest).map_err(|e| EngineError::io(&dest, e))?;
            layout::sync_dir(out_dir, journal.durability())
                .map_err(|e| EngineError::io(out_dir, e))?;
            journal.append(&JournalEntry {
                index: index as u64,
                report: report.clone(),
            })?;
        } else {
            // Best effort: an abandoned worker may still be writing here.
            let _ = layout::remove_path(&staging);
        }
        emit(Progress::MailboxFinished {
            index,
            key: report.key.clone(),
            status: report.status,
            resumed: false,
        });
        *slot = Some(report);
        *next_commit += 1;
    }
    Ok(())
}

/// Runs [`Sink::finish`] into a staging directory and renames each entry it wrote into the
/// output root (replacing what a killed earlier run may have left there).
fn run_finish(
    source: &dyn Source,
    sink: &dyn Sink,
    committed: &[CommittedMailbox],
    names: &[String],
    out_dir: &Path,
    tmp_dir: &Path,
    durability: Durability,
) -> Result<FinishReport, EngineError> {
    let staging = tmp_dir.join(FINISH_STAGING);
    layout::remove_path(&staging).map_err(|e| EngineError::io(&staging, e))?;
    fs::create_dir_all(&staging).map_err(|e| EngineError::io(&staging, e))?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sink.finish(source.post_office(), committed, &staging)
    }));
    let error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the sink panicked while writing post-office files".to_string()),
    };
    if let Some(error) = error {
        let _ = layout::remove_path(&staging);
        return Ok(FinishReport {
            files: Vec::new(),
            error: Some(error),
        });
    }
    layout::sync_tree(&staging, durability).map_err(|e| EngineError::io(&staging, e))?;
    let mut files = Vec::new();
    for entry in fs::read_dir(&staging).map_err(|e| EngineError::io(&staging, e))? {
        let entry = entry.map_err(|e| EngineError::io(&staging, e))?;
        files.push(entry.file_name());
    }
    files.sort();
    let reserved = |n: &str| {
        n == REPORT_FILE || n == STATE_DIR || names.iter().any(|d| d.eq_ignore_ascii_case(n))
    };
    for name in &files {
        let text = name.to_string_lossy();
        if reserved(&text) {
            return Err(EngineError::FinishCollision {
                path: out_dir.join(name),
            });
        }
    }
    for name in &files {
        let from = staging.join(name);
        let to = out_dir.join(name);
        if fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(&to).map_err(|e| EngineError::io(&to, e))?;
        }
        fs::rename(&from, &to).map_err(|e| EngineError::io(&to, e))?;
    }
    layout::sync_dir(out_dir, durability).map_err(|e| EngineError::io(out_dir, e))?;
    let _ = fs::remove_dir(&staging);
    Ok(FinishReport {
        files: files
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect(),
        error: None,
    })
}
