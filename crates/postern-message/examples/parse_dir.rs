//! Parses every file under a directory with [`Message::parse`] and prints how many parts
//! it found: a driver for counting the parser's instructions with
//! `valgrind --tool=callgrind` (repeatable whatever else the machine is doing), and a
//! quick robustness check of a mail folder.
//!
//! ```text
//! cargo run --release -p postern-message --example parse_dir -- DIR
//! ```

use postern_message::Message;
use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_dir DIR");
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
    let parts: usize = files.iter().map(|f| Message::parse(f).parts().len()).sum();
    println!("{} files, {parts} parts", files.len());
}
