//! A worker's claim on a folder, so that sweep shards sharing one folder, on one machine or
//! on a cluster's shared file system, do not train the same run at the same time.
//!
//! Only operations that stay atomic on NFS-like file systems are used: a claim is a folder
//! holding `owner.json`, prepared under a temporary name and renamed into place. Renaming onto
//! an existing non-empty folder fails, so of two workers only one gets the claim. A claim whose
//! owner has died is taken over: on the same host when its process is gone, elsewhere when its
//! heartbeat (rewritten every minute) is older than [`STALE_AFTER`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::store::write_atomic;

/// The folder inside a claimed folder.
pub(crate) const CLAIM_DIR: &str = ".claim";
const OWNER_FILE: &str = "owner.json";
/// How often a live owner proves it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);
/// A claim whose heartbeat is this old belongs to a dead worker, wherever it ran.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// Who holds a claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Owner {
    pub host: String,
    pub pid: u32,
    /// What the worker calls itself, e.g. `shard 2/4`.
    pub worker: String,
    /// Tells two claims apart even when host and pid repeat.
    pub token: String,
    /// Seconds since the Unix epoch at the last heartbeat.
    pub heartbeat: u64,
}

impl Owner {
    fn new(worker: &str) -> Self {
        Self {
            host: hostname(),
            pid: std::process::id(),
            worker: worker.into(),
            token: format!("{:016x}", rand::random::<u64>()),
            heartbeat: now(),
        }
    }

    /// Whether the worker behind this claim may still be running.
    fn may_be_alive(&self) -> bool {
        let fresh = now().saturating_sub(self.heartbeat) < STALE_AFTER.as_secs();
        if self.host == hostname() {
            // Our own process id on a claim we did not make is an earlier life of this worker,
            // e.g. a restarted container whose program is again process 1.
            fresh && self.pid != std::process::id() && process_exists(self.pid)
        } else {
            fresh
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {} on {})", self.worker, self.pid, self.host)
    }
}

/// What trying to claim a folder gave.
pub(crate) enum Attempt {
    Claimed(Claim),
    /// A live worker holds it.
    HeldBy(Owner),
}

/// A held claim; it keeps its heartbeat going until released or dropped.
pub(crate) struct Claim {
    dir: PathBuf,
    owner: Arc<Mutex<Owner>>,
    stop: Arc<AtomicBool>,
    heartbeat: Option<JoinHandle<()>>,
}

/// Claims `folder` (created if needed) for `worker`, taking over a dead worker's claim.
pub(crate) fn try_claim(folder: &Path, worker: &str) -> Result<Attempt> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let dir = folder.join(CLAIM_DIR);
    // A few rounds: each lost race means someone else changed the claim meanwhile.
    for _ in 0..5 {
        let owner = Owner::new(worker);
        if place(folder, &dir, &owner)? {
            return Ok(Attempt::Claimed(Claim::start(dir, owner)));
        }
        let Some(holder) = read_owner(&dir) else {
            // Released or being taken over between our rename and our read: try again.
            continue;
        };
        if holder.may_be_alive() {
            return Ok(Attempt::HeldBy(holder));
        }
        take_over(folder, &dir, &holder)?;
    }
    anyhow::bail!(
        "cannot claim {}: other workers keep changing its claim; run this shard again",
        folder.display()
    )
}

/// Prepares the claim under a temporary name and renames it into place; false when a claim
/// is already there.
fn place(folder: &Path, dir: &Path, owner: &Owner) -> Result<bool> {
    let staging = folder.join(format!(".tmp-claim-{}", owner.token));
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    write_owner(&staging, owner)?;
    match std::fs::rename(&staging, dir) {
        Ok(()) => Ok(true),
        Err(_) if dir.exists() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e).with_context(|| format!("cannot claim {}", folder.display()))
        }
    }
}

/// Moves a dead worker's claim out of the way. Only one of several workers renaming the same
/// claim succeeds; if what it moved turns out to be a newer, live claim, it puts it back.
fn take_over(folder: &Path, dir: &Path, dead: &Owner) -> Result<()> {
    let tomb = folder.join(format!(".tmp-stale-{}", dead.token));
    if std::fs::rename(dir, &tomb).is_err() {
        return Ok(());
    }
    match read_owner(&tomb) {
        Some(moved) if moved.token != dead.token => {
            let _ = std::fs::rename(&tomb, dir);
        }
        _ => {
            let _ = std::fs::remove_dir_all(&tomb);
        }
    }
    Ok(())
}

fn read_owner(dir: &Path) -> Option<Owner> {
    let text = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_owner(dir: &Path, owner: &Owner) -> Result<()> {
    let text = serde_json::to_string_pretty(owner).context("serialising a claim")?;
    write_atomic(&dir.join(OWNER_FILE), text.as_bytes())
}

impl Claim {
    fn start(dir: PathBuf, owner: Owner) -> Self {
        let owner = Arc::new(Mutex::new(owner));
        let stop = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let (dir, owner, stop) = (dir.clone(), owner.clone(), stop.clone());
            std::thread::spawn(move || {
                let tick = Duration::from_millis(200);
                let mut waited = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited >= HEARTBEAT_EVERY {
                        waited = Duration::ZERO;
                        let mut o = owner.lock().expect("the heartbeat lock is never poisoned");
                        o.heartbeat = now();
                        // A failed heartbeat only makes the claim look older to others.
                        let _ = write_owner(&dir, &o);
                    }
                }
            })
        };
        Self {
            dir,
            owner,
            stop,
            heartbeat: Some(heartbeat),
        }
    }

    /// Whether the claim is still this worker's: false when another worker took it over,
    /// which means the folder may have been written by both.
    pub(crate) fn still_held(&self) -> bool {
        let token = self.owner.lock().expect("never poisoned").token.clone();
        read_owner(&self.dir).is_some_and(|o| o.token == token)
    }

    /// Gives the claim up, if it is still this worker's.
    pub(crate) fn release(mut self) {
        self.stop_heartbeat();
        if self.still_held() {
            let token = self.owner.lock().expect("never poisoned").token.clone();
            let parent = self.dir.parent().unwrap_or(Path::new("."));
            let gone = parent.join(format!(".tmp-released-{token}"));
            if std::fs::rename(&self.dir, &gone).is_ok() {
                let _ = std::fs::remove_dir_all(&gone);
            }
        }
    }

    fn stop_heartbeat(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.heartbeat.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at most that much.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// Whether a process with this id exists on this host (possibly another user's).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
