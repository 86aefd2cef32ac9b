//! The IR data model: post office, directory, mailboxes, folders, messages, attachments.
//!
//! All types derive `serde` so the JSON Lines sink can write them and the JSON Lines source read
//! them back losslessly. Optional fields are omitted when empty to keep output small and stable.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Blob, Timestamp, Warning};

fn is_false(b: &bool) -> bool {
    !*b
}

/// The legacy format a post office was read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceFormat {
    /// Outlook PST / OST.
    Pst,
    /// Lotus cc:Mail EXPORT streams and directory exports.
    Ccmail,
    /// Microsoft Mail gateway text files (MMFF).
    Mmff,
    /// Exchange 5.5/2000 migration files (`.PKL`/`.PRI`/`.SEC`).
    Iff,
    /// mailmig's own JSON Lines.
    Jsonl,
    /// Anything else (tests, synthetic data).
    #[default]
    Other,
}

impl SourceFormat {
    /// Short lowercase name (`pst`, `ccmail`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Pst => "pst",
            Self::Ccmail => "ccmail",
            Self::Mmff => "mmff",
            Self::Iff => "iff",
            Self::Jsonl => "jsonl",
            Self::Other => "other",
        }
    }
}

/// The unit of conversion: a cc:Mail export set, an MS Mail post office, an Exchange
/// migration-file set, or one or many PST files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PostOffice {
    /// Name of the post office (or of the file when there is none).
    pub name: String,
    /// Format the data came from.
    pub format: SourceFormat,
    /// Code page the source text was decoded with, if one applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_page: Option<u16>,
    /// Users, custom recipients, lists and bulletin boards.
    #[serde(default)]
    pub directory: Directory,
    /// Source properties of the post office not mapped elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
    /// Warnings about the post office as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// The post office's address directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    /// Entries in source order.
    #[serde(default)]
    pub entries: Vec<DirectoryEntry>,
}

impl Directory {
    /// The mailbox users, in directory order.
    pub fn mailbox_users(&self) -> impl Iterator<Item = &DirectoryEntry> {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::MailboxUser)
    }
}

/// What a directory entry is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A user with a mailbox on this post office: gets a [`MailboxSection`](crate::MailboxSection).
    #[default]
    MailboxUser,
    /// An address that is not a mailbox here (remote users, gateways, Internet addresses).
    CustomRecipient,
    /// A distribution list.
    List,
    /// A bulletin board / public folder.
    BulletinBoard,
}

/// One entry of the [`Directory`] (or of a personal address book).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// What it is.
    pub kind: EntryKind,
    /// The source's identifier for the entry (user name, alias, directory key); unique within
    /// the directory where the source guarantees it.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Primary address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Further addresses (Exchange proxy addresses, foreign aliases), as `TYPE:address`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_addresses: Vec<String>,
    /// For lists: member identifiers or addresses, in source order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Free-text comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Source fields not mapped above (location codes, raw lines…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// An e-mail address as the source wrote it, with the Internet form where known.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address type: `SMTP`, `EX`, `CCMAIL`, `MS`, `X400`, … (upper case). A `Cow`, so that
    /// readers give the few fixed types of a format without an allocation per address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr_type: Option<Cow<'static, str>>,
    /// The address in its native syntax (`John Smith at HQ`, `/O=ORG/OU=…/CN=JSMITH`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The SMTP address if the source carries one (resolved Exchange addresses, proxies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<String>,
    /// Source properties of this recipient not mapped above (for PST: the other columns of
    /// its recipient-table row, such as the per-recipient delivery report text of an NDR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

impl Address {
    /// An SMTP address with an optional display name.
    pub fn smtp(name: Option<&str>, address: &str) -> Self {
        Self {
            name: name.map(str::to_string),
            addr_type: Some("SMTP".into()),
            address: Some(address.to_string()),
            smtp: Some(address.to_string()),
            properties: Vec::new(),
        }
    }

    /// An address in a native (non-Internet) syntax.
    pub fn native(name: Option<&str>, addr_type: &str, address: &str) -> Self {
        Self {
            name: name.map(str::to_string),
            addr_type: Some(addr_type.to_ascii_uppercase().into()),
            address: Some(address.to_string()),
            smtp: None,
            properties: Vec::new(),
        }
    }

