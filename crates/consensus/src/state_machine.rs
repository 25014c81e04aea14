//! The Raft state machine: applies committed entries to the [`Store`] in batches, and builds,
//! saves and installs snapshots of its tables (written atomically to the data directory when durable).

use crate::type_config::{Entry, LogId, StorageError, TypeConfig};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, BasicNode, EntryPayload, RaftSnapshotBuilder, SnapshotMeta, StorageIOError,
    StoredMembership,
};
use senate_state::{Outcome, Store, Tables};
use serde::{Deserialize, Serialize};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type Membership = StoredMembership<u64, BasicNode>;
type Meta = SnapshotMeta<u64, BasicNode>;

/// A snapshot as kept in memory and on disk.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: Meta,
    data: Vec<u8>,
}

/// Where the current snapshot lives: in a file when durable (read back only when asked for,
/// so a large snapshot does not also sit in memory), otherwise in memory.
#[derive(Clone)]
enum SnapshotSlot {
    Memory(Arc<Mutex<Option<Arc<StoredSnapshot>>>>),
    File(PathBuf),
}

impl SnapshotSlot {
    fn get(&self) -> Result<Option<Arc<StoredSnapshot>>, StorageError> {
        match self {
            SnapshotSlot::Memory(current) => {
                Ok(current.lock().unwrap_or_else(|p| p.into_inner()).clone())
            }
            SnapshotSlot::File(file) if !file.exists() => Ok(None),
            SnapshotSlot::File(file) => {
                let bytes = std::fs::read(file).map_err(|e| snapshot_error(&e))?;
                let snapshot = bincode::deserialize(&bytes).map_err(|e| snapshot_error(&e))?;
                Ok(Some(Arc::new(snapshot)))
            }
        }
    }

    fn save(&self, snapshot: StoredSnapshot) -> Result<Arc<StoredSnapshot>, StorageError> {
        let snapshot = Arc::new(snapshot);
        match self {
            SnapshotSlot::Memory(current) => {
                *current.lock().unwrap_or_else(|p| p.into_inner()) = Some(snapshot.clone());
            }
            SnapshotSlot::File(file) => {
                let bytes = bincode::serialize(&*snapshot).map_err(|e| snapshot_error(&e))?;
                write_atomically(file, &bytes).map_err(|e| snapshot_error(&e))?;
            }
        }
        Ok(snapshot)
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
        let snapshots = match snapshot_file {
            Some(file) => SnapshotSlot::File(file),
            None => SnapshotSlot::Memory(Arc::default()),
        };
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
        let saved = self.snapshots.save(StoredSnapshot { meta, data })?;
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

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
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
