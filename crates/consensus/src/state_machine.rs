//! The Raft state machine: applies committed entries to the [`Store`] in batches, and builds,
//! saves and installs snapshots of its tables (written atomically to the data directory when durable).

use crate::type_config::{
    Entry, LogId, ServerNode, StorageError, TypeConfig, STORAGE_FORMAT_VERSION,
};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, RaftSnapshotBuilder, SnapshotMeta, StorageIOError, StoredMembership,
};
use senate_state::{Outcome, Store, Tables};
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Membership = StoredMembership<u64, ServerNode>;
type Meta = SnapshotMeta<u64, ServerNode>;

/// A snapshot as kept in memory and on disk.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    /// [`STORAGE_FORMAT_VERSION`] of the release that wrote it.
    format: u8,
    meta: Meta,
    data: Vec<u8>,
}

/// Where the current snapshot lives: in a file when durable (read back only when asked for,
/// so a large snapshot does not also sit in memory), otherwise in memory. Saving is serialized
/// and never replaces a snapshot with an older one, so a snapshot being built and one being
/// installed from the leader cannot undo each other.
#[derive(Clone)]
struct SnapshotSlot {
    place: SnapshotPlace,
    /// The last log ID of the snapshot in place, guarded for the compare-and-replace.
    current: Arc<Mutex<Option<LogId>>>,
}

#[derive(Clone)]
enum SnapshotPlace {
    Memory(Arc<Mutex<Option<Arc<StoredSnapshot>>>>),
    File(PathBuf),
}

impl SnapshotSlot {
    fn open(snapshot_file: Option<PathBuf>) -> Self {
        let place = match snapshot_file {
            Some(file) => SnapshotPlace::File(file),
            None => SnapshotPlace::Memory(Arc::default()),
        };
        SnapshotSlot {
            place,
            current: Arc::default(),
        }
    }

    fn get(&self) -> Result<Option<Arc<StoredSnapshot>>, StorageError> {
        match &self.place {
            SnapshotPlace::Memory(current) => Ok(lock(current).clone()),
            SnapshotPlace::File(file) if !file.exists() => Ok(None),
            SnapshotPlace::File(file) => {
                let bytes = std::fs::read(file).map_err(|e| snapshot_error(&e))?;
                let snapshot = decode_snapshot(file, &bytes)?;
                *lock(&self.current) = snapshot.meta.last_log_id;
                Ok(Some(Arc::new(snapshot)))
            }
        }
    }

