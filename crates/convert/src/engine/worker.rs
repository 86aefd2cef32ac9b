//! One mailbox on its worker thread: open the section, pull messages, write them through the
//! sink into the staging directory, `fsync` it (guarantees 1, 2 and 5 of ARCHITECTURE.md).
//!
//! The worker never touches the output tree itself: it reports a [`WorkerOutcome`] and the
//! coordinator commits (or discards) the staging directory. A worker the coordinator abandoned
//! at its deadline can therefore never commit anything, whatever it does afterwards.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mailmig_ir::{
    Budget, Interrupted, MailboxContext, MailboxSection, Sink, SinkError, SkippedItem, Source,
    SourceError, WrittenStats,
};

use super::report::{FoundCounts, MAX_WARNINGS_PER_MAILBOX, MailboxStatus, ReportWarning};
use super::{Progress, ProgressFn};

/// What a worker hands back.
#[derive(Debug)]
pub(crate) struct WorkerOutcome {
    pub status: MailboxStatus,
    pub error: Option<String>,
    pub found: FoundCounts,
    pub written: WrittenStats,
    pub skipped: Vec<SkippedItem>,
    pub warnings: Vec<ReportWarning>,
    pub warnings_omitted: u64,
    pub elapsed_ms: u64,
}

/// Everything a worker thread owns.
pub(crate) struct WorkerJob {
    pub index: usize,
    pub source: Arc<dyn Source>,
    pub sink: Arc<dyn Sink>,
    pub dir_name: String,
    pub staging: PathBuf,
    pub no_mail: bool,
    pub durability: super::layout::Durability,
    pub budget: Budget,
    pub progress: Option<ProgressFn>,
    pub done: Sender<(usize, WorkerOutcome)>,
}

#[derive(Default)]
struct Acc {
    found: FoundCounts,
    skipped: Vec<SkippedItem>,
    warnings: Vec<ReportWarning>,
    warnings_omitted: u64,
}

impl Acc {
    fn warn(&mut self, source_id: Option<String>, warning: mailmig_ir::Warning) {
        if self.warnings.len() < MAX_WARNINGS_PER_MAILBOX {
            self.warnings.push(ReportWarning { source_id, warning });
        } else {
            self.warnings_omitted = self.warnings_omitted.saturating_add(1);
        }
    }
}

enum Stop {
    Interrupted(Interrupted),
    Source(SourceError),
    Sink(SinkError),
    Io(PathBuf, std::io::Error),
    Missing,
}

impl From<Interrupted> for Stop {
    fn from(i: Interrupted) -> Self {
        Self::Interrupted(i)
    }
}

/// The worker threads. A thread takes one mailbox at a time and stays for the next, so a run
/// starts as many threads as mailboxes are converted at once (plus one for each worker
/// abandoned at its deadline), not one per mailbox: each new thread costs a stack and, with
/// glibc, usually a malloc arena of its own that keeps its freed memory.
pub(crate) struct Pool {
    jobs: Sender<WorkerJob>,
    queue: Arc<Mutex<Receiver<WorkerJob>>>,
    idle: usize,
    started: usize,
}

impl Pool {
    pub(crate) fn new() -> Self {
        let (jobs, queue) = mpsc::channel();
        Pool {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            idle: 0,
            started: 0,
        }
    }

    /// Hands `job` to an idle worker, starting one if none is idle.
    pub(crate) fn dispatch(&mut self, job: WorkerJob) -> std::io::Result<()> {
        if self.idle == 0 {
            let queue = Arc::clone(&self.queue);
            std::thread::Builder::new()
                .name(format!("mailmig-worker-{}", self.started))
                .spawn(move || serve(&queue))?;
            self.started += 1;
            self.idle += 1;
        }
        self.jobs
            .send(job)
            .map_err(|_| std::io::Error::other("the worker queue is closed"))?;
        self.idle -= 1;
        Ok(())
    }

    /// Counts a worker free again: call once for every outcome received, an abandoned
    /// worker's late one included (it too goes back to the queue).
    pub(crate) fn finished(&mut self) {
        self.idle += 1;
    }
}

/// A worker thread: runs jobs until the pool is dropped.
fn serve(queue: &Mutex<Receiver<WorkerJob>>) {
    loop {
        // The lock is held only while waiting for a job, never while running one.
        let next = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(job) => run_job(job),
            Err(_) => return,
        }
    }
}

