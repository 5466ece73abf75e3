//! `nocturne encrypt` and `nocturne decrypt`: a file to the format and back
//! with a password, in constant memory whatever the file's size.
//!
//! Memory: two chunks (the current one and one of lookahead, which decides
//! which chunk is the last), about 2 MiB, plus Argon2id's 64 MiB.
//! Output files are written to a temporary file beside the target and
//! renamed into place only once everything authenticated, so a failure
//! never leaves a partial file that looks like a good one. An output that
//! exists and is not a regular file (a FIFO, a device) is written directly,
//! as standard output is: renaming over it would replace the device or
//! pipe with a regular file.

use std::{
    fs::File,
    io::{self, IsTerminal, Read, Write},
    path::{Path, PathBuf},
};

use noctis::format::{
    CipherId, DEFAULT_CHUNK_SIZE, Decryptor, Encryptor, HEADER_LEN, Header, KeySource,
};
use zeroize::Zeroizing;

use crate::Error;

/// Where the data comes from and goes, and how the password is found.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) input: Option<PathBuf>,
    pub(crate) output: Option<PathBuf>,
    pub(crate) password_file: Option<PathBuf>,
    pub(crate) cipher: CipherId,
}

/// The longest password file read: far beyond any password.
const PASSWORD_FILE_LIMIT: u64 = 4096;

/// Progress is shown on a terminal for inputs at least this large.
const PROGRESS_THRESHOLD: u64 = 64 << 20;

pub(crate) fn encrypt(job: Job) -> Result<(), Error> {
    if job.output.is_none() && io::stdout().is_terminal() {
        return Err(Error::Usage(
            "refusing to write encrypted data to a terminal: use -o FILE or redirect the output"
                .into(),
        ));
    }
    let password = password(&job, true)?;
    let (mut input, total) = open_input(job.input.as_deref())?;
    let mut salt = [0u8; 32];
    let mut nonce_prefix = [0u8; 19];
    getrandom::fill(&mut salt)
        .and_then(|()| getrandom::fill(&mut nonce_prefix))
        .map_err(|e| Error::Config(format!("the operating system RNG failed: {e}")))?;
    let params = noctis::keys::DEFAULT_ARGON2;
    let header = Header {
        cipher: job.cipher,
        chunk_size: DEFAULT_CHUNK_SIZE,
        key_source: KeySource::Password(params),
        salt,
        nonce_prefix,
    };
    let key = noctis::keys::password_key(password.as_bytes(), &header.salt, params)?;
    let mut encryptor = Encryptor::new(&key, header);
    let chunk = DEFAULT_CHUNK_SIZE as usize;

    write_output(job.output.as_deref(), |out| {
        out.write_all(encryptor.header_bytes())
            .map_err(write_error)?;
        let progress = Progress::new("encrypting", total);
        pump(&mut input, out, chunk, progress, |buf, last| {
            encryptor.seal_next(buf, last)
        })
    })
}

pub(crate) fn decrypt(job: Job) -> Result<(), Error> {
    let (mut input, total) = open_input(job.input.as_deref())?;
    let header_bytes = read_up_to(&mut input, HEADER_LEN)?;
    let header = Header::parse(&header_bytes)?;
    let KeySource::Password(params) = header.key_source else {
        return Err(Error::Usage(
            "this file was encrypted for a Nocturne account, not with a password".into(),
        ));
    };
    let password = password(&job, false)?;
    let key = noctis::keys::password_key(password.as_bytes(), &header.salt, params)?;
    let mut decryptor = Decryptor::with_header(&key, header);
    let sealed = decryptor.sealed_chunk_len();

    write_output(job.output.as_deref(), |out| {
        let progress = Progress::new("decrypting", total);
        pump(&mut input, out, sealed, progress, |buf, last| {
            decryptor.open_next(buf, last)
        })
    })
}

/// Feeds `input` to `step` in pieces of `piece` bytes, telling it which is
/// the last (one piece of lookahead: a full piece followed by the end of the
/// input is the last), and writes what `step` leaves in the buffer. Memory:
/// two pieces.
fn pump(
    input: &mut dyn Read,
    out: &mut dyn Write,
    piece: usize,
    mut progress: Progress,
    mut step: impl FnMut(&mut Vec<u8>, bool) -> Result<(), noctis::Error>,
) -> Result<(), Error> {
    let mut current = read_up_to(input, piece)?;
    loop {
        let next = if current.len() == piece {
            read_up_to(input, piece)?
        } else {
            Vec::new()
        };
        let last = next.is_empty();
        progress.advance(current.len() as u64);
        step(&mut current, last)?;
        out.write_all(&current).map_err(write_error)?;
        if last {
            progress.finish();
            return Ok(());
        }
        current = next;
    }
}

