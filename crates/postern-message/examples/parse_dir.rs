//! Parses every file under a directory with [`Message::parse`] and prints how many parts
//! it found: a driver for counting the parser's instructions with
//! `valgrind --tool=callgrind` (repeatable whatever else the machine is doing), and a
//! quick robustness check of a mail folder.
//!
//! With `--headers` it also parses every message's address headers (From, To, Cc,
//! Reply-To, Sender) and its Date, so that their parsers show in the profile.
//!
//! ```text
//! cargo run --release -p postern-message --example parse_dir -- [--headers] DIR
//! ```

use postern_message::Message;
use std::path::PathBuf;

/// The address headers read in `--headers` mode.
const ADDRESS_HEADERS: [&str; 5] = ["from", "to", "cc", "reply-to", "sender"];

fn main() {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let headers = args.first().is_some_and(|a| a == "--headers");
    if headers {
        args.remove(0);
    }
    let Some(dir) = args.first() else {
        eprintln!("usage: parse_dir [--headers] DIR");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            let entries = std::fs::read_dir(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        } else if let Ok(bytes) = std::fs::read(&p) {
            files.push(bytes);
        }
    }
    let (mut parts, mut mailboxes, mut dates) = (0, 0, 0);
    for f in &files {
        let msg = Message::parse(f);
        parts += msg.parts().len();
        if headers {
            mailboxes += ADDRESS_HEADERS
                .iter()
                .map(|h| msg.addresses(h).mailboxes().count())
                .sum::<usize>();
            dates += usize::from(msg.date().is_some());
        }
    }
    if headers {
        println!(
            "{} files, {parts} parts, {mailboxes} mailboxes, {dates} dates",
            files.len()
        );
    } else {
        println!("{} files, {parts} parts", files.len());
    }
}
