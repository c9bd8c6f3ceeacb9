//! A checkpoint: everything an interrupted run needs to continue exactly where it stopped,
//! kept in one file so that it is either whole or absent.

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::core::metrics::EpochMetrics;
use crate::store::{CHECKPOINT_FILE, RunDir};

/// Everything needed to continue an interrupted run exactly where it stopped. The shuffling
/// needs no state of its own: each epoch's order follows from the seed and the epoch.
#[derive(Clone)]
pub struct Checkpoint {
    /// The epoch in progress (1-based) and the next step to take in it.
    pub epoch: usize,
    pub step: usize,
    /// The epoch's running sums so far.
    pub loss_sum: f32,
    pub correct: i64,
    pub history: Vec<EpochMetrics>,
    pub train_seconds: f64,
    /// Layer widths, input to output.
    pub layers: Vec<usize>,
    /// Burnpack bytes of the model and of the optimiser state.
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
}

const CHECKPOINT_MAGIC: &[u8; 8] = b"WSCKPT1\n";

#[derive(Serialize, Deserialize)]
struct CheckpointHeader {
    epoch: usize,
    step: usize,
    loss_sum: f32,
    correct: i64,
    history: Vec<EpochMetrics>,
    train_seconds: f64,
    layers: Vec<usize>,
}

impl Checkpoint {
    /// Saves an interrupted run's state as one file, so a checkpoint is either whole or absent.
    pub(crate) fn save(&self, dir: &RunDir) -> Result<()> {
        let cp = self;
        let header = serde_json::to_vec(&CheckpointHeader {
            epoch: cp.epoch,
            step: cp.step,
            loss_sum: cp.loss_sum,
            correct: cp.correct,
            history: cp.history.clone(),
            train_seconds: cp.train_seconds,
            layers: cp.layers.clone(),
        })?;
        let mut out = CHECKPOINT_MAGIC.to_vec();
        for part in [&header, &cp.model, &cp.optimizer] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        dir.write(CHECKPOINT_FILE, &out)
    }

    pub fn load(dir: &RunDir) -> Result<Checkpoint> {
        let path = dir.file(CHECKPOINT_FILE);
        let bytes = std::fs::read(&path).map_err(|e| {
            anyhow!(
                "no checkpoint to resume in {} ({e}): only an interrupted run can be resumed",
                dir.path().display()
            )
        })?;
        let damaged = || anyhow!("{} is damaged: start the run again", path.display());
        let rest = bytes.strip_prefix(CHECKPOINT_MAGIC).ok_or_else(damaged)?;
        let mut parts = Vec::new();
        let mut rest = rest;
        for _ in 0..3 {
            let (len, tail) = rest.split_at_checked(8).ok_or_else(damaged)?;
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
            let (part, tail) = tail.split_at_checked(len).ok_or_else(damaged)?;
            parts.push(part.to_vec());
            rest = tail;
        }
        let header: CheckpointHeader = serde_json::from_slice(&parts[0]).map_err(|_| damaged())?;
        Ok(Checkpoint {
            epoch: header.epoch,
            step: header.step,
            loss_sum: header.loss_sum,
            correct: header.correct,
            history: header.history,
            train_seconds: header.train_seconds,
            layers: header.layers,
            model: parts[1].clone(),
            optimizer: parts[2].clone(),
        })
    }

    pub fn remove(dir: &RunDir) -> Result<()> {
        match std::fs::remove_file(dir.file(CHECKPOINT_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow!("cannot remove the finished run's checkpoint: {e}"))
            }
            _ => Ok(()),
        }
    }
}
