//! Which `mcpc` a client's stdio bridge entry runs (`keyadm client-config --bridge`): an
//! entry is pasted into a client's settings and outlives the shell that printed it, so it
//! should not name a binary inside a build tree, which `cargo clean` or another clone
//! takes away.

use std::path::{Path, PathBuf};

/// The command for the entry, and a warning to print when it lies in a build tree.
pub fn mcpc_command() -> (String, Option<String>) {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("mcpc")));
    choose(&path_dirs, beside.as_deref(), Path::is_file)
}

/// `mcpc` on `PATH` outside a build tree, else the one beside keyadm (with a warning when
/// that is in a build tree), else the bare name.
fn choose(
    path_dirs: &[PathBuf],
    beside: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> (String, Option<String>) {
    let installed = path_dirs
        .iter()
        .map(|d| d.join("mcpc"))
        .find(|p| exists(p) && !in_build_tree(p));
    if let Some(p) = installed {
        return (p.display().to_string(), None);
    }
    match beside.filter(|p| exists(p)) {
        Some(p) if in_build_tree(p) => (
            p.display().to_string(),
            Some(format!(
                "the entry runs {}, inside a build tree: `cargo clean` or a new clone breaks \
                 it. Install the binaries where they stay (`cargo install --path . --locked`, \
                 into ~/.cargo/bin, on PATH) and run client-config again",
                p.display()
            )),
        ),
        Some(p) => (p.display().to_string(), None),
        None => ("mcpc".to_string(), None),
    }
}

/// Whether `p` is in cargo's output (`…/target/release/mcpc`, `…/target/debug/…`).
fn in_build_tree(p: &Path) -> bool {
    let parts: Vec<&std::ffi::OsStr> = p.iter().collect();
    parts.windows(2).any(|w| {
        w[0] == "target"
            && (w[1] == "release"
                || w[1] == "debug"
                || w[1].to_str().is_some_and(|s| s.contains('-')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_mcpc_wins_and_a_build_tree_one_is_named_with_the_fix() {
        let clone = Path::new("/home/u/metamcp/target/release/mcpc");
        let installed = PathBuf::from("/home/u/.cargo/bin");
        let all = |_: &Path| true;
        assert_eq!(
            choose(std::slice::from_ref(&installed), Some(clone), all),
            ("/home/u/.cargo/bin/mcpc".to_string(), None)
        );
        // The clone's target/ on PATH (the first session's `export PATH`) is no install.
        let (cmd, warning) = choose(
            &[PathBuf::from("/home/u/metamcp/target/release")],
            Some(clone),
            all,
        );
        assert_eq!(cmd, clone.display().to_string());
        assert!(warning.is_some_and(|w| w.contains("cargo install --path .")));
        let (cmd, warning) = choose(&[], Some(Path::new("/usr/local/bin/mcpc")), all);
        assert_eq!((cmd.as_str(), warning), ("/usr/local/bin/mcpc", None));
        assert_eq!(choose(&[], None, all), ("mcpc".to_string(), None));
        let none = |_: &Path| false;
        assert_eq!(choose(&[installed], Some(clone), none).0, "mcpc");
    }
}
