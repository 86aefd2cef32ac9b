//! Fuzzes primary-file parsing (exchange-iff.md §3, §5): the CSV tokenizer, continuations,
//! section scanning and the whole IR mapping of DIRECTORY / PAB / MAILMESSAGE rows, with the
//! fuzz input as the primary file of an in-memory set whose secondary file is valid. Half of the
//! inputs are mapped onto the format's alphabet so that random bytes form structure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_iff::IffSource;
use mailmig_ir::{Budget, Limits, OpenOptions, Source};

const ALPHABET: &[&[u8]] = &[
    b",", b"\"", b";", b"\\", b"\\\\", b"\r\n", b"\n", b"\r", b"!", b"#", b"(", b")", b"0", b"5",
    b"50", b"[", b"]", b":", b"DIRECTORY\r\n", b"MAILMESSAGE,", b"PAB,", b"#B.SEC(50)",
    b"#B.SEC(", b"mailbox,create,", b"MIGRATE:CCMAIL:", b"entry,", b"dl,", b"TRUE", b"FALSE",
    b"Inbox", b"\\r", b"x", b" ", b"\x81\x5c",
    b"Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\n",
    b"Obj-class,Mode,Common-Name,Display-Name,Last Name,First Name,Secondary-Proxy-Addresses,Home-Server\r\n",
    b"19990314090500", b"-1",
];

const SEC: &[u8] = b"Type,Length,Encoding,Islast,Name,Position,Format\r\nBody,5,,FALSE,,,\r\nhello\r\nAttachment,3,,TRUE,A.TXT,2,None\r\nabc\r\n";

fuzz_target!(|data: &[u8]| {
    let (mode, rest) = data.split_first().map_or((0, data), |(m, r)| (*m, r));
    let primary: Vec<u8> = if mode & 1 == 1 {
        rest.iter()
            .flat_map(|b| ALPHABET[*b as usize % ALPHABET.len()].iter().copied())
            .collect()
    } else {
        rest.to_vec()
    };
    let code_page = [1252u16, 932, 850, 65001][(mode as usize >> 1) % 4];
    let pkl = format!("{code_page}\r\n\r\nA.PRI\r\nB.SEC\r\n");
    let mut options = OpenOptions::default();
    options.limits = Limits::strict();
    options.salvage = mode & 8 == 8;
    // The packing list parser itself on the raw input.
    let _ = mailmig_iff::pkl::parse_packing_list(rest, "X.PKL");
    let Ok(src) = IffSource::from_memory(
        "X.PKL",
        pkl.as_bytes(),
        &[("A.PRI", &primary), ("B.SEC", SEC)],
        &options,
    ) else {
        return;
    };
    let _ = src.inspect();
    for mb in src.mailboxes() {
        if let Ok(section) = src.open_mailbox(mb, &Budget::unlimited()) {
            for m in section.messages.take(10_000) {
                let _ = m;
            }
        }
    }
});