    /// Keeps `snapshot` unless the one in place already covers at least as much of the log.
    fn save(&self, snapshot: StoredSnapshot) -> Result<Arc<StoredSnapshot>, StorageError> {
        let snapshot = Arc::new(snapshot);
        let mut current = lock(&self.current);
        if current.is_some() && *current >= snapshot.meta.last_log_id {
            return Ok(snapshot);
        }
        match &self.place {
            SnapshotPlace::Memory(slot) => *lock(slot) = Some(snapshot.clone()),
            SnapshotPlace::File(file) => {
                let bytes = bincode::serialize(&*snapshot).map_err(|e| snapshot_error(&e))?;
                write_atomically(file, &bytes).map_err(|e| snapshot_error(&e))?;
            }
        }
        *current = snapshot.meta.last_log_id;
        Ok(snapshot)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn decode_snapshot(file: &Path, bytes: &[u8]) -> Result<StoredSnapshot, StorageError> {
    match bytes.first() {
        Some(&STORAGE_FORMAT_VERSION) => {
            bincode::deserialize(bytes).map_err(|e| snapshot_error(&e))
        }
        Some(version) => Err(snapshot_error(&format!(
            "{} is in storage format {version}; this release reads format {STORAGE_FORMAT_VERSION}",
            file.display()
        ))),
        None => Err(snapshot_error(&format!("{} is empty", file.display()))),
    }
}

/// Applies committed entries to the store.
pub struct StateMachine {
    store: Arc<Store>,
    last_applied: Option<LogId>,
    last_membership: Membership,
    snapshots: SnapshotSlot,
}

impl StateMachine {
    /// A state machine over `store`; with a snapshot file, restores the tables it holds.
    pub fn open(store: Arc<Store>, snapshot_file: Option<PathBuf>) -> Result<Self, StorageError> {
        let snapshots = SnapshotSlot::open(snapshot_file);
        let mut machine = StateMachine {
            store,
            last_applied: None,
            last_membership: Membership::default(),
            snapshots,
        };
        if let Some(snapshot) = machine.snapshots.get()? {
            machine.restore(&snapshot)?;
        }
        Ok(machine)
    }

    /// Replaces the membership the next snapshot records (outage recovery only).
    pub(crate) fn replace_membership(&mut self, membership: Membership) {
        self.last_membership = membership;
    }

    /// Saves a snapshot of the current tables and membership even if one at the same log
    /// position exists (outage recovery changes the membership, not the position).
    pub(crate) async fn save_recovered_snapshot(&mut self) -> Result<(), StorageError> {
        let builder = self.get_snapshot_builder().await;
        let data = builder.tables.encode().map_err(|e| snapshot_error(&e))?;
        *lock(&self.snapshots.current) = None;
        self.snapshots.save(StoredSnapshot {
            format: STORAGE_FORMAT_VERSION,
            meta: Meta {
                last_log_id: self.last_applied,
                last_membership: self.last_membership.clone(),
                snapshot_id: format!("recovered-{}", data.len()),
            },
            data,
        })?;
        Ok(())
    }

    fn restore(&mut self, snapshot: &StoredSnapshot) -> Result<(), StorageError> {
        let tables = Tables::decode(&snapshot.data).map_err(|e| snapshot_error(&e))?;
        self.store.restore(tables);
        self.last_applied = snapshot.meta.last_log_id;
        self.last_membership = snapshot.meta.last_membership.clone();
        Ok(())
    }
}

/// Builds a snapshot from one consistent version of the tables.
pub struct SnapshotBuilder {
    tables: Arc<Tables>,
    last_applied: Option<LogId>,
    last_membership: Membership,
    snapshots: SnapshotSlot,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let data = self.tables.encode().map_err(|e| snapshot_error(&e))?;
        let snapshot_id = match self.last_applied {
            Some(log_id) => format!("{}-{}-{}", log_id.leader_id.term, log_id.index, data.len()),
            None => format!("empty-{}", data.len()),
        };
        let meta = Meta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshot_id,
        };
        let saved = self.snapshots.save(StoredSnapshot {
            format: STORAGE_FORMAT_VERSION,
            meta,
            data,
        })?;
        Ok(to_openraft(&saved))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), StorageError> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut commands = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            let command = match entry.payload {
                EntryPayload::Normal(command) => Some(command),
                EntryPayload::Membership(membership) => {
                    self.last_membership = Membership::new(Some(entry.log_id), membership);
                    None
                }
                EntryPayload::Blank => None,
            };
            commands.push((entry.log_id.index, command));
        }
        Ok(self.store.apply_batch(commands))
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            tables: self.store.snapshot(),
            last_applied: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let stored = StoredSnapshot {
            format: STORAGE_FORMAT_VERSION,
            meta: meta.clone(),
            data: snapshot.into_inner(),
        };
        self.restore(&stored)?;
        self.snapshots.save(stored)?;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.snapshots.get()?.map(|s| to_openraft(&s)))
    }
}

fn to_openraft(snapshot: &StoredSnapshot) -> Snapshot<TypeConfig> {
    Snapshot {
        meta: snapshot.meta.clone(),
        snapshot: Box::new(Cursor::new(snapshot.data.clone())),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a
/// mix; the temporary file's name is unique, so concurrent writers never share one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let unique = WRITES.fetch_add(1, Ordering::Relaxed);
    let partial = path.with_extension(format!("{}-{unique}.partial", std::process::id()));
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn snapshot_error(error: &dyn std::fmt::Display) -> StorageError {
    let error = std::io::Error::other(error.to_string());
    StorageIOError::write_snapshot(None, AnyError::new(&error)).into()
}
