//! `postern message convert FILE --to uuencode|mime|7bit [--charset NAME]`: runs one of the
//! conversions of `postern_message::convert` and writes the new message to standard output
//! (or `-o FILE`); a summary of what was done goes to standard error.
//!
//! `--charset` sets the charset of the body text. With `--to uuencode` it is the
//! *non-MIME charset* the plain-text body is written in (the IMS kept one per domain,
//! `us-ascii` by default); otherwise the text parts are translated after the `--to`
//! conversion (with `--to 7bit` the translated text is then kept 7-bit). Characters the
//! charset cannot hold follow `--unrepresentable`: `keep` (the default: the text stays
//! in a charset that holds it, correctly declared), `replace` (`?`) or `transliterate`
//! (closest ASCII spelling). Nothing is ever declared in a charset it is not in.
//!
//! An empty file, or one without a single header field, is converted as a message
//! without header fields, with a warning on standard error.

use std::io::Write;
use std::path::Path;

use postern_message::Message;
use postern_message::convert::{self, Converted, Unrepresentable, UuencodeOptions};

/// The target form of `postern message convert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Text body with attachments as uuencoded blocks.
    Uuencode,
    /// uuencoded blocks in text turned into MIME attachments.
    Mime,
    /// 8bit/binary parts re-encoded for peers without 8BITMIME.
    #[value(name = "7bit")]
    SevenBit,
}

/// Runs the conversion; errors are messages for standard error.
pub fn run(
    file: &Path,
    to: Target,
    charset: Option<&str>,
    rule: Unrepresentable,
    output: Option<&Path>,
) -> Result<(), String> {
    let input = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let msg = Message::parse(&input);
    super::message::warn_if_not_message(file, &msg);
    let mut steps: Vec<(&str, Converted)> = Vec::new();
    let first = match to {
        Target::Uuencode => {
            let opts = UuencodeOptions {
                charset: charset.unwrap_or("utf-8").to_string(),
                unrepresentable: rule,
            };
            convert::mime_to_uuencode_with(&msg, &opts).map_err(|e| e.to_string())?
        }
        Target::Mime => convert::uuencode_to_mime(&msg),
        Target::SevenBit => convert::downgrade_to_7bit(&msg),
    };
    steps.push((name(to), first));
    if let Some(cs) = charset.filter(|_| to != Target::Uuencode) {
        let current = &steps[steps.len() - 1].1.message;
        let translated = convert::translate_charset_with(&Message::parse(current), cs, rule)
            .map_err(|e| e.to_string())?;
        steps.push(("charset", translated));
        if to == Target::SevenBit {
            let current = &steps[steps.len() - 1].1.message;
            let again = convert::downgrade_to_7bit(&Message::parse(current));
            steps.push(("7bit", again));
        }
    }
    for (step, c) in &steps {
        let r = &c.report;
        eprintln!(
            "{step}: changed={} parts={} attachments={} unrepresentable={} kept_charset={} headers_encoded={} protected={} left_8bit={}",
            r.changed,
            r.parts_converted,
            r.attachments,
            r.unrepresentable,
            r.kept_charset,
            r.headers_encoded,
            r.protected_parts,
            r.left_8bit
        );
    }
    let result = &steps[steps.len() - 1].1.message;
    match output {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::write(p, result).map_err(|e| format!("{}: {e}", p.display()))
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(result)
                .and_then(|()| out.flush())
                .map_err(super::stdout_failed)
        }
    }
}

fn name(t: Target) -> &'static str {
    match t {
        Target::Uuencode => "uuencode",
        Target::Mime => "mime",
        Target::SevenBit => "7bit",
    }
}

/// `--unrepresentable`: what to do with characters the `--charset` cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Rule {
    /// Leave the text in a charset that holds it, correctly declared.
    #[default]
    Keep,
    /// Write `?` for each.
    Replace,
    /// Write the closest ASCII spelling (`é` → `e`, `€` → `EUR`), `?` where none.
    Transliterate,
}

impl From<Rule> for Unrepresentable {
    fn from(r: Rule) -> Self {
        match r {
            Rule::Keep => Unrepresentable::Keep,
            Rule::Replace => Unrepresentable::Replace,
            Rule::Transliterate => Unrepresentable::Transliterate,
        }
    }
}
