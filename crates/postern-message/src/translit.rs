//! Transliteration to ASCII: the closest plain-ASCII spelling of a character a target
//! charset cannot hold (`é` → `e`, `ß` → `ss`, `€` → `EUR`, `—` → `--`), for
//! [`crate::convert::Unrepresentable::Transliterate`]. Covers Latin-1, Latin Extended-A,
//! combining accents (dropped) and common punctuation; anything else has no spelling
//! here and the caller writes `?`.

/// Latin-1 letters U+00C0..=U+00FF, one ASCII letter each (the exceptions are in
/// [`special`]).
const LATIN1_LETTERS: &[u8; 64] =
    b"AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty";

/// Latin Extended-A U+0100..=U+017F, one ASCII letter each (exceptions in [`special`]).
const LATIN_EXT_A: &[u8; 128] = b"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

/// Characters whose spelling is not a single letter.
fn special(c: char) -> Option<&'static str> {
    Some(match c {
        'Æ' => "AE",
        'æ' => "ae",
        'Þ' => "TH",
        'þ' => "th",
        'ß' => "ss",
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'Œ' => "OE",
        'œ' => "oe",
        'ŉ' => "'n",
        '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => " ",
        '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => "",
        '¡' => "!",
        '¿' => "?",
        '«' => "<<",
        '»' => ">>",
        '‹' => "<",
        '›' => ">",
        '©' => "(C)",
        '®' => "(R)",
        '™' => "(TM)",
        '°' => "deg",
        '·' | '•' => "*",
        '±' => "+/-",
        '¹' => "1",
        '²' => "2",
        '³' => "3",
        '¼' => "1/4",
        '½' => "1/2",
        '¾' => "3/4",
        'µ' => "u",
        '¢' => "c",
        '£' => "GBP",
        '¥' => "JPY",
        '€' => "EUR",
        '§' => "S",
        '¶' => "P",
        '¦' => "|",
        '¨' | '´' | '¸' | '¯' => "",
        '¬' => "!",
        '¤' => "*",
        'ª' => "a",
        'º' => "o",
        '‘' | '’' | '‚' | '‛' | '′' => "'",
        '“' | '”' | '„' | '‟' | '″' => "\"",
        '‐' | '‑' | '‒' | '–' | '−' => "-",
        '—' | '―' => "--",
        '…' => "...",
        '\u{2028}' | '\u{2029}' => "\n",
        _ => return None,
    })
}

/// The ASCII spelling of `c`, or `None` when there is none (the caller then writes `?`).
/// ASCII characters are their own spelling.
///
/// ```
/// use postern_message::translit::to_ascii;
/// assert_eq!(to_ascii('é').as_deref(), Some("e"));
/// assert_eq!(to_ascii('ß').as_deref(), Some("ss"));
/// assert_eq!(to_ascii('€').as_deref(), Some("EUR"));
/// assert_eq!(to_ascii('日'), None);
/// ```
pub fn to_ascii(c: char) -> Option<std::borrow::Cow<'static, str>> {
    use std::borrow::Cow;
    if c.is_ascii() {
        return Some(Cow::Owned(c.to_string()));
    }
    if let Some(s) = special(c) {
        return Some(Cow::Borrowed(s));
    }
    let n = u32::from(c);
    let letter = match n {
        0xc0..=0xff => LATIN1_LETTERS[(n - 0xc0) as usize],
        0x100..=0x17f => LATIN_EXT_A[(n - 0x100) as usize],
        // Combining accents: text in decomposed form keeps its base letters.
        0x300..=0x36f => return Some(Cow::Borrowed("")),
        _ => return None,
    };
    Some(Cow::Owned(char::from(letter).to_string()))
}

/// `text` with every non-ASCII character replaced by its ASCII spelling, or `?` when it
/// has none; returns the text and the number of characters that were not ASCII.
///
/// ```
/// use postern_message::translit::transliterate;
/// assert_eq!(transliterate("Grüße — 日本"), ("Grusse -- ??".to_string(), 5));
/// ```
pub fn transliterate(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        count += 1;
        match to_ascii(c) {
            Some(s) => out.push_str(&s),
            None => out.push('?'),
        }
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        for (c, want) in [
            ('À', "A"),
            ('Ç', "C"),
            ('Ð', "D"),
            ('Ñ', "N"),
            ('×', "x"),
            ('Ø', "O"),
            ('Ý', "Y"),
            ('à', "a"),
            ('ç', "c"),
            ('ð', "d"),
            ('÷', "/"),
            ('ø', "o"),
            ('ÿ', "y"),
            ('Ā', "A"),
            ('č', "c"),
            ('Đ', "D"),
            ('ı', "i"),
            ('ĸ', "k"),
            ('Ł', "L"),
            ('ł', "l"),
            ('ő', "o"),
            ('Ř', "R"),
            ('š', "s"),
            ('ű', "u"),
            ('Ÿ', "Y"),
            ('ž', "z"),
            ('ſ', "s"),
        ] {
            assert_eq!(to_ascii(c).as_deref(), Some(want), "{c}");
        }
        assert_eq!(transliterate("e\u{301}"), ("e".to_string(), 1));
    }
}
