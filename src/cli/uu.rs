//! `postern uu …`: a uuencode tool, byte-compatible with GNU sharutils.
//!
//! `encode` writes exactly the bytes GNU `uuencode` writes (mode from the file's permission
//! bits, or `0666 & !umask` for standard input). `decode` finds the first block, as GNU
//! `uudecode` does, decodes it leniently, and writes it to the file named on its `begin`
//! line (or `-o`), with the block's permission bits less setuid/setgid/sticky. Like GNU, a
//! missing `end` line is reported (exit 2) after writing what was decoded.
//!
//! One deliberate difference: FILE `-` means standard input here (GNU refuses it).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use postern_message::uuencode::{self, Format, Strictness};

/// `postern uu` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UuCmd {
    /// Encode FILE (standard input when absent or `-`) as NAME, like `uuencode [FILE] NAME`.
    #[command(override_usage = "postern uu encode [-m] [FILE] NAME")]
    Encode {
        /// Use the base64 form (`begin-base64`), like `uuencode -m`.
        #[arg(short = 'm', long = "base64")]
        base64: bool,
        /// `[FILE] NAME`: the input file (optional) and the name written on the `begin` line.
        #[arg(num_args = 1..=2, required = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Decode the first uuencoded block of FILE (standard input when absent or `-`).
    Decode {
        /// The encoded input.
        file: Option<PathBuf>,
        /// Write here instead of the name on the `begin` line (`-` or /dev/stdout: standard
        /// output).
        #[arg(short = 'o', long = "output-file")]
        output: Option<PathBuf>,
    },
}

/// Runs a `postern uu` subcommand.
pub fn run(cmd: UuCmd) -> ExitCode {
    let result = match cmd {
        UuCmd::Encode { base64, args } => encode(base64, &args),
        UuCmd::Decode { file, output } => decode(file.as_deref(), output.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("postern uu: {msg}");
            ExitCode::from(code)
        }
    }
}

type CliResult = Result<(), (u8, String)>;

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn open_input(path: Option<&Path>) -> Result<(Box<dyn Read>, String), (u8, String)> {
    match path {
        Some(p) if !is_stdin(p) => {
            let f = fs::File::open(p).map_err(|e| (1, format!("{}: {e}", p.display())))?;
            Ok((Box::new(f), p.display().to_string()))
        }
        _ => Ok((Box::new(io::stdin().lock()), "standard input".to_string())),
    }
}

/// Reads until `buf` is full or the input ends; returns the number of octets read.
fn fill(input: &mut dyn Read, buf: &mut [u8], label: &str) -> Result<usize, (u8, String)> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((1, format!("{label}: {e}"))),
        }
    }
    Ok(n)
}

/// Input octets per encoding step: whole 45-octet lines, small enough to stay in cache.
const ENCODE_CHUNK: usize = 45 * 2048;

fn encode(base64: bool, args: &[String]) -> CliResult {
    let (file, name) = match args {
        [name] => (None, name),
        [file, name] => (Some(Path::new(file)), name),
        _ => return Err((1, "usage: postern uu encode [-m] [FILE] NAME".into())),
    };
    let (mut input, label) = open_input(file)?;
    let mode = match file {
        Some(p) if !is_stdin(p) => file_mode(p),
        _ => 0o666 & !umask(),
    };
    let format = if base64 {
        Format::Base64
    } else {
        Format::Classic
    };
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; ENCODE_CHUNK];
    let mut out = Vec::with_capacity(ENCODE_CHUNK / 3 * 4 + ENCODE_CHUNK / 20 + 512);
    uuencode::encode_header(mode, name, format, &mut out);
    loop {
        let n = fill(&mut input, &mut buf, &label)?;
        uuencode::encode_chunk(&buf[..n], format, &mut out);
        if n < buf.len() {
            break;
        }
        write_out(&mut stdout, &out)?;
        out.clear();
    }
    uuencode::encode_footer(format, &mut out);
    write_out(&mut stdout, &out)?;
    stdout.flush().map_err(|e| (1, super::stdout_failed(e)))
}

/// The permission bits GNU writes: `st_mode & 0777`.
fn file_mode(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0o644
    }
}

/// The process umask, read from /proc without changing it (std has no getter); 022 when
/// unavailable.
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

