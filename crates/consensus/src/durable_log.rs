//! The redb writer thread: drains every queued log write, commits them in one transaction
//! (one fsync), and only then acknowledges each of them. This is the group commit that lets
//! many concurrent writes share a disk flush without any being acknowledged early.

use crate::type_config::TypeConfig;
use openraft::storage::LogFlushed;
use redb::{Database, ReadableTable, TableDefinition};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

const LOG_TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
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
        let log = txn.open_table(LOG_TABLE)?;
        let mut entries = Vec::new();
        for row in log.range(start..end)? {
            let (index, bytes) = row?;
            entries.push((index.value(), bytes.value().to_vec()));
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

fn create_tables(database: &Database) -> Result<(), redb::Error> {
    let txn = database.begin_write()?;
    txn.open_table(LOG_TABLE)?;
    txn.open_table(META_TABLE)?;
    txn.commit()?;
    Ok(())
}

fn recover(database: &Database) -> Result<Recovered, redb::Error> {
    let txn = database.begin_read()?;
    let log = txn.open_table(LOG_TABLE)?;
    let mut entries = Vec::new();
    for row in log.iter()? {
        let (index, bytes) = row?;
        entries.push((index.value(), bytes.value().to_vec()));
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
    let txn = database.begin_write()?;
    {
        let mut log = txn.open_table(LOG_TABLE)?;
        let mut meta = txn.open_table(META_TABLE)?;
        for write in batch {
            match write {
                LogWrite::Append { entries, .. } => {
                    for (index, bytes) in entries {
                        log.insert(*index, bytes.as_slice())?;
                    }
                }
                LogWrite::SaveVote { vote, .. } => {
                    meta.insert(VOTE_KEY, vote.as_slice())?;
                }
                LogWrite::SaveCommitted { committed } => {
                    meta.insert(COMMITTED_KEY, committed.as_slice())?;
                }
                LogWrite::Truncate { from, .. } => {
                    log.retain_in(*from.., |_, _| false)?;
                }
                LogWrite::Purge {
                    up_to, last_purged, ..
                } => {
                    log.retain_in(..=*up_to, |_, _| false)?;
                    meta.insert(LAST_PURGED_KEY, last_purged.as_slice())?;
                }
            }
        }
    }
    txn.commit()?;
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
