//! [`MaildirSink`]: one Maildir++ tree per mailbox.
//!
//! Implements the Maildir layout (`cur/`, `new/`, `tmp/`; file names `UNIQUE:2,FLAGS` with the
//! flags in ASCII order, D draft, F flagged, R replied, S seen) and the Courier Maildir++
//! folder extension: the Inbox is the top directory, every other folder a sibling directory
//! `.A.B` (`.` separating levels) holding its own `cur/new/tmp` and an empty
//! `maildirfolder` file.
//!
//! Folder names are stored the way IMAP servers store them: IMAP modified UTF-7
//! (RFC 3501 §5.1.3), then `.`, `/`, `\` and a leading `~` escaped as `\NN` hex (the
//! convention of Dovecot's listescape plugin, since Maildir++ itself cannot hold a `.` in a
//! name). A directory name longer than 240 bytes is replaced by `.mailmig-<hash>`
//! (inferred limit: common file systems allow 255 bytes per name).
//!
//! Messages go to `cur/` (they have been seen by a client already: the legacy store) as
//! `NNNNNN.HASH.mailmig:2,FLAGS`: `NNNNNN` the 1-based position in the mailbox, `HASH` 16 hex
//! digits of the message identity ([`super::mime::Rendered::identity`]) — no host name, process
//! id or clock, so reruns give identical trees. Line ends are LF, as Maildir delivery agents
//! write them.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use mailmig_ir::{
    MailboxContext, MailboxWriter, Message, MessageFlags, Sink, SinkError, WrittenStats,
};
use sha2::{Digest, Sha256};

use super::layout::FolderLayout;
use super::mime::{MessagePlace, hex_lower, message_identity, render_with_identity_to};
use super::{create_dir_all, render_to_file, write_file};

/// Writes each mailbox as a Maildir++ tree (`--to maildir`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MaildirSink;

impl MaildirSink {
    /// The sink.
    pub fn new() -> Self {
        Self
    }
}

/// The Maildir `info` flags of a message, in ASCII order (`D`, `F`, `R`, `S`).
pub fn maildir_flags(flags: &MessageFlags) -> String {
    let mut s = String::new();
    if flags.draft {
        s.push('D');
    }
    if flags.flagged {
        s.push('F');
    }
    if flags.answered {
        s.push('R');
    }
    if flags.read {
        s.push('S');
    }
    s
}

/// IMAP modified UTF-7 (RFC 3501 §5.1.3) of a mailbox name.
pub fn modified_utf7(name: &str) -> String {
    fn flush(out: &mut String, pending: &mut Vec<u16>) {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
        out.push('&');
        out.push_str(&b64.replace('/', ","));
        out.push('-');
        pending.clear();
    }
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// One Maildir++ folder name component: modified UTF-7 with `.`, `/`, `\` and a leading `~`
/// escaped as `\NN`.
pub fn maildir_component(name: &str) -> String {
    let name = if name.is_empty() { "folder" } else { name };
    let mut out = String::new();
    for (i, ch) in modified_utf7(name).chars().enumerate() {
        match ch {
            '.' => out.push_str("\\2e"),
            '/' => out.push_str("\\2f"),
            '\\' => out.push_str("\\5c"),
            '~' if i == 0 => out.push_str("\\7e"),
            c => out.push(c),
        }
    }
    out
}

/// The Maildir++ directory name (`.A.B`) for a folder path of encoded components.
fn folder_dir_name(components: &[String]) -> String {
    let mut s = String::new();
    for c in components {
        s.push('.');
        s.push_str(c);
    }
    if s.len() > 240 {
        let h = Sha256::digest(s.as_bytes());
        let hex: String = h.iter().take(8).map(|b| format!("{b:02x}")).collect();
        s = format!(".mailmig-{hex}");
    }
    s
}

fn make_maildir(dir: &Path, is_folder: bool) -> Result<(), SinkError> {
    for sub in ["cur", "new", "tmp"] {
        create_dir_all(&dir.join(sub))?;
    }
    if is_folder {
        write_file(&dir.join("maildirfolder"), b"")?;
    }
    Ok(())
}

/// A writer that passes bytes on with every CRLF pair turned into LF (other bytes unchanged),
/// the same for any split of the input into writes. A CR that ends a write is held until the
/// next byte is known; [`CrlfToLf::finish`] passes on a CR still held.
pub(crate) struct CrlfToLf<W: Write> {
    inner: W,
    held_cr: bool,
}

impl<W: Write> CrlfToLf<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            held_cr: false,
        }
    }

    /// Writes a CR still held and returns the inner writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        if self.held_cr {
            self.inner.write_all(b"\r")?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for CrlfToLf<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        if self.held_cr {
            self.held_cr = false;
            if let Some(after) = rest.strip_prefix(b"\n") {
                self.inner.write_all(b"\n")?;
                rest = after;
            } else {
                self.inner.write_all(b"\r")?;
            }
        }
        while let Some(pos) = memchr::memchr(b'\r', rest) {
            self.inner.write_all(rest.get(..pos).unwrap_or_default())?;
            match rest.get(pos + 1) {
                Some(b'\n') => {
                    self.inner.write_all(b"\n")?;
                    rest = rest.get(pos + 2..).unwrap_or_default();
                }
                Some(_) => {
                    self.inner.write_all(b"\r")?;
                    rest = rest.get(pos + 1..).unwrap_or_default();
                }
                None => {
                    self.held_cr = true;
                    rest = &[];
                }
            }
        }
        self.inner.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct MaildirWriter<'a> {
    key: &'a str,
    layout: FolderLayout,
    dirs: Vec<PathBuf>,
    seq: u64,
    stats: WrittenStats,
}

