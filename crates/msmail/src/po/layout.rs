//! The documented post-office layout: directories (`msmail.md` §3, KB Q77926) and file sizes
//! (§4, KB Q77926 and the KB articles cited per row).

use mailmig_ir::Severity;

/// A size rule `header + record·n` (§4 notation `a + b·n`), optionally capped, or an exact size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeRule {
    /// Exactly this many bytes.
    Exact(u64),
    /// `header` bytes then whole records of `record` bytes; `max` caps the total (MEM files).
    Records {
        /// Header bytes.
        header: u64,
        /// Record size.
        record: u64,
        /// Largest allowed size, if documented.
        max: Option<u64>,
    },
}

const fn recs(header: u64, record: u64) -> SizeRule {
    SizeRule::Records {
        header,
        record,
        max: None,
    }
}

/// A size violation: the byte offset where the file stops fitting its rule, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeViolation {
    /// Offset of the first byte that does not fit (start of the incomplete record, end of a
    /// short file, or the documented size of an overlong one).
    pub offset: u64,
    /// Sentence describing it.
    pub message: String,
}

impl SizeRule {
    /// Number of whole records for a file of `size` bytes (0 for exact rules).
    pub fn count(self, size: u64) -> u64 {
        match self {
            Self::Exact(_) => 0,
            Self::Records { header, record, .. } => {
                size.saturating_sub(header).checked_div(record).unwrap_or(0)
            }
        }
    }

    /// Checks a size against the rule.
    pub fn check(self, size: u64) -> Option<SizeViolation> {
        match self {
            Self::Exact(n) if size != n => Some(SizeViolation {
                offset: size.min(n),
                message: format!("size {size} bytes, documented size is {n}"),
            }),
            Self::Exact(_) => None,
            Self::Records {
                header,
                record,
                max,
            } => {
                if size < header {
                    return Some(SizeViolation {
                        offset: size,
                        message: format!(
                            "size {size} bytes is shorter than its {header}-byte header"
                        ),
                    });
                }
                let body = size - header;
                let rem = body.checked_rem(record).unwrap_or(0);
                if rem != 0 {
                    let whole = body / record;
                    return Some(SizeViolation {
                        offset: header + whole * record,
                        message: format!(
                            "size {size} bytes is not {header} + {record}·n: {whole} whole records and {rem} bytes left over"
                        ),
                    });
                }
                match max {
                    Some(m) if size > m => Some(SizeViolation {
                        offset: m,
                        message: format!("size {size} bytes exceeds the documented maximum of {m}"),
                    }),
                    _ => None,
                }
            }
        }
    }
}

/// The size rule of a post-office file, by its top-level directory and name (both upper-case),
/// or `None` when §4 documents none.
pub fn rule_for(top_dir: &str, name: &str) -> Option<SizeRule> {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match top_dir {
        "GLB" => Some(match name {
            "ACCESS.GLB" => recs(0, 586),
            "ACCESS2.GLB" => recs(0, 69),
            "ACCESS3.GLB" => recs(0, 512),
            "CONTROL.GLB" => SizeRule::Exact(8),
            "FLAG.GLB" => SizeRule::Exact(2),
            "GLOBAL.GLB" => SizeRule::Exact(512),
            "MASTER.GLB" => SizeRule::Exact(176),
            "MODEM.GLB" => SizeRule::Exact(64),
            "REQCONF.GLB" => SizeRule::Exact(512),
            "TID.GLB" => SizeRule::Exact(4),
            "RNETSEM.GLB" => SizeRule::Exact(4),
            "GROUP.GLB" => recs(4, 51),
            "GRPMEM.GLB" => recs(4, 128),
            "NETPO.GLB" => recs(4, 43),
            "NETWORK.GLB" => recs(0, 122),
            "PROCESS.GLB" => recs(512, 197),
            "SERVER.GLB" => recs(0, 181),
            "SVRCONF.GLB" => recs(1024, 1024),
            "GALINDEX.GLB" => recs(52 * 4, 6),
            _ => return None,
        }),
        "KEY" if ext == "KEY" => Some(SizeRule::Exact(560)),
        "MBG" if ext == "MBG" => Some(recs(0, 116)),
        "NME" if ext == "NME" => Some(recs(0, 45)),
        "GRP" if name == "ADMIN.GRP" || name == "ADMINSHD.GRP" => Some(recs(8, 8)),
        "GRP" => Some(recs(0, 8)),
        "MEM" => Some(SizeRule::Records {
            header: 0,
            record: 4,
            max: Some(2000),
        }),
        "USR" => Some(recs(0, 53)),
        "XTN" => Some(recs(0, 698)),
        "FOLDERS" if name == "SERIALNO.IDX" => Some(SizeRule::Exact(4)),
        "FOLDERS" if ext == "IDX" => Some(recs(100, 158)),
        _ => None,
    }
}

/// The main directories of §3 with how serious their absence is: the ones mail flow cannot do
/// without are errors; version-dependent or optional ones (MMF 3.0+, INI 3.2, CAL, HLP, LOG)
/// are information (**[I]** grading).
pub const MAIN_DIRS: &[(&str, Severity)] = &[
    ("GLB", Severity::Error),
    ("MBG", Severity::Error),
    ("KEY", Severity::Error),
    ("MAI", Severity::Error),
    ("ATT", Severity::Error),
    ("NME", Severity::Warning),
    ("GRP", Severity::Warning),
    ("MEM", Severity::Warning),
    ("USR", Severity::Warning),
    ("XTN", Severity::Warning),
    ("INF", Severity::Warning),
    ("TPL", Severity::Warning),
    ("FOLDERS", Severity::Warning),
    ("P1", Severity::Warning),
    ("MMF", Severity::Info),
    ("CAL", Severity::Info),
    ("HLP", Severity::Info),
    ("INI", Severity::Info),
    ("LOG", Severity::Info),
];

/// The hex digits naming the `MAI\MAx` and `ATT\ATx` subdirectories (§3).
pub const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// True for an 8-hex-digit file stem (`.MAI`, `.ATT`, `.MBG` of a local user, `.FLD`).
pub fn is_hex8(stem: &str) -> bool {
    stem.len() == 8 && stem.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_report_the_incomplete_record() {
        let r = rule_for("GLB", "ACCESS.GLB").unwrap();
        assert_eq!(r.check(586 * 3), None);
        assert_eq!(r.check(586 * 3 + 10).map(|v| v.offset), Some(586 * 3));
        assert_eq!(r.count(586 * 3 + 10), 3);
        let g = rule_for("GLB", "GROUP.GLB").unwrap();
        assert_eq!(g.check(4 + 51 * 2), None);
        assert_eq!(g.check(2).map(|v| v.offset), Some(2));
        assert_eq!(g.check(4 + 51 + 1).map(|v| v.offset), Some(55));
        let k = rule_for("KEY", "0000001A.KEY").unwrap();
        assert_eq!(k.check(560), None);
        assert_eq!(k.check(600).map(|v| v.offset), Some(560));
        assert_eq!(k.check(100).map(|v| v.offset), Some(100));
        let m = rule_for("MEM", "00000001.MEM").unwrap();
        assert_eq!(m.check(2004).map(|v| v.offset), Some(2000));
        assert!(rule_for("CAL", "SCHEDULE.KEY").is_none());
        assert_eq!(
            rule_for("GLB", "GALINDEX.GLB").unwrap().check(208 + 12),
            None
        );
    }
}
