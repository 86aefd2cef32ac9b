//! Progress on a terminal: one bar over mailboxes, with the running message count. Nothing is
//! drawn when stderr is not a terminal (logs and CI stay clean).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mailmig_convert::engine::{Progress, ProgressFn};

static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// A progress callback for the engine, or `None` when stderr is not a terminal.
pub fn reporter() -> Option<ProgressFn> {
    if !crate::interactive() {
        return None;
    }
    let bar = BAR.get_or_init(|| {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} mailboxes, {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let messages = Arc::new(AtomicU64::new(0));
    let bar = bar.clone();
    Some(Arc::new(move |p: &Progress| match p {
        Progress::Started { mailboxes, resumed } => {
            bar.set_length(*mailboxes as u64);
            bar.set_position(0);
            if *resumed > 0 {
                bar.println(format!("resuming: {resumed} mailboxes already done"));
            }
            bar.set_message("0 messages");
        }
        Progress::Message { .. } => {
            let n = messages.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(256) {
                bar.set_message(format!("{n} messages"));
            }
        }
        Progress::MailboxFinished { .. } => {
            bar.inc(1);
            let n = messages.load(Ordering::Relaxed);
            bar.set_message(format!("{n} messages"));
        }
        Progress::Finishing => bar.set_message("writing report"),
        _ => {}
    }))
}

/// Removes the bar before the summary is printed.
pub fn finish() {
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
}
