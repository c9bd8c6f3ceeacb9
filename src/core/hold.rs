//! Test holds. `WEIGHTSCOPE_HOLD=line:N` stops the process right after it prints its N-th line
//! of progress; `WEIGHTSCOPE_HOLD=file:NAME` when a new file whose path ends in NAME is
//! complete under its temporary name but has not yet replaced the old one, the moment a
//! non-atomic writer would leave a half-written file. The process then says so on stderr and
//! waits until its standard input closes. A test that interrupts or kills a run at such a
//! point therefore meets the same state on any machine, however fast. Unset, as for every
//! user, a hold costs one look at a cached value.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

const VARIABLE: &str = "WEIGHTSCOPE_HOLD";

#[derive(Debug, PartialEq, Eq)]
enum Point {
    Line(usize),
    File(String),
}

fn requested() -> Option<&'static Point> {
    static POINT: OnceLock<Option<Point>> = OnceLock::new();
    POINT
        .get_or_init(|| {
            let value = std::env::var(VARIABLE).ok()?;
            let point = match value.split_once(':') {
                Some(("line", n)) => n.parse().ok().map(Point::Line),
                Some(("file", name)) => Some(Point::File(name.to_string())),
                _ => None,
            };
            if point.is_none() {
                eprintln!("warning: {VARIABLE}={value:?} is neither line:N nor file:NAME; ignored");
            }
            point
        })
        .as_ref()
}

/// Holds if the test asked to stop after output line `line` (counted from 1).
pub fn after_line(line: usize) {
    if requested() == Some(&Point::Line(line)) {
        wait();
    }
}

/// Holds if the test asked to stop before `path` is replaced by its new version.
pub fn before_replacing(path: &Path) {
    if let Some(Point::File(name)) = requested()
        && path.ends_with(name)
    {
        wait();
    }
}

fn wait() {
    let _ = std::io::stdout().flush();
    eprintln!("held ({VARIABLE}); waiting for standard input to close");
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
}
