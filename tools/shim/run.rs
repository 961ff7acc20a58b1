//! What the `keyadm`, `mcpc` and `mockmcp` binaries do: run the `metamcp` binary that
//! lies beside them (in the same directory, as cargo, `cargo install` and the images put
//! them) under their own name, which it answers to (src/main.rs). They link nothing of
//! the crate, so a release build optimises and links it once.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Replaces this process with `metamcp` called as this binary's name, with the same
/// arguments, environment and standard streams; returns only to exit on failure.
pub fn exec() -> ! {
    let name = env!("CARGO_BIN_NAME");
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("metamcp")));
    let Some(gateway) = beside.filter(|p| p.is_file()) else {
        eprintln!(
            "{name}: it runs the metamcp binary beside it, and found none next to {}: \
             install metamcp in the same directory (or run `metamcp {name} ...`)",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| name.to_string())
        );
        std::process::exit(127);
    };
    let err = Command::new(&gateway)
        .arg0(name)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("{name}: cannot run {}: {err}", gateway.display());
    std::process::exit(126);
}
