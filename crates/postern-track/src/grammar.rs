//! The grammar of a log line's structure, as nom parsers over the raw bytes:
//!
//! ```text
//! line   = column *( TAB column )        ; the first FIELDS.len() columns are used
//! column = *( any byte but TAB )         ; still escaped (see crate::text)
//! list   = item *( "," item )            ; the recipients column
//! item   = *( escape / any byte but "," and "\" )
//! escape = "\" [ any byte ]              ; validated when the item is unescaped
//! count  = 1*20DIGIT                     ; a u64, no sign, no blanks
//! ```
//!
//! Every parser borrows from the line: nothing here allocates.

use nom::bytes::complete::take_while_m_n;
use nom::combinator::{all_consuming, map_opt};
use nom::{IResult, Parser};

/// One column: everything up to the next tab. Found with memchr, not a byte-by-byte
/// `take_till`: a line is mostly long runs between tabs, and this is the scan's hot loop.
fn column(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let end = memchr::memchr(b'\t', input).unwrap_or(input.len());
    Ok((&input[end..], &input[..end]))
}

/// Splits `line` into its first `N` tab-separated columns; later columns are ignored so
/// newer logs stay readable. On a short line, `Err` holds how many columns it has.
pub(crate) fn columns<const N: usize>(line: &[u8]) -> Result<[&[u8]; N], usize> {
    let mut cols: [&[u8]; N] = [&[]; N];
    // `fill(terminated(column, tab), head)` says the same, at a third more instructions
    // per line: the scan's hot loop keeps the plain loop over the nom column parser.
    let mut rest = line;
    for (i, slot) in cols.iter_mut().enumerate() {
        // `column` never fails: at worst it takes the rest.
        let (after, col) = column(rest).unwrap_or((&[], rest));
        *slot = col;
        match after.split_first() {
            Some((_tab, next)) => rest = next,
            None if i + 1 == N => {}
            None => return Err(i + 1),
        }
    }
    Ok(cols)
}

/// One list item, escapes kept: runs of plain bytes and `\` with the byte after it (if
/// any; a dangling `\` is refused later, by the unescaping). The same grammar as
/// `recognize(many0_count(alt((plain_run, escape))))`, which cost 19% of a line's parse;
/// here the runs are chained by hand from the nom-style parsers.
fn item(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let mut rest = input;
    loop {
        if let Ok((after, _)) = plain_run(rest) {
            rest = after;
        }
        match rest {
            [b'\\', _, after @ ..] => rest = after,
            [b'\\'] => rest = &[],
            _ => break,
        }
    }
    let taken = input.len() - rest.len();
    Ok((rest, &input[..taken]))
}

/// A non-empty run of bytes other than `,` and `\\` (memchr2 finds its end).
fn plain_run(input: &[u8]) -> IResult<&[u8], &[u8]> {
    match memchr::memchr2(b',', b'\\', input).unwrap_or(input.len()) {
        0 => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TakeWhile1,
        ))),
        end => Ok((&input[end..], &input[..end])),
    }
}

/// The items of a list column, split at commas that are not escaped. An empty column is
/// one empty item, and a trailing comma ends with an empty item.
pub(crate) fn list_items(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(raw);
    std::iter::from_fn(move || {
        let input = rest?;
        // `item` stops only at a comma or the end, and never fails.
        let (after, found) = item(input).unwrap_or((&[], input));
        rest = after.strip_prefix(b",");
        Some(found)
    })
}

/// A count column: 1 to 20 ASCII digits, the whole value, within `u64`.
pub(crate) fn count(raw: &[u8]) -> Option<u64> {
    let digits = take_while_m_n(1, 20, |b: u8| b.is_ascii_digit());
    let number = map_opt(digits, |d: &[u8]| {
        d.iter().try_fold(0u64, |n, &b| {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
    });
    all_consuming::<_, nom::error::Error<&[u8]>, _>(number)
        .parse(raw)
        .ok()
        .map(|(_, n)| n)
}
