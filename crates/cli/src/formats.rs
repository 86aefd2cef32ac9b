//! The input drivers and output sinks the command line knows, and input detection.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use mailmig_ir::{Detection, Driver, Sink};

/// `--to` / `generate --format` values.
pub const SINK_NAMES: [&str; 8] = [
    "maildir", "mbox", "eml", "jsonl", "iff", "ccmail", "mmff", "pst",
];

/// `--from` values.
pub const DRIVER_NAMES: [&str; 8] = [
    "pst",
    "ccmail",
    "ccmail-po",
    "iff",
    "mmff",
    "mmf",
    "msmail-po",
    "jsonl",
];

/// Every driver, most specific first.
pub fn drivers() -> Vec<Box<dyn Driver>> {
    vec![
        Box::new(mailmig_pst::PstDriver),
        Box::new(mailmig_iff::IffDriver),
        Box::new(mailmig_ccmail::CcmailDriver),
        Box::new(mailmig_ccmail::CcmailPostOfficeDriver),
        Box::new(mailmig_msmail::MmffDriver),
        Box::new(mailmig_msmail::MsmailPostOfficeDriver),
        Box::new(mailmig_msmail::MmfDriver),
        Box::new(mailmig_convert::jsonl::JsonlDriver),
    ]
}

/// Reads up to 4 KiB from the start of a file (nothing for directories).
fn head(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() {
        return Ok(Vec::new());
    }
    let file = std::fs::File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut buf = Vec::with_capacity(4096);
    file.take(4096)
        .read_to_end(&mut buf)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(buf)
}

/// The best detection for one path: highest confidence, first driver on ties.
fn detect(drivers: &[Box<dyn Driver>], path: &Path) -> Result<Option<(usize, Detection)>> {
    if !path.exists() {
        bail!("{}: no such file or directory", path.display());
    }
    let head = head(path)?;
    let mut best: Option<(usize, Detection)> = None;
    for (i, d) in drivers.iter().enumerate() {
        if let Some(det) = d.detect(path, &head)
            && best
                .as_ref()
                .is_none_or(|(_, b)| det.confidence > b.confidence)
        {
            // A magic number (confidence 100) cannot be beaten and wins ties by coming first:
            // the other drivers' guesses (some parse the whole head) need not run.
            let certain = det.confidence >= 100;
            best = Some((i, det));
            if certain {
                break;
            }
        }
    }
    Ok(best)
}

/// Picks the driver for all inputs: `--from` if given, else detection, which must agree.
pub fn resolve_driver(inputs: &[PathBuf], from: Option<&str>) -> Result<Box<dyn Driver>> {
    let mut all = drivers();
    if let Some(name) = from {
        for input in inputs {
            if !input.exists() {
                bail!("{}: no such file or directory", input.display());
            }
        }
        let i = all
            .iter()
            .position(|d| d.name() == name)
            .ok_or_else(|| anyhow!("--from {name}: unknown format"))?;
        return Ok(all.swap_remove(i));
    }
    let mut chosen: Option<(usize, Detection, &PathBuf)> = None;
    for input in inputs {
        let Some((i, det)) = detect(&all, input)? else {
            bail!(
                "{}: format not recognised (known: {}); use --from to force one",
                input.display(),
                DRIVER_NAMES.join(", ")
            );
        };
        if let Some((j, prev, prev_path)) = &chosen
            && *j != i
        {
            bail!(
                "inputs of different formats in one run: {} is {} but {} is {}",
                prev_path.display(),
                prev.driver,
                input.display(),
                det.driver
            );
        }
        tracing::info!("{}: {} ({})", input.display(), det.summary, det.driver);
        chosen = Some((i, det, input));
    }
    let (i, _, _) = chosen.ok_or_else(|| anyhow!("no input given"))?;
    Ok(all.swap_remove(i))
}

/// The sink for `--to NAME`.
pub fn sink(name: &str, code_page: Option<u16>) -> Result<Arc<dyn Sink>> {
    if let Some(cp) = code_page
        && !mailmig_ir::codepage::is_supported(cp)
    {
        bail!("--out-code-page {cp}: unsupported code page");
    }
    let sink: Arc<dyn Sink> = match name {
        "iff" => Arc::new(mailmig_iff::IffSink::new(code_page.unwrap_or(1252))),
        "ccmail" => Arc::new(mailmig_ccmail::CcmailSink::new(code_page.unwrap_or(850))),
        "mmff" => Arc::new(mailmig_msmail::MmffSink::new(code_page.unwrap_or(850))),
        "pst" => Arc::new(mailmig_pst::write::PstSink::default()),
        other => mailmig_convert::sinks::builtin_sink(other)
            .map(Arc::from)
            .ok_or_else(|| anyhow!("--to {other}: unknown output format"))?,
    };
    Ok(sink)
}

