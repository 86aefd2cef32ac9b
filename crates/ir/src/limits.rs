//! [`Limits`]: the bounds every parser honours, and [`Budget`]: the time budget and
//! cancellation flag of one mailbox (guarantee 1 of ARCHITECTURE.md, KB Q245568).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Bounds on work and memory that a hostile or damaged input could otherwise drive without end.
///
/// Every format parser takes a `Limits` and turns an exceeded bound into a warning or a skipped
/// item, never into a hang or an unbounded allocation. The defaults suit real stores of tens of
/// gigabytes; tests and fuzz targets use smaller values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest nesting of embedded messages followed (default 32). PST stores seen in the wild
    /// nest a handful of levels; anything deeper is a loop or an attack.
    pub max_embedding_depth: u32,
    /// Deepest folder tree followed (default 256).
    pub max_folder_depth: u32,
    /// Deepest B-tree or data tree followed (default 16; MS-PST trees are at most 8 levels).
    pub max_tree_depth: u32,
    /// Most entries visited in any one structure walk: a B-tree, a chain, a table, a folder
    /// (default 50,000,000).
    pub max_items: u64,
    /// Most recipients kept per message (default 100,000).
    pub max_recipients: u32,
    /// Most attachments kept per message (default 100,000).
    pub max_attachments: u32,
    /// Largest single allocation driven by a length read from the input, in bytes
    /// (default 1 GiB). Lengths are also always checked against the bytes that remain.
    pub max_allocation: u64,
    /// Longest text line accepted by line-oriented readers, in bytes (default 16 MiB).
    pub max_line_len: u64,
    /// Wall-clock budget for one mailbox (default 2 hours); `None` means no budget.
    #[serde(with = "opt_secs")]
    pub mailbox_time_budget: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_embedding_depth: 32,
            max_folder_depth: 256,
            max_tree_depth: 16,
            max_items: 50_000_000,
            max_recipients: 100_000,
            max_attachments: 100_000,
            max_allocation: 1 << 30,
            max_line_len: 16 << 20,
            mailbox_time_budget: Some(Duration::from_secs(2 * 60 * 60)),
        }
    }
}

impl Limits {
    /// Small limits for fuzzing and tests: shallow, few items, 16 MiB allocations.
    pub fn strict() -> Self {
        Self {
            max_embedding_depth: 8,
            max_folder_depth: 32,
            max_tree_depth: 10,
            max_items: 100_000,
            max_recipients: 10_000,
            max_attachments: 10_000,
            max_allocation: 16 << 20,
            max_line_len: 1 << 20,
            mailbox_time_budget: Some(Duration::from_secs(10)),
        }
    }

    /// True when an allocation of `len` bytes is allowed.
    pub fn allows_allocation(&self, len: u64) -> bool {
        len <= self.max_allocation
    }
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v = Option::<f64>::deserialize(d)?;
        Ok(v.filter(|x| x.is_finite() && *x >= 0.0)
            .map(Duration::from_secs_f64))
    }
}

/// Why a [`Budget`] stopped the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Interrupted {
    /// The mailbox ran past its time budget.
    #[error("time budget exceeded")]
    TimedOut,
    /// The run was cancelled (Ctrl-C, or the engine gave up on the mailbox).
    #[error("cancelled")]
    Cancelled,
}

/// The time budget and cancellation flag of one unit of work (usually one mailbox).
///
/// Parsers call [`Budget::check`] in their loops (cheaply: it reads an atomic and the clock) and
/// stop with [`Interrupted`] when it fails. The engine also watches the deadline from outside, so
/// a source that never checks still cannot hold up the run.
#[derive(Clone, Debug)]
pub struct Budget {
    deadline: Option<Instant>,
    cancel: Arc<AtomicBool>,
}

impl Budget {
    /// A budget that never runs out and is never cancelled.
    pub fn unlimited() -> Self {
        Self {
            deadline: None,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A budget that runs out `duration` from now (`None`: never).
    pub fn new(duration: Option<Duration>) -> Self {
        Self {
            deadline: duration.and_then(|d| Instant::now().checked_add(d)),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Asks every holder of this budget (and its clones) to stop.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Ok` while there is time left and nobody cancelled.
    pub fn check(&self) -> Result<(), Interrupted> {
        if self.is_cancelled() {
            return Err(Interrupted::Cancelled);
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(Interrupted::TimedOut),
            _ => Ok(()),
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::unlimited()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_times_out_and_cancels() {
        let b = Budget::new(Some(Duration::ZERO));
        assert_eq!(b.check(), Err(Interrupted::TimedOut));
        let b = Budget::unlimited();
        assert_eq!(b.check(), Ok(()));
        let clone = b.clone();
        b.cancel();
        assert_eq!(clone.check(), Err(Interrupted::Cancelled));
    }

    #[test]
    fn limits_serde_round_trip() {
        let l = Limits::default();
        let json = serde_json::to_string(&l).unwrap();
        let back: Limits = serde_json::from_str(&json).unwrap();
        assert_eq!(back, l);
        assert!(l.allows_allocation(1 << 30));
        assert!(!l.allows_allocation((1 << 30) + 1));
    }
}
