//! postern-message from first to last: build a message, parse it, walk its MIME tree,
//! save its attachments, and convert it MIME → uuencode → MIME, as the Exchange IMS did
//! for mail domains that only understood uuencode.
//!
//! ```text
//! cargo run --example mime_tour
//! ```
//!
//! * [`MessageBuilder`] writes a correct message (RFC 2047 words, RFC 2231 file names,
//!   base64 where the content needs it, boundaries that cannot collide).
//! * [`Message::parse`] never fails: it reads what the Internet sends and borrows from
//!   the input. The parts sit in one flat list in document order; `children` and
//!   `parent` give the tree, [`Message::path`] the IMAP-style part number (`1.2`).
//! * [`Message::attachments`] finds MIME attachments *and* uuencoded blocks inside text
//!   parts; [`Attachment::content`](postern_message::Attachment::content) decodes either.
//! * [`convert::mime_to_uuencode`] and [`convert::uuencode_to_mime`] write new messages
//!   and say what they did in a [`convert::Report`].
//!
//! The attachments are written to a temporary directory, which is removed at the end.
//! The program exits 0 when both conversions keep every attachment byte for byte.

use std::path::Path;

use postern_message::builder::{MailboxSpec, MessageBuilder};
use postern_message::{Message, PartKind, convert};

/// A message with a text body, a PDF and a nested message with its own attachment.
fn sample() -> Vec<u8> {
    let forwarded = MessageBuilder::new()
        .from("bea@example.org")
        .to("jo@example.org")
        .subject("the numbers")
        .text("See the sheet.\n")
        .attachment("numbers.csv", "text/csv", b"a,b\n1,2\n".to_vec())
        .build();
    MessageBuilder::new()
        .from(MailboxSpec::with_name("Jörg Müller", "jorg@example.org"))
        .to("ann@example.com")
        .subject("Grüße: the report")
        .message_id("tour-1@example.org")
        .text("Hello Ann,\n\nthe report is attached.\n")
        // Bytes that are not text, so the builder picks base64.
        .attachment("report.pdf", "application/pdf", pdf_bytes())
        .message(forwarded)
        .build()
}

fn pdf_bytes() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..=255u8).cycle().take(600));
    pdf
}

/// Prints the MIME tree, one part a line, indented by depth.
fn print_tree(msg: &Message<'_>, index: usize, depth: usize) {
    let part = &msg.parts()[index];
    let kind = match part.kind() {
        PartKind::Multipart { .. } => "multipart",
        PartKind::Message => "nested message",
        _ => "leaf",
    };
    let name = part
        .filename()
        .map(|f| format!(" {f:?}"))
        .unwrap_or_default();
    println!(
        "{:indent$}[{}] {} ({kind}, {} bytes){name}",
        "",
        msg.path(index),
        part.content_type().essence(),
        part.decoded_body().len(),
        indent = depth * 2,
    );
    for &child in part.children() {
        print_tree(msg, child, depth + 1);
    }
}

/// Writes every attachment of `msg` to `dir`; returns (name, content) in order.
fn save_attachments(msg: &Message<'_>, dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut saved = Vec::new();
    for attachment in msg.attachments() {
        let name = attachment.filename().unwrap_or_else(|| "unnamed".into());
        // A file name from mail is untrusted input: keep only its last component.
        let safe = Path::new(&name)
            .file_name()
            .map_or("unnamed".into(), |n| n.to_string_lossy().into_owned());
        let content = attachment.content();
        std::fs::write(dir.join(&safe), &content)?;
        println!("  saved {safe} ({} bytes)", content.len());
        saved.push((safe, content));
    }
    Ok(saved)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("postern-mime-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = tour(&dir);
    std::fs::remove_dir_all(&dir)?;
    result
}

fn tour(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let raw = sample();
    let msg = Message::parse(&raw);
    // Header fields come back decoded (RFC 2047), addresses parsed.
    let from = msg.from();
    let author = from.mailboxes().next().ok_or("no From")?;
    println!("From: {:?} <{}>", author.name, author.address);
    println!("Subject: {}", msg.subject().unwrap_or_default());
    println!("MIME tree:");
    print_tree(&msg, 0, 1);

    println!("attachments of the MIME message:");
    let mime_files = save_attachments(&msg, dir)?;

    // MIME → uuencode: one plain text body, each attachment a `begin 644 name` block.
    let uu = convert::mime_to_uuencode(&msg);
    println!(
        "mime_to_uuencode: {} attachment(s) moved into uuencoded blocks",
        uu.report.attachments
    );
    let uu_msg = Message::parse(&uu.message);
    println!("MIME tree after conversion:");
    print_tree(&uu_msg, 0, 1);
    let uu_dir = dir.join("uu");
    std::fs::create_dir_all(&uu_dir)?;
    println!("attachments found in the uuencoded text:");
    let uu_files = save_attachments(&uu_msg, &uu_dir)?;

    // uuencode → MIME: the blocks become attachment parts again.
    let back = convert::uuencode_to_mime(&uu_msg);
    let back_msg = Message::parse(&back.message);
    println!("MIME tree after converting back:");
    print_tree(&back_msg, 0, 1);
    let back_dir = dir.join("back");
    std::fs::create_dir_all(&back_dir)?;
    println!("attachments after converting back:");
    let back_files = save_attachments(&back_msg, &back_dir)?;

    // Every file survives both conversions byte for byte. The nested message travels
    // through uuencode as one file (`part3.eml`) and comes back as a `message/rfc822`
    // part, whose own attachment is found inside it again.
    let file = |files: &[(String, Vec<u8>)], name: &str| {
        files.iter().find(|f| f.0 == name).map(|f| f.1.clone())
    };
    assert_eq!(file(&mime_files, "report.pdf"), Some(pdf_bytes()));
    assert_eq!(file(&uu_files, "report.pdf"), Some(pdf_bytes()));
    assert_eq!(file(&back_files, "report.pdf"), Some(pdf_bytes()));
    let nested = file(&uu_files, "part3.eml").ok_or("the nested message as a file")?;
    assert_eq!(
        Message::parse(&nested).subject().as_deref(),
        Some("the numbers")
    );
    assert_eq!(
        file(&back_files, "numbers.csv"),
        file(&mime_files, "numbers.csv")
    );
    assert_eq!(back.report.attachments, 2);
    Ok(())
}
