//! The cluster path on a real SLURM: the two job scripts of `docs/cluster/`, submitted with
//! the exact line `docs/cluster.md` gives, on a small sweep, end with the summary a single
//! process makes. `.ci/slurm-up.sh` brings up a one-node cluster, so CI requires this test.
//! Elsewhere it submits jobs only when `WEIGHTSCOPE_SLURM_TEST` is set, so that `cargo test`
//! on a real cluster's login node never queues jobs unasked.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::required_or_skip;
use crate::sweep::{small_sweep, summary_numbers, sweep_output};

/// The submit line of `docs/cluster.md`.
fn documented_submit_line() -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cluster.md");
    std::fs::read_to_string(doc)
        .unwrap()
        .lines()
        .find(|l| l.contains("sbatch --parsable docs/cluster/sweep.sbatch"))
        .expect("docs/cluster.md gives the submit line")
        .trim()
        .to_string()
}

/// Whether a SLURM controller answers with a node that can take jobs.
fn cluster_answers() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| {
            let states = String::from_utf8_lossy(&o.stdout);
            o.status.success()
                && ["idle", "mixed", "alloc"]
                    .iter()
                    .any(|s| states.contains(s))
        })
}

/// Waits until job `id` has left the queue; the limit only guards against a hung cluster.
fn wait_for(id: &str) {
    let started = Instant::now();
    loop {
        let queued = Command::new("squeue")
            .args(["-h", "-j", id])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&queued.stdout).trim().is_empty() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45 * 60),
            "job {id} still queued after 45 minutes"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn the_documented_job_scripts_run_a_sweep_on_slurm() {
    let asked =
        std::env::var_os("CI").is_some() || std::env::var_os("WEIGHTSCOPE_SLURM_TEST").is_some();
    if !asked {
        eprintln!("skipped: set WEIGHTSCOPE_SLURM_TEST=1 to submit jobs to this machine's SLURM");
        return;
    }
    if !required_or_skip(cluster_answers(), "a SLURM cluster (bash .ci/slurm-up.sh)") {
        return;
    }
    let ws = small_sweep();
    let root = ws.path();
    let scripts = root.join("docs/cluster");
    std::fs::create_dir_all(&scripts).unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    for script in ["sweep.sbatch", "summarize.sbatch"] {
        std::fs::copy(
            project.join("docs/cluster").join(script),
            scripts.join(script),
        )
        .unwrap();
    }
    sweep_output(root, "single", &[]);
    // The documented line as it stands, with the scripts' own overrides: this binary, the
    // small sweep, and memory and time that fit any CI machine.
    let submitted = Command::new("bash")
        .args(["-c", &documented_submit_line()])
        .current_dir(root)
        .env("WEIGHTSCOPE", env!("CARGO_BIN_EXE_weightscope"))
        .env("SWEEP_CONFIG", "sweep.toml")
        .env("SWEEP_OUT", "sharded")
        .env("SBATCH_MEM_PER_NODE", "1G")
        .env("SBATCH_TIMELIMIT", "00:20:00")
        .output()
        .unwrap();
    let stdout = crate::common::succeeded(&submitted);
    // "Submitted batch job N": the summary job, which waits for the whole array.
    let summary_job = stdout
        .split_whitespace()
        .last()
        .expect("a job id")
        .to_string();
    wait_for(&summary_job);
    let state = Command::new("scontrol")
        .args(["-o", "show", "job", &summary_job])
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout);
    let log = std::fs::read_dir(root.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(state.contains("JobState=COMPLETED"), "{state}\n{log}");
    // Four array tasks each trained their share, and the summary equals one process's.
    assert!(root.join("sharded/summary.json").is_file(), "{log}");
    assert_eq!(
        summary_numbers(root, "sharded"),
        summary_numbers(root, "single")
    );
}
