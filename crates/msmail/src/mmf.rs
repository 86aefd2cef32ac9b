//! Windows-client message files (MMF) — identification and honest metadata only
//! (`msmail.md` §2).
//!
//! The MMF layout is proprietary and unpublished (KB Q233243) and its contents are encrypted
//! with an undocumented cipher (KB Q130322). mailmig therefore never decodes an MMF: the
//! [`MmfDriver`] recognises one by heuristic evidence (§2.6, all **[I]**, so confidence stays
//! below 100), reports what can honestly be said about the file, and `open` returns
//! [`SourceError::Unsupported`] with the route that works (§2.7).

use std::path::{Path, PathBuf};

use mailmig_ir::{
    Detection, Driver, Finding, Inspection, OpenOptions, Severity, Source, SourceError,
};
use serde_json::json;

use crate::mapping::{map_file, read_head};

/// The documented size of an empty MMF is about 32 KB (KB Q93134).
pub const EMPTY_MMF_SIZE: u64 = 32 * 1024;
/// Offset of the readable language string reported by a third party (**[R]**, §2.5: PCjs
/// blog; seen by looking at files, not from any Microsoft code).
pub const LANGUAGE_OFFSET: usize = 0x90;
/// Documented overhead per message (KB Q93134, KB Q90925), used for the upper-bound estimate.
pub const BYTES_PER_MESSAGE: u64 = 128;
/// Where the entropy sample starts (past any plain header, §2.6 item 4).
pub const ENTROPY_START: usize = 0x1000;
/// Largest entropy sample.
pub const ENTROPY_SAMPLE: usize = 1 << 20;

/// Why `open` refuses an MMF and what works instead (§2.6, §2.7).
pub const MMF_UNSUPPORTED: &str = "MMF contents cannot be decoded by mailmig: the format and its encryption are not public (KB Q233243, KB Q130322). What works today: import the MMF into a PST with a Microsoft client (Windows 95/NT 4 Windows Messaging or Outlook 97-2000 on x86, under emulation if needed: File > Import > \"Microsoft Mail file (.mmf)\"; the importer asks only for the MMF password, which for new mailboxes defaults to \"password\", KB Q118927), then run `mailmig convert` on the PST. Close any Mail client using the MMF first (KB Q199980).";

/// A printable ASCII run at `off` of at least 4 characters, ending at NUL or a non-printable.
pub fn language_string(head: &[u8]) -> Option<String> {
    let rest = head.get(LANGUAGE_OFFSET..)?;
    let len = rest
        .iter()
        .take(64)
        .take_while(|b| (0x20..0x7F).contains(*b))
        .count();
    let s = std::str::from_utf8(rest.get(..len)?).ok()?.trim();
    (s.len() >= 4 && s.bytes().any(|b| b.is_ascii_alphabetic())).then(|| s.to_string())
}

/// Shannon entropy in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut hist = [0u64; 256];
    for &b in data {
        if let Some(h) = hist.get_mut(usize::from(b)) {
            *h += 1;
        }
    }
    let n = data.len() as f64;
    hist.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn upper_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_uppercase())
        .unwrap_or_default()
}

fn in_po_mmf_dir(path: &Path) -> Option<String> {
    let parent = path
        .parent()?
        .file_name()?
        .to_string_lossy()
        .to_ascii_uppercase();
    let name = upper_name(path);
    let stem = name.strip_suffix(".MMF")?;
    (parent == "MMF" && crate::po::layout::is_hex8(stem)).then(|| stem.to_string())
}

/// The evidence for an MMF and the resulting confidence (always < 100).
fn evidence(path: &Path, head: &[u8], size: u64) -> (u8, Vec<String>) {
    let name = upper_name(path);
    let mut ev = Vec::new();
    let mut score: u8 = 0;
    if name.ends_with(".MMF") {
        score += 50;
        ev.push("name ends in .MMF (KB Q77926)".to_string());
        if name == "MSMAIL.MMF" || name == "MS_ATT.MMF" {
            score += 5;
            ev.push(format!(
                "{name} is a documented MMF name (KB Q77926, KB Q96530)"
            ));
        }
    } else if name.ends_with(".PAB") {
        score += 15;
        ev.push(
            ".PAB files written by the Exchange Migration Wizard are MMF-format (KB Q173597)"
                .into(),
        );
    }
    if let Some(id) = in_po_mmf_dir(path) {
        score += 10;
        ev.push(format!(
            "8-hex-digit name {id} in a post-office MMF directory (KB Q77926)"
        ));
    }
    if size >= EMPTY_MMF_SIZE {
        score += 15;
        ev.push(format!(
            "size {size} bytes ≥ the documented empty size of about 32 KB (KB Q93134)"
        ));
    }
    if let Some(l) = language_string(head) {
        score += 15;
        ev.push(format!(
            "readable text {l:?} at offset 0x90 (third-party observation, weak signal)"
        ));
    }
    (score.min(90), ev)
}

/// Siblings left by the repair tool: `<stem>.BAK`, `<stem>.001`, `.002`, … (KB Q104362).
fn repair_siblings(path: &Path) -> Vec<String> {
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let Some(stem) = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_ascii_uppercase())
    else {
        return Vec::new();
    };
    let Ok(rd) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .flatten()
        .take(10_000)
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let up = n.to_ascii_uppercase();
            let (s, ext) = up.rsplit_once('.')?;
            (s == stem
                && (ext == "BAK" || (ext.len() == 3 && ext.bytes().all(|b| b.is_ascii_digit()))))
            .then_some(n)
        })
        .collect();
    out.sort();
    out
}

