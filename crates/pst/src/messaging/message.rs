//! Messages, recipients and attachments mapped to the IR (MS-PST 2.4.5 and 2.4.6,
//! [MS-OXCMSG]; format notes §10.3–§10.7).

use mailmig_ir::{
    Address, Attachment, AttachmentContent, AttachmentKind, Blob, Bodies, Message, MessageClass,
    MessageFlags, Priority, Property, SourceIds, Warning, codepage,
};

use super::PstStore;
use super::props::{
    PT_BINARY, PT_OBJECT, PT_STRING8, PT_UNICODE, PropBag, property_name, to_prop_value,
};
use crate::bytes::le32;
use crate::ltp::{LtpError, NodeRef, RawProp, RawValue};
use crate::ndb::{
    NID_ATTACHMENT_TABLE, NID_RECIPIENT_TABLE, NID_TYPE_ATTACHMENT, SubnodeMap, nid_type,
};

/// Property ids consumed by the IR mapping of a message (not repeated in `properties`).
const MESSAGE_MAPPED: &[u16] = &[
    0x001A, 0x0037, 0x0039, 0x0E06, 0x0042, 0x0064, 0x0065, 0x5D02, 0x0C1A, 0x0C1E, 0x0C1F, 0x5D01,
    0x1035, 0x007D, 0x1000, 0x1013, 0x1009, 0x0E07, 0x0017, 0x300B, 0x0FF9, 0x3FDE, 0x3FFD,
];

/// Property ids of a recipient-table row consumed by the IR mapping of an address, or rebuilt
/// from it by the writer (responsibility, object and display type, entry id, search key), or
/// table bookkeeping (`PidTagRowid`, `PidTagLtpRowId`/`RowVer`). The rest of the row is kept
/// in `Address::properties` (an NDR's per-recipient report text, for one).
const RECIPIENT_MAPPED: &[u16] = &[
    0x3001, 0x5FF6, 0x39FE, 0x3002, 0x3003, 0x0C15, 0x0E0F, 0x0FFE, 0x3900, 0x0FFF, 0x300B, 0x3000,
    0x67F2, 0x67F3,
];

/// Property ids consumed by the IR mapping of an attachment.
const ATTACH_MAPPED: &[u16] = &[
    0x3701, 0x3707, 0x3704, 0x3001, 0x370E, 0x3712, 0x370B, 0x3008, 0x300B, 0x0FF9,
];

/// Decoding context of one top-level message.
pub(crate) struct MsgCtx<'s> {
    pub store: &'s PstStore,
    pub warnings: Vec<Warning>,
    pub nid: u32,
    /// Attachments decoded so far at every embedding level (bounds crafted fan-out).
    pub attachments_seen: u64,
}

impl MsgCtx<'_> {
    fn warn(&mut self, code: &str, msg: String) {
        let w = Warning::new(code, format!("message 0x{:08X}: {msg}", self.nid))
            .in_file(self.store.ndb.file().to_string());
        self.warnings.push(w);
    }
}

fn address(
    name: Option<String>,
    atype: Option<String>,
    email: Option<String>,
    smtp: Option<String>,
) -> Option<Address> {
    if name.is_none() && email.is_none() && smtp.is_none() {
        return None;
    }
    let atype = atype.map(|t| std::borrow::Cow::Owned(t.to_ascii_uppercase()));
    let is_smtp = atype.as_deref().is_none_or(|t| t == "SMTP");
    let smtp = smtp
        .filter(|s| s.contains('@'))
        .or_else(|| email.clone().filter(|e| is_smtp && e.contains('@')));
    Some(Address {
        name,
        addr_type: atype,
        address: email,
        smtp,
        properties: Vec::new(),
    })
}

