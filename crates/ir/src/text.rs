//! Small text helpers shared by readers and writers.

/// Turns arbitrary text into a safe, portable file or directory name component: keeps letters,
/// digits, `.`, `-`, `_` and spaces (spaces become `_`), replaces everything else with `_`,
/// trims dots and underscores at the ends, caps the length at `max` bytes (on a character
/// boundary) and never returns an empty name, `.` or `..` (those give `fallback`).
pub fn safe_component(text: &str, max: usize, fallback: &str) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for ch in text.chars() {
        let c = if ch.is_alphanumeric() || matches!(ch, '.' | '-' | '_') {
            ch
        } else {
            '_'
        };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches(|c| c == '.' || c == '_');
    if trimmed.is_empty() {
        fallback.to_string()
    } else {
        trimmed.to_string()
    }
}

/// Removes trailing NUL characters (fixed-size legacy fields are NUL-padded).
pub fn trim_nul(text: &str) -> &str {
    text.trim_end_matches('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_component("John Smith", 64, "x"), "John_Smith");
        assert_eq!(safe_component("../../etc/passwd", 64, "x"), "etc_passwd");
        assert_eq!(safe_component("..", 64, "x"), "x");
        assert_eq!(safe_component("", 64, "x"), "x");
        assert_eq!(
            safe_component("Éléments supprimés", 64, "x"),
            "Éléments_supprimés"
        );
        assert_eq!(safe_component("削除済みアイテム", 7, "x"), "削除");
        assert_eq!(trim_nul("abc\0\0"), "abc");
    }
}
