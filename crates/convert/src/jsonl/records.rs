//! The records of mailmig JSON Lines (one JSON object per line, `"record"` first).
//!
//! * `{"record":"post_office","post_office":{…},"mailboxes":[{"key","dir_name","display_name"}…]}`
//!   — first line of `post_office.jsonl` and of a stream file; `mailboxes` lists the
//!   committed mailbox directories in source order (may be empty in a stream file).
//! * `{"record":"mailbox","mailbox":{MailboxInfo},"folders":[Folder…]}` — first line of each
//!   `mailbox.jsonl`; in a stream file it opens the mailbox whose messages follow.
//! * `{"record":"message","message":{Message}}` — one per message. [`Blob`](mailmig_ir::Blob)s
//!   are base64, [`Timestamp`](mailmig_ir::Timestamp)s ISO 8601 (no offset: zone unknown).
//!
//! The field shapes are the serde forms of the `mailmig-ir` types, so writing and reading
//! back is lossless.

use mailmig_ir::{CommittedMailbox, Folder, MailboxInfo, Message, PostOffice};
use serde::{Deserialize, Serialize};

/// Prefix of message lines as mailmig writes them; lets readers skip them without parsing.
pub const MESSAGE_PREFIX: &[u8] = br#"{"record":"message","message":"#;
/// Prefix of mailbox lines as mailmig writes them.
pub const MAILBOX_PREFIX: &[u8] = br#"{"record":"mailbox","#;
/// Prefix of post-office lines as mailmig writes them.
pub const POST_OFFICE_PREFIX: &[u8] = br#"{"record":"post_office","#;

/// One parsed line.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Record {
    /// The post office.
    PostOffice {
        /// The post office and its directory.
        post_office: PostOffice,
        /// Committed mailboxes in source order.
        #[serde(default)]
        mailboxes: Vec<CommittedMailbox>,
    },
    /// A mailbox header.
    Mailbox {
        /// Owner and source of the mailbox.
        mailbox: MailboxInfo,
        /// Folder tree, parents first.
        #[serde(default)]
        folders: Vec<Folder>,
    },
    /// A message.
    Message {
        /// The message.
        message: Box<Message>,
    },
}

/// Serialising form of a post-office line.
#[derive(Serialize)]
pub struct PostOfficeLine<'a> {
    /// Always `post_office`.
    pub record: &'static str,
    /// The post office.
    pub post_office: &'a PostOffice,
    /// Committed mailboxes.
    pub mailboxes: &'a [CommittedMailbox],
}

/// Serialising form of a mailbox line.
#[derive(Serialize)]
pub struct MailboxLine<'a> {
    /// Always `mailbox`.
    pub record: &'static str,
    /// The mailbox.
    pub mailbox: &'a MailboxInfo,
    /// Its folders.
    pub folders: &'a [Folder],
}

/// Serialising form of a message line.
#[derive(Serialize)]
pub struct MessageLine<'a> {
    /// Always `message`.
    pub record: &'static str,
    /// The message.
    pub message: &'a Message,
}

/// Parses one line. Lines in mailmig's own key order take a fast path for messages.
pub fn parse_line(line: &[u8]) -> Result<Record, serde_json::Error> {
    if let Some(inner) = line
        .strip_prefix(MESSAGE_PREFIX)
        .and_then(|rest| trim_ascii_end(rest).strip_suffix(b"}"))
        && let Ok(message) = serde_json::from_slice::<Message>(inner)
    {
        return Ok(Record::Message {
            message: Box::new(message),
        });
    }
    serde_json::from_slice(line)
}

fn trim_ascii_end(b: &[u8]) -> &[u8] {
    b.trim_ascii_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let m = Message {
            subject: Some("x".into()),
            ..Message::default()
        };
        let line = serde_json::to_vec(&MessageLine {
            record: "message",
            message: &m,
        })
        .unwrap();
        assert!(line.starts_with(MESSAGE_PREFIX));
        assert_eq!(
            parse_line(&line).unwrap(),
            Record::Message {
                message: Box::new(m.clone())
            }
        );
        // Other key orders parse through the general path.
        let reordered = br#"{"message":{"subject":"x"},"record":"message"}"#;
        assert_eq!(
            parse_line(reordered).unwrap(),
            Record::Message {
                message: Box::new(m)
            }
        );
        assert!(parse_line(br#"{"record":"nope"}"#).is_err());
        let mb = MailboxInfo {
            key: "k".into(),
            ..MailboxInfo::default()
        };
        let line = serde_json::to_vec(&MailboxLine {
            record: "mailbox",
            mailbox: &mb,
            folders: &[],
        })
        .unwrap();
        assert!(line.starts_with(MAILBOX_PREFIX));
        assert!(
            matches!(parse_line(&line).unwrap(), Record::Mailbox { mailbox, .. } if mailbox == mb)
        );
    }
}
