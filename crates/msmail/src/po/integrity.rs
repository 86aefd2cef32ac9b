//! Post-office inventory and integrity checks (`msmail.md` §3–§5, "Integrity checks for
//! `mailmig inspect --po`"). Every problem is a [`Finding`] naming the file and, where a byte
//! position is meaningful, the offset. Works on a [`PoTree`] snapshot plus [`FileContents`], so
//! the same code runs on disk trees and on in-memory trees (tests, fuzzing).
//!
//! | code | severity | check | source |
//! |---|---|---|---|
//! | `msmail.missing-dir` | by directory | a main directory of §3 is absent | KB Q77926 |
//! | `msmail.missing-subdir` | error | `MAI\MA0`…`MAF` or `ATT\AT0`…`ATF` absent | KB Q77926 |
//! | `msmail.record-size` | error | size is not `a + b·n` of its §4 row; offset = start of the incomplete record | KB Q77926 |
//! | `msmail.fixed-size` | error | a fixed-size `.GLB`/`.IDX` file has another size | KB Q77926 |
//! | `msmail.key-size` | error | a `KEY\*.KEY` file is not 560 bytes | KB Q104279 |
//! | `msmail.access-missing` | error | one of `ACCESS.GLB`, `ACCESS2.GLB`, `ACCESS3.GLB` absent | KB Q87465 |
//! | `msmail.access-count-mismatch` | error | the three parallel files hold different record counts; offset = first record without a counterpart | KB Q87402, Q168736 |
//! | `msmail.mailbox-records` | info | record count of `ACCESS2.GLB` (deleted users included) | KB Q87402 |
//! | `msmail.shadow-mismatch` | error | `ADMIN.NME` ≠ `ADMINSHD.NME` or `ADMIN.GRP` ≠ `ADMINSHD.GRP`; offset = first difference | KB Q135932 |
//! | `msmail.mbg-without-key`, `msmail.key-without-mbg` | warning | a mailbag without index or the reverse | KB Q77926 |
//! | `msmail.missing-mai` | error | a mailbag record names a `.MAI` file absent from `MAI\MA<last digit>`; offset = the name field | KB Q108027, Q87409 |
//! | `msmail.bad-mai-name` | warning | the name field is not 8 hex digits | KB Q108027 |
//! | `msmail.duplicate-mai-reference` | warning | one mailbag names a `.MAI` twice | KB Q77926 |
//! | `msmail.mai-wrong-subdir` | warning | a `.MAI` file sits in a subdirectory other than its last digit | KB Q87409 |
//! | `msmail.stranded-mai` | warning | a `.MAI` file no mailbag references | KB Q101833 |
//! | `msmail.control-counter` | warning | `CONTROL.GLB` second counter below a `.MAI` name in use (**[I]**) | KB Q122852 |
//! | `msmail.serialno` | warning | `SERIALNO.IDX` below a folder id in use (**[I]**) or above `00FFFFFF` | KB Q113149 |
//! | `msmail.folder-id-range` | warning | a folder id ≥ `01000000` | KB Q113149 |
//! | `msmail.mailbag-headers-inferred` | info | experimental: headers listed with the inferred layout | KB Q108027 |
//! | `msmail.mailbag-all-fives`, `…-invalid-date`, `…-graphic-subject` | warning | experimental: signs of a corrupt record | KB Q123319 |

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mailmig_ir::{Finding, Limits, Severity};
use serde_json::json;

use super::layout::{HEX, MAIN_DIRS, SizeRule, is_hex8, rule_for};
use super::mailbag::{self, MaiName};
use super::tree::{FileContents, PoTree};

/// Most findings reported; the rest are counted in one `msmail.findings-truncated` finding.
pub const MAX_FINDINGS: usize = 10_000;
/// Most mailbag headers listed per mailbag in the experimental listing.
pub const MAX_LISTED_HEADERS: usize = 10_000;

/// What to check and how.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Code page of post-office text (mailbag headers), default 850.
    pub code_page: u16,
    /// List mailbag headers with the inferred layout.
    pub experimental: bool,
    /// Bounds: `max_items` caps mailbag records read, `max_allocation` the largest file read.
    pub limits: Limits,
}

