//! Fuzzes secondary-file parsing and pointer resolution (exchange-iff.md §6, §7): the fuzz input
//! is the secondary file; a fixed primary file points into it at offsets taken from the input's
//! first bytes (and at 0 and 50), in strict and salvage mode; `read_chain` and `resync` are also
//! called directly. Nothing may panic, loop or allocate beyond the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_iff::IffSource;
use mailmig_iff::secondary::{read_chain, resync};
use mailmig_ir::{Budget, Limits, OpenOptions, Source};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::strict();
    let budget = Budget::unlimited();
    let offsets: Vec<u64> = data
        .chunks(2)
        .take(4)
        .map(|c| u64::from(c[0]) | (u64::from(*c.get(1).unwrap_or(&0)) << 8))
        .map(|o| o % (data.len() as u64 + 2))
        .chain([0, 50])
        .collect();
    for &o in &offsets {
        for salvage in [false, true] {
            let _ = read_chain(data, o, "B.SEC", &limits, &budget, salvage);
        }
        let _ = resync(data, o as usize, "B.SEC", &limits);
    }
    let mut pri = String::from(
        "MAILMESSAGE,CCMAIL:A at B\r\nFolder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\n",
    );
    for (i, o) in offsets.iter().enumerate() {
        pri.push_str(&format!(
            "Inbox,A,B,,,#B.SEC({o}),19990101000000,,,,,#b.sec({})\r\n",
            offsets[(i + 1) % offsets.len()]
        ));
    }
    for salvage in [false, true] {
        let mut options = OpenOptions::default();
        options.limits = limits.clone();
        options.salvage = salvage;
        let Ok(src) = IffSource::from_memory(
            "X.PKL",
            b"1252\r\n\r\nA.PRI\r\nB.SEC\r\n",
            &[("A.PRI", pri.as_bytes()), ("B.SEC", data)],
            &options,
        ) else {
            return;
        };
        let _ = src.inspect();
        for mb in src.mailboxes() {
            if let Ok(section) = src.open_mailbox(mb, &budget) {
                for m in section.messages {
                    let _ = m;
                }
            }
        }
    }
});