    /// The best Internet address available: `smtp`, or `address` when the type is SMTP (or
    /// absent and the address looks like one).
    pub fn internet_address(&self) -> Option<&str> {
        if let Some(s) = self.smtp.as_deref().filter(|s| s.contains('@')) {
            return Some(s);
        }
        let a = self.address.as_deref()?;
        let is_smtp = match self.addr_type.as_deref() {
            Some(t) => t.eq_ignore_ascii_case("SMTP"),
            None => true,
        };
        (is_smtp && a.contains('@') && !a.contains(char::is_whitespace)).then_some(a)
    }
}

/// One mailbox user's section header: who owns it and where it came from. The folders and
/// the message stream come with [`MailboxSection`](crate::MailboxSection) when it is opened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MailboxInfo {
    /// Identifier unique within the post office and stable across runs (journal key; output
    /// directory names derive from it).
    pub key: String,
    /// Owner's display name.
    pub display_name: String,
    /// Owner's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// The owner's [`DirectoryEntry::id`], where there is a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_id: Option<String>,
    /// The source file(s) holding this mailbox, relative to the input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_files: Vec<String>,
    /// The user's personal address book, if the source has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal_address_book: Vec<DirectoryEntry>,
    /// Source properties of the mailbox (store properties for PST).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// The role of a folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FolderKind {
    /// The root of the tree (not usually shown to users).
    Root,
    /// Inbox.
    Inbox,
    /// Sent items.
    Sent,
    /// Deleted items / trash.
    Deleted,
    /// Drafts.
    Drafts,
    /// Outbox.
    Outbox,
    /// Junk e-mail.
    Junk,
    /// Calendar.
    Calendar,
    /// Contacts.
    Contacts,
    /// Tasks.
    Tasks,
    /// Notes.
    Notes,
    /// Journal.
    Journal,
    /// A user-created or otherwise unclassified folder.
    #[default]
    Custom,
}

/// A folder of a mailbox.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Folder {
    /// Source identifier, unique within the mailbox (PST NID in hex, cc:Mail folder path…).
    pub id: String,
    /// Parent folder's `id`; `None` for top-level folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Display name.
    pub name: String,
    /// Role.
    #[serde(default)]
    pub kind: FolderKind,
    /// Source container class (`IPF.Note`, `IPF.Appointment`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_class: Option<String>,
    /// Message count the source declares (for cross-checks; may be wrong in damaged stores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_count: Option<u64>,
    /// Source properties not mapped above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// Identifiers the source assigned to a message or attachment (clone fidelity, guarantee 4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIds {
    /// Format-specific primary identifier as text (PST NID `0x00200024`, cc:Mail message
    /// number, IFF row…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<String>,
    /// MAPI entry id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Blob>,
    /// MAPI record key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_key: Option<Blob>,
    /// MAPI search key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_key: Option<Blob>,
    /// Internet Message-ID, without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Byte offset of the item in its source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The file it came from, relative to the input. Shared: a reader gives every message of
    /// a file the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
}

/// The message class: MAPI `PidTagMessageClass` or its equivalent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageClass(pub Cow<'static, str>);

impl Default for MessageClass {
    fn default() -> Self {
        Self(Cow::Borrowed("IPM.Note"))
    }
}

impl MessageClass {
    /// The broad kind of item.
    pub fn kind(&self) -> ItemKind {
        let c = self.0.to_ascii_lowercase();
        let starts = |p: &str| c == p || c.starts_with(&format!("{p}."));
        if starts("ipm.appointment") || starts("ipm.schedule.meeting") {
            ItemKind::Appointment
        } else if starts("ipm.contact") {
            ItemKind::Contact
        } else if starts("ipm.distlist") {
            ItemKind::DistributionList
        } else if starts("ipm.task") || starts("ipm.taskrequest") {
            ItemKind::Task
        } else if starts("ipm.stickynote") {
            ItemKind::Note
        } else if starts("ipm.activity") {
            ItemKind::Journal
        } else if starts("report") {
            ItemKind::Report
        } else {
            ItemKind::Mail
        }
    }
}

/// Broad kind of an item, derived from its [`MessageClass`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemKind {
    /// E-mail (also posts and unknown classes).
    Mail,
    /// Appointment or meeting request.
    Appointment,
    /// Contact.
    Contact,
    /// Distribution list.
    DistributionList,
    /// Task.
    Task,
    /// Sticky note.
    Note,
    /// Journal entry.
    Journal,
    /// Delivery / read report.
    Report,
}

