//! Raw bytes into the cc:Mail EXPORT stream reader and the directory-export reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailmig_ccmail::{ExportReader, ReaderConfig, parse_directory, scan_date_order};
use mailmig_ir::Limits;

fuzz_target!(|data: &[u8]| {
    let order = scan_date_order(data).decide();
    let cfg = ReaderConfig::new("fuzz.ccm")
        .with_limits(Limits::strict())
        .with_date_order(order);
    let reader = ExportReader::from_vec(data.to_vec(), cfg);
    for m in reader.take(100_000) {
        if let Ok(m) = m {
            let _ = m.tally();
        }
    }
    let cfg = ReaderConfig::new("fuzz.ccm").with_code_page(932).with_limits(Limits::strict());
    for _ in ExportReader::from_vec(data.to_vec(), cfg).take(100_000) {}
    let _ = parse_directory(data, 850, "fuzz.dir");
});
