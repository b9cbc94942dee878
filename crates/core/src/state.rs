//! Persisted state: one snapshot file per chain under the state directory.
//!
//! A file is replaced atomically (write a temporary file, fsync it, rename it over the old one,
//! fsync the directory), so a crash leaves either the old or the new snapshot, never half of
//! one. The body is a compact binary encoding (a million windows would be gigabytes of JSON)
//! behind a magic, a format version and a SHA-256 checksum; a file that fails any check is
//! reported as [`StateError`] and moved aside by [`StateStore::load_or_quarantine`], so the
//! chain starts fresh instead of crashing or silently mixing state.
//!
//! The file is named after the chain and also records the chain's name and family inside: a
//! snapshot is never handed to another chain.

use std::fs::{self, File};
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::saved::SavedWindows;
use crate::window::{MissWindow, WindowParts, WindowPartsRef};

const MAGIC: &[u8; 8] = b"VALWATCH";
/// Version of the snapshot encoding; a file of another version is refused.
pub const FORMAT_VERSION: u32 = 1;

/// Windows of one duty, keyed by validator key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DutySnapshot {
    /// Duty name.
    pub name: String,
    /// The windows, compact.
    pub windows: SavedWindows,
}

/// Values of one grouped counter, keyed `group:<name>` or `validator:<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Counter name (with its constant labels).
    pub name: String,
    /// Series id and value.
    pub values: Vec<(String, u64)>,
}

/// Everything saved for one chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSnapshot {
    /// Chain family (`ethereum`, `cosmos`, ...).
    pub family: String,
    /// Chain name from the configuration.
    pub chain: String,
    /// What the watcher learned identifies the chain (genesis root, chain id).
    pub identity: Option<String>,
    /// Last fully processed unit.
    pub checkpoint: Option<u64>,
    /// The watcher's own checkpoint data.
    pub extra: serde_json::Value,
    /// Windows per duty.
    pub duties: Vec<DutySnapshot>,
    /// Counter values.
    pub counters: Vec<CounterSnapshot>,
}

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valwatch snapshot or is damaged.
    #[error("state file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file was written by another format version.
    #[error(
        "state file {path} has format version {found}, this build reads version {FORMAT_VERSION}"
    )]
    Incompatible {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The file belongs to another chain.
    #[error(
        "state file {path} belongs to {found_family} chain `{found_chain}`, not to {family} chain `{chain}`"
    )]
    OtherChain {
        /// The file.
        path: PathBuf,
        /// Chain expected.
        chain: String,
        /// Family expected.
        family: String,
        /// Chain found.
        found_chain: String,
        /// Family found.
        found_family: String,
    },
}

/// The directory of snapshot files.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

