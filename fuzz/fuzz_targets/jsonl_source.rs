//! JSON Lines stream parsing into the IR on arbitrary bytes (`JsonlSource::from_stream`),
//! reading every mailbox to the end and rendering every decoded message as MIME (so the
//! renderer and mail-builder also see fuzzed IR). Must never panic or hang.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailmig_convert::jsonl::JsonlSource;
use mailmig_convert::sinks::mime::{MessagePlace, render_message};
use mailmig_ir::{Budget, Limits, OpenOptions, Source};

fuzz_target!(|data: &[u8]| {
    let mut options = OpenOptions::default();
    options.limits = Limits::strict();
    let Ok(source) = JsonlSource::from_stream(Arc::new(data.to_vec()), "fuzz.jsonl", &options)
    else {
        return;
    };
    for mb in source.mailboxes() {
        let Ok(section) = source.open_mailbox(mb, &Budget::unlimited()) else {
            continue;
        };
        for (seq, item) in section.messages.enumerate() {
            if let Ok(m) = item {
                let _ = render_message(
                    &m,
                    MessagePlace {
                        mailbox_key: &mb.key,
                        seq: seq as u64,
                    },
                );
            }
        }
    }
});
