//! `postern message …`: inspect, extract and convert messages.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use postern_message::{Encapsulated, Limits, Message, Part, PartKind};

/// `postern message` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MessageCmd {
    /// Parse a message and print its MIME tree.
    Inspect {
        /// The message file.
        file: PathBuf,
        /// Print JSON (one object per part, children nested).
        #[arg(long)]
        json: bool,
    },
    /// Write each leaf part's decoded content (and uuencoded blocks) to a directory, one
    /// file per leaf (empty parts as empty files), named by part path as in
    /// `inspect --json`: `PATH-NAME` with the part's file name, else `PATH.bin`
    /// (`1.2-report.pdf`, `2.bin`; the message itself is `0`); a uuencoded block in part
    /// PATH is `PATH-uuN-NAME`. Base64/QP-encoded `message/rfc822` parts are decoded and
    /// their parts extracted too.
    Extract {
        /// The message file.
        file: PathBuf,
        /// The directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Only this part (IMAP-style path, e.g. `2.1`).
        #[arg(long)]
        part: Option<String>,
    },
    /// Convert a message: attachments to uuencode, uuencode to MIME, or 8bit to 7bit;
    /// optionally translate the body text to another charset.
    Convert {
        /// The message file.
        file: PathBuf,
        /// The target form.
        #[arg(long, value_enum)]
        to: super::convert::Target,
        /// The body text's charset: with `--to uuencode` the non-MIME charset the text is
        /// written in, otherwise the charset text parts are translated to.
        #[arg(long)]
        charset: Option<String>,
        /// What to do with characters `--charset` cannot hold: keep (the text stays in a
        /// charset that holds it, correctly declared), replace (`?`), transliterate.
        #[arg(long, value_enum, default_value_t)]
        unrepresentable: super::convert::Rule,
        /// Write here instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

/// Runs a `postern message` subcommand.
pub fn run(cmd: MessageCmd) -> ExitCode {
    let result = match cmd {
        MessageCmd::Inspect { file, json } => inspect(&file, json),
        MessageCmd::Extract { file, out, part } => extract(&file, &out, part.as_deref()),
        MessageCmd::Convert {
            file,
            to,
            charset,
            unrepresentable,
            output,
        } => super::convert::run(
            &file,
            to,
            charset.as_deref(),
            unrepresentable.into(),
            output.as_deref(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postern message: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}

/// Warns on standard error when `file` is empty or has no header field at all (random
/// octets, a file that is not a message): it is still read, as a message without header
/// fields, but the user should know.
pub fn warn_if_not_message(file: &Path, msg: &Message<'_>) {
    if msg.input().is_empty() {
        eprintln!(
            "postern message: warning: {} is empty; taken as a message with no header fields and no body",
            file.display()
        );
    } else if msg.headers().is_empty() {
        let kind = if std::str::from_utf8(msg.input()).is_err() || msg.input().contains(&0) {
            "binary data, not a message?"
        } else {
            "not a message?"
        };
        eprintln!(
            "postern message: warning: {} has no header fields ({kind}); all of it is taken as the body",
            file.display()
        );
    }
}

/// Parses `data` with its encoded `message/rfc822` parts decoded into `store` (built by the
/// caller, which must outlive the message) and parsed as nested messages.
fn parse_deep<'a>(data: &'a [u8], store: &'a mut Encapsulated) -> Message<'a> {
    let limits = Limits::default();
    *store = Encapsulated::new(data, &limits);
    Message::parse_nested(data, store, &limits)
}

fn inspect(file: &Path, json: bool) -> Result<(), String> {
    let data = read(file)?;
    let mut store = Encapsulated::default();
    let msg = parse_deep(&data, &mut store);
    warn_if_not_message(file, &msg);
    let mut out = String::new();
    if json {
        part_json(&msg, 0, &mut out);
    } else {
        part_text(&msg, 0, 0, &mut out);
    }
    outln!("{out}");
    Ok(())
}

fn part_text(msg: &Message<'_>, i: usize, depth: usize, out: &mut String) {
    let part = &msg.parts()[i];
    let path = msg.path(i);
    let _ = write!(
        out,
        "{:indent$}{} {}",
        "",
        if path.is_empty() { "-" } else { &path },
        part.content_type().essence(),
        indent = depth * 2
    );
    if let Some(name) = part.filename() {
        let _ = write!(out, " {name:?}");
    }
    if matches!(part.kind(), PartKind::Leaf) {
        let _ = write!(
            out,
            " {} {} bytes",
            part.transfer_encoding().as_str(),
            part.decoded_body().len()
        );
        for b in part.uuencoded_blocks() {
            let _ = write!(out, " [uuencoded {:?}]", String::from_utf8_lossy(b.name));
        }
    }
    out.push('\n');
    for &c in part.children() {
        part_text(msg, c, depth + 1, out);
    }
}

fn part_json(msg: &Message<'_>, i: usize, out: &mut String) {
    let part = &msg.parts()[i];
    out.push('{');
    field(out, "path", &msg.path(i));
    out.push(',');
    field(out, "content_type", &part.content_type().essence());
    out.push_str(",\"params\":{");
    for (n, p) in part.content_type().params.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        field(out, &p.name, &p.value);
    }
    out.push_str("},");
    let cte = part.header("content-transfer-encoding").map_or_else(
        || "7bit".to_string(),
        |h| h.value().trim().to_ascii_lowercase(),
    );
    field(out, "transfer_encoding", &cte);
    out.push_str(",\"disposition\":");
    opt(
        out,
        part.disposition().map(|d| d.kind().to_string()).as_deref(),
    );
    out.push_str(",\"filename\":");
    opt(out, part.filename().as_deref());
    if matches!(part.kind(), PartKind::Leaf) {
        let body = part.decoded_body();
        let _ = write!(
            out,
            ",\"decoded_size\":{},\"decoded_sha256\":\"{}\"",
            body.len(),
            hex(&sha256(&body))
        );
        uu_json(part, out);
    } else {
        out.push_str(",\"decoded_size\":null,\"decoded_sha256\":null");
    }
    out.push_str(",\"headers\":[");
    for (n, h) in part.headers().iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('{');
        field(out, "name", h.name());
        out.push(',');
        field(out, "value", &h.value());
        out.push('}');
    }
    out.push_str("],\"children\":[");
    for (n, &c) in part.children().iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        part_json(msg, c, out);
    }
    tnef_json(part, &msg.path(i), !part.children().is_empty(), out);
    out.push_str("]}");
}

/// The files inside a TNEF part (`application/ms-tnef`, `winmail.dat`), as children of
/// it: path `PATH.tnefN`, the name and type the TNEF gives, size and SHA-256; an
/// embedded message's files as its children. `comma` when children were written before.
fn tnef_json(part: &Part<'_>, path: &str, comma: bool, out: &mut String) {
    if !postern_message::tnef::is_tnef_part(part) {
        return;
    }
    let Ok(t) = postern_message::tnef::decode(&part.decoded_body()) else {
        return;
    };
    tnef_children_json(&t, path, comma, out);
}

fn tnef_children_json(t: &postern_message::tnef::Tnef, path: &str, comma: bool, out: &mut String) {
    for (n, a) in t.attachments.iter().enumerate() {
        if comma || n > 0 {
            out.push(',');
        }
        let child = format!("{path}.tnef{}", n + 1);
        out.push('{');
        field(out, "path", &child);
        out.push(',');
        field(out, "source", "tnef");
        out.push_str(",\"content_type\":");
        let ty = if a.embedded.is_some() {
            Some("message/rfc822")
        } else {
            a.mime_tag.as_deref()
        };
        opt(out, ty);
        out.push_str(",\"filename\":");
        opt(out, a.name());
        let _ = write!(
            out,
            ",\"decoded_size\":{},\"decoded_sha256\":\"{}\",\"children\":[",
            a.data.len(),
            hex(&sha256(&a.data))
        );
        if let Some(inner) = &a.embedded {
            tnef_children_json(inner, &child, false, out);
        }
        out.push_str("]}");
    }
}

/// Uuencoded blocks inside a text leaf, as an extra `uuencoded` array.
fn uu_json(part: &Part<'_>, out: &mut String) {
    let blocks = part.uuencoded_blocks();
    if blocks.is_empty() {
        return;
    }
    out.push_str(",\"uuencoded\":[");
    for (n, b) in blocks.iter().enumerate() {
        let mut data = Vec::new();
        let _ = postern_message::uuencode::decode(
            b.body,
            b.format,
            postern_message::uuencode::Strictness::Lenient,
            &mut data,
        );
        if n > 0 {
            out.push(',');
        }
        out.push('{');
        field(out, "name", &String::from_utf8_lossy(b.name));
        let _ = write!(
            out,
            ",\"mode\":{},\"decoded_size\":{},\"decoded_sha256\":\"{}\"}}",
            b.mode,
            data.len(),
            hex(&sha256(&data))
        );
    }
    out.push(']');
}

fn field(out: &mut String, name: &str, value: &str) {
    string(out, name);
    out.push(':');
    string(out, value);
}

fn opt(out: &mut String, value: Option<&str>) {
    match value {
        Some(v) => string(out, v),
        None => out.push_str("null"),
    }
}

use super::json::write_str as string;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn extract(file: &Path, dir: &Path, only: Option<&str>) -> Result<(), String> {
    let data = read(file)?;
    let mut store = Encapsulated::default();
    let msg = parse_deep(&data, &mut store);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let selected: Vec<usize> = match only {
        Some(path) => vec![
            msg.find_path(path)
                .ok_or_else(|| format!("no part {path:?}"))?,
        ],
        None => msg.leaves().collect(),
    };
    let mut used = std::collections::HashSet::new();
    for i in selected {
        let part = &msg.parts()[i];
        let label = path_label(&msg, i);
        let name = part_file_name(&label, part.filename().as_deref());
        write_unique(dir, &name, &part.decoded_body(), &mut used)?;
        for (n, b) in part.uuencoded_blocks().iter().enumerate() {
            let mut content = Vec::new();
            let _ = postern_message::uuencode::decode(
                b.body,
                b.format,
                postern_message::uuencode::Strictness::Lenient,
                &mut content,
            );
            let name = uu_file_name(&label, n + 1, &String::from_utf8_lossy(b.name));
            write_unique(dir, &name, &content, &mut used)?;
        }
        extract_tnef(dir, part, &label, &mut used)?;
    }
    Ok(())
}

/// The files inside a TNEF part (`winmail.dat`), written beside it and named by path as
/// `inspect --json` shows them: `LABEL.tnefN-NAME` (`LABEL.tnefN.bin` when the TNEF gives
/// no name); an embedded message's files under `LABEL.tnefN.tnefM…`.
fn extract_tnef(
    dir: &Path,
    part: &Part<'_>,
    label: &str,
    used: &mut std::collections::HashSet<String>,
) -> Result<(), String> {
    if !postern_message::tnef::is_tnef_part(part) {
        return Ok(());
    }
    let Ok(t) = postern_message::tnef::decode(&part.decoded_body()) else {
        return Ok(());
    };
    let mut stack = vec![(t, label.to_string())];
    while let Some((t, base)) = stack.pop() {
        for (n, a) in t.attachments.into_iter().enumerate() {
            let label = format!("{base}.tnef{}", n + 1);
            match a.embedded {
                Some(inner) => stack.push((*inner, label)),
                None => {
                    let name = part_file_name(&label, a.name());
                    write_unique(dir, &name, &a.data, used)?
                }
            }
        }
    }
    Ok(())
}

/// The part path as used in extracted file names: `inspect --json`'s `path`, with `0`
/// for the message itself (whose path is empty).
fn path_label(msg: &Message<'_>, index: usize) -> String {
    let path = msg.path(index);
    if path.is_empty() {
        "0".to_string()
    } else {
        path
    }
}

/// `PATH-NAME` for a part with a (sanitised) file name, else `PATH.bin`.
fn part_file_name(label: &str, filename: Option<&str>) -> String {
    let fallback = format!("{label}.bin");
    match filename.map(|n| safe_name(n, "")) {
        Some(n) if !n.is_empty() => format!("{label}-{n}"),
        _ => fallback,
    }
}

/// `PATH-uuN-NAME` for the `n`th uuencoded block of part PATH (`PATH-uuN.bin` unnamed).
fn uu_file_name(label: &str, n: usize, block_name: &str) -> String {
    let name = safe_name(block_name, "");
    if name.is_empty() {
        format!("{label}-uu{n}.bin")
    } else {
        format!("{label}-uu{n}-{name}")
    }
}

/// The last path component of a sender-chosen name, without control characters; never
/// `.`/`..` or empty (then `fallback`), so nothing is written outside the directory.
fn safe_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_string();
    if clean.is_empty() || clean == "." || clean == ".." {
        fallback.to_string()
    } else {
        clean
    }
}

