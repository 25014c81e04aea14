//! The Raft log and vote: the newest entries kept in memory for fast reads, all written through to the durable
//! log (redb) when the server has a data directory. Entries are acknowledged to Raft only
//! after the durable log has fsynced them.

use crate::durable_log::{DurableLog, LogWrite, Recovered};
use crate::type_config::{Entry, LogId, StorageError, TypeConfig, STORAGE_FORMAT_VERSION};
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{AnyError, OptionalSend, StorageIOError, Vote};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// How many of the newest entries a durable log keeps in memory; older ones are read from disk.
const CACHED_TAIL: usize = 512;

#[derive(Default)]
struct LogCache {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId>,
}

impl LogCache {
    /// Drops the oldest entries beyond [`CACHED_TAIL`] that are already on disk.
    fn evict_flushed(&mut self, flushed: u64) {
        while self.entries.len() > CACHED_TAIL {
            match self.entries.first_key_value() {
                Some((index, _)) if *index <= flushed => self.entries.pop_first(),
                _ => break,
            };
        }
    }
}

/// The Raft log store; clones share the same log.
#[derive(Clone, Default)]
pub struct LogStore {
    cache: Arc<Mutex<LogCache>>,
    durable: Option<Arc<DurableLog>>,
}

impl LogStore {
    /// A log that lives only in memory (dev mode).
    pub fn in_memory() -> Self {
        LogStore::default()
    }

    /// A log written through to `durable`, starting from what it recovered.
    pub fn durable(durable: DurableLog, recovered: Recovered) -> Result<Self, StorageError> {
        let mut cache = LogCache {
            vote: recovered.vote.as_deref().map(decode).transpose()?,
            committed: recovered.committed.as_deref().map(decode).transpose()?,
            last_purged: recovered.last_purged.as_deref().map(decode).transpose()?,
            ..LogCache::default()
        };
        let purged_up_to = cache.last_purged.map(|log_id: LogId| log_id.index);
        for (index, bytes) in recovered.entries {
            if purged_up_to.is_none_or(|purged| index > purged) {
                cache.entries.insert(index, decode(&bytes)?);
            }
        }
        Ok(LogStore {
            cache: Arc::new(Mutex::new(cache)),
            durable: Some(Arc::new(durable)),
        })
    }

    fn cache(&self) -> MutexGuard<'_, LogCache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends a write to the durable log and waits until it is on disk (no-op in memory).
    async fn write_and_wait(
        &self,
        build: impl FnOnce(oneshot::Sender<std::io::Result<()>>) -> LogWrite,
    ) -> Result<(), StorageError> {
        let Some(durable) = &self.durable else {
            return Ok(());
        };
        let (done, flushed) = oneshot::channel();
        durable.submit(build(done)).map_err(write_error)?;
        flushed.await.map_err(write_error)?.map_err(write_error)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = index_bounds(&range);
        let (first_cached, cached): (Option<u64>, Vec<Entry>) = {
            let cache = self.cache();
            let cached = cache.entries.range(range).map(|(_, e)| e.clone()).collect();
            (cache.entries.keys().next().copied(), cached)
        };
        let Some(durable) = &self.durable else {
            return Ok(cached);
        };
        let evicted_end = first_cached.unwrap_or(end).min(end);
        if start >= evicted_end {
            return Ok(cached);
        }
        let mut entries = durable
            .read(start, evicted_end)
            .map_err(|e| StorageIOError::read_logs(AnyError::new(&e)))?
            .iter()
            .map(|(_, bytes)| decode(bytes))
            .collect::<Result<Vec<Entry>, _>>()?;
        entries.extend(cached);
        Ok(entries)
    }
}

/// A range of log indexes as `[start, end)`.
fn index_bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(i) => i.saturating_add(1),
        Bound::Excluded(i) => *i,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let cache = self.cache();
        let last_log_id = cache
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(cache.last_purged);
        Ok(LogState {
            last_purged_log_id: cache.last_purged,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let bytes = encode(vote)?;
        self.write_and_wait(|done| LogWrite::SaveVote { vote: bytes, done })
            .await?;
        self.cache().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        Ok(self.cache().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.cache().committed = committed;
        if let (Some(durable), Some(log_id)) = (&self.durable, committed) {
            durable
                .submit(LogWrite::SaveCommitted {
                    committed: encode(&log_id)?,
                })
                .map_err(write_error)?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.cache().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let encoded = match &self.durable {
            Some(_) => entries
                .iter()
                .map(|e| Ok((e.log_id.index, encode(e)?)))
                .collect::<Result<Vec<_>, StorageError>>()?,
            None => Vec::new(),
        };
        {
            let mut cache = self.cache();
            for entry in entries {
                cache.entries.insert(entry.log_id.index, entry);
            }
            if let Some(durable) = &self.durable {
                cache.evict_flushed(durable.flushed());
            }
        }
        match &self.durable {
            Some(durable) => durable
                .submit(LogWrite::Append {
                    entries: encoded,
                    flushed: callback,
                })
                .map_err(write_error)?,
            None => callback.log_io_completed(Ok(())),
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.cache().entries.split_off(&log_id.index);
        self.write_and_wait(|done| LogWrite::Truncate {
            from: log_id.index,
            done,
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut cache = self.cache();
            let kept = cache.entries.split_off(&(log_id.index + 1));
            cache.entries = kept;
            cache.last_purged = Some(log_id);
        }
        let last_purged = encode(&log_id)?;
        self.write_and_wait(|done| LogWrite::Purge {
            up_to: log_id.index,
            last_purged,
            done,
        })
        .await
    }
}

/// Encodes a stored value: the storage format version, then the value.
fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    let mut bytes = vec![STORAGE_FORMAT_VERSION];
    bincode::serialize_into(&mut bytes, value).map_err(write_error)?;
    Ok(bytes)
}

/// Decodes what [`encode`] wrote, refusing a format this release does not know.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    let read_error = |reason: String| -> StorageError {
        StorageIOError::read_logs(AnyError::new(&std::io::Error::other(reason))).into()
    };
    match bytes.split_first() {
        Some((&STORAGE_FORMAT_VERSION, value)) => {
            bincode::deserialize(value).map_err(|e| read_error(e.to_string()))
        }
        Some((version, _)) => Err(read_error(format!(
            "the Raft log holds an entry in storage format {version}; this release reads format {STORAGE_FORMAT_VERSION}"
        ))),
        None => Err(read_error("the Raft log holds an empty record".into())),
    }
}

fn write_error(error: impl std::fmt::Display) -> StorageError {
    let error = std::io::Error::other(error.to_string());
    StorageIOError::write_logs(AnyError::new(&error)).into()
}