impl Sink for MaildirSink {
    fn name(&self) -> &'static str {
        "maildir"
    }

    /// MIME messages have no place for source properties.
    fn keeps_properties(&self) -> bool {
        false
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let layout = FolderLayout::new(ctx.folders);
        let paths = layout.encoded_paths(maildir_component);
        make_maildir(dir, false)?;
        let mut dirs = Vec::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            let d = if i == layout.default_slot() {
                dir.to_path_buf()
            } else {
                let d = dir.join(folder_dir_name(p));
                make_maildir(&d, true)?;
                d
            };
            dirs.push(d);
        }
        Ok(Box::new(MaildirWriter {
            key: ctx.mailbox.key.as_str(),
            layout,
            dirs,
            seq: 0,
            stats: WrittenStats::default(),
        }))
    }
}

impl MailboxWriter for MaildirWriter<'_> {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let place = MessagePlace {
            mailbox_key: self.key,
            seq: self.seq,
        };
        self.seq += 1;
        let slot = self.layout.slot_for(message.folder.as_deref());
        let dir = self
            .dirs
            .get(slot)
            .ok_or_else(|| SinkError::Other(format!("no maildir for folder slot {slot}")))?;
        // Rendered straight into its file in `cur/` (a message with large attachments is never
        // held whole in memory). No `tmp/` step: the engine commits the mailbox directory as a
        // whole, so no reader sees a file being written.
        let identity = message_identity(message, place);
        let name = format!(
            "{:06}.{}.mailmig:2,{}",
            self.seq,
            hex_lower(identity.get(..8).unwrap_or_default()),
            maildir_flags(&message.flags)
        );
        let path = dir.join("cur").join(name);
        let ((), n) = render_to_file(&path, true, |out| {
            render_with_identity_to(message, &identity, out)
        })?;
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        self.stats.bytes += n;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        Ok(self.stats)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Converts CRLF line ends to LF (other bytes unchanged): the whole-buffer reference for
    /// [`CrlfToLf`].
    pub(crate) fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        while let Some(pos) = memchr::memchr(b'\r', rest) {
            if rest.get(pos + 1) == Some(&b'\n') {
                out.extend_from_slice(rest.get(..pos).unwrap_or_default());
                out.push(b'\n');
                rest = rest.get(pos + 2..).unwrap_or_default();
            } else {
                out.extend_from_slice(rest.get(..=pos).unwrap_or_default());
                rest = rest.get(pos + 1..).unwrap_or_default();
            }
        }
        out.extend_from_slice(rest);
        out
    }

    /// Writes `data` through `w` in pieces ending at `cuts` (offsets, any order).
    pub(crate) fn write_in_pieces(w: &mut impl Write, data: &[u8], cuts: &[usize]) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut at = 0;
        for c in cuts {
            w.write_all(&data[at..c]).unwrap();
            at = c;
        }
    }

    proptest! {
        #[test]
        fn crlf_to_lf_streams_the_same_for_any_split(
            data in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a')], 0..64),
            cuts in proptest::collection::vec(0usize..80, 0..8),
        ) {
            let mut w = CrlfToLf::new(Vec::new());
            write_in_pieces(&mut w, &data, &cuts);
            prop_assert_eq!(w.finish().unwrap(), crlf_to_lf(&data));
        }
    }

    #[test]
    fn flags_are_in_ascii_order() {
        let f = MessageFlags {
            read: true,
            draft: true,
            flagged: true,
            answered: true,
            ..MessageFlags::default()
        };
        assert_eq!(maildir_flags(&f), "DFRS");
        assert_eq!(maildir_flags(&MessageFlags::default()), "");
        let only_read = MessageFlags {
            read: true,
            ..MessageFlags::default()
        };
        assert_eq!(maildir_flags(&only_read), "S");
    }

    #[test]
    fn modified_utf7_matches_rfc3501_examples() {
        // RFC 3501 §5.1.3 example: "~peter/mail/台北/日本語".
        assert_eq!(
            modified_utf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(modified_utf7("A&B"), "A&-B");
        assert_eq!(modified_utf7("Éléments"), "&AMk-l&AOk-ments");
    }

    #[test]
    fn components_escape_dots_and_separators() {
        assert_eq!(maildir_component("a.b/c\\d"), "a\\2eb\\2fc\\5cd");
        assert_eq!(maildir_component("~x~"), "\\7ex~");
        assert_eq!(folder_dir_name(&["A".into(), "B".into()]), ".A.B");
        let long = vec!["x".repeat(200), "y".repeat(100)];
        assert!(folder_dir_name(&long).starts_with(".mailmig-"));
    }

    #[test]
    fn crlf_becomes_lf_only_in_pairs() {
        assert_eq!(crlf_to_lf(b"a\r\nb\rc\n\r\n"), b"a\nb\rc\n\n");
    }
}
