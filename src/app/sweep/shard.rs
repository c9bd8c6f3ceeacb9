//! Which of a sweep's combinations one worker runs, and how a worker learns its place from a
//! cluster scheduler's environment (SLURM job arrays, Kubernetes Indexed Jobs).

use anyhow::{Result, anyhow, bail};

/// Which of a sweep's combinations one worker runs: shard `index` of `count`, counted from 1.
/// Combination `i` (0-based, in the plan's order) belongs to shard `i % count + 1`, so each
/// shard gets a mix of models and data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 {
            bail!("--shard {index}/{count}: the shard count must be at least 1");
        }
        if index == 0 || index > count {
            bail!(
                "--shard {index}/{count}: shards are numbered 1 to {count} (the first is 1/{count})"
            );
        }
        Ok(Self { index, count })
    }

    pub fn owns(&self, position: usize) -> bool {
        position % self.count + 1 == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shard {}/{}", self.index, self.count)
    }
}

/// `--shard`: `I/N`, or `auto` / `auto/N` to read the index (and count) from a cluster
/// scheduler's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    Auto { count: Option<usize> },
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "--shard {text:?} is not a shard: write I/N (1 <= I <= N, e.g. 2/4), `auto` \
                 (SLURM job arrays) or `auto/N` (Kubernetes Indexed Jobs with N completions)"
            )
        };
        let (first, count) = match text.split_once('/') {
            Some((first, count)) => (first, Some(count.parse::<usize>().map_err(|_| usage())?)),
            None => (text, None),
        };
        if first == "auto" {
            return Ok(ShardArg::Auto { count });
        }
        let index = first.parse::<usize>().map_err(|_| usage())?;
        let count = count.ok_or_else(usage)?;
        Shard::new(index, count)
            .map(ShardArg::Fixed)
            .map_err(|e| e.to_string())
    }
}

impl ShardArg {
    /// The shard this worker is, reading `auto` from the environment through `var`.
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let count = match self {
            ShardArg::Fixed(shard) => return Ok(shard),
            ShardArg::Auto { count } => count,
        };
        let number = |name: &str| -> Result<Option<usize>> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| anyhow!("--shard auto: {name}={v:?} is not a whole number"))
                })
                .transpose()
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match count {
                Some(n) => n,
                None => number("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                    anyhow!("--shard auto: SLURM_ARRAY_TASK_COUNT is unset; write --shard auto/N")
                })?,
            };
            let index = id.checked_sub(min).ok_or_else(|| {
                anyhow!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
                )
            })?;
            return Shard::new(index + 1, count).map_err(|_| {
                anyhow!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} with SLURM_ARRAY_TASK_MIN {min} is \
                     task {} of a {count}-task array: submit a contiguous array (--array=1-N, no \
                     step) or write --shard I/N",
                    index + 1
                )
            });
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = count.ok_or_else(|| {
                anyhow!(
                    "--shard auto: Kubernetes does not tell a pod the number of completions; \
                     write --shard auto/N with the Job's completions"
                )
            })?;
            return Shard::new(index + 1, count).map_err(|_| {
                anyhow!(
                    "--shard auto/{count}: JOB_COMPLETION_INDEX {index} is past the {count} \
                     completions: make N in auto/N equal to the Job's completions"
                )
            });
        }
        bail!(
            "--shard auto: neither SLURM_ARRAY_TASK_ID (a SLURM job array) nor \
             JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; outside a scheduler write \
             --shard I/N"
        )
    }
}