/// The `mmf` driver: recognises Microsoft Mail 3.x message files; never converts them.
#[derive(Clone, Copy, Debug, Default)]
pub struct MmfDriver;

impl Driver for MmfDriver {
    fn name(&self) -> &'static str {
        "mmf"
    }

    fn detect(&self, path: &Path, head: &[u8]) -> Option<Detection> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || upper_name(path) == "POPULATE.MSM" {
            return None;
        }
        if crate::mmff::looks_like_mmff(head) >= 60 {
            return None;
        }
        let (confidence, ev) = evidence(path, head, meta.len());
        (confidence >= 40).then(|| Detection {
            driver: "mmf".into(),
            confidence,
            summary: format!(
                "Microsoft Mail message file (MMF), not decodable; evidence: {}",
                ev.join("; ")
            ),
            convertible: false,
        })
    }

    fn inspect(&self, path: &Path, _options: &OpenOptions) -> Result<Inspection, SourceError> {
        let meta = std::fs::metadata(path).map_err(|e| SourceError::io(path, e))?;
        let size = meta.len();
        let head = read_head(path, (ENTROPY_START + 0x200) as u64)
            .map_err(|e| SourceError::io(path, e))?;
        let (confidence, ev) = evidence(path, &head, size);
        let file = path.display().to_string();
        let language = language_string(&head);
        let sample_entropy = if size > (ENTROPY_START + 256) as u64 {
            let data = map_file(path).map_err(|e| SourceError::io(path, e))?;
            let bytes: &[u8] = (*data).as_ref();
            let end = bytes.len().min(ENTROPY_START + ENTROPY_SAMPLE);
            Some(entropy(bytes.get(ENTROPY_START..end).unwrap_or(&[])))
        } else {
            None
        };
        let appears = match sample_entropy {
            Some(e) if e >= 7.2 => "appears enciphered",
            Some(_) => "appears plain or lightly encoded",
            None => "too small to judge",
        };
        let mut findings = vec![
            Finding::new(Severity::Info, "msmail.mmf-identified", format!("identified as an MMF with confidence {confidence}/100 from heuristic evidence: {}", ev.join("; "))).in_file(&file),
            Finding::new(Severity::Info, "msmail.mmf-encrypted", "the contents are encrypted with Microsoft's unpublished cipher (KB Q130322) in an unpublished format (KB Q233243); mailmig does not decode them").in_file(&file),
            Finding::new(
                Severity::Info,
                "msmail.mmf-variant",
                format!(
                    "variant undetermined: Windows for Workgroups 3.11 writes a \"Highest Security\" and a \"DoubleSpace\" (less encrypted) variant (KB Q105106, KB Q105138, KB Q122761), and no public source says how to tell them apart; byte entropy after 0x1000 {} ({appears}; an inference, not evidence of either variant)",
                    sample_entropy.map_or_else(|| "not measured".to_string(), |e| format!("{e:.2} bits/byte"))
                ),
            )
            .in_file(&file),
            Finding::new(Severity::Info, "msmail.mmf-estimate", format!("estimate only: at most about {} messages (size / 128 bytes per message, KB Q93134)", size / BYTES_PER_MESSAGE)).in_file(&file),
        ];
        if size < EMPTY_MMF_SIZE {
            findings.push(Finding::new(Severity::Warning, "msmail.mmf-small", format!("{size} bytes is below the documented empty size of about 32 KB (KB Q93134); the file may be incomplete (KB Q97651) or not an MMF")).in_file(&file).at(size));
        }
        let siblings = repair_siblings(path);
        if !siblings.is_empty() {
            findings.push(Finding::new(Severity::Warning, "msmail.mmf-repaired", format!("repair-tool copies exist next to it: {} — the file has been repaired; repairs can lose bodies and attachments (KB Q104362, KB Q113164)", siblings.join(", "))).in_file(&file));
        }
        findings
            .push(Finding::new(Severity::Info, "msmail.mmf-route", MMF_UNSUPPORTED).in_file(&file));
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        Ok(Inspection {
            driver: "mmf".into(),
            format: None,
            summary: format!(
                "Microsoft Mail message file, {size} bytes; encrypted, not decodable by mailmig"
            ),
            findings,
            details: json!({
                "size": size,
                "modified_unix": modified,
                "confidence": confidence,
                "evidence": ev,
                "language_at_0x90": language,
                "language_code_pages": language.as_deref().and_then(crate::codepage::for_language).map(|r| json!({"po": r.po_code_page, "windows": r.windows_code_page})),
                "owner_hex_id": in_po_mmf_dir(path),
                "entropy_bits_per_byte": sample_entropy,
                "appears": appears,
                "variant": "undetermined",
                "estimated_max_messages": size / BYTES_PER_MESSAGE,
                "repair_siblings": siblings,
                "decodable": false,
            }),
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        _options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        Err(SourceError::Unsupported {
            what: format!(
                "Microsoft Mail message file {}",
                paths
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            explanation: MMF_UNSUPPORTED.into(),
        })
    }
}