/// The result of [`check`].
#[derive(Clone, Debug)]
pub struct IntegrityReport {
    /// Findings in reading order.
    pub findings: Vec<Finding>,
    /// Mailbox records in `ACCESS2.GLB` (deleted users included), when it could be counted.
    pub mailbox_records: Option<u64>,
    /// Counts, mailbags and (experimental) headers as JSON.
    pub details: serde_json::Value,
}

struct Out {
    findings: Vec<Finding>,
    dropped: u64,
}

impl Out {
    fn push(&mut self, f: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        } else {
            self.dropped += 1;
        }
    }
    fn add(&mut self, sev: Severity, code: &str, file: &str, offset: Option<u64>, msg: String) {
        let mut f = Finding::new(sev, code, msg).in_file(file);
        f.offset = offset;
        self.push(f);
    }
}

fn split(path: &str) -> (String, String, String) {
    let up = path.to_ascii_uppercase();
    let top = up.split('/').next().unwrap_or("").to_string();
    let name = up.rsplit('/').next().unwrap_or("").to_string();
    let stem = name
        .rsplit_once('.')
        .map_or(name.as_str(), |(s, _)| s)
        .to_string();
    (top, name, stem)
}

fn ext(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    match data.get(off..off + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

fn mailbag_role(stem: &str) -> &'static str {
    match stem {
        "INQUEUE3" => "mail from outside the post office (INQUEUE3)",
        "INQUEUE" => "directory synchronisation queue (INQUEUE)",
        "SYSTEM" => "mail to net/po/$system",
        s if is_hex8(s) => "local user, named by hex user id",
        _ => "external post office or gateway",
    }
}

/// Runs every check of the module table over `tree`.
pub fn check(tree: &PoTree, files: &dyn FileContents, opts: &CheckOptions) -> IntegrityReport {
    let mut out = Out {
        findings: Vec::new(),
        dropped: 0,
    };
    let index: HashMap<String, &super::tree::PoEntry> =
        tree.entries.iter().map(|e| (e.key(), e)).collect();
    let has_dir = |k: &str| index.get(k).is_some_and(|e| e.is_dir);
    let file_of = |k: &str| index.get(k).filter(|e| !e.is_dir).copied();

    if tree.truncated {
        out.add(
            Severity::Warning,
            "msmail.entry-limit",
            ".",
            None,
            format!(
                "walk stopped after {} entries; later files were not checked",
                tree.entries.len()
            ),
        );
    }
    for l in &tree.skipped_links {
        out.add(
            Severity::Info,
            "msmail.symlink-skipped",
            l,
            None,
            "symbolic link or special file not followed".into(),
        );
    }

    let mut missing_dirs = Vec::new();
    for (d, sev) in MAIN_DIRS {
        if !has_dir(d) {
            missing_dirs.push(*d);
            out.add(
                *sev,
                "msmail.missing-dir",
                d,
                None,
                format!("post-office directory {d} is missing (KB Q77926)"),
            );
        }
    }
    for (top, sub) in [("MAI", "MA"), ("ATT", "AT")] {
        if has_dir(top) {
            for h in HEX {
                let k = format!("{top}/{sub}{}", char::from(*h));
                if !has_dir(&k) {
                    out.add(
                        Severity::Error,
                        "msmail.missing-subdir",
                        &k,
                        None,
                        format!("subdirectory {k} is missing (KB Q77926)"),
                    );
                }
            }
        }
    }

    let mut mbgs: BTreeMap<String, (&str, u64)> = BTreeMap::new();
    let mut keys: BTreeMap<String, &str> = BTreeMap::new();
    let mut mai_files: HashMap<String, (String, &str)> = HashMap::new();
    let mut att_files = 0u64;
    let mut mmf_files = 0u64;
    let mut folder_ids: Vec<(u32, &str)> = Vec::new();
    for e in tree.entries.iter().filter(|e| !e.is_dir) {
        let (top, name, stem) = split(&e.path);
        if let Some(rule) = rule_for(&top, &name)
            && let Some(v) = rule.check(e.size)
        {
            let code = match (top.as_str(), rule) {
                ("KEY", _) => "msmail.key-size",
                (_, SizeRule::Exact(_)) => "msmail.fixed-size",
                _ => "msmail.record-size",
            };
            out.add(
                Severity::Error,
                code,
                &e.path,
                Some(v.offset),
                format!("{}: {}", e.path, v.message),
            );
        }
        match (top.as_str(), ext(&name)) {
            ("MBG", "MBG") => {
                mbgs.insert(stem, (e.path.as_str(), e.size));
            }
            ("KEY", "KEY") => {
                keys.insert(stem, e.path.as_str());
            }
            ("MAI", "MAI") => {
                let sub = e
                    .path
                    .to_ascii_uppercase()
                    .split('/')
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                mai_files.insert(stem, (sub, e.path.as_str()));
            }
            ("ATT", "ATT") => att_files += 1,
            ("MMF", "MMF") => mmf_files += 1,
            ("FOLDERS", "FLD" | "IDX") if is_hex8(&stem) => {
                if let Ok(id) = u32::from_str_radix(&stem, 16) {
                    folder_ids.push((id, e.path.as_str()));
                }
            }
            _ => {}
        }
    }

    // ACCESS*.GLB: parallel arrays (KB Q87402, Q87465, Q135932, Q168736).
    let access = [
        ("GLB/ACCESS.GLB", 586u64),
        ("GLB/ACCESS2.GLB", 69),
        ("GLB/ACCESS3.GLB", 512),
    ];
    let counts: Vec<Option<(u64, &str, u64)>> = access
        .iter()
        .map(|(k, rec)| file_of(k).map(|e| (e.size / rec, e.path.as_str(), *rec)))
        .collect();
    let mut mailbox_records = None;
    if has_dir("GLB") {
        for ((k, _), c) in access.iter().zip(&counts) {
            if c.is_none() {
                out.add(
                    Severity::Error,
                    "msmail.access-missing",
                    k,
                    None,
                    format!("{k} is missing; clients report \"Invalid Postoffice\" (KB Q87465)"),
                );
            }
        }
    }
    if let Some(Some((n2, _, _))) = counts.get(1) {
        mailbox_records = Some(*n2);
        for c in counts.iter().flatten() {
            let (n, path, rec) = *c;
            if n != *n2 {
                out.add(
                    Severity::Error,
                    "msmail.access-count-mismatch",
                    path,
                    Some(n.min(*n2) * rec),
                    format!("{path} holds {n} records of {rec} bytes but ACCESS2.GLB holds {n2}; the three ACCESS files must have equal counts (KB Q87402, KB Q168736)"),
                );
            }
        }
        out.add(Severity::Info, "msmail.mailbox-records", "GLB/ACCESS2.GLB", None, format!("{n2} mailbox records (deleted users included, KB Q87402); user names are not read: their position in the records is undocumented"));
    }

    for (a, b) in [
        ("NME/ADMIN.NME", "NME/ADMINSHD.NME"),
        ("GRP/ADMIN.GRP", "GRP/ADMINSHD.GRP"),
    ] {
        match (file_of(a), file_of(b)) {
            (Some(ea), Some(eb)) => {
                let diff = if ea.size != eb.size {
                    Some((
                        ea.size.min(eb.size),
                        format!(
                            "{} is {} bytes, {} is {}",
                            ea.path, ea.size, eb.path, eb.size
                        ),
                    ))
                } else {
                    match (
                        files.read(&ea.path, opts.limits.max_allocation),
                        files.read(&eb.path, opts.limits.max_allocation),
                    ) {
                        (Some(x), Some(y)) => {
                            let (x, y): (&[u8], &[u8]) = ((*x).as_ref(), (*y).as_ref());
                            x.iter()
                                .zip(y)
                                .position(|(p, q)| p != q)
                                .map(|i| (i as u64, format!("contents differ from byte {i}")))
                        }
                        _ => None,
                    }
                };
                if let Some((off, why)) = diff {
                    out.add(
                        Severity::Error,
                        "msmail.shadow-mismatch",
                        &eb.path,
                        Some(off),
                        format!(
                            "{} and its shadow {} must be identical (KB Q135932): {why}",
                            ea.path, eb.path
                        ),
                    );
                }
            }
            (Some(ea), None) => out.add(
                Severity::Error,
                "msmail.shadow-mismatch",
                b,
                None,
                format!(
                    "{} exists but its shadow {b} is missing (KB Q135932)",
                    ea.path
                ),
            ),
            (None, Some(eb)) => out.add(
                Severity::Error,
                "msmail.shadow-mismatch",
                a,
                None,
                format!("{} exists but {a} is missing (KB Q135932)", eb.path),
            ),
            (None, None) => {}
        }
    }

    for (stem, (path, _)) in &mbgs {
        if !keys.contains_key(stem) {
            out.add(
                Severity::Warning,
                "msmail.mbg-without-key",
                path,
                None,
                format!("{path} has no KEY\\{stem}.KEY index"),
            );
        }
    }
    for (stem, path) in &keys {
        if !mbgs.contains_key(stem) {
            out.add(
                Severity::Warning,
                "msmail.key-without-mbg",
                path,
                None,
                format!("{path} has no MBG\\{stem}.MBG mailbag"),
            );
        }
    }

    let mut referenced: BTreeSet<String> = BTreeSet::new();
    let mut budget = opts.limits.max_items;
    let mut bag_details = Vec::new();
    let mut total_records = 0u64;
    for (stem, (path, size)) in &mbgs {
        let mut detail = json!({ "file": path, "role": mailbag_role(stem), "bytes": size });
        let Some(data) = files.read(path, opts.limits.max_allocation) else {
            out.add(
                Severity::Warning,
                "msmail.unreadable",
                path,
                None,
                format!("{path} could not be read or exceeds the allocation limit"),
            );
            bag_details.push(detail);
            continue;
        };
        let bytes: &[u8] = (*data).as_ref();
        let (recs, rem) = mailbag::records(bytes);
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut headers = Vec::new();
        let mut n = 0u64;
        for (off, rec) in recs {
            if budget == 0 {
                out.add(
                    Severity::Warning,
                    "msmail.item-limit",
                    path,
                    Some(off),
                    "mailbag record limit reached; later records not checked".into(),
                );
                break;
            }
            budget -= 1;
            n += 1;
            let name_off = off + mailbag::MAI_NAME_OFFSET as u64;
            match mailbag::mai_name(rec) {
                MaiName::Valid(name) => {
                    if let Some(first) = seen.insert(name.clone(), off) {
                        out.add(Severity::Warning, "msmail.duplicate-mai-reference", path, Some(name_off), format!("{name}.MAI is referenced twice in {path} (first by the record at offset {first}); a mailbag never holds one message twice (KB Q77926)"));
                    }
                    let last = name.chars().last().unwrap_or('0');
                    let exists = mai_files.get(&name).is_some_and(|(sub, _)| sub == &format!("MA{last}"));
                    if !exists {
                        out.add(Severity::Error, "msmail.missing-mai", path, Some(name_off), format!("record {} of {path} references MAI\\MA{last}\\{name}.MAI, which does not exist", n - 1));
                    }
                    referenced.insert(name);
                }
                MaiName::Invalid(raw) => out.add(Severity::Warning, "msmail.bad-mai-name", path, Some(name_off), format!("record {} of {path}: MAI name field {raw:?} is not 8 hex digits (KB Q108027)", n - 1)),
            }
            if opts.experimental {
                let h = mailbag::inferred_header(rec, n - 1, off, opts.code_page);
                for (code, msg, o) in &h.issues {
                    out.add(
                        Severity::Warning,
                        code,
                        path,
                        Some(*o),
                        format!("record {} (inferred layout): {msg}", n - 1),
                    );
                }
                if headers.len() < MAX_LISTED_HEADERS {
                    headers.push(h);
                }
            }
        }
        total_records += n;
        if let Some(o) = detail.as_object_mut() {
            o.insert("records".into(), json!(n));
            o.insert("remainder_bytes".into(), json!(rem));
            if opts.experimental {
                o.insert(
                    "headers".into(),
                    json!({ "layout": "inferred from the KB Q108027 dump (msmail.md §5); only the MAI name position is documented", "items": headers }),
                );
            }
        }
        if opts.experimental {
            out.add(Severity::Info, "msmail.mailbag-headers-inferred", path, None, format!("{n} headers of {path} listed with the inferred layout of KB Q108027 (sender, subject, date are inferred; read/deleted state is not known, KB Q146113)"));
        }
        bag_details.push(detail);
    }

    let mut stranded = 0u64;
    let mut mai_sorted: Vec<(&String, &(String, &str))> = mai_files.iter().collect();
    mai_sorted.sort();
    for (stem, (sub, path)) in &mai_sorted {
        let last = stem.chars().last().unwrap_or('0');
        if *sub != format!("MA{last}") {
            out.add(Severity::Warning, "msmail.mai-wrong-subdir", path, None, format!("{path} belongs in MAI\\MA{last} (the subdirectory is the last hex digit, KB Q87409)"));
        }
        if is_hex8(stem) && !referenced.contains(*stem) {
            stranded += 1;
            out.add(
                Severity::Warning,
                "msmail.stranded-mai",
                path,
                None,
                format!("{path} is referenced by no mailbag (stranded, KB Q101833)"),
            );
        }
    }

    let max_mai = mai_files
        .keys()
        .chain(referenced.iter())
        .filter_map(|s| u32::from_str_radix(s, 16).ok())
        .max();
    if let (Some(e), Some(max)) = (file_of("GLB/CONTROL.GLB"), max_mai)
        && let Some(d) = files.read(&e.path, 64)
        && let Some(counter) = u32_at((*d).as_ref(), 4)
        && counter < max
    {
        out.add(Severity::Warning, "msmail.control-counter", &e.path, Some(4), format!("second counter 0x{counter:08X} is below MAI name {max:08X} in use; new messages could reuse names (inferred check, KB Q122852)"));
    }

    for (id, path) in &folder_ids {
        if *id > 0x00FF_FFFF {
            out.add(Severity::Warning, "msmail.folder-id-range", path, None, format!("folder id {id:08X} is above 00FFFFFF; the Windows client cannot reach it (KB Q113149)"));
        }
    }
    if let Some(e) = file_of("FOLDERS/SERIALNO.IDX")
        && let Some(d) = files.read(&e.path, 64)
        && let Some(serial) = u32_at((*d).as_ref(), 0)
    {
        if serial > 0x00FF_FFFF {
            out.add(
                Severity::Warning,
                "msmail.serialno",
                &e.path,
                Some(0),
                format!("folder id counter {serial:08X} is above 00FFFFFF (KB Q113149)"),
            );
        }
        if let Some((max, p)) = folder_ids.iter().max()
            && serial < *max
        {
            out.add(Severity::Warning, "msmail.serialno", &e.path, Some(0), format!("folder id counter {serial:08X} is below folder id {max:08X} in use ({p}) (inferred check)"));
        }
    }

    out.add(
        Severity::Info,
        "msmail.inventory",
        ".",
        None,
        format!("{} mailbags with {total_records} records, {} MAI and {att_files} ATT files (encrypted, KB Q130322), {mmf_files} MMF files", mbgs.len(), mai_files.len()),
    );
    if out.dropped > 0 {
        let n = out.dropped;
        out.findings.push(Finding::new(
            Severity::Warning,
            "msmail.findings-truncated",
            format!("{n} further findings not listed"),
        ));
    }
    let details = json!({
        "mailbox_records": mailbox_records,
        "missing_dirs": missing_dirs,
        "counts": {
            "entries": tree.entries.len(),
            "mailbags": mbgs.len(),
            "mailbag_records": total_records,
            "key_files": keys.len(),
            "mai_files": mai_files.len(),
            "stranded_mai_files": stranded,
            "att_files": att_files,
            "mmf_files": mmf_files,
            "folder_files": folder_ids.len(),
            "ignored_dotfiles": tree.ignored_dotfiles,
        },
        "mailbags": bag_details,
        "truncated": tree.truncated,
    });
    IntegrityReport {
        findings: out.findings,
        mailbox_records,
        details,
    }
}