/// Importance / priority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal (the default).
    #[default]
    Normal,
    /// High / urgent.
    High,
}

impl Priority {
    fn is_normal(&self) -> bool {
        *self == Self::Normal
    }
}

/// State flags of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageFlags {
    /// Read by its owner.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read: bool,
    /// Never sent (composed but not submitted).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unsent: bool,
    /// A draft.
    #[serde(default, skip_serializing_if = "is_false")]
    pub draft: bool,
    /// Flagged for follow-up.
    #[serde(default, skip_serializing_if = "is_false")]
    pub flagged: bool,
    /// Answered.
    #[serde(default, skip_serializing_if = "is_false")]
    pub answered: bool,
    /// A return receipt was requested.
    #[serde(default, skip_serializing_if = "is_false")]
    pub receipt_requested: bool,
    /// An associated (hidden, FAI) item such as a rule or a view.
    #[serde(default, skip_serializing_if = "is_false")]
    pub associated: bool,
}

/// The bodies of a message; any combination may be present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bodies {
    /// Plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// HTML, decoded to UTF-8 (a `<meta charset>` inside it may still name the old charset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// True when `html` was recovered from an RTF body (de-encapsulated), not stored as HTML.
    #[serde(default, skip_serializing_if = "is_false")]
    pub html_from_rtf: bool,
    /// True when `text` was derived from the RTF body because the source stored no plain
    /// text (so a writer of the source format need not store it as a body of its own).
    #[serde(default, skip_serializing_if = "is_false")]
    pub text_from_rtf: bool,
    /// RTF, uncompressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtf: Option<Blob>,
}

impl Bodies {
    /// True when there is no body at all.
    pub fn is_empty(&self) -> bool {
        self.text.is_none() && self.html.is_none() && self.rtf.is_none()
    }
}

/// What kind of attachment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttachmentKind {
    /// File data.
    #[default]
    File,
    /// An embedded message ([`AttachmentContent::Message`]).
    EmbeddedMessage,
    /// An OLE object, kept as a file of its storage bytes.
    Ole,
    /// A Macintosh file in MacBinary encoding.
    MacBinary,
    /// A link to a file elsewhere (no data).
    Reference,
}

/// The payload of an attachment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentContent {
    /// Bytes.
    Data(Blob),
    /// An embedded message (nested to any depth the limits allow).
    Message(Box<Message>),
    /// No payload (reference attachments, or data that could not be read; see warnings).
    #[default]
    None,
}

/// One attachment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// Kind.
    #[serde(default)]
    pub kind: AttachmentKind,
    /// File name (long name preferred), as the source wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type if the source records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Content-ID for inline parts (without angle brackets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Rendering position in the body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// True for inline (rendered in the body) attachments.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inline: bool,
    /// Last-modified time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<Timestamp>,
    /// Payload.
    #[serde(default)]
    pub content: AttachmentContent,
    /// Source identifiers.
    #[serde(default, skip_serializing_if = "is_default_ids")]
    pub ids: SourceIds,
    /// Source properties not mapped above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

fn is_default_ids(ids: &SourceIds) -> bool {
    *ids == SourceIds::default()
}

impl Attachment {
    /// The data bytes, if this is a data attachment.
    pub fn data(&self) -> Option<&Blob> {
        match &self.content {
            AttachmentContent::Data(b) => Some(b),
            _ => None,
        }
    }

    /// The embedded message, if any.
    pub fn message(&self) -> Option<&Message> {
        match &self.content {
            AttachmentContent::Message(m) => Some(m),
            _ => None,
        }
    }
}

/// A source property that has no field of its own in the IR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Property {
    /// Name: a MAPI tag (`0x0E1F000B`), a named property (`{GUID}:0x8501`, `{GUID}:name`), or
    /// a format's own key (`ccmail:Key`). Borrowed when it is a fixed name, as most are.
    pub name: Cow<'static, str>,
    /// Value.
    pub value: PropValue,
}