fn file_stem(chain: &str) -> String {
    chain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl StateStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The snapshot file of `family`/`chain`.
    pub fn path(&self, family: &str, chain: &str) -> PathBuf {
        self.dir
            .join(format!("{}-{}.state", file_stem(family), file_stem(chain)))
    }

    /// Writes `snapshot` atomically.
    pub fn save(&self, snapshot: &ChainSnapshot) -> Result<(), StateError> {
        self.save_with(&snapshot.family, &snapshot.chain, |file| {
            encode_into(snapshot, file)
        })
    }

    /// Writes the snapshot of `family`/`chain` atomically: `write` encodes it (see
    /// [`SnapshotEncoder`]) straight into a temporary file, which then replaces the old one.
    /// Nothing of the body is held in memory.
    pub fn save_with(
        &self,
        family: &str,
        chain: &str,
        write: impl FnOnce(File) -> io::Result<File>,
    ) -> Result<(), StateError> {
        let path = self.path(family, chain);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = path.with_extension("state.tmp");
        let written = File::create(&tmp)
            .and_then(write)
            .and_then(|file| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        fs::rename(&tmp, &path).map_err(io)?;
        // Make the rename itself durable.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Reads the snapshot of `family`/`chain`; `Ok(None)` when there is none.
    pub fn load(&self, family: &str, chain: &str) -> Result<Option<ChainSnapshot>, StateError> {
        let path = self.path(family, chain);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let snapshot = decode_from(io::BufReader::with_capacity(READ_BUFFER, file), &path)?;
        if snapshot.chain != chain || snapshot.family != family {
            return Err(StateError::OtherChain {
                path,
                chain: chain.into(),
                family: family.into(),
                found_chain: snapshot.chain,
                found_family: snapshot.family,
            });
        }
        Ok(Some(snapshot))
    }

    /// Like [`StateStore::load`], but a damaged, incompatible or foreign file is renamed to
    /// `<file>.rejected-<unix time>` and reported through the returned error, so the chain
    /// starts fresh and the old file is kept for inspection.
    pub fn load_or_quarantine(
        &self,
        family: &str,
        chain: &str,
    ) -> (Option<ChainSnapshot>, Option<StateError>) {
        match self.load(family, chain) {
            Ok(snapshot) => (snapshot, None),
            Err(StateError::Io { path, source }) => (None, Some(StateError::Io { path, source })),
            Err(error) => {
                let path = self.path(family, chain);
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let _ = fs::rename(
                    &path,
                    path.with_extension(format!("state.rejected-{stamp}")),
                );
                (None, Some(error))
            }
        }
    }
}

/// Bytes before the body: magic, format version, SHA-256 of the body, body length.
const HEADER_LEN: usize = 52;

/// Size of the write buffer between the encoder and the file.
const WRITE_BUFFER: usize = 256 * 1024;

/// Writes the file format piece by piece into any seekable writer (the state file itself, or
/// memory), so a tracker can encode its state straight from its own tables: no copy of every
/// window and no in-memory copy of the body. The body is hashed as it passes; the header is
/// written last, over a placeholder, by [`SnapshotEncoder::finish`].
pub struct SnapshotEncoder<W: Write + Seek> {
    out: BufWriter<HashingWriter<W>>,
}

/// A list whose length was announced before its items, checked when it ends.
#[derive(Debug)]
#[must_use = "a list must be ended with `end_list`"]
pub struct ListMark {
    announced: u64,
    written: u64,
}

impl ListMark {
    fn item(&mut self) {
        self.written += 1;
    }
}

/// Hashes everything written after the header and counts the bytes.
struct HashingWriter<W> {
    inner: W,
    position: u64,
    body: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let header_left = (HEADER_LEN as u64).saturating_sub(self.position) as usize;
        if n > header_left {
            self.body.update(&buf[header_left..n]);
        }
        self.position += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn list_mismatch(mark: &ListMark) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "a list announced {} items but {} were written",
            mark.announced, mark.written
        ),
    )
}

impl<W: Write + Seek> SnapshotEncoder<W> {
    /// Starts a snapshot of chain `chain` of family `family` at the current position of `out`
    /// (normally its start).
    pub fn new(
        out: W,
        family: &str,
        chain: &str,
        identity: Option<&str>,
        checkpoint: Option<u64>,
        extra: &serde_json::Value,
    ) -> io::Result<Self> {
        let mut encoder = SnapshotEncoder {
            out: BufWriter::with_capacity(
                WRITE_BUFFER,
                HashingWriter {
                    inner: out,
                    position: 0,
                    body: Sha256::new(),
                },
            ),
        };
        encoder.out.write_all(&[0; HEADER_LEN])?;
        encoder.str(family)?;
        encoder.str(chain)?;
        encoder.opt_str(identity)?;
        encoder.opt_u64(checkpoint)?;
        encoder.str(&extra.to_string())?;
        Ok(encoder)
    }

    /// Starts a list (of duties, of a duty's windows, of counters) of `count` items.
    pub fn begin_list(&mut self, count: usize) -> io::Result<ListMark> {
        self.u64(count as u64)?;
        Ok(ListMark {
            announced: count as u64,
            written: 0,
        })
    }

    /// Ends a list; an error if it did not get the number of items announced (the file would
    /// be unreadable).
    pub fn end_list(&mut self, mark: ListMark) -> io::Result<()> {
        if mark.announced == mark.written {
            Ok(())
        } else {
            Err(list_mismatch(&mark))
        }
    }

