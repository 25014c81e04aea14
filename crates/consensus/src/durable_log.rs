//! The redb writer thread: drains every queued log write, commits them in one transaction
//! (one fsync), and only then acknowledges each of them. This is the group commit that lets
//! many concurrent writes share a disk flush without any being acknowledged early.
//!
//! Entries live in tables of [`SEGMENT_LEN`] consecutive indexes, so purging the log after a
//! snapshot drops whole tables instead of deleting thousands of rows while appends wait.

use crate::type_config::TypeConfig;
use openraft::storage::LogFlushed;
use redb::{Database, Durability, ReadableTable, TableDefinition, TableHandle, WriteTransaction};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// How many consecutive log indexes one segment table holds.
const SEGMENT_LEN: u64 = 4096;
const SEGMENT_PREFIX: &str = "raft_log_";
const META_TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const VOTE_KEY: &str = "vote";
const COMMITTED_KEY: &str = "committed";
const LAST_PURGED_KEY: &str = "last_purged";
/// redb's page cache; the log is read back only at start-up, so a small cache suffices.
const REDB_CACHE_BYTES: usize = 4 * 1024 * 1024;
/// The most writes folded into one transaction.
const MAX_BATCH: usize = 4096;

/// One write to the durable log, acknowledged once it is on disk.
pub enum LogWrite {
    Append {
        entries: Vec<(u64, Vec<u8>)>,
        flushed: LogFlushed<TypeConfig>,
    },
    SaveVote {
        vote: Vec<u8>,
        done: oneshot::Sender<io::Result<()>>,
    },
    SaveCommitted {
        committed: Vec<u8>,
    },
    Truncate {
        from: u64,
        done: oneshot::Sender<io::Result<()>>,
    },
    Purge {
        up_to: u64,
        last_purged: Vec<u8>,
        done: oneshot::Sender<io::Result<()>>,
    },
}

/// What the log held on disk when it was opened.
#[derive(Default)]
pub struct Recovered {
    pub entries: Vec<(u64, Vec<u8>)>,
    pub vote: Option<Vec<u8>>,
    pub committed: Option<Vec<u8>>,
    pub last_purged: Option<Vec<u8>>,
}

/// Why the durable log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum DurableLogError {
    #[error("opening the Raft log at {path}: {source}")]
    Open { path: String, source: redb::Error },
    #[error("reading the Raft log: {0}")]
    Read(#[from] redb::Error),
    #[error("the Raft log writer has stopped")]
    WriterGone,
}

/// A handle to the writer thread, and to the database for reading back old entries.
pub struct DurableLog {
    queue: mpsc::Sender<LogWrite>,
    database: Arc<Database>,
    /// The highest log index known to be on disk (0: none yet).
    flushed: Arc<AtomicU64>,
}

impl DurableLog {
    /// Opens (or creates) the log at `path`, reads back what it holds, and starts the writer.
    pub fn open(path: &Path) -> Result<(Self, Recovered), DurableLogError> {
        let database = Database::builder()
            .set_cache_size(REDB_CACHE_BYTES)
            .create(path)
            .map_err(|e| DurableLogError::Open {
                path: path.display().to_string(),
                source: e.into(),
            })?;
        create_tables(&database)?;
        let recovered = recover(&database)?;
        let last_on_disk = recovered
            .entries
            .last()
            .map(|(index, _)| *index)
            .unwrap_or(0);
        let database = Arc::new(database);
        let flushed = Arc::new(AtomicU64::new(last_on_disk));
        let (queue, writes) = mpsc::channel();
        let writer = Writer {
            database: database.clone(),
            flushed: flushed.clone(),
        };
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer.run(writes))
            .map_err(|e| DurableLogError::Read(redb::Error::Io(e)))?;
        Ok((
            DurableLog {
                queue,
                database,
                flushed,
            },
            recovered,
        ))
    }

    /// The highest log index known to be on disk.
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Reads the entries with indexes in `[start, end)` back from disk.
    pub fn read(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, redb::Error> {
        let txn = self.database.begin_read()?;
        let mut entries = Vec::new();
        if start >= end {
            return Ok(entries);
        }
        for segment in segment_of(start)..=segment_of(end - 1) {
            let name = segment_name(segment);
            let log = match txn.open_table(segment_table(&name)) {
                Ok(log) => log,
                Err(redb::TableError::TableDoesNotExist(_)) => continue,
                Err(error) => return Err(error.into()),
            };
            for row in log.range(start..end)? {
                let (index, bytes) = row?;
                entries.push((index.value(), bytes.value().to_vec()));
            }
        }
        Ok(entries)
    }

    /// Queues a write; its acknowledgement comes through the write's own callback or channel.
    pub fn submit(&self, write: LogWrite) -> Result<(), DurableLogError> {
        self.queue
            .send(write)
            .map_err(|_| DurableLogError::WriterGone)
    }
}

fn segment_of(index: u64) -> u64 {
    index / SEGMENT_LEN
}

fn segment_name(segment: u64) -> String {
    format!("{SEGMENT_PREFIX}{segment:016x}")
}

fn segment_table(name: &str) -> TableDefinition<'_, u64, &'static [u8]> {
    TableDefinition::new(name)
}

/// The segment numbers of every log table, in order.
fn segments(names: impl Iterator<Item = String>) -> Vec<u64> {
    let mut found: Vec<u64> = names
        .filter_map(|name| u64::from_str_radix(name.strip_prefix(SEGMENT_PREFIX)?, 16).ok())
        .collect();
    found.sort_unstable();
    found
}

fn create_tables(database: &Database) -> Result<(), redb::Error> {
    let txn = database.begin_write()?;
    txn.open_table(META_TABLE)?;
    txn.commit()?;
    Ok(())
}