impl Property {
    /// A property.
    pub fn new(name: impl Into<Cow<'static, str>>, value: PropValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

/// The value of a [`Property`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PropValue {
    /// Boolean.
    Bool(bool),
    /// Integer (all widths).
    Int(i64),
    /// Floating point. In JSON a finite value is a number; NaN and the infinities, which JSON
    /// numbers cannot hold, are strings (see [`float_json`]).
    Float(#[serde(with = "float_json")] f64),
    /// Text.
    Text(String),
    /// Bytes.
    Binary(Blob),
    /// Date-time.
    Time(Timestamp),
    /// Multiple values.
    Multi(Vec<PropValue>),
}

/// JSON form of [`PropValue::Float`], lossless for every `f64`: finite values are JSON numbers
/// (exact with `serde_json`'s `float_roundtrip`); the others, which `serde_json` would write as
/// `null` and then fail to read, are the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, and
/// `"NaN:0x…"` with the 16 hex digits of a NaN whose bits are not the usual quiet NaN (a damaged
/// PST's `PT_DOUBLE` can hold any bits).
pub mod float_json {
    use serde::{Deserializer, Serializer, de};

    /// Writes `v` as a number, or as one of the strings above.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            return s.serialize_f64(*v);
        }
        match *v {
            f64::INFINITY => s.serialize_str("Infinity"),
            f64::NEG_INFINITY => s.serialize_str("-Infinity"),
            _ if v.to_bits() == f64::NAN.to_bits() => s.serialize_str("NaN"),
            _ => s.serialize_str(&format!("NaN:0x{:016X}", v.to_bits())),
        }
    }

    /// Reads a number or one of the strings above.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(FloatVisitor)
    }

    struct FloatVisitor;

    impl de::Visitor<'_> for FloatVisitor {
        type Value = f64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(
                "a number, \"NaN\", \"Infinity\", \"-Infinity\" or \"NaN:0x\" and 16 hex digits",
            )
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        #[allow(clippy::cast_precision_loss)]
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        #[allow(clippy::cast_precision_loss)]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            let bad = || E::invalid_value(de::Unexpected::Str(v), &self);
            match v {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => {
                    let hex = v.strip_prefix("NaN:0x").ok_or_else(bad)?;
                    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad());
                    }
                    let bits = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
                    let f = f64::from_bits(bits);
                    if f.is_nan() { Ok(f) } else { Err(bad()) }
                }
            }
        }
    }
}

/// One message, appointment, contact, … with everything the source had.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Source identifiers.
    #[serde(default)]
    pub ids: SourceIds,
    /// The [`Folder::id`] it sits in (`None` for embedded messages and folderless sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Message class.
    #[serde(default)]
    pub class: MessageClass,
    /// Author (`From`, sent-representing in MAPI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Address>,
    /// Actual sender when different from `from` (`Sender`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Address>,
    /// Primary recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Address>,
    /// Copy recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<Address>,
    /// Blind copy recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<Address>,
    /// Reply-to addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_to: Vec<Address>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it was sent (submitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Timestamp>,
    /// When it was received (delivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Timestamp>,
    /// Priority.
    #[serde(default, skip_serializing_if = "Priority::is_normal")]
    pub priority: Priority,
    /// Flags.
    #[serde(default)]
    pub flags: MessageFlags,
    /// Bodies.
    #[serde(default)]
    pub body: Bodies,
    /// Attachments in source order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Raw Internet transport headers as received (CRLF-separated), if the source kept them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<String>,
    /// Source properties not mapped above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
    /// Warnings met while decoding this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl Message {
    /// Counts this message's attachments, embedded messages and attachment bytes, recursively.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        self.tally_into(&mut t);
        t
    }

    fn tally_into(&self, t: &mut Tally) {
        for a in &self.attachments {
            t.attachments += 1;
            match &a.content {
                AttachmentContent::Data(b) => t.attachment_bytes += b.len() as u64,
                AttachmentContent::Message(m) => {
                    t.embedded_messages += 1;
                    m.tally_into(t);
                }
                AttachmentContent::None => {}
            }
        }
    }
}