fn write_unique(
    dir: &Path,
    name: &str,
    content: &[u8],
    used: &mut std::collections::HashSet<String>,
) -> Result<(), String> {
    let mut candidate = name.to_string();
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        n += 1;
        candidate = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{n}.{ext}"),
            _ => format!("{name}-{n}"),
        };
    }
    let path = dir.join(&candidate);
    std::fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
    outln!("{}", path.display());
    Ok(())
}

/// SHA-256 (FIPS 180-4), for the `decoded_sha256` field; small enough not to need a crate.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (t, word) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16]
                .wrapping_add(s0)
                .wrapping_add(w[t - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for t in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[t])
                .wrapping_add(w[t]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (o, x) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            hex(&sha256(&long)),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("../../etc/passwd", "f"), "passwd");
        assert_eq!(safe_name("C:\\x\\y.txt", "f"), "y.txt");
        assert_eq!(safe_name("..", "f"), "f");
        assert_eq!(safe_name(" a\u{7}b ", "f"), "ab");
    }

    #[test]
    fn json_tree() {
        let raw = b"Subject: =?utf-8?q?h=C3=A9?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYWJj\r\n--b--\r\n";
        let msg = Message::parse(raw);
        let mut out = String::new();
        part_json(&msg, 0, &mut out);
        assert!(out.starts_with(
            "{\"path\":\"\",\"content_type\":\"multipart/mixed\",\"params\":{\"boundary\":\"b\"}"
        ));
        assert!(out.contains("{\"name\":\"Subject\",\"value\":\"hé\"}"));
        assert!(out.contains("\"path\":\"2.1\",\"content_type\":\"text/plain\""));
        // sha256("abc") for the decoded PDF part, with its file name and size.
        assert!(out.contains("\"filename\":\"a.pdf\",\"decoded_size\":3,\"decoded_sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""));
        assert!(out.contains("\"decoded_size\":null"));
        assert_eq!(out.matches('{').count(), out.matches('}').count());
    }

    #[test]
    fn extract_names_follow_part_paths() {
        assert_eq!(
            part_file_name("1.2.3", Some("../r\u{7}.pdf")),
            "1.2.3-r.pdf"
        );
        assert_eq!(part_file_name("2", Some("..")), "2.bin");
        assert_eq!(part_file_name("0", None), "0.bin");
        assert_eq!(uu_file_name("1", 2, "a.txt"), "1-uu2-a.txt");
        assert_eq!(uu_file_name("1", 1, "/"), "1-uu1.bin");
        let msg = Message::parse(b"Subject: x\n\nbody\n");
        assert_eq!(path_label(&msg, 0), "0");
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