/// Describes a run so that resuming into an output directory written by a different run is
/// refused: tool version, formats, options, and each input's path, size and modification time.
pub fn fingerprint(
    inputs: &[PathBuf],
    driver: &str,
    sink: &str,
    options: &[(&str, String)],
) -> String {
    let mut s = format!(
        "mailmig {} convert from={driver} to={sink}",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in options {
        s.push_str(&format!(" {k}={v}"));
    }
    for input in inputs {
        let abs = std::fs::canonicalize(input).unwrap_or_else(|_| input.clone());
        let meta = std::fs::metadata(input).ok();
        let size = meta.as_ref().map_or(0, |m| m.len());
        let mtime = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        s.push_str(&format!(" input={}:{size}:{mtime}", abs.display()));
    }
    s
}

/// `verify` for `--to pst` output: each mailbox's PST re-read by mailmig's PST reader (a
/// separate implementation from the writer, sharing only the CRC, the permute table and format
/// constants; readpst and pffexport check the writer in `benches/peers/pst_roundtrip.py`).
pub struct PstContainer;

impl mailmig_convert::verify::ContainerReader for PstContainer {
    fn sink(&self) -> &str {
        "pst"
    }

    fn extension(&self) -> &str {
        "pst"
    }

    fn read(
        &self,
        path: &Path,
    ) -> std::result::Result<mailmig_convert::verify::ContainerCount, String> {
        use mailmig_ir::Source;
        let opts = mailmig_ir::OpenOptions::default();
        let src = mailmig_pst::PstSource::open(&[path.to_path_buf()], &opts)
            .map_err(|e| format!("not a readable PST: {e}"))?;
        let mut count = mailmig_convert::verify::ContainerCount::default();
        for mailbox in src.mailboxes() {
            let section = src
                .open_mailbox(mailbox, &mailmig_ir::Budget::unlimited())
                .map_err(|e| format!("mailbox unreadable: {e}"))?;
            for m in section.messages {
                match m {
                    Ok(m) => {
                        count.messages += 1;
                        count.attachments += m.attachments.len() as u64;
                    }
                    Err(skip) => count.unreadable.push(format!("message unreadable: {skip}")),
                }
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use mailmig_ir::{Inspection, OpenOptions, Source, SourceError};

    use super::*;

    /// A driver that detects every path with a fixed confidence and counts its calls.
    struct Fixed(&'static str, u8, Arc<AtomicUsize>);

    impl Driver for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn detect(&self, _path: &Path, _head: &[u8]) -> Option<Detection> {
            self.2.fetch_add(1, Ordering::Relaxed);
            Some(Detection {
                driver: self.0.into(),
                confidence: self.1,
                summary: String::new(),
                convertible: true,
            })
        }
        fn inspect(&self, _: &Path, _: &OpenOptions) -> Result<Inspection, SourceError> {
            Err(SourceError::NoSuchMailbox("test".into()))
        }
        fn open(&self, _: &[PathBuf], _: &OpenOptions) -> Result<Box<dyn Source>, SourceError> {
            Err(SourceError::NoSuchMailbox("test".into()))
        }
    }

    #[test]
    fn a_magic_number_ends_detection_and_the_best_guess_wins_otherwise() {
        let file = std::env::temp_dir().join(format!("mailmig-detect-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        let calls: Vec<Arc<AtomicUsize>> = (0..4).map(|_| Arc::default()).collect();
        let drivers: Vec<Box<dyn Driver>> = vec![
            Box::new(Fixed("guess", 40, calls[0].clone())),
            Box::new(Fixed("magic", 100, calls[1].clone())),
            Box::new(Fixed("magic-too", 100, calls[2].clone())),
            Box::new(Fixed("better-guess", 90, calls[3].clone())),
        ];
        let (i, det) = detect(&drivers, &file).unwrap().unwrap();
        assert_eq!((i, det.driver.as_str()), (1, "magic"));
        let n: Vec<usize> = calls.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(n, [1, 1, 0, 0], "drivers after the magic number were asked");

        let guesses: Vec<Box<dyn Driver>> = vec![
            Box::new(Fixed("guess", 40, Arc::default())),
            Box::new(Fixed("better-guess", 90, Arc::default())),
            Box::new(Fixed("tie", 90, Arc::default())),
        ];
        let (i, det) = detect(&guesses, &file).unwrap().unwrap();
        assert_eq!((i, det.driver.as_str()), (1, "better-guess"));
        std::fs::remove_file(&file).unwrap();
    }
}
