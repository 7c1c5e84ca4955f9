//! Keeping the world across restarts. With `state_path` set, the world and the clock's
//! offset are read from that file when the sandbox starts and written back after every
//! change, so a restarted `serve` still knows the members, grants and tokens Apostle's
//! connections use.
//!
//! Writes are debounced on a thread of their own: a change marks the world dirty, and the
//! thread writes one snapshot for a burst of changes. The snapshot is serialized under the
//! world lock (memory only) and written outside it, to a temporary file renamed over the
//! old one, so a crash leaves either the old state or the new, never half of one. Dropping
//! the last [`crate::Sandbox`] handle, or calling [`crate::Sandbox::save`], flushes; writers
//! take turns, so the last snapshot taken is the last written.
//!
//! A file that cannot be read or parsed is set aside as `{name}.corrupt` and the sandbox
//! starts fresh, with a warning in the log; if it cannot be set aside, the sandbox keeps
//! its state in memory only for this run rather than write over something it could not read.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::state::World;

/// How long a burst of changes may last before it is written: long enough to fold a burst
/// of requests into one write, short enough that a killed process loses little.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The state file's format; a file of another version is set aside like a corrupt one.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct SnapshotRef<'a> {
    version: u32,
    clock_offset_ms: Millis,
    world: &'a World,
}

#[derive(Deserialize)]
struct Snapshot {
    version: u32,
    clock_offset_ms: Millis,
    world: World,
}

/// Why the state could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not write the sandbox state to {}: {source}", path.display())]
pub struct SaveError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// What a start found on disk.
pub(crate) enum Loaded {
    /// A saved world and the clock offset it had.
    World(Box<World>, Millis),
    /// Nothing usable: start fresh and save there.
    Fresh,
    /// Something unreadable that could not be set aside: start fresh, save nothing.
    Unwritable,
}

/// Reads the state at `path`.
pub(crate) fn load(path: &Path) -> Loaded {
    let problem = match fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(snapshot) if snapshot.version == VERSION => {
                return Loaded::World(Box::new(snapshot.world), snapshot.clock_offset_ms)
            }
            Ok(snapshot) => format!("unknown version {}", snapshot.version),
            Err(error) => error.to_string(),
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Loaded::Fresh,
        Err(error) => error.to_string(),
    };
    let aside = aside_path(path);
    match fs::rename(path, &aside) {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                set_aside = %aside.display(),
                %problem,
                "sandbox: the state file is unusable; it was set aside and the sandbox starts fresh"
            );
            Loaded::Fresh
        }
        Err(error) => {
            tracing::error!(
                path = %path.display(),
                %problem,
                %error,
                "sandbox: the state file is unusable and could not be set aside; \
                 this run keeps its state in memory only"
            );
            Loaded::Unwritable
        }
    }
}

fn aside_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".corrupt");
    path.with_file_name(name)
}

/// The state file, and the bookkeeping of the thread that writes it.
pub(crate) struct Store {
    path: PathBuf,
    flags: Mutex<Flags>,
    wake: Condvar,
    /// Serializes writers, so snapshots reach the disk in the order they were taken.
    writing: Mutex<()>,
}

#[derive(Default)]
struct Flags {
    dirty: bool,
    stopped: bool,
}

impl Store {
    pub(crate) fn new(path: PathBuf) -> Arc<Store> {
        Arc::new(Store {
            path,
            flags: Mutex::default(),
            wake: Condvar::new(),
            writing: Mutex::new(()),
        })
    }

    fn flags(&self) -> MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something changed: the writer thread will save soon.
    pub(crate) fn mark_dirty(&self) {
        self.flags().dirty = true;
        self.wake.notify_one();
    }

    /// Ends the writer thread (after the owner's final save).
    pub(crate) fn stop(&self) {
        self.flags().stopped = true;
        self.wake.notify_one();
    }

    /// Writes a snapshot of `world` at `clock_offset_ms`, taken under the world lock and
    /// written outside it.
    pub(crate) fn save(
        &self,
        world: &Mutex<World>,
        clock_offset: impl Fn() -> Millis,
    ) -> Result<(), SaveError> {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        // Cleared before the snapshot: a change made while it is written marks it again.
        self.flags().dirty = false;
        let bytes = {
            let world = world.lock().unwrap_or_else(|p| p.into_inner());
            serde_json::to_vec(&SnapshotRef {
                version: VERSION,
                clock_offset_ms: clock_offset(),
                world: &world,
            })
        }
        .map_err(|e| self.error(io::Error::other(e)))?;
        write_atomically(&self.path, &bytes).map_err(|e| self.error(e))
    }

    fn error(&self, source: io::Error) -> SaveError {
        SaveError {
            path: self.path.clone(),
            source,
        }
    }

    /// Waits for a change, then for the burst to settle; `false` once stopped.
    fn wait_for_change(&self) -> bool {
        let mut flags = self.flags();
        while !flags.dirty && !flags.stopped {
            flags = self.wake.wait(flags).unwrap_or_else(|p| p.into_inner());
        }
        if flags.stopped {
            return false;
        }
        drop(flags);
        thread::sleep(DEBOUNCE);
        // Stopped meanwhile: the owner writes the last state itself.
        !self.flags().stopped
    }
}

/// Starts the thread that runs `save` after each burst of changes, until `store` is
/// stopped (the owner's `Drop` stops it and writes the last changes itself).
pub(crate) fn spawn_writer(
    store: Arc<Store>,
    save: impl Fn() -> Result<(), SaveError> + Send + 'static,
) {
    let spawned = thread::Builder::new()
        .name("sandbox-state".to_owned())
        .spawn(move || {
            while store.wait_for_change() {
                if let Err(error) = save() {
                    tracing::warn!(%error, "sandbox: saving the state failed; the next change retries");
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "sandbox: could not start the state writer; only explicit saves write the state");
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // The file names every member and grant of the sandbox: readable by its owner only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)
}