    /// Adds a duty named `name` whose `windows` windows follow, in a list of their own.
    pub fn duty(
        &mut self,
        duties: &mut ListMark,
        name: &str,
        windows: usize,
    ) -> io::Result<ListMark> {
        duties.item();
        self.str(name)?;
        self.begin_list(windows)
    }

    /// Adds validator `key`'s window to a duty's list.
    pub fn window(
        &mut self,
        windows: &mut ListMark,
        key: &str,
        parts: WindowPartsRef<'_>,
    ) -> io::Result<()> {
        windows.item();
        self.str(key)?;
        self.u32(parts.len)?;
        self.opt_u64(parts.newest)?;
        self.u64(parts.oldest)?;
        self.u64(parts.gaps.len() as u64)?;
        for gap in parts.gaps {
            self.u64(gap.start)?;
            self.u64(gap.end)?;
        }
        for word in parts.words {
            self.u64(*word)?;
        }
        Ok(())
    }

    /// Adds a counter with its series values to the counters' list.
    pub fn counter(
        &mut self,
        counters: &mut ListMark,
        name: &str,
        values: &[(String, u64)],
    ) -> io::Result<()> {
        counters.item();
        self.str(name)?;
        let mut list = self.begin_list(values.len())?;
        for (id, value) in values {
            list.item();
            self.str(id)?;
            self.u64(*value)?;
        }
        self.end_list(list)
    }