/// The code page named by a `charset=` in the first 2 KiB of an HTML body (its `<meta>`),
/// when `PidTagInternetCodepage` is absent (format notes §13).
fn meta_charset(html: &[u8]) -> Option<u16> {
    let head = html.get(..html.len().min(2048))?;
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let pos = lower.windows(8).position(|w| w == b"charset=")? + 8;
    let rest = lower.get(pos..)?;
    let name: Vec<u8> = rest
        .iter()
        .copied()
        .skip_while(|c| *c == b'"' || *c == b'\'' || *c == b' ')
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.'))
        .collect();
    let cp = codepage::code_page_for_charset(std::str::from_utf8(&name).ok()?)?;
    codepage::is_supported(cp).then_some(cp)
}

/// `MAPI_ONE_OFF_UID`, the provider UID of one-off entry ids (MS-OXCDATA 2.2.5.1).
const ONE_OFF_UID: [u8; 16] = [
    0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02,
];

/// Reply-to addresses from `PidTagReplyRecipientEntries` (0x004F): a FlatEntryList
/// (MS-OXCDATA 2.3.3) of one-off entry ids (2.2.5.1: flags, provider UID, version, flags with
/// 0x8000 = Unicode strings, then display name, address type and address, NUL-terminated).
/// Other entry id kinds are skipped.
fn reply_to(list: &[u8], cp: u16) -> Vec<Address> {
    let count = le32(list, 0) as usize;
    let mut out = Vec::new();
    let mut pos = 8usize;
    for _ in 0..count.min(1024) {
        let cb = le32(list, pos) as usize;
        let Some(e) = pos
            .checked_add(4)
            .and_then(|s| list.get(s..s.checked_add(cb)?))
        else {
            break;
        };
        pos = pos + 4 + cb.div_ceil(4) * 4;
        if e.get(4..20) != Some(&ONE_OFF_UID[..]) {
            continue;
        }
        let flags = crate::bytes::le16(e, 22);
        let mut fields = Vec::with_capacity(3);
        let mut rest = e.get(24..).unwrap_or(&[]);
        for _ in 0..3 {
            if flags & 0x8000 != 0 {
                let end = rest
                    .chunks_exact(2)
                    .position(|c| c == [0, 0])
                    .map_or(rest.len(), |i| i * 2);
                fields.push(super::props::utf16(rest.get(..end).unwrap_or(&[])));
                rest = rest.get(end + 2..).unwrap_or(&[]);
            } else {
                let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
                fields.push(codepage::decode(rest.get(..end).unwrap_or(&[]), cp).into_owned());
                rest = rest.get(end + 1..).unwrap_or(&[]);
            }
        }
        let mut it = fields
            .into_iter()
            .map(|f| Some(f).filter(|f| !f.is_empty()));
        let (name, atype, addr) = (
            it.next().flatten(),
            it.next().flatten(),
            it.next().flatten(),
        );
        if let Some(a) = address(name, atype, addr, None) {
            out.push(a);
        }
    }
    out
}

/// Strips the subject prefix marker: U+0001 followed by one character (format notes §10.3).
pub fn strip_subject_marker(s: &str) -> String {
    let mut it = s.chars();
    if it.next() == Some('\u{1}') {
        it.next();
        return it.as_str().to_string();
    }
    s.to_string()
}

fn code_page_of(props: &[RawProp], store: &PstStore) -> u16 {
    if let Some(cp) = store.forced_code_page {
        return cp;
    }
    let bag = PropBag::new(props.to_vec(), store.code_page);
    for id in [0x3FFD, 0x3FDE] {
        if let Some(cp) = bag.int(id).and_then(|v| u16::try_from(v).ok())
            && cp != 0
            && codepage::is_supported(cp)
        {
            return cp;
        }
    }
    store.code_page
}

