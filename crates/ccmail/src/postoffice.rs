//! Recognising cc:Mail post-office directories (notes §1, §2) and telling the operator how to
//! export them (§3). mailmig does not decode DB6/DB7/DB8 files: their layout is not public
//! (§0), so [`CcmailPostOfficeDriver`] only inspects and explains.

use std::path::{Path, PathBuf};

use mailmig_ir::{
    Detection, Driver, Finding, Inspection, OpenOptions, Severity, Source, SourceError,
};
use serde::Serialize;

/// What a post-office directory holds (notes §2.1, §2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PostOfficeScan {
    /// The directory.
    pub path: PathBuf,
    /// `(file name, size in bytes)` of every file, sorted by name.
    pub files: Vec<(String, u64)>,
    /// `CLANDATA` present (DB6 directory database).
    pub clandata: bool,
    /// `MLANDATA` present (DB6 message database).
    pub mlandata: bool,
    /// Number of `USRxxxxx` mailbox files.
    pub user_files: usize,
    /// Some `CCPOMBOX.*` file present (the Exchange connector's test, KB Q170011).
    pub ccpombox: bool,
    /// Which of `Ccver.tb`, `Nftcheck`, `Ccpodd.??`, `Ccintl.tb`, `Ccpoms` are present.
    pub connector_files: Vec<String>,
    /// `CCPODOWN` present: shut down for maintenance (KB Q282172).
    pub ccpodown: bool,
    /// `NFTerror.log` present: directory damage (KB Q179072).
    pub nfterror_log: bool,
}

impl PostOfficeScan {
    /// The generation the heuristic of §2.2 gives, or `None` when the rules do not match.
    pub fn generation(&self) -> Option<&'static str> {
        if self.clandata && self.mlandata {
            Some("cc:Mail post office, DB6 layout")
        } else if self.ccpombox {
            Some("cc:Mail post office (generation unknown)")
        } else if self.connector_files.len() >= 2 {
            Some("probably a cc:Mail post office (generation unknown)")
        } else if self.ccpodown {
            Some("probably a cc:Mail post office (CCPODOWN present, generation unknown)")
        } else {
            None
        }
    }

    /// True when §2.2 rules 1–4 recognise the directory.
    pub fn is_post_office(&self) -> bool {
        self.generation().is_some()
    }
}

fn is_user_file(upper: &str) -> bool {
    upper.len() == 8
        && upper.starts_with("USR")
        && upper
            .get(3..)
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Lists `dir` (not recursively) and applies the heuristics of notes §2.2. A path to one of the
/// marker files (`CLANDATA`, …) is taken as its folder. `None` when it cannot be listed.
pub fn scan_post_office(path: &Path) -> Option<PostOfficeScan> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        let name = path.file_name()?.to_string_lossy().to_ascii_uppercase();
        if !(name == "CLANDATA" || name == "MLANDATA" || is_user_file(&name)) {
            return None;
        }
        path.parent()?.to_path_buf()
    };
    let mut scan = PostOfficeScan {
        path: dir.clone(),
        ..PostOfficeScan::default()
    };
    for e in std::fs::read_dir(&dir).ok()?.filter_map(Result::ok) {
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let upper = name.to_ascii_uppercase();
        match upper.as_str() {
            "CLANDATA" => scan.clandata = true,
            "MLANDATA" => scan.mlandata = true,
            "CCPODOWN" => scan.ccpodown = true,
            "NFTERROR.LOG" => scan.nfterror_log = true,
            "CCVER.TB" | "NFTCHECK" | "CCINTL.TB" | "CCPOMS" => {
                scan.connector_files.push(name.clone())
            }
            u if u.starts_with("CCPODD.") && u.len() == 9 => {
                scan.connector_files.push(name.clone())
            }
            u if u.starts_with("CCPOMBOX.") => scan.ccpombox = true,
            u if is_user_file(u) => scan.user_files += 1,
            _ => {}
        }
        scan.files.push((name, meta.len()));
    }
    scan.files.sort();
    scan.connector_files.sort();
    Some(scan)
}

/// The explanation `open` and `inspect` give: what was found and the EXPORT command lines
/// (notes §3.1, exactly as the Exchange Migration Wizard and KB Q282172 ran them).
pub fn export_instructions(scan: &PostOfficeScan) -> String {
    let po = scan.path.display();
    let mut s = format!(
        "{po} is a {}. mailmig does not decode DB6/DB8 post-office files (their layout is not public); \
         export the mail as text with Lotus EXPORT and convert that.\n\n\
         Work on a copy of a quiet post office. Per user (as the Exchange Migration Wizard ran it, KB Q186740):\n  \
         EXPORT /P<password> /BATCH /N\"<Last>, <First>\" /D{po} /DATE/1 /FILES/MACBIN2 /ITEMSIZE /FOLDER /MSGS/ALL /@<out>\\<Last>_<First>.CCM\n\
         Directory (KB Q282172; keep its output next to the per-user files):\n  \
         export32 /N<postoffice> /P<po-password> /D{po} /directory\n\n\
         Use Export 5.14 (at least 5.12) for DB6 post offices, IMPORT/EXPORT 6.x-8.x with IE.RI/IMPEXP.RI for DB8 \
         (KB Q174740, Q152500, Q255627). Name each user's output file after the user (e.g. LOVELACE_ADA.CCM) or put it \
         in a folder named after the user; then run: mailmig convert <out> --from ccmail ...",
        scan.generation()
            .unwrap_or("folder that does not look like a cc:Mail post office")
    );
    if scan.ccpodown {
        s.push_str(
            "\n\nCCPODOWN is present: the post office is marked as shut down for maintenance and EXPORT will refuse \
             to run (exit code 4, KB Q282172). mailmig never deletes it; remove it yourself when maintenance is over.",
        );
    }
    if scan.nfterror_log {
        s.push_str(
            "\n\nNFTerror.log is present: the directory has NFT errors (KB Q179072). On a copy, run ANALYZE, then \
             CHKSTAT NFT/C, DIAGNOSTICS/M, DIAGNOSTICS/R, RECLAIM DIRECTORY, BFORCE, RECLAIM before exporting.",
        );
    }
    s
}