/// The password from `--password-file`, `NOCTURNE_PASSWORD`, or a no-echo
/// prompt on the terminal (twice when encrypting).
fn password(job: &Job, confirm: bool) -> Result<Zeroizing<String>, Error> {
    let password = if let Some(path) = &job.password_file {
        let mut text = Zeroizing::new(String::new());
        File::open(path)
            .and_then(|f| f.take(PASSWORD_FILE_LIMIT + 1).read_to_string(&mut text))
            .map_err(|e| Error::io("read the password file", path, e))?;
        if text.len() as u64 > PASSWORD_FILE_LIMIT {
            return Err(Error::Usage(
                "the password file is larger than 4 KiB".into(),
            ));
        }
        // One trailing newline is how files end, not part of the password.
        let trimmed = text.strip_suffix('\n').unwrap_or(&text);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        Zeroizing::new(trimmed.to_owned())
    } else if let Ok(value) = std::env::var("NOCTURNE_PASSWORD") {
        Zeroizing::new(value)
    } else if io::stderr().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password("Password: ")
                .map_err(|e| Error::Usage(format!("cannot read the password: {e}")))?,
        );
        if confirm {
            let second = Zeroizing::new(
                rpassword::prompt_password("Again: ")
                    .map_err(|e| Error::Usage(format!("cannot read the password: {e}")))?,
            );
            if *first != *second {
                return Err(Error::Usage("the passwords differ".into()));
            }
        }
        first
    } else {
        return Err(Error::Usage(
            "no password: set NOCTURNE_PASSWORD, use --password-file, or run on a terminal".into(),
        ));
    };
    if password.is_empty() {
        return Err(Error::Usage("the password is empty".into()));
    }
    Ok(password)
}

fn open_input(path: Option<&Path>) -> Result<(Box<dyn Read>, Option<u64>), Error> {
    match path {
        Some(path) => {
            let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
            let len = file.metadata().ok().map(|m| m.len());
            Ok((Box::new(io::BufReader::with_capacity(1 << 16, file)), len))
        }
        None => Ok((Box::new(io::stdin().lock()), None)),
    }
}

/// Runs `body` against the output: stdout; an existing FIFO or device,
/// written directly (never a terminal); or a temporary file in the target's
/// directory that is synced and renamed over the target only if `body`
/// succeeds (and deleted otherwise).
fn write_output(
    path: Option<&Path>,
    body: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    let Some(path) = path else {
        let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
        body(&mut out)?;
        return out.flush().map_err(write_error);
    };
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if special {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        if file.is_terminal() {
            return Err(Error::Usage(format!(
                "refusing to write to the terminal {}: give a file, or redirect the output",
                path.display()
            )));
        }
        let mut out = io::BufWriter::with_capacity(1 << 16, file);
        body(&mut out)?;
        return out.flush().map_err(write_error);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".nocturne-partial-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    let mut out = io::BufWriter::with_capacity(1 << 16, temp);
    body(&mut out)?; // on error `out` drops and the temporary file is deleted
    let temp = out.into_inner().map_err(|e| write_error(e.into_error()))?;
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(path)
        .map_err(|e| Error::io("write", path, e.error))?;
    Ok(())
}

fn write_error(e: io::Error) -> Error {
    Error::io("write", "the output", e)
}

/// Reads until `limit` bytes or the end of the input.
fn read_up_to(input: &mut dyn Read, limit: usize) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::with_capacity(limit);
    input
        .take(limit as u64)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("read", "the input", e))?;
    Ok(buf)
}

/// A one-line progress report on stderr, for large inputs on a terminal.
struct Progress {
    verb: &'static str,
    total: u64,
    done: u64,
    shown: u64,
    active: bool,
}

impl Progress {
    fn new(verb: &'static str, total: Option<u64>) -> Self {
        let total = total.unwrap_or(0);
        Progress {
            verb,
            total,
            done: 0,
            shown: 0,
            active: total >= PROGRESS_THRESHOLD && io::stderr().is_terminal(),
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.active && self.done - self.shown >= 16 << 20 {
            self.shown = self.done;
            let percent = self.done.saturating_mul(100) / self.total.max(1);
            eprint!(
                "\r{}: {} MiB of {} MiB ({percent}%)",
                self.verb,
                self.done >> 20,
                self.total >> 20
            );
        }
    }

    fn finish(&mut self) {
        if self.active {
            eprintln!("\r{}: {} MiB done{:20}", self.verb, self.done >> 20, "");
        }
    }
}
