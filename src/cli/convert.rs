//! `postern message convert FILE --to uuencode|mime|7bit [--charset NAME]`: runs one of the
//! conversions of `postern_message::convert` and writes the new message to standard output
//! (or `-o FILE`); a summary of what was done goes to standard error.
//!
//! `--charset` translates the body text after the `--to` conversion (so `--to uuencode
//! --charset iso-8859-1` gives a Latin-1 body with uuencoded files, as an Exchange IMS
//! uuencode domain would); with `--to 7bit` the translated text is then kept 7-bit.

use std::io::Write;
use std::path::Path;

use postern_message::Message;
use postern_message::convert::{self, Converted};

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
    output: Option<&Path>,
) -> Result<(), String> {
    let input = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let msg = Message::parse(&input);
    let mut steps: Vec<(&str, Converted)> = Vec::new();
    let first = match to {
        Target::Uuencode => convert::mime_to_uuencode(&msg),
        Target::Mime => convert::uuencode_to_mime(&msg),
        Target::SevenBit => convert::downgrade_to_7bit(&msg),
    };
    steps.push((name(to), first));
    if let Some(cs) = charset {
        let current = &steps[steps.len() - 1].1.message;
        let translated =
            convert::translate_charset(&Message::parse(current), cs).map_err(|e| e.to_string())?;
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
            "{step}: changed={} parts={} attachments={} unrepresentable={} headers_encoded={} protected={} left_8bit={}",
            r.changed,
            r.parts_converted,
            r.attachments,
            r.unrepresentable,
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
