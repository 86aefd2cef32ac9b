//! OEM code pages of Microsoft Mail post offices (`msmail.md` §8, KB Q174153).
//!
//! The post office stores text in the OEM code page of its language version; Microsoft's
//! migrator assumed that page and converted to the Windows page of the same row. mailmig uses
//! [`DEFAULT_PO_CODE_PAGE`] (850) unless `OpenOptions::code_page` says otherwise.

/// The default OEM code page of post-office files and MMFF text (§8 "Defaults", inferred).
pub const DEFAULT_PO_CODE_PAGE: u16 = 850;

/// One row of the KB Q174153 table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanguageCodePages {
    /// Language name as the KB lists it.
    pub language: &'static str,
    /// OEM code page of the post office.
    pub po_code_page: u16,
    /// Windows (ANSI) code page the migrator converted to.
    pub windows_code_page: u16,
    /// False for the Greek and Turkish rows, which the KB prints inconsistently (§8): callers
    /// must require an explicit `--code-page` for them.
    pub reliable: bool,
}

const fn row(language: &'static str, po: u16, win: u16, reliable: bool) -> LanguageCodePages {
    LanguageCodePages {
        language,
        po_code_page: po,
        windows_code_page: win,
        reliable,
    }
}

/// The table of KB Q174153 as reproduced in `msmail.md` §8, one row per language.
pub const LANGUAGE_CODE_PAGES: &[LanguageCodePages] = &[
    row("English", 850, 1252, true),
    row("Danish", 850, 1252, true),
    row("Dutch", 850, 1252, true),
    row("Finnish", 850, 1252, true),
    row("French", 850, 1252, true),
    row("German", 850, 1252, true),
    row("Italian", 850, 1252, true),
    row("Norwegian", 850, 1252, true),
    row("Portuguese", 850, 1252, true),
    row("Spanish", 850, 1252, true),
    row("Swedish", 850, 1252, true),
    row("Czech", 852, 1250, true),
    row("Hungarian", 852, 1250, true),
    row("Polish", 852, 1250, true),
    row("Russian", 866, 1251, true),
    row("Greek", 737, 1252, false),
    row("Turkey", 737, 1252, false),
    row("Japanese", 932, 932, true),
    row("Simplified Chinese", 936, 936, true),
    row("Korean", 949, 949, true),
    row("Traditional Chinese", 950, 950, true),
];

/// Looks up a language (case-insensitive; a leading word such as `English (American)` also
/// matches `English`).
pub fn for_language(language: &str) -> Option<&'static LanguageCodePages> {
    let l = language.trim();
    LANGUAGE_CODE_PAGES
        .iter()
        .find(|r| r.language.eq_ignore_ascii_case(l))
        .or_else(|| {
            let first = l.split([' ', '(']).next().unwrap_or("");
            LANGUAGE_CODE_PAGES
                .iter()
                .find(|r| r.language.eq_ignore_ascii_case(first))
        })
}

/// The code page to decode post-office or MMFF text with: the override if given, else 850.
pub fn effective(override_cp: Option<u16>) -> u16 {
    override_cp.unwrap_or(DEFAULT_PO_CODE_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookups() {
        assert_eq!(for_language("Polish").map(|r| r.po_code_page), Some(852));
        assert_eq!(
            for_language("English (American)").map(|r| r.windows_code_page),
            Some(1252)
        );
        assert_eq!(for_language("russian").map(|r| r.po_code_page), Some(866));
        assert_eq!(for_language("Greek").map(|r| r.reliable), Some(false));
        assert!(for_language("Klingon").is_none());
        assert_eq!(effective(None), 850);
        assert_eq!(effective(Some(852)), 852);
    }
}