fn write_out(w: &mut dyn Write, bytes: &[u8]) -> CliResult {
    w.write_all(bytes).map_err(|e| (1, super::stdout_failed(e)))
}

/// Input octets read per decoding step.
const DECODE_CHUNK: usize = 1 << 18;

/// Where decoded octets go.
enum Sink {
    Stdout(io::StdoutLock<'static>),
    File(fs::File, PathBuf, u32),
}

impl Sink {
    fn open(target: PathBuf, mode: u32) -> Result<Sink, (u8, String)> {
        if target.as_os_str() == "-" || target.as_os_str() == "/dev/stdout" {
            return Ok(Sink::Stdout(io::stdout().lock()));
        }
        let f = fs::File::create(&target).map_err(|e| (1, format!("{}: {e}", target.display())))?;
        Ok(Sink::File(f, target, mode))
    }

    fn write(&mut self, bytes: &[u8]) -> CliResult {
        match self {
            Sink::Stdout(w) => write_out(w, bytes),
            Sink::File(f, ..) => write_out(f, bytes),
        }
    }

    fn close(self) -> CliResult {
        match self {
            Sink::Stdout(mut w) => w.flush().map_err(|e| (1, super::stdout_failed(e))),
            Sink::File(f, path, mode) => {
                drop(f);
                set_mode(&path, mode)
            }
        }
    }
}

/// Decoding progress: looking for the `begin` line, then decoding into a sink.
enum Stage {
    Searching,
    Decoding(uuencode::Decoder, Sink),
}

fn decode(file: Option<&Path>, output: Option<&Path>) -> CliResult {
    let (mut input, label) = open_input(file)?;
    let mut buf = vec![0u8; DECODE_CHUNK];
    let mut filled = 0;
    let mut out = Vec::with_capacity(DECODE_CHUNK);
    let mut stage = Stage::Searching;
    loop {
        let n = fill(&mut input, &mut buf[filled..], &label)?;
        filled += n;
        let eof = filled < buf.len();
        // Work on whole lines; keep a partial last line for the next round. A line longer
        // than the buffer is cut (it cannot be a begin line, nor valid encoded data).
        let upto = match buf[..filled].iter().rposition(|&c| c == b'\n') {
            Some(i) if !eof => i + 1,
            _ => filled,
        };
        stage = step(stage, &buf[..upto], output, &mut out)?;
        if let Stage::Decoding(d, sink) = &mut stage {
            sink.write(&out)?;
            out.clear();
            if d.is_done() {
                break;
            }
        }
        if eof {
            break;
        }
        buf.copy_within(upto..filled, 0);
        filled -= upto;
    }
    match stage {
        Stage::Searching => Err((2, format!("{label}: Invalid or missing 'begin' line"))),
        Stage::Decoding(d, sink) => {
            let ended = d.saw_end_line();
            // Lenient decoding never fails; the error type only carries strict findings.
            let _ = d.finish(&mut out);
            let mut sink = sink;
            sink.write(&out)?;
            sink.close()?;
            if ended {
                Ok(())
            } else {
                Err((2, format!("{label}: No `end' line")))
            }
        }
    }
}

/// Advances over `lines` (whole lines): finds the first `begin` line, as GNU does, then
/// decodes what follows it into `out`.
fn step(
    stage: Stage,
    lines: &[u8],
    output: Option<&Path>,
    out: &mut Vec<u8>,
) -> Result<Stage, (u8, String)> {
    match stage {
        Stage::Decoding(mut d, sink) => {
            let _ = d.feed(lines, out);
            Ok(Stage::Decoding(d, sink))
        }
        Stage::Searching => {
            let mut pos = 0;
            while pos < lines.len() {
                let end = lines[pos..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(lines.len(), |i| pos + i + 1);
                if let Some((format, mode, name)) = uuencode::parse_begin_line(&lines[pos..end]) {
                    let target = match output {
                        Some(p) => p.to_path_buf(),
                        None => PathBuf::from(String::from_utf8_lossy(name).into_owned()),
                    };
                    let sink = Sink::open(target, mode & 0o777)?;
                    let mut d = uuencode::Decoder::new(format, Strictness::Lenient);
                    let _ = d.feed(&lines[end..], out);
                    return Ok(Stage::Decoding(d, sink));
                }
                pos = end;
            }
            Ok(Stage::Searching)
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> CliResult {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| (1, format!("{}: {e}", path.display())))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