/// Reads back every entry still on disk; the caller skips those at or below the last purge
/// (a purge drops only whole segments, so the oldest segment may hold a few purged entries).
fn recover(database: &Database) -> Result<Recovered, redb::Error> {
    let txn = database.begin_read()?;
    let mut entries = Vec::new();
    for segment in segments(txn.list_tables()?.map(|t| t.name().to_string())) {
        let name = segment_name(segment);
        let log = txn.open_table(segment_table(&name))?;
        for row in log.iter()? {
            let (index, bytes) = row?;
            entries.push((index.value(), bytes.value().to_vec()));
        }
    }
    let meta = txn.open_table(META_TABLE)?;
    let read_meta = |key: &str| -> Result<Option<Vec<u8>>, redb::Error> {
        Ok(meta.get(key)?.map(|value| value.value().to_vec()))
    };
    Ok(Recovered {
        entries,
        vote: read_meta(VOTE_KEY)?,
        committed: read_meta(COMMITTED_KEY)?,
        last_purged: read_meta(LAST_PURGED_KEY)?,
    })
}

/// The writer thread's side: the database and the flushed-index mark it advances.
struct Writer {
    database: Arc<Database>,
    flushed: Arc<AtomicU64>,
}

impl Writer {
    fn run(self, writes: mpsc::Receiver<LogWrite>) {
        while let Ok(first) = writes.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match writes.try_recv() {
                    Ok(write) => batch.push(write),
                    Err(_) => break,
                }
            }
            let result = commit_batch(&self.database, &batch).map_err(|e| e.to_string());
            match &result {
                Ok(()) => self.advance_flushed(&batch),
                Err(reason) => tracing::error!(%reason, "writing the Raft log failed"),
            }
            for write in batch {
                acknowledge(write, &result);
            }
        }
    }

    /// Moves the flushed mark to the last entry the committed batch appended (or back, on truncation).
    fn advance_flushed(&self, batch: &[LogWrite]) {
        for write in batch {
            match write {
                LogWrite::Append { entries, .. } => {
                    if let Some((index, _)) = entries.last() {
                        self.flushed.store(*index, Ordering::Release);
                    }
                }
                LogWrite::Truncate { from, .. } => {
                    self.flushed
                        .store(from.saturating_sub(1), Ordering::Release);
                }
                _ => {}
            }
        }
    }
}

fn commit_batch(database: &Database, batch: &[LogWrite]) -> Result<(), redb::Error> {
    let mut txn = database.begin_write()?;
    if batch
        .iter()
        .all(|write| matches!(write, LogWrite::SaveCommitted { .. }))
    {
        // The commit index may lag on disk (openraft re-derives it), so saving only that is not
        // worth an fsync that the next append would queue behind; the next durable commit
        // persists it.
        txn.set_durability(Durability::None);
    }
    for write in batch {
        match write {
            LogWrite::Append { entries, .. } => append(&txn, entries)?,
            LogWrite::SaveVote { vote, .. } => save_meta(&txn, VOTE_KEY, vote)?,
            LogWrite::SaveCommitted { committed } => save_meta(&txn, COMMITTED_KEY, committed)?,
            LogWrite::Truncate { from, .. } => truncate(&txn, *from)?,
            LogWrite::Purge {
                up_to, last_purged, ..
            } => {
                drop_segments_up_to(&txn, *up_to)?;
                save_meta(&txn, LAST_PURGED_KEY, last_purged)?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}

fn save_meta(txn: &WriteTransaction, key: &str, value: &[u8]) -> Result<(), redb::Error> {
    txn.open_table(META_TABLE)?.insert(key, value)?;
    Ok(())
}

fn append(txn: &WriteTransaction, entries: &[(u64, Vec<u8>)]) -> Result<(), redb::Error> {
    for run in entries.chunk_by(|(a, _), (b, _)| segment_of(*a) == segment_of(*b)) {
        let name = segment_name(segment_of(run[0].0));
        let mut log = txn.open_table(segment_table(&name))?;
        for (index, bytes) in run {
            log.insert(*index, bytes.as_slice())?;
        }
    }
    Ok(())
}

/// Removes the entries from `from` on: the tail of its segment, and every later segment.
fn truncate(txn: &WriteTransaction, from: u64) -> Result<(), redb::Error> {
    for segment in segments(txn.list_tables()?.map(|t| t.name().to_string())) {
        let name = segment_name(segment);
        if segment > segment_of(from) {
            txn.delete_table(segment_table(&name))?;
        } else if segment == segment_of(from) {
            txn.open_table(segment_table(&name))?
                .retain_in(from.., |_, _| false)?;
        }
    }
    Ok(())
}

/// Drops every segment whose entries are all at or below `up_to`.
fn drop_segments_up_to(txn: &WriteTransaction, up_to: u64) -> Result<(), redb::Error> {
    for segment in segments(txn.list_tables()?.map(|t| t.name().to_string())) {
        if (segment + 1) * SEGMENT_LEN - 1 <= up_to {
            txn.delete_table(segment_table(&segment_name(segment)))?;
        }
    }
    Ok(())
}

fn acknowledge(write: LogWrite, result: &Result<(), String>) {
    let outcome = || result.clone().map_err(io::Error::other);
    match write {
        LogWrite::Append { flushed, .. } => flushed.log_io_completed(outcome()),
        LogWrite::SaveVote { done, .. }
        | LogWrite::Truncate { done, .. }
        | LogWrite::Purge { done, .. } => {
            let _receiver_may_be_gone = done.send(outcome());
        }
        LogWrite::SaveCommitted { .. } => {}
    }
}
