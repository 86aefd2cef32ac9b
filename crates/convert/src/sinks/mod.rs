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

use mail_builder::Writer;
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

/// Buffer size below the CRLF → LF conversion of a Maildir message file (which writes line
/// by line), one per message: small enough that allocating it for every message stays cheap.
pub(crate) const MESSAGE_BUFFER: usize = 16 * 1024;

/// How much of a message [`MessageOut`] gathers before writing it out: most messages take one
/// write, and a large one is never held whole.
const MESSAGE_CHUNK: usize = 64 * 1024;

thread_local! {
    /// [`MessageOut`]'s buffer, kept between messages so that it is not allocated for each.
    static MESSAGE_OUT_BUFFER: std::cell::RefCell<Vec<u8>> = const {
        std::cell::RefCell::new(Vec::new())
    };
}

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

/// The [`Writer`] a message file is rendered through: it gathers up to [`MESSAGE_CHUNK`] bytes
/// in a buffer kept per thread and writes them to `inner` in one call, and hands that buffer
/// to encoders that append in place ([`Writer::append_with`]), so the rendered bytes are
/// copied once on their way to the file. Errors are sticky and returned by
/// [`MessageOut::finish`]; bytes not finished are discarded.
pub(crate) struct MessageOut<'a> {
    inner: &'a mut dyn Write,
    buf: Vec<u8>,
    error: Option<std::io::Error>,
}

impl<'a> MessageOut<'a> {
    pub(crate) fn new(inner: &'a mut dyn Write) -> Self {
        let mut buf = MESSAGE_OUT_BUFFER
            .try_with(|b| b.try_borrow_mut().map(|mut v| std::mem::take(&mut *v)))
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        buf.clear();
        if buf.capacity() < MESSAGE_CHUNK {
            buf.reserve_exact(MESSAGE_CHUNK);
        }
        MessageOut {
            inner,
            buf,
            error: None,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.inner.write_all(bytes)
        {
            self.error = Some(e);
        }
    }

    fn drain(&mut self) {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.put(&buf);
            self.buf = buf;
            self.buf.clear();
        }
    }

    /// Writes what is gathered; the first error met, if any.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        self.drain();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for MessageOut<'_> {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        // A buffer a single large piece made grow is not kept.
        if buf.capacity() <= 4 * MESSAGE_CHUNK {
            buf.clear();
            let _ = MESSAGE_OUT_BUFFER.try_with(|b| {
                if let Ok(mut v) = b.try_borrow_mut() {
                    *v = buf;
                }
            });
        }
    }
}