/// The driver for cc:Mail post-office directories (`--from ccmail-po`): recognises them,
/// reports what they hold and explains how to export them; never converts them.
#[derive(Clone, Copy, Debug, Default)]
pub struct CcmailPostOfficeDriver;

impl Driver for CcmailPostOfficeDriver {
    fn name(&self) -> &'static str {
        "ccmail-po"
    }

    fn detect(&self, path: &Path, _head: &[u8]) -> Option<Detection> {
        let scan = scan_post_office(path)?;
        let generation = scan.generation()?;
        let confidence = if scan.clandata && scan.mlandata || scan.ccpombox {
            95
        } else {
            60
        };
        Some(Detection {
            driver: "ccmail-po".into(),
            confidence,
            summary: format!("{generation}, {} user file(s)", scan.user_files),
            convertible: false,
        })
    }

    fn inspect(&self, path: &Path, _options: &OpenOptions) -> Result<Inspection, SourceError> {
        let scan = scan_post_office(path).ok_or_else(|| {
            SourceError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a readable folder"),
            )
        })?;
        let mut findings = vec![Finding::new(
            Severity::Info,
            "ccmail.po-files",
            format!(
                "{} file(s), {} bytes; {} USRxxxxx mailbox file(s); CLANDATA {}, MLANDATA {}; CCPODOWN {}",
                scan.files.len(),
                scan.files.iter().map(|f| f.1).sum::<u64>(),
                scan.user_files,
                if scan.clandata { "present" } else { "absent" },
                if scan.mlandata { "present" } else { "absent" },
                if scan.ccpodown { "present" } else { "absent" },
            ),
        )];
        if scan.ccpodown {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    "ccmail.ccpodown",
                    "post office is marked as shut down for maintenance (CCPODOWN present); Lotus EXPORT will refuse to run and exit with code 4 (KB Q282172)",
                )
                .in_file("CCPODOWN"),
            );
        }
        if scan.nfterror_log {
            findings.push(
                Finding::new(
                    Severity::Error,
                    "ccmail.nfterror",
                    "NFTerror.log present: directory damage (KB Q179072); run ANALYZE/CHKSTAT on a copy before exporting",
                )
                .in_file("NFTerror.log"),
            );
        }
        findings.push(Finding::new(
            Severity::Info,
            "ccmail.unreadable",
            "mailmig does not decode DB6/DB8 files; run Lotus EXPORT per user and convert its output",
        ));
        findings.push(Finding::new(
            Severity::Info,
            "ccmail.export-command",
            export_instructions(&scan),
        ));
        Ok(Inspection {
            driver: "ccmail-po".into(),
            format: None,
            summary: scan
                .generation()
                .unwrap_or("not recognised as a cc:Mail post office")
                .to_string(),
            findings,
            details: serde_json::to_value(&scan).unwrap_or_default(),
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        _options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        let path = paths.first().cloned().unwrap_or_default();
        let scan = scan_post_office(&path).unwrap_or_else(|| PostOfficeScan {
            path: path.clone(),
            ..PostOfficeScan::default()
        });
        Err(SourceError::Unsupported {
            what: scan
                .generation()
                .unwrap_or("cc:Mail post office")
                .to_string(),
            explanation: export_instructions(&scan),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db6_layout_with_ccpodown() {
        let d = tempfile::tempdir().unwrap();
        for (n, len) in [
            ("CLANDATA", 100),
            ("mlandata", 50),
            ("USR00001", 7),
            ("USR0000A", 3),
            ("CCPODOWN", 0),
            ("C850SORT.GLB", 9),
        ] {
            std::fs::write(d.path().join(n), vec![0u8; len]).unwrap();
        }
        let s = scan_post_office(d.path()).unwrap();
        assert_eq!(s.generation(), Some("cc:Mail post office, DB6 layout"));
        assert_eq!(s.user_files, 2);
        assert!(s.ccpodown);
        let det = CcmailPostOfficeDriver.detect(d.path(), &[]).unwrap();
        assert!(!det.convertible);
        let err = CcmailPostOfficeDriver
            .open(&[d.path().to_path_buf()], &OpenOptions::default())
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("/ITEMSIZE /FOLDER /MSGS/ALL"), "{text}");
        assert!(text.contains("/directory"));
        assert!(text.contains("exit code 4"));
        assert!(matches!(err, SourceError::Unsupported { .. }));
        let ins = CcmailPostOfficeDriver
            .inspect(d.path(), &OpenOptions::default())
            .unwrap();
        assert!(ins.findings.iter().any(|f| f.code == "ccmail.ccpodown"));
        assert!(ins.findings[0].message.contains("2 USRxxxxx"));
    }

    #[test]
    fn glb_files_alone_are_not_a_post_office() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("C850SORT.GLB"), b"x").unwrap();
        assert!(CcmailPostOfficeDriver.detect(d.path(), &[]).is_none());
        std::fs::write(d.path().join("Ccver.tb"), b"x").unwrap();
        std::fs::write(d.path().join("Ccpodd.00"), b"x").unwrap();
        let det = CcmailPostOfficeDriver.detect(d.path(), &[]).unwrap();
        assert_eq!(det.confidence, 60);
    }
}