impl PstStore {
    /// Decodes the message whose data tree is `bid_data` and subnode tree `bid_sub`.
    pub(crate) fn decode_message(
        &self,
        ctx: &mut MsgCtx<'_>,
        nid: u32,
        bid_data: u64,
        bid_sub: u64,
        depth: u32,
        inherited_cp: Option<u16>,
    ) -> Result<Message, LtpError> {
        let subnodes = match self.ndb.read_subnodes(bid_sub) {
            Ok(s) => s,
            Err(e) => {
                ctx.warn(
                    "pst.subnodes-missing",
                    format!("subnode tree unreadable: {e}"),
                );
                SubnodeMap::new()
            }
        };
        let node = NodeRef::open(&self.ndb, bid_data, &subnodes)?;
        let props = node.property_context()?;
        let cp = if self.forced_code_page.is_some() {
            code_page_of(&props, self)
        } else {
            let own = code_page_of(&props, self);
            if own == self.code_page {
                inherited_cp.unwrap_or(own)
            } else {
                own
            }
        };
        let bag = PropBag::new(props, cp);
        let mut m = Message {
            class: bag
                .string(0x001A)
                .map_or_else(MessageClass::default, |c| MessageClass(c.into())),
            ..Message::default()
        };
        m.subject = bag
            .string(0x0037)
            .map(|s| strip_subject_marker(&s))
            .filter(|s| !s.is_empty());
        m.sent = bag.time(0x0039);
        m.received = bag.time(0x0E06);
        m.from = address(
            bag.string(0x0042),
            bag.string(0x0064),
            bag.string(0x0065),
            bag.string(0x5D02),
        );
        let sender = address(
            bag.string(0x0C1A),
            bag.string(0x0C1E),
            bag.string(0x0C1F),
            bag.string(0x5D01),
        );
        if m.from.is_none() {
            m.from = sender;
        } else if sender.is_some() && sender != m.from {
            let same = match (&sender, &m.from) {
                (Some(a), Some(b)) => {
                    a.internet_address().is_some() && a.internet_address() == b.internet_address()
                        || (a.address.is_some() && a.address == b.address)
                }
                _ => false,
            };
            if !same {
                m.sender = sender;
            }
        }
        m.ids = SourceIds {
            native: Some(format!("0x{nid:08X}")),
            entry_id: (depth == 0).then(|| self.entry_id(nid)).flatten(),
            record_key: bag.binary(0x0FF9),
            search_key: bag.binary(0x300B),
            message_id: bag
                .string(0x1035)
                .map(|s| {
                    s.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
                .filter(|s| !s.is_empty()),
            offset: self.ndb.lookup_block(bid_data).ok().map(|e| e.ib),
            file: Some(self.ndb.shared_file()),
        };
        m.headers = bag.string(0x007D);
        let flags = bag.int(0x0E07).unwrap_or(0);
        m.flags = MessageFlags {
            read: flags & 0x01 != 0,
            unsent: flags & 0x08 != 0,
            draft: flags & 0x08 != 0,
            flagged: bag.int(0x1090) == Some(2),
            answered: matches!(bag.int(0x1081), Some(102 | 103)),
            receipt_requested: bag.bool(0x0029).unwrap_or(false),
            associated: flags & 0x40 != 0,
        };
        m.priority = match bag.int(0x0017) {
            Some(0) => Priority::Low,
            Some(2) => Priority::High,
            _ => Priority::Normal,
        };
        m.body = self.bodies(&bag, ctx);
        if let Some(list) = bag.binary(0x004F) {
            m.reply_to = reply_to(list.as_bytes(), cp);
        }
        // Recipients.
        if let Some(e) = subnodes.get(&NID_RECIPIENT_TABLE) {
            match self.recipients(e.bid_data, e.bid_sub, cp, &mut m) {
                Ok(()) => {}
                Err(err) => ctx.warn(
                    "pst.recipients-unreadable",
                    format!("recipient table unreadable: {err}"),
                ),
            }
        } else if m.class.kind() == mailmig_ir::ItemKind::Mail && depth == 0 {
            ctx.warn("pst.recipients-missing", "no recipient table".into());
        }
        // Attachments.
        self.attachments(ctx, &subnodes, cp, depth, &mut m);
        // Remaining properties.
        m.properties = self.kept_properties(&bag, MESSAGE_MAPPED, cp);
        Ok(m)
    }

    /// The properties of `bag` the IR mapping did not consume (`mapped`), named and converted
    /// for `Message::properties`, `Address::properties` and `Attachment::properties`; none when
    /// the output has no use for them ([`PstStore::set_skip_properties`]).
    fn kept_properties(&self, bag: &PropBag, mapped: &[u16], cp: u16) -> Vec<Property> {
        if self.skip_properties {
            return Vec::new();
        }
        let names = self.names();
        bag.props
            .iter()
            .filter(|p| !mapped.contains(&p.id()))
            .map(|p| Property::new(property_name(p.tag, &names), to_prop_value(p, cp)))
            .collect()
    }

    fn bodies(&self, bag: &PropBag, ctx: &mut MsgCtx<'_>) -> Bodies {
        // A PidTagBody that is present but empty stays an empty body (not "no body"), so a
        // PST written from the IR has the same property the original had.
        let text = bag.string(0x1000).or_else(|| {
            bag.get(0x1000)
                .filter(|p| matches!(p.ptype(), PT_UNICODE | PT_STRING8))
                .map(|_| String::new())
        });
        let mut b = Bodies {
            text,
            ..Bodies::default()
        };
        if let Some(p) = bag.get(0x1013) {
            b.html = match (p.ptype(), &p.value) {
                (PT_BINARY, RawValue::Bytes(bytes)) if !bytes.is_empty() => {
                    let cp = bag
                        .int(0x3FDE)
                        .and_then(|v| u16::try_from(v).ok())
                        .filter(|c| *c != 0 && codepage::is_supported(*c))
                        .or_else(|| meta_charset(bytes.as_bytes()))
                        .unwrap_or(bag.code_page);
                    let s = codepage::decode(bytes.as_bytes(), cp);
                    Some(s.trim_end_matches('\0').to_string())
                }
                (PT_UNICODE | PT_STRING8, _) => bag.string(0x1013),
                _ => None,
            };
        }
        if let Some(rtf) = bag.binary(0x1009).filter(|r| !r.is_empty()) {
            for (code, msg) in apply_compressed_rtf(rtf.as_bytes(), self.ndb.limits(), &mut b) {
                ctx.warn(code, msg);
            }
        }
        b
    }

    fn recipients(&self, bid: u64, bid_sub: u64, cp: u16, m: &mut Message) -> Result<(), LtpError> {
        // The row matrix may be a subnode of the table node itself, not of the message.
        let subnodes = self.ndb.read_subnodes(bid_sub)?;
        let node = NodeRef::open(&self.ndb, bid, &subnodes)?;
        let tc = node.table_context()?;
        let max = self.ndb.limits().max_recipients as usize;
        for row in 0..tc.len().min(max) {
            let bag = PropBag::new(tc.row(row)?, cp);
            let name = bag.string(0x3001).or_else(|| bag.string(0x5FF6));
            // PidTagSmtpAddress (0x39FE), format notes §10.4.
            let smtp = bag.string(0x39FE);
            let Some(mut a) = address(name, bag.string(0x3002), bag.string(0x3003), smtp) else {
                continue;
            };
            a.properties = self.kept_properties(&bag, RECIPIENT_MAPPED, cp);
            match bag.int(0x0C15).unwrap_or(1) & 0x0F {
                2 => m.cc.push(a),
                3 => m.bcc.push(a),
                _ => m.to.push(a),
            }
        }
        Ok(())
    }

    fn attachments(
        &self,
        ctx: &mut MsgCtx<'_>,
        subnodes: &SubnodeMap,
        cp: u16,
        depth: u32,
        m: &mut Message,
    ) {
        let mut nids: Vec<u32> = Vec::new();
        if let Some(e) = subnodes.get(&NID_ATTACHMENT_TABLE) {
            let table_subs = self.ndb.read_subnodes(e.bid_sub).unwrap_or_default();
            let res = NodeRef::open(&self.ndb, e.bid_data, &table_subs).and_then(|node| {
                let tc = node.table_context()?;
                Ok((0..tc.len())
                    .filter_map(|r| tc.row_id(r))
                    .collect::<Vec<_>>())
            });
            match res {
                Ok(v) => nids = v,
                Err(err) => ctx.warn(
                    "pst.attachments-unreadable",
                    format!("attachment table unreadable: {err}"),
                ),
            }
        }
        // Attachment subnodes not listed in the table still hold data: keep them (§8.5).
        let extra: Vec<u32> = subnodes
            .keys()
            .copied()
            .filter(|n| nid_type(*n) == NID_TYPE_ATTACHMENT && !nids.contains(n))
            .collect();
        if !extra.is_empty() && subnodes.contains_key(&NID_ATTACHMENT_TABLE) {
            ctx.warn(
                "pst.attachment-unlisted",
                format!(
                    "{} attachment subnode(s) not in the attachment table",
                    extra.len()
                ),
            );
        }
        nids.extend(extra);
        let max = self.ndb.limits().max_attachments as usize;
        for anid in nids.into_iter().take(max) {
            ctx.attachments_seen += 1;
            if ctx.attachments_seen > u64::from(self.ndb.limits().max_attachments) {
                ctx.warn(
                    "pst.attachment-limit",
                    "more attachments in this message (all embedding levels) than the limit; rest skipped".into(),
                );
                break;
            }
            let Some(e) = subnodes.get(&anid) else {
                ctx.warn(
                    "pst.attachment-missing",
                    format!("attachment subnode 0x{anid:08X} missing"),
                );
                m.attachments.push(Attachment {
                    ids: SourceIds {
                        native: Some(format!("0x{anid:08X}")),
                        ..SourceIds::default()
                    },
                    ..Attachment::default()
                });
                continue;
            };
            match self.attachment(ctx, anid, e.bid_data, e.bid_sub, cp, depth) {
                Ok(a) => m.attachments.push(a),
                Err(err) => {
                    ctx.warn(
                        "pst.attachment-unreadable",
                        format!("attachment 0x{anid:08X} unreadable: {err}"),
                    );
                    m.attachments.push(Attachment {
                        ids: SourceIds {
                            native: Some(format!("0x{anid:08X}")),
                            ..SourceIds::default()
                        },
                        ..Attachment::default()
                    });
                }
            }
        }
    }

    fn attachment(
        &self,
        ctx: &mut MsgCtx<'_>,
        anid: u32,
        bid_data: u64,
        bid_sub: u64,
        cp: u16,
        depth: u32,
    ) -> Result<Attachment, LtpError> {
        let subnodes = match self.ndb.read_subnodes(bid_sub) {
            Ok(s) => s,
            Err(e) => {
                ctx.warn(
                    "pst.subnodes-missing",
                    format!("attachment 0x{anid:08X} subnode tree unreadable: {e}"),
                );
                SubnodeMap::new()
            }
        };
        let node = NodeRef::open(&self.ndb, bid_data, &subnodes)?;
        let bag = PropBag::new(node.property_context()?, cp);
        let method = bag.int(0x3705).unwrap_or(1);
        let mut a = Attachment {
            name: bag
                .string(0x3707)
                .or_else(|| bag.string(0x3704))
                .or_else(|| bag.string(0x3001)),
            mime_type: bag.string(0x370E),
            content_id: bag.string(0x3712).map(|s| {
                s.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            }),
            position: bag.int(0x370B).filter(|p| *p >= 0).map(|p| p as u64),
            modified: bag.time(0x3008),
            ids: SourceIds {
                native: Some(format!("0x{anid:08X}")),
                record_key: bag.binary(0x0FF9),
                search_key: bag.binary(0x300B),
                offset: self.ndb.lookup_block(bid_data).ok().map(|e| e.ib),
                ..SourceIds::default()
            },
            ..Attachment::default()
        };
        let flags = bag.int(0x3714).unwrap_or(0);
        a.inline = a.content_id.is_some()
            && (flags & 0x4 != 0 || bag.bool(0x7FFE).unwrap_or(false) || method == 1);
        a.kind = match method {
            5 => AttachmentKind::EmbeddedMessage,
            6 => AttachmentKind::Ole,
            2 | 3 | 4 | 7 => AttachmentKind::Reference,
            _ => AttachmentKind::File,
        };
        let data = bag.get(0x3701);
        match (data.map(|d| (d.ptype(), &d.value)), method) {
            (Some((PT_OBJECT, RawValue::Bytes(obj))), _) => {
                let sub_nid = le32(obj.as_bytes(), 0);
                match subnodes.get(&sub_nid) {
                    Some(se)
                        if method == 5
                            || method != 6 && self.looks_like_message(se.bid_data, se.bid_sub) =>
                    {
                        a.kind = AttachmentKind::EmbeddedMessage;
                        if depth + 1 > self.ndb.limits().max_embedding_depth {
                            ctx.warn(
                                "pst.embedding-depth",
                                format!("embedded message 0x{sub_nid:08X} deeper than the limit"),
                            );
                        } else {
                            let inner = self.decode_message(
                                ctx,
                                sub_nid,
                                se.bid_data,
                                se.bid_sub,
                                depth + 1,
                                Some(cp),
                            )?;
                            a.content = AttachmentContent::Message(Box::new(inner));
                        }
                    }
                    Some(se) => {
                        a.content = AttachmentContent::Data(self.ndb.read_blob(se.bid_data)?);
                    }
                    None => ctx.warn(
                        "pst.attachment-data",
                        format!("attachment 0x{anid:08X}: object subnode 0x{sub_nid:08X} missing"),
                    ),
                }
            }
            (Some((_, RawValue::Bytes(b))), _) => a.content = AttachmentContent::Data(b.clone()),
            (_, 2 | 3 | 4 | 7) => {}
            _ => {
                ctx.warn(
                    "pst.attachment-data",
                    format!("attachment 0x{anid:08X} has no data"),
                );
            }
        }
        // The blocks of a large attachment were just read through the map; its decoded copy
        // is all that is needed now.
        self.release_over_budget();
        a.properties = self.kept_properties(&bag, ATTACH_MAPPED, cp);
        Ok(a)
    }

    fn looks_like_message(&self, bid_data: u64, _bid_sub: u64) -> bool {
        // Only the first block is read: the data of an object attachment may be large.
        self.ndb
            .first_data_block(bid_data)
            .is_some_and(|f| f.get(2..4) == Some(&[0xEC, 0xBC][..]))
    }
}

/// Decodes `PidTagRtfCompressed` ([MS-OXRTFCP]) into `b.rtf`; where the message has no HTML
/// body, recovers it from RTF-encapsulated HTML ([MS-OXRTFEX]) and, with neither text nor
/// HTML, derives the text (pst.md §10.6). Lenient: a CRC mismatch or a cut stream keeps the
/// RTF that is there, with a warning, instead of dropping the body and the HTML inside it.
/// Returns the warnings as (code, message).
fn apply_compressed_rtf(
    compressed: &[u8],
    limits: &mailmig_ir::Limits,
    b: &mut Bodies,
) -> Vec<(&'static str, String)> {
    let mut warnings = Vec::new();
    let d = match crate::rtf::decompress_rtf_lenient(compressed, limits) {
        Ok(d) => d,
        Err(e) => {
            warnings.push(("pst.rtf", format!("compressed RTF body unreadable: {e}")));
            return warnings;
        }
    };
    if !d.crc_ok {
        warnings.push((
            "pst.rtf-crc",
            "compressed RTF body fails its CRC; kept as read".into(),
        ));
    }
    if d.truncated {
        warnings.push((
            "pst.rtf-truncated",
            "compressed RTF body is cut short; kept as read".into(),
        ));
    }
    let raw = d.rtf;
    if b.html.is_none()
        && let Some(h) = crate::rtf::html_from_rtf(&raw)
    {
        b.html = Some(h);
        b.html_from_rtf = true;
    }
    if b.text.as_deref().is_none_or(str::is_empty)
        && b.html.is_none()
        && let Some(t) = crate::rtf::text_from_rtf(&raw)
    {
        b.text = Some(t);
        b.text_from_rtf = true;
    }
    b.rtf = Some(Blob::from_vec(raw));
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtf_with_a_bad_crc_is_kept_with_a_warning() {
        let rtf =
            b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 {\\*\\htmltag64 <p>}hi{\\*\\htmltag72 </p>}}";
        let mut compressed = crate::rtf::compress_rtf(rtf);
        // CRC field of the MS-OXRTFCP header (bytes 12..16).
        compressed[12] ^= 0xFF;
        let mut b = Bodies::default();
        let w = apply_compressed_rtf(&compressed, &mailmig_ir::Limits::default(), &mut b);
        assert_eq!(w.iter().map(|x| x.0).collect::<Vec<_>>(), ["pst.rtf-crc"]);
        assert_eq!(b.rtf.as_ref().map(Blob::as_bytes), Some(&rtf[..]));
        assert_eq!(b.html.as_deref(), Some("<p>hi</p>"));
        assert!(b.html_from_rtf);

        let mut b = Bodies::default();
        let w = apply_compressed_rtf(b"short", &mailmig_ir::Limits::default(), &mut b);
        assert_eq!(w.iter().map(|x| x.0).collect::<Vec<_>>(), ["pst.rtf"]);
        assert!(b.rtf.is_none());
    }

    #[test]
    fn html_meta_charset() {
        assert_eq!(meta_charset(b"<html><head><meta http-equiv=Content-Type content=\"text/html; charset=iso-8859-2\">"), Some(28592));
        assert_eq!(meta_charset(b"<meta charset=\"utf-8\">"), Some(65001));
        assert_eq!(meta_charset(b"<html>no charset</html>"), None);
    }

    #[test]
    fn reply_to_one_off_entries() {
        // FlatEntryList with one Unicode one-off entry id, as in the corpus.
        let mut e = vec![0u8; 4]; // rgbFlags
        e.extend_from_slice(&ONE_OFF_UID); // ProviderUID
        e.extend_from_slice(&0u16.to_le_bytes()); // dwVersion
        e.extend_from_slice(&0x8001u16.to_le_bytes()); // flags: Unicode
        for s in ["Rolf", "SMTP", "rolf@example.com"] {
            e.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
            e.extend_from_slice(&[0, 0]);
        }
        let mut l = 1u32.to_le_bytes().to_vec(); // cEntries
        l.extend_from_slice(&((e.len() + 4) as u32).to_le_bytes()); // cbEntries
        l.extend_from_slice(&(e.len() as u32).to_le_bytes()); // FlatEntry cb
        l.extend_from_slice(&e);
        let r = reply_to(&l, 1252);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].name.as_deref(), Some("Rolf"));
        assert_eq!(r[0].internet_address(), Some("rolf@example.com"));
        assert!(reply_to(&l[..20], 1252).is_empty());
    }

    #[test]
    fn subject_marker_is_stripped() {
        assert_eq!(strip_subject_marker("\u{1}\u{1}Lorem ipsum"), "Lorem ipsum");
        assert_eq!(strip_subject_marker("\u{1}\u{5}Re: Feature"), "Re: Feature");
        assert_eq!(strip_subject_marker("Plain"), "Plain");
        assert_eq!(strip_subject_marker("\u{1}"), "");
    }

    #[test]
    fn ex_addresses_use_the_smtp_property() {
        let a = address(
            Some("Ann".into()),
            Some("EX".into()),
            Some("/O=ORG/OU=X/CN=RECIPIENTS/CN=ANN".into()),
            Some("ann@example.com".into()),
        )
        .unwrap();
        assert_eq!(a.internet_address(), Some("ann@example.com"));
        assert_eq!(a.addr_type.as_deref(), Some("EX"));
        let b = address(
            None,
            Some("smtp".into()),
            Some("bob@example.com".into()),
            None,
        )
        .unwrap();
        assert_eq!(b.smtp.as_deref(), Some("bob@example.com"));
        assert_eq!(b.addr_type.as_deref(), Some("SMTP"));
        let c = address(
            Some("Cy".into()),
            Some("EX".into()),
            Some("/O=ORG/CN=CY".into()),
            None,
        )
        .unwrap();
        assert_eq!(c.internet_address(), None);
        assert!(address(None, Some("SMTP".into()), None, None).is_none());
    }
}
