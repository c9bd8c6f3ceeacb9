use std::process::ExitCode;

use clap::Parser;
use weightscope::commands::cli::Cli;
use weightscope::commands::run;

fn main() -> ExitCode {
    restore_default_sigpipe();
    pin_burns_default_device();
    // A panic is a bug, but the user still gets one line rather than a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {}; please report it",
            message.replace('\n', " ")
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap's own report spans several lines; the first says what is wrong.
            let text = e.to_string();
            let mut line = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .to_string();
            for extra in text.lines().skip(1).map(str::trim) {
                let boilerplate = extra.is_empty()
                    || extra.starts_with("Usage:")
                    || extra.starts_with("For more information");
                if !boilerplate {
                    line = format!("{line} {extra}");
                }
            }
            eprintln!("{line} (see weightscope --help)");
            return ExitCode::from(2);
        }
        // --help and --version.
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, with the chain of causes.
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Burn's default device is the first backend compiled in, wgpu in the default build, and
/// Burn itself uses it in a few places: an optimiser's state is loaded there before it moves to
/// the training device, on `--resume`. weightscope chooses every device explicitly, so the
/// fallback is pinned to the CPU: resuming a flex run must not start a GPU driver, nor fail
/// where none exists. A `BURN_DEVICE` the user set is kept.
fn pin_burns_default_device() {
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`weightscope --help | head -1`) would
/// panic. Like any Unix tool, weightscope should instead end quietly when its reader goes away.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
