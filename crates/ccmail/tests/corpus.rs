//! Golden test over `corpus/ccmail/{valid,malformed}/`: every fixture is read and the IR it
//! produces is compared with `<fixture>.expected.json` next to it.
//!
//! Regenerate after an intended change with `MAILMIG_UPDATE_EXPECTED=1 cargo test -p
//! mailmig-ccmail --test corpus` and review the diff.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use mailmig_ccmail::{
    CcmailDriver, CcmailPostOfficeDriver, ExportReader, ReaderConfig, scan_date_order,
    scan_folder_names,
};
use mailmig_ir::{Budget, Driver, Limits, OpenOptions};
use serde_json::{Value, json};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/ccmail")
}

fn code_page_for(name: &str) -> u16 {
    if name.contains("cp932") { 932 } else { 850 }
}

fn read_stream(path: &Path, name: &str) -> Value {
    let data = std::fs::read(path).unwrap();
    let order = scan_date_order(&data).decide();
    let cfg = ReaderConfig::new(name)
        .with_code_page(code_page_for(name))
        .with_date_order(order)
        .with_limits(Limits::strict());
    let scanned = scan_folder_names(&data, &cfg, &|| {});
    let mut r = ExportReader::from_vec(data, cfg);
    let mut messages = Vec::new();
    let mut skipped = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    for m in r.by_ref() {
        match m {
            Ok(m) => {
                if let Some(f) = &m.folder
                    && !folders.iter().any(|n| n.eq_ignore_ascii_case(f))
                {
                    folders.push(f.clone());
                }
                messages.push(serde_json::to_value(&m).unwrap());
            }
            Err(s) => skipped.push(serde_json::to_value(&s).unwrap()),
        }
    }
    assert_eq!(
        scanned, folders,
        "{name}: the folder pre-scan and the reader disagree"
    );
    json!({
        "date_order": format!("{order:?}"),
        "framing": r.stats(),
        "messages": messages,
        "skipped": skipped,
    })
}

fn read_set(path: &Path) -> Value {
    let mut opts = OpenOptions::default();
    opts.limits = Limits::strict();
    let src = CcmailDriver.open(&[path.to_path_buf()], &opts).unwrap();
    let mut sections = Vec::new();
    for mb in src.mailboxes() {
        let sec = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
        let mut messages = Vec::new();
        let mut skipped = Vec::new();
        for m in sec.messages {
            match m {
                Ok(m) => messages.push(serde_json::to_value(&m).unwrap()),
                Err(s) => skipped.push(serde_json::to_value(&s).unwrap()),
            }
        }
        sections.push(json!({
            "key": mb.key,
            "folders": sec.folders,
            "warnings": sec.warnings,
            "messages": messages,
            "skipped": skipped,
        }));
    }
    json!({
        "post_office": src.post_office(),
        "mailboxes": src.mailboxes(),
        "sections": sections,
    })
}

fn read_post_office(path: &Path) -> Value {
    let opts = OpenOptions::default();
    let det = CcmailPostOfficeDriver.detect(path, &[]);
    let ins = CcmailPostOfficeDriver.inspect(path, &opts).unwrap();
    let err = CcmailPostOfficeDriver
        .open(&[path.to_path_buf()], &opts)
        .err()
        .map(|e| e.to_string());
    let v = json!({ "detection": det, "inspection": ins, "open_error": err });
    let text = serde_json::to_string(&v)
        .unwrap()
        .replace(&path.display().to_string(), "<fixture>");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn golden_corpus() {
    let update = std::env::var_os("MAILMIG_UPDATE_EXPECTED").is_some();
    let mut seen = 0;
    let mut failures = Vec::new();
    for group in ["valid", "malformed"] {
        let dir = corpus().join(group);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "ccm"))
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let actual = if path.is_dir() {
                if name.contains("post-office") {
                    read_post_office(&path)
                } else {
                    read_set(&path)
                }
            } else {
                read_stream(&path, &name)
            };
            let stem = name.trim_end_matches(".ccm");
            let expected_path = dir.join(format!("{stem}.expected.json"));
            let pretty = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            seen += 1;
            if update {
                std::fs::write(&expected_path, &pretty).unwrap();
                continue;
            }
            match std::fs::read_to_string(&expected_path) {
                Ok(exp) if exp == pretty => {}
                Ok(_) => failures.push(format!(
                    "{group}/{name}: differs from {}",
                    expected_path.display()
                )),
                Err(_) => failures.push(format!("{group}/{name}: no {}", expected_path.display())),
            }
        }
    }
    assert!(seen >= 30, "only {seen} fixtures found");
    assert!(
        failures.is_empty(),
        "{failures:#?}\nrun with MAILMIG_UPDATE_EXPECTED=1 to accept intended changes"
    );
}