/// Counts of attachments and embedded messages inside one message (all levels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Attachments at every level.
    pub attachments: u64,
    /// Embedded messages at every level.
    pub embedded_messages: u64,
    /// Bytes of data attachments at every level.
    pub attachment_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every `f64`, NaNs with any payload and the infinities included, comes back from
        /// JSON with the same bits; finite values stay JSON numbers.
        #[test]
        fn float_properties_round_trip_through_json(
            bits in prop_oneof![any::<u64>(), any::<u64>().prop_map(|b| b | 0x7FF0 << 48)],
        ) {
            let v = PropValue::Float(f64::from_bits(bits));
            let json = serde_json::to_string(&v).unwrap_or_default();
            let back: PropValue = serde_json::from_str(&json)
                .map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
            let PropValue::Float(f) = back else {
                return Err(TestCaseError::fail(format!("{json} read back as {back:?}")));
            };
            prop_assert_eq!(f.to_bits(), bits, "{}", json);
            prop_assert_eq!(json.contains(":\""), !f64::from_bits(bits).is_finite(), "{}", json);
        }
    }

    #[test]
    fn non_finite_floats_are_named_in_json() {
        let json = |f: f64| serde_json::to_string(&PropValue::Float(f)).unwrap_or_default();
        assert_eq!(json(f64::NAN), r#"{"float":"NaN"}"#);
        assert_eq!(json(f64::INFINITY), r#"{"float":"Infinity"}"#);
        assert_eq!(json(f64::NEG_INFINITY), r#"{"float":"-Infinity"}"#);
        assert_eq!(
            json(f64::from_bits(0xFFF0_0000_0000_0001)),
            r#"{"float":"NaN:0xFFF0000000000001"}"#
        );
        assert_eq!(json(1.5), r#"{"float":1.5}"#);
        let read = |s: &str| serde_json::from_str::<PropValue>(s).ok();
        assert_eq!(read(r#"{"float":2}"#), Some(PropValue::Float(2.0)));
        assert_eq!(read(r#"{"float":-3}"#), Some(PropValue::Float(-3.0)));
        for bad in [
            "NaN:0x1",
            "NaN:0x+000000000000001",
            "NaN:0x3FF0000000000000",
            "nan",
            "null",
        ] {
            assert_eq!(read(&format!(r#"{{"float":"{bad}"}}"#)), None, "{bad}");
        }
        assert_eq!(read(r#"{"float":null}"#), None);
    }

    #[test]
    fn class_kinds() {
        let k = |s: &str| MessageClass(s.to_owned().into()).kind();
        assert_eq!(k("IPM.Note"), ItemKind::Mail);
        assert_eq!(k("IPM.Appointment"), ItemKind::Appointment);
        assert_eq!(k("IPM.Schedule.Meeting.Request"), ItemKind::Appointment);
        assert_eq!(k("ipm.contact"), ItemKind::Contact);
        assert_eq!(k("IPM.DistList"), ItemKind::DistributionList);
        assert_eq!(k("IPM.Task"), ItemKind::Task);
        assert_eq!(k("REPORT.IPM.Note.NDR"), ItemKind::Report);
        assert_eq!(k("IPM.Contactless"), ItemKind::Mail);
    }

    #[test]
    fn internet_address_rules() {
        let a = Address::native(Some("J"), "EX", "/O=ORG/CN=J");
        assert_eq!(a.internet_address(), None);
        let mut b = a.clone();
        b.smtp = Some("j@example.com".into());
        assert_eq!(b.internet_address(), Some("j@example.com"));
        let c = Address::native(None, "CCMAIL", "John at HQ");
        assert_eq!(c.internet_address(), None);
        assert_eq!(
            Address::smtp(None, "x@y.z").internet_address(),
            Some("x@y.z")
        );
    }

    #[test]
    fn tally_recurses() {
        let inner = Message {
            attachments: vec![Attachment {
                content: AttachmentContent::Data(Blob::from_vec(vec![1, 2, 3])),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        let outer = Message {
            attachments: vec![Attachment {
                kind: AttachmentKind::EmbeddedMessage,
                content: AttachmentContent::Message(Box::new(inner)),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        assert_eq!(
            outer.tally(),
            Tally {
                attachments: 2,
                embedded_messages: 1,
                attachment_bytes: 3
            }
        );
    }

    #[test]
    fn message_json_round_trip() {
        let m = Message {
            subject: Some("Grüße".into()),
            sent: "1999-03-14T09:05:00".parse().ok(),
            to: vec![Address::smtp(Some("A"), "a@example.com")],
            properties: vec![Property::new("ccmail:Key", PropValue::Text("v".into()))],
            ..Message::default()
        };
        let json = serde_json::to_string(&m).unwrap();
        let back: Message = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