/// Runs the job and sends its outcome; never panics out (panics of the source or sink are
/// caught and reported as a failed mailbox).
pub(crate) fn run_job(job: WorkerJob) {
    let started = Instant::now();
    let mut acc = Acc::default();
    let result = catch_unwind(AssertUnwindSafe(|| write_section(&job, &mut acc)));
    let (status, error, written) = match result {
        Ok(Ok(stats)) => {
            let status = if acc.skipped.is_empty() {
                MailboxStatus::Converted
            } else {
                MailboxStatus::ConvertedWithSkips
            };
            (status, None, stats)
        }
        Ok(Err(stop)) => {
            let (status, msg) = describe(stop, &job.budget);
            (status, Some(msg), WrittenStats::default())
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_string());
            (
                MailboxStatus::Failed,
                Some(format!("panic while converting: {what}")),
                WrittenStats::default(),
            )
        }
    };
    let outcome = WorkerOutcome {
        status,
        error,
        found: acc.found,
        written,
        skipped: acc.skipped,
        warnings: acc.warnings,
        warnings_omitted: acc.warnings_omitted,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    // The coordinator may have abandoned this mailbox and gone; nobody to tell then.
    let _ = job.done.send((job.index, outcome));
}

fn describe(stop: Stop, budget: &Budget) -> (MailboxStatus, String) {
    match stop {
        Stop::Interrupted(i) | Stop::Source(SourceError::Interrupted(i)) => match i {
            Interrupted::TimedOut => (MailboxStatus::TimedOut, i.to_string()),
            // The coordinator cancels only at the deadline.
            Interrupted::Cancelled if budget.deadline().is_some() => {
                (MailboxStatus::TimedOut, "time budget exceeded".to_string())
            }
            Interrupted::Cancelled => (MailboxStatus::Failed, i.to_string()),
        },
        Stop::Source(e) => (MailboxStatus::Failed, format!("source: {e}")),
        Stop::Sink(e) => (MailboxStatus::Failed, format!("sink: {e}")),
        Stop::Io(p, e) => (MailboxStatus::Failed, format!("{}: {e}", p.display())),
        Stop::Missing => (
            MailboxStatus::Failed,
            "mailbox disappeared from the source's list".to_string(),
        ),
    }
}

fn write_section(job: &WorkerJob, acc: &mut Acc) -> Result<WrittenStats, Stop> {
    job.budget.check()?;
    let source: &dyn Source = &*job.source;
    let info = source.mailboxes().get(job.index).ok_or(Stop::Missing)?;
    super::layout::remove_path(&job.staging).map_err(|e| Stop::Io(job.staging.clone(), e))?;
    std::fs::create_dir_all(&job.staging).map_err(|e| Stop::Io(job.staging.clone(), e))?;
    let MailboxSection {
        folders,
        messages,
        warnings,
    } = source
        .open_mailbox(info, &job.budget)
        .map_err(Stop::Source)?;
    acc.found.folders = folders.len() as u64;
    for w in warnings {
        acc.warn(None, w);
    }
    job.budget.check()?;
    let ctx = MailboxContext {
        post_office: source.post_office(),
        mailbox: info,
        folders: &folders,
        dir_name: &job.dir_name,
        no_mail: job.no_mail,
    };
    let mut writer = job
        .sink
        .open_mailbox(ctx, &job.staging)
        .map_err(Stop::Sink)?;
    if job.no_mail {
        drop(messages);
    } else {
        let mut done: u64 = 0;
        for item in messages {
            job.budget.check()?;
            match item {
                Ok(message) => {
                    acc.found.messages = acc.found.messages.saturating_add(1);
                    let t = message.tally();
                    acc.found.attachments = acc.found.attachments.saturating_add(t.attachments);
                    acc.found.embedded_messages = acc
                        .found
                        .embedded_messages
                        .saturating_add(t.embedded_messages);
                    acc.found.attachment_bytes = acc
                        .found
                        .attachment_bytes
                        .saturating_add(t.attachment_bytes);
                    let id = message
                        .ids
                        .native
                        .clone()
                        .or_else(|| message.ids.message_id.clone());
                    for w in &message.warnings {
                        acc.warn(id.clone(), w.clone());
                    }
                    match writer.write_message(&message) {
                        Ok(()) => {}
                        Err(SinkError::Unrepresentable(reason)) => {
                            let mut item = SkippedItem::new("message", reason);
                            item.source_id = id;
                            item.file = message.ids.file.as_deref().map(str::to_owned);
                            item.offset = message.ids.offset;
                            acc.skipped.push(item);
                        }
                        Err(e) => return Err(Stop::Sink(e)),
                    }
                }
                Err(skipped) => {
                    if skipped.kind == "message" {
                        acc.found.messages = acc.found.messages.saturating_add(1);
                    }
                    acc.skipped.push(skipped);
                }
            }
            done = done.saturating_add(1);
            if let Some(p) = &job.progress {
                p(&Progress::Message {
                    index: job.index,
                    items: done,
                });
            }
        }
    }
    // A stream that ended because the budget ran out is not a complete mailbox.
    job.budget.check()?;
    let stats = writer.finish().map_err(Stop::Sink)?;
    drop(folders);
    super::layout::sync_tree(&job.staging, job.durability)
        .map_err(|e| Stop::Io(job.staging.clone(), e))?;
    job.budget.check()?;
    Ok(stats)
}