    /// Writes the header (magic, version, checksum, body length) over the placeholder and
    /// hands the writer back, flushed.
    pub fn finish(self) -> io::Result<W> {
        let hashing = self.out.into_inner().map_err(|e| e.into_error())?;
        let HashingWriter {
            mut inner,
            position,
            body,
        } = hashing;
        let body_len = position - HEADER_LEN as u64;
        inner.seek(SeekFrom::Current(-(position as i64)))?;
        inner.write_all(MAGIC)?;
        inner.write_all(&FORMAT_VERSION.to_le_bytes())?;
        inner.write_all(&body.finalize())?;
        inner.write_all(&body_len.to_le_bytes())?;
        inner.seek(SeekFrom::Current(body_len as i64))?;
        inner.flush()?;
        Ok(inner)
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.out.write_all(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.out.write_all(&v.to_le_bytes())
    }
    fn opt_u64(&mut self, v: Option<u64>) -> io::Result<()> {
        self.out.write_all(&[u8::from(v.is_some())])?;
        self.u64(v.unwrap_or(0))
    }
    fn str(&mut self, s: &str) -> io::Result<()> {
        self.u64(s.len() as u64)?;
        self.out.write_all(s.as_bytes())
    }
    fn opt_str(&mut self, s: Option<&str>) -> io::Result<()> {
        self.out.write_all(&[u8::from(s.is_some())])?;
        self.str(s.unwrap_or(""))
    }
}

/// Encodes a snapshot into the file format.
pub fn encode(snapshot: &ChainSnapshot) -> Vec<u8> {
    // Writing to memory cannot fail, and the lists are counted from the snapshot itself.
    encode_into(snapshot, Cursor::new(Vec::new()))
        .map(Cursor::into_inner)
        .unwrap_or_default()
}

fn encode_into<W: Write + Seek>(snapshot: &ChainSnapshot, out: W) -> io::Result<W> {
    let mut encoder = SnapshotEncoder::new(
        out,
        &snapshot.family,
        &snapshot.chain,
        snapshot.identity.as_deref(),
        snapshot.checkpoint,
        &snapshot.extra,
    )?;
    let mut duties = encoder.begin_list(snapshot.duties.len())?;
    for duty in &snapshot.duties {
        let mut windows = encoder.duty(&mut duties, &duty.name, duty.windows.len())?;
        for (key, parts) in duty.windows.iter_parts() {
            encoder.window(&mut windows, key, parts)?;
        }
        encoder.end_list(windows)?;
    }
    encoder.end_list(duties)?;
    let mut counters = encoder.begin_list(snapshot.counters.len())?;
    for counter in &snapshot.counters {
        encoder.counter(&mut counters, &counter.name, &counter.values)?;
    }
    encoder.end_list(counters)?;
    encoder.finish()
}

/// Size of the read buffer between the state file and the decoder.
const READ_BUFFER: usize = 256 * 1024;

/// Decodes the file format; `path` only names the file in errors.
pub fn decode(bytes: &[u8], path: &Path) -> Result<ChainSnapshot, StateError> {
    decode_from(bytes, path)
}

/// Decodes the file format from a reader, checking the checksum as the body streams by: a
/// million windows are never held twice (file bytes and decoded form). Anything decoded from
/// a body whose checksum then fails is dropped.
pub fn decode_from(mut input: impl Read, path: &Path) -> Result<ChainSnapshot, StateError> {
    let corrupt = |reason: &str| StateError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match input.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(StateError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    if filled < HEADER_LEN || &header[..8] != MAGIC {
        return Err(corrupt("not a valwatch state file"));
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != FORMAT_VERSION {
        return Err(StateError::Incompatible {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&header[44..52]);
    let mut reader = Reader {
        input,
        remaining: u64::from_le_bytes(length),
        body: Sha256::new(),
    };
    let snapshot = read_body(&mut reader).map_err(|reason| corrupt(&reason))?;
    if reader.remaining != 0 {
        return Err(corrupt("trailing bytes"));
    }
    let mut extra = [0u8; 1];
    if !matches!(reader.input.read(&mut extra), Ok(0)) {
        return Err(corrupt("longer than its header says"));
    }
    if reader.body.finalize().as_slice() != &header[12..44] {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(snapshot)
}

fn read_body<R: Read>(r: &mut Reader<R>) -> Result<ChainSnapshot, String> {
    let family = r.str()?;
    let chain = r.str()?;
    let identity = r.opt_str()?;
    let checkpoint = r.opt_u64()?;
    let extra = serde_json::from_str(&r.str()?).map_err(|e| format!("checkpoint data: {e}"))?;
    let mut duties = Vec::new();
    for _ in 0..r.count()? {
        let name = r.str()?;
        let mut windows: Option<SavedWindows> = None;
        for _ in 0..r.count()? {
            let key = r.str()?;
            let len = r.u32()?;
            let newest = r.opt_u64()?;
            let oldest = r.u64()?;
            let gaps = (0..r.count()?)
                .map(|_| Ok::<Range<u64>, String>(r.u64()?..r.u64()?))
                .collect::<Result<Vec<_>, _>>()?;
            if len == 0 || len > 1 << 24 {
                return Err(format!("window length {len} out of range"));
            }
            let words = (0..(len as usize).div_ceil(64))
                .map(|_| r.u64())
                .collect::<Result<Vec<_>, _>>()?;
            let window = MissWindow::from_parts(WindowParts {
                len,
                newest,
                oldest,
                gaps,
                words,
            })
            .map_err(|e| format!("duty {name}, key {key}: {e}"))?;
            windows
                .get_or_insert_with(|| SavedWindows::new(len))
                .push(&key, &window);
        }
        let mut windows = windows.unwrap_or_else(|| SavedWindows::new(1));
        windows.finish();
        duties.push(DutySnapshot { name, windows });
    }
    let mut counters = Vec::new();
    for _ in 0..r.count()? {
        let name = r.str()?;
        let values = (0..r.count()?)
            .map(|_| Ok::<_, String>((r.str()?, r.u64()?)))
            .collect::<Result<Vec<_>, _>>()?;
        counters.push(CounterSnapshot { name, values });
    }
    Ok(ChainSnapshot {
        family,
        chain,
        identity,
        checkpoint,
        extra,
        duties,
        counters,
    })
}

/// Reads the body: at most the length the header gives, hashing every byte.
struct Reader<R> {
    input: R,
    remaining: u64,
    body: Sha256,
}

impl<R: Read> Reader<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), String> {
        if (buf.len() as u64) > self.remaining {
            return Err("unexpected end of data".into());
        }
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                "truncated".to_string()
            } else {
                format!("read: {e}")
            }
        })?;
        self.remaining -= buf.len() as u64;
        self.body.update(&*buf);
        Ok(())
    }
    fn u8(&mut self) -> Result<u8, String> {
        let mut byte = [0u8; 1];
        self.fill(&mut byte)?;
        Ok(byte[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }
    /// A count of following items; never more than the bytes left could hold.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.u64()?;
        if n > self.remaining {
            return Err(format!("count {n} larger than the data"));
        }
        Ok(n as usize)
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, String> {
        let present = self.u8()?;
        let value = self.u64()?;
        Ok((present == 1).then_some(value))
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.count()?;
        let mut bytes = vec![0u8; n];
        self.fill(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| "invalid UTF-8".to_string())
    }
    fn opt_str(&mut self) -> Result<Option<String>, String> {
        let present = self.u8()?;
        let s = self.str()?;
        Ok((present == 1).then_some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChainSnapshot {
        let mut window = MissWindow::new(100);
        window.record(10, true);
        window.record(13, false);
        ChainSnapshot {
            family: "cosmos".into(),
            chain: "hub".into(),
            identity: Some("cosmoshub-4".into()),
            checkpoint: Some(13),
            extra: serde_json::json!({"set_hash": "ab"}),
            duties: vec![DutySnapshot {
                name: "block".into(),
                windows: {
                    let mut windows = SavedWindows::new(100);
                    windows.push("AB12", &window);
                    windows
                },
            }],
            counters: vec![CounterSnapshot {
                name: "duty_missed,duty=block".into(),
                values: vec![("group:all".into(), 1)],
            }],
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::new(dir.path().join("state"));
        assert!(store.load("cosmos", "hub").expect("no file").is_none());
        store.save(&sample()).expect("save");
        assert_eq!(store.load("cosmos", "hub").expect("load"), Some(sample()));
    }

    #[test]
    fn every_damaged_byte_is_detected() {
        let bytes = encode(&sample());
        let path = Path::new("x.state");
        for index in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[index] ^= 0x40;
            assert!(decode(&damaged, path).is_err(), "byte {index} not detected");
        }
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len], path).is_err(),
                "truncation at {len} not detected"
            );
        }
    }

    #[test]
    fn a_list_shorter_than_announced_is_an_error_not_a_file() {
        let mut encoder =
            SnapshotEncoder::new(Cursor::new(Vec::new()), "f", "c", None, None, &json_null())
                .expect("in memory");
        let mut duties = encoder.begin_list(2).expect("in memory");
        let windows = encoder.duty(&mut duties, "block", 0).expect("in memory");
        encoder.end_list(windows).expect("empty list as announced");
        let error = encoder.end_list(duties).expect_err("one duty of two");
        assert!(error.to_string().contains("announced 2"), "{error}");
    }

    fn json_null() -> serde_json::Value {
        serde_json::Value::Null
    }

    #[test]
    fn a_failed_save_keeps_the_previous_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::new(dir.path());
        store.save(&sample()).expect("save");
        let failed = store.save_with("cosmos", "hub", |_| Err(io::Error::other("disk full")));
        assert!(failed.expect_err("fails").to_string().contains("disk full"));
        assert_eq!(store.load("cosmos", "hub").expect("load"), Some(sample()));
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["cosmos-hub.state"]);
    }

    #[test]
    fn foreign_and_corrupt_files_are_quarantined() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::new(dir.path());
        let mut other = sample();
        other.chain = "osmosis".into();
        store.save(&other).expect("save");
        fs::copy(store.path("cosmos", "osmosis"), store.path("cosmos", "hub")).expect("copy");
        let (snapshot, error) = store.load_or_quarantine("cosmos", "hub");
        assert!(snapshot.is_none());
        assert!(
            matches!(error, Some(StateError::OtherChain { .. })),
            "{error:?}"
        );
        assert!(!store.path("cosmos", "hub").exists());

        fs::write(store.path("cosmos", "hub"), b"garbage").expect("write");
        let (snapshot, error) = store.load_or_quarantine("cosmos", "hub");
        assert!(snapshot.is_none());
        let message = error.expect("error").to_string();
        assert!(
            message.contains("corrupt") && message.contains("hub.state"),
            "{message}"
        );
    }
}
