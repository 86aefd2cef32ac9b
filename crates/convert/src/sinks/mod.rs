//! The MIME-family output formats: Maildir++, mbox (mboxrd), EML and mailmig JSON Lines.
//!
//! Each sink implements [`mailmig_ir::Sink`]. The run engine hands every mailbox an empty
//! directory and commits it atomically; sinks write only below it and write a section for
//! every mailbox, also with no messages or under `--no-mail` (ARCHITECTURE.md guarantee 2).
//! Output is byte-reproducible: no host names, process ids, clocks or random numbers
//! (guarantee 3 and 5); MIME rendering is in [`mime`].
//!
//! On-disk layout per mailbox directory `DIR` (folder placement rules in [`layout`]):
//!
//! | sink | layout |
//! |---|---|
//! | `maildir` | Maildir++: `DIR/{cur,new,tmp}` is the Inbox; every other folder is `DIR/.A.B/{cur,new,tmp}` plus an empty `maildirfolder` file; messages in `cur/` as `NNNNNN.HASH.mailmig:2,FLAGS` |
//! | `mbox` | `DIR/<folder path>.mbox` per folder (mboxrd, LF line ends), children in `DIR/<folder path>/`; `Inbox.mbox` always exists |
//! | `eml` | `DIR/<folder path>/NNNNNN.eml` (CRLF), a directory per folder, `Inbox/` always exists |
//! | `jsonl` | `DIR/mailbox.jsonl`; `post_office.jsonl` in the output root |

pub mod eml;
pub mod jsonl;
pub mod layout;
pub mod maildir;
pub mod mbox;
pub mod mime;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use mail_builder::IoWriter;
use mailmig_ir::{SinkError, text::safe_component};

pub use eml::EmlSink;
pub use jsonl::JsonlSink;
use maildir::CrlfToLf;
pub use maildir::MaildirSink;
pub use mbox::MboxSink;

/// The built-in sink called `name` (`maildir`, `mbox`, `eml`, `jsonl`), or `None`.
pub fn builtin_sink(name: &str) -> Option<Box<dyn mailmig_ir::Sink>> {
    match name {
        "maildir" => Some(Box::new(MaildirSink::new())),
        "mbox" => Some(Box::new(MboxSink::new())),
        "eml" => Some(Box::new(EmlSink::new())),
        "jsonl" => Some(Box::new(JsonlSink::new())),
        _ => None,
    }
}

/// Names of the built-in sinks, for `--to` help.
pub const BUILTIN_SINKS: &[&str] = &["maildir", "mbox", "eml", "jsonl"];

/// Longest folder name component written by the file-tree sinks, in bytes.
pub(crate) const MAX_COMPONENT: usize = 100;

/// A folder name as a portable path component.
pub(crate) fn path_component(name: &str) -> String {
    safe_component(name, MAX_COMPONENT, "folder")
}

/// Buffer size of the writers a message is rendered through, one set per message: small
/// enough that allocating and freeing them for every message stays cheap, large enough that a
/// typical message takes one or two writes.
pub(crate) const MESSAGE_BUFFER: usize = 16 * 1024;

/// A writer that counts the bytes written through it.
pub(crate) struct Counted<W> {
    inner: W,
    pub(crate) n: u64,
}

impl<W> Counted<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self { inner, n: 0 }
    }
}

impl<W: std::io::Write> std::io::Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Creates `path` and renders one message into it through `render`, buffered, so the message
/// is never held whole in memory; with `lf` CRLF line ends are written as LF. Returns what
/// `render` returned and the number of bytes in the file. On any error the file is removed:
/// nothing of a message that could not be written is left behind.
pub(crate) fn render_to_file<T>(
    path: &Path,
    lf: bool,
    render: impl FnOnce(&mut IoWriter<&mut dyn Write>) -> Result<T, SinkError>,
) -> Result<(T, u64), SinkError> {
    let io = |e| SinkError::io(path, e);
    let written = File::create(path).map_err(io).and_then(|file| {
        let mut counted = Counted::new(BufWriter::with_capacity(MESSAGE_BUFFER, file));
        let value = if lf {
            let mut to_lf = CrlfToLf::new(&mut counted);
            let mut out = IoWriter::with_capacity(MESSAGE_BUFFER, &mut to_lf as &mut dyn Write);
            let value = render(&mut out)?;
            out.finish().map_err(io)?;
            to_lf.finish().map_err(io)?;
            value
        } else {
            let mut out = IoWriter::with_capacity(MESSAGE_BUFFER, &mut counted as &mut dyn Write);
            let value = render(&mut out)?;
            out.finish().map_err(io)?;
            value
        };
        counted.flush().map_err(io)?;
        Ok((value, counted.n))
    });
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

pub(crate) fn create_dir_all(path: &Path) -> Result<(), SinkError> {
    fs::create_dir_all(path).map_err(|e| SinkError::io(path, e))
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SinkError> {
    fs::write(path, bytes).map_err(|e| SinkError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_resolve() {
        for name in BUILTIN_SINKS {
            assert_eq!(builtin_sink(name).map(|s| s.name()), Some(*name));
        }
        assert!(builtin_sink("pst").is_none());
    }
}