impl Writer for MessageOut<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > MESSAGE_CHUNK {
            self.drain();
            if bytes.len() >= MESSAGE_CHUNK {
                self.put(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    fn write_byte(&mut self, byte: u8) {
        if self.buf.len() >= MESSAGE_CHUNK {
            self.drain();
        }
        self.buf.push(byte);
    }

    fn write_with(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> usize) {
        if self.buf.len().saturating_add(len) > MESSAGE_CHUNK {
            self.drain();
        }
        let start = self.buf.len();
        self.buf.resize(start.saturating_add(len), 0);
        let n = fill(self.buf.get_mut(start..).unwrap_or_default()).min(len);
        self.buf.truncate(start + n);
        if self.buf.len() >= MESSAGE_CHUNK {
            self.drain();
        }
    }

    fn append_with<T>(&mut self, len: usize, append: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        if self.buf.len().saturating_add(len) > MESSAGE_CHUNK {
            self.drain();
        }
        let value = append(&mut self.buf);
        if self.buf.len() >= MESSAGE_CHUNK {
            self.drain();
        }
        value
    }

    fn append_limit(&self) -> usize {
        MESSAGE_CHUNK
    }
}

/// Creates `path` and renders one message into it through `render` ([`MessageOut`]), so the
/// message is never held whole in memory; with `lf` CRLF line ends are written as LF. Returns
/// what `render` returned and the number of bytes in the file. On any error the file is
/// removed: nothing of a message that could not be written is left behind.
pub(crate) fn render_to_file<T>(
    path: &Path,
    lf: bool,
    render: impl FnOnce(&mut MessageOut<'_>) -> Result<T, SinkError>,
) -> Result<(T, u64), SinkError> {
    let io = |e| SinkError::io(path, e);
    let written = File::create(path).map_err(io).and_then(|file| {
        if lf {
            // The conversion writes line by line: buffer below it.
            let mut counted = Counted::new(BufWriter::with_capacity(MESSAGE_BUFFER, file));
            let mut to_lf = CrlfToLf::new(&mut counted);
            let mut out = MessageOut::new(&mut to_lf);
            let value = render(&mut out)?;
            out.finish().map_err(io)?;
            to_lf.finish().map_err(io)?;
            counted.flush().map_err(io)?;
            Ok((value, counted.n))
        } else {
            let mut counted = Counted::new(file);
            let mut out = MessageOut::new(&mut counted);
            let value = render(&mut out)?;
            out.finish().map_err(io)?;
            Ok((value, counted.n))
        }
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
    use proptest::prelude::*;

    /// The MIME sinks let readers skip source properties; JSON Lines, which writes the whole
    /// IR, does not.
    #[test]
    fn only_jsonl_keeps_properties() {
        for name in BUILTIN_SINKS {
            let sink = builtin_sink(name).unwrap();
            assert_eq!(sink.keeps_properties(), *name == "jsonl", "{name}");
        }
    }

    /// Keeps what it is given and counts the calls; fails a write that would pass `fail_at`.
    #[derive(Default)]
    struct Recorder {
        got: Vec<u8>,
        calls: usize,
        fail_at: Option<usize>,
    }

    impl Write for Recorder {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.fail_at.is_some_and(|n| self.got.len() + b.len() > n) {
                return Err(std::io::Error::other("disk full"));
            }
            self.got.extend_from_slice(b);
            self.calls += 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Feeds `ops` (method, length) to `w`; the bytes depend only on the position.
    fn drive(w: &mut impl Writer, ops: &[(u8, usize)]) {
        let mut at = 0usize;
        let mut next = |n: usize| {
            let v: Vec<u8> = (at..at + n).map(|i| (i % 251) as u8).collect();
            at += n;
            v
        };
        for &(op, len) in ops {
            match op % 4 {
                0 => w.write(&next(len)),
                1 => w.write_byte(next(1)[0]),
                2 => {
                    let v = next(len / 2);
                    // Asks for `len` bytes of room and keeps only half of them.
                    w.write_with(len, |room| {
                        room[..v.len()].copy_from_slice(&v);
                        v.len()
                    });
                }
                _ => {
                    let v = next(len);
                    w.append_with(len, |buf| buf.extend_from_slice(&v));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn message_out_writes_what_a_vec_gets(
            ops in prop::collection::vec((0u8..4, 0usize..3 * MESSAGE_CHUNK), 0..24)
        ) {
            let mut expect = Vec::new();
            drive(&mut expect, &ops);
            let mut file = Recorder::default();
            let mut out = MessageOut::new(&mut file);
            drive(&mut out, &ops);
            out.finish().unwrap();
            prop_assert_eq!(&file.got, &expect);
            // Gathered, not passed through piece by piece.
            prop_assert!(file.calls <= 2 * ops.len() + 1);
        }
    }

    #[test]
    fn message_out_gathers_small_pieces_and_keeps_the_first_error() {
        let ops: Vec<(u8, usize)> = (0..5000u32).map(|i| ((i % 4) as u8, 40)).collect();
        let mut file = Recorder::default();
        let mut out = MessageOut::new(&mut file);
        drive(&mut out, &ops);
        out.finish().unwrap();
        // About 126 KB in pieces of at most 40 bytes: two writes of up to 64 KiB.
        assert_eq!(file.calls, file.got.len().div_ceil(MESSAGE_CHUNK));

        let mut file = Recorder {
            fail_at: Some(100_000),
            ..Recorder::default()
        };
        let mut out = MessageOut::new(&mut file);
        drive(&mut out, &ops);
        let err = out.finish().unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert!(file.got.len() <= 100_000);
    }

    #[test]
    fn builtin_names_resolve() {
        for name in BUILTIN_SINKS {
            assert_eq!(builtin_sink(name).map(|s| s.name()), Some(*name));
        }
        assert!(builtin_sink("pst").is_none());
    }
}
