//! [`MsmailPostOfficeDriver`]: `msmail-po`, the shared-file post-office tree as an input that
//! can be inspected but not converted.

use std::path::{Path, PathBuf};

use mailmig_ir::{
    Detection, Driver, Finding, Inspection, OpenOptions, Severity, Source, SourceError,
};

use super::integrity::{CheckOptions, check};
use super::tree::{DiskContents, walk};

/// Most entries the `inspect` walk visits (a real post office has a few hundred thousand
/// `.MAI`/`.ATT` files at most); `Limits::max_items` lowers it further.
pub const MAX_WALK_ENTRIES: u64 = 2_000_000;

/// Why `open` refuses a post office, and what works instead (`msmail.md` §2.7, §6).
pub const PO_UNSUPPORTED: &str = "Microsoft Mail post-office messages cannot be converted by mailmig: the .MAI message and .ATT attachment files are encrypted with Microsoft's unpublished cipher (KB Q130322), and the MMF format is not public (KB Q233243). What works today: (1) for each user, let an MS Mail 3.x Windows client download the pending mail into the user's MMF, then import the MMF into a PST with a Microsoft client (Windows Messaging or Outlook 97-2000: File > Import > \"Microsoft Mail file (.mmf)\"), then run `mailmig convert` on the PST; or (2) export mail with the MS Mail SDK's FFAPI/gateway tools to MMFF text files and run `mailmig convert --from mmff` on them. `mailmig inspect` on the post office checks its integrity and, with --experimental, lists pending mailbag headers.";

const CORE: &[&str] = &["GLB", "MBG", "KEY", "MAI", "ATT", "NME"];

/// The `msmail-po` driver: recognises an MS Mail (or Workgroup) post-office directory tree,
/// inspects it with [`check`], and refuses to open it ([`PO_UNSUPPORTED`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct MsmailPostOfficeDriver;

impl Driver for MsmailPostOfficeDriver {
    fn name(&self) -> &'static str {
        "msmail-po"
    }

    fn detect(&self, path: &Path, _head: &[u8]) -> Option<Detection> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_dir() {
            return None;
        }
        let mut found = Vec::new();
        for e in std::fs::read_dir(path).ok()?.flatten().take(256) {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let n = e.file_name().to_string_lossy().to_ascii_uppercase();
            if let Some(c) = CORE.iter().find(|c| **c == n) {
                found.push(*c);
            }
        }
        let glb = found.contains(&"GLB");
        let mbg = found.contains(&"MBG");
        let confidence = match found.len() {
            n if n >= 4 && glb && mbg => 90,
            3 if glb && mbg => 70,
            2 if glb && mbg => 50,
            _ => return None,
        };
        Some(Detection {
            driver: "msmail-po".into(),
            confidence,
            summary: format!(
                "Microsoft Mail post-office tree (directories {} present)",
                found.join(", ")
            ),
            convertible: false,
        })
    }

    fn inspect(&self, path: &Path, options: &OpenOptions) -> Result<Inspection, SourceError> {
        let max = options.limits.max_items.min(MAX_WALK_ENTRIES);
        let tree = walk(path, max).map_err(|e| SourceError::io(path, e))?;
        let opts = CheckOptions {
            code_page: crate::codepage::effective(options.code_page),
            experimental: options.experimental,
            limits: options.limits.clone(),
        };
        let report = check(&tree, &DiskContents::new(path), &opts);
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let mut findings = vec![Finding::new(
            Severity::Info,
            "msmail.po-not-convertible",
            PO_UNSUPPORTED,
        )];
        findings.extend(report.findings);
        Ok(Inspection {
            driver: "msmail-po".into(),
            format: None,
            summary: format!(
                "Microsoft Mail post office: {} mailbox records, {errors} integrity errors; messages are encrypted and not converted",
                report
                    .mailbox_records
                    .map_or_else(|| "unknown".to_string(), |n| n.to_string())
            ),
            findings,
            details: report.details,
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        _options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        Err(SourceError::Unsupported {
            what: format!(
                "Microsoft Mail post office {}",
                paths
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            explanation: PO_UNSUPPORTED.into(),
        })
    }
}
