//! Case-insensitive wildcard patterns: `*` matches any run of characters (also none),
//! `%` exactly one character. Everything else is literal; there is no escape.

/// A compiled wildcard pattern. Letters are compared ASCII-case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The pattern, ASCII-lowercased.
    lower: Box<str>,
    literals: u32,
    has_wildcard: bool,
    /// Bytes before the first wildcard and after the last one: every match starts and ends
    /// with them, so most non-matches are refused without running the matcher.
    prefix: usize,
    suffix: usize,
    /// Fewest bytes a match can have (literal bytes plus one per `%`).
    min_len: usize,
}

impl Glob {
    /// Compiles `pattern` (never fails: every string is a valid glob).
    pub fn new(pattern: &str) -> Glob {
        let lower: Box<str> = pattern.to_ascii_lowercase().into();
        let literals = lower.chars().filter(|c| !matches!(c, '*' | '%')).count();
        let has_wildcard = lower.contains(['*', '%']);
        let is_wild = |b: &u8| matches!(b, b'*' | b'%');
        let bytes = lower.as_bytes();
        let prefix = bytes.iter().position(is_wild).unwrap_or(bytes.len());
        let suffix = match bytes.iter().rposition(is_wild) {
            Some(last) => bytes.len() - last - 1,
            None => 0,
        };
        let min_len = bytes.iter().filter(|&&b| b != b'*').count();
        Glob {
            literals: u32::try_from(literals).unwrap_or(u32::MAX),
            has_wildcard,
            prefix,
            suffix,
            min_len,
            lower,
        }
    }

    /// The pattern text, lowercased.
    pub fn as_str(&self) -> &str {
        &self.lower
    }

    /// How many literal (non-wildcard) characters the pattern has: the measure of how
    /// specific a wildcard match is.
    pub fn literal_count(&self) -> u32 {
        self.literals
    }

    /// True when the pattern has a `*` or `%`.
    pub fn has_wildcard(&self) -> bool {
        self.has_wildcard
    }

    /// True when the pattern is exactly `*` (matches everything).
    pub fn is_match_all(&self) -> bool {
        &*self.lower == "*"
    }

    /// Does the whole of `text` match?
    pub fn matches(&self, text: &str) -> bool {
        let (p, t) = (self.lower.as_bytes(), text.as_bytes());
        if t.len() < self.min_len
            || !t[..self.prefix].eq_ignore_ascii_case(&p[..self.prefix])
            || !t[t.len() - self.suffix..].eq_ignore_ascii_case(&p[p.len() - self.suffix..])
        {
            return false;
        }
        glob_match(p, t)
    }
}

/// Length of the UTF-8 sequence that starts with `b` (1 for stray continuation bytes, so
/// the scan always advances).
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Iterative matcher with a single backtrack point (the last `*`): O(len(p) × len(t)) in
/// the worst case, no recursion, no allocation. `pat` must already be lowercase.
fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'%') => {
                p += 1;
                t = (t + utf8_len(text[t])).min(text.len());
                continue;
            }
            Some(&c) if c == text[t].to_ascii_lowercase() => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        // Mismatch: let the last `*` swallow one more character and retry after it.
        let Some((sp, st)) = star else { return false };
        let next = (st + utf8_len(text[st])).min(text.len());
        star = Some((sp, next));
        p = sp + 1;
        t = next;
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).matches(t)
    }

    #[test]
    fn literals_and_case() {
        assert!(m("abc", "ABC"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn star_matches_any_run() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("*@example.com", "john@example.com"));
        assert!(!m("*@example.com", "john@example.org"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("**a", "a"));
    }

    #[test]
    fn percent_matches_one_character() {
        assert!(m("j%n", "jon"));
        assert!(!m("j%n", "jn"));
        assert!(!m("j%n", "joon"));
        assert!(m("%", "é"));
        assert!(!m("%%", "é"));
        assert!(m("*%", "aé"));
    }

    #[test]
    fn literal_count_ignores_wildcards() {
        assert_eq!(Glob::new("*@*.example.com").literal_count(), 13);
        assert_eq!(Glob::new("j%n").literal_count(), 2);
        assert!(Glob::new("*").is_match_all());
        assert!(!Glob::new("ab").has_wildcard());
    }

    #[test]
    fn pathological_pattern_terminates() {
        let p = "*a".repeat(100) + "b";
        let t = "a".repeat(1000);
        assert!(!m(&p, &t));
    }
}
