//! The README's quick start, run line by line as written: the block after
//! `<!-- quickstart -->` is executed by bash with these substitutions only — the test
//! build's binaries for `$PWD/target/release` on `PATH` (cargo test has just built them,
//! so the `cargo build` line is skipped), ports the servers pick themselves for 12009 and
//! 3001 (the gateway listens on port 0 and logs `local=`, mockmcp on `--port 0` prints its
//! port; the lines after read them, so no two processes race for a port), and a fresh
//! `HOME` (so the per-user data directory and the virtualenvs live in a temporary
//! directory), with `TMPDIR` inside it, where the session's `mktemp -d` scratch folder is
//! made. It must exit 0, print what a user would expect, write its files in the scratch
//! folder and none where it started (the clone, for a user), and leave no gateway, server
//! process or PostgreSQL cluster behind. It runs in a process group of its own, bounded in
//! time, and the group is ended on every path.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Polls a file until it holds a pattern (at most 60 s), for the lines that read the
/// ports the servers picked.
const PRELUDE: &str = r#"qs_wait() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "quickstart: $1 never showed $2: $(cat "$1")" >&2; return 1; }
"#;

/// The quick start's shell block, as the README has it.
fn quickstart_block() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- quickstart -->")
        .expect("the quick start marker");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("its shell block") + "```sh\n".len();
    let body = &rest[open..];
    let close = body.find("\n```\n").expect("the block's end");
    body[..close + 1].to_string()
}

/// The block as the test runs it (see the module's header).
fn runnable(block: &str, bin_dir: &Path) -> String {
    let bin = bin_dir.display();
    let mut script = String::from(PRELUDE);
    for line in block.lines().filter(|l| !l.starts_with("cargo build")) {
        let line = if line.starts_with("metamcp &") {
            "metamcp 2>\"$HOME/gateway.log\" &\n\
             qs_wait \"$HOME/gateway.log\" 'local=127.0.0.1:[0-9]'\n\
             QS_GW=$(grep -o 'local=127.0.0.1:[0-9]*' \"$HOME/gateway.log\" | head -1 | cut -d= -f2)\n\
             echo \"quickstart: the gateway is at $QS_GW\""
                .to_string()
        } else if line.starts_with("mockmcp --port 3001 &") {
            "mockmcp --port 0 >\"$HOME/mock.port\" &\n\
             qs_wait \"$HOME/mock.port\" '^[0-9]'\n\
             QS_MOCK=127.0.0.1:$(head -1 \"$HOME/mock.port\")"
                .to_string()
        } else {
            line.replace("$PWD/target/release", &bin.to_string())
                .replace("127.0.0.1:12009", "$QS_GW")
                // Only inside the single-quoted registration body.
                .replace("127.0.0.1:3001", "'\"$QS_MOCK\"'")
                // sdk.py's heredoc names the gateway's address too.
                .replace("<<'PY'", "<<PY")
        };
        script.push_str(&line);
        script.push('\n');
    }
    script
}

#[test]
fn the_readme_quick_start_works_line_by_line() {
    let block = quickstart_block();
    assert!(block.contains("\nmetamcp &"), "{block}");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_metamcp")).parent().unwrap();
    assert!(
        block.contains("\nmockmcp --port 3001 &")
            && block.contains("<<'PY'")
            && block.contains("export PATH=\"$PWD/target/release:$PATH\"")
            && block.contains("cd \"$(mktemp -d)\""),
        "the substitutions the test makes still apply: {block}"
    );
    let script = runnable(&block, bin_dir);
    let home = support::traversable_tempdir("metamcp-quickstart-");
    // `mktemp -d` makes the session's scratch folder here, inside the test's HOME.
    let scratch_root = home.join("tmp");
    std::fs::create_dir_all(&scratch_root).expect("the scratch folders' parent");
    // The peers' pip cache (tests/peers/install.sh): what the quick start's install
    // downloaded once is not downloaded again.
    let pip_cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/pip-cache");
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", &script])
        .current_dir(&home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("TMPDIR", &scratch_root)
        .env("LANG", "C.UTF-8")
        // The gateway logs the address it bound (`local=`) at info.
        .env("RUST_LOG", "warn,metamcp::app=info")
        // Port 0: the gateway picks its own; the lines below read it from its log.
        .env("METAMCP_LISTEN", "127.0.0.1:0")
        .env("PIP_CACHE_DIR", &pip_cache)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        // What the servers import is compiled when first imported; not every file ahead.
        .env("PIP_NO_COMPILE", "1");
    // Bounded: a line that waits forever fails the test instead of hanging it, and what
    // the script left running is ended with its group.
    let (out, group) = support::proc::run_bounded(cmd, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let data = home.join(".local/share/metamcp");
    let cluster = metamcp::store::embedded::Cluster::locate(&data);
    let needle = format!("HOME={}", home.display());
    let left_behind = || -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                    && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| s.split_whitespace().nth(2) != Some("Z"))
            })
            .collect()
    };
    let cleanup = || {
        for pid in left_behind() {
            metamcp::backend::groups::kill_process(pid);
        }
        if let Ok(c) = &cluster {
            let _ = c.stop(false);
        }
        let _ = std::fs::remove_dir_all(&home);
    };
    if !out.status.success() {
        drop(group);
        cleanup();
        panic!(
            "the quick start failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
    }
    for expected in [
        "\"mock__echo\"",
        "\"time__get_current_time\"",
        "\"text\": \"hi\"",
        "UTC",
        "from the SDK",
        "'time__get_current_time'",
    ] {
        if !stdout.contains(expected) {
            drop(group);
            cleanup();
            panic!("{expected} is missing from the quick start's output:\n{stdout}\n{stderr}");
        }
    }
    // keyadm client-config named the port the gateway bound (METAMCP_LISTEN is :0 here).
    let at = stdout
        .lines()
        .find_map(|l| l.strip_prefix("quickstart: the gateway is at "))
        .expect("the gateway's address");
    let entry = format!("\"url\": \"http://{at}/mcp/mine\"");
    if !stdout.contains(&entry) {
        drop(group);
        cleanup();
        panic!("client-config did not name {at}:\n{stdout}");
    }
    // The session's files are in its scratch folder, not where it started.
    let scratch: Vec<PathBuf> = std::fs::read_dir(&scratch_root)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    let wrote_in_scratch = scratch.iter().any(|dir| {
        ["my-mcp.json", "sdk.py"]
            .iter()
            .all(|f| dir.join(f).is_file())
    });
    let wrote_at_start = ["my-mcp.json", "sdk.py"]
        .iter()
        .any(|f| home.join(f).exists());
    // The gateway used the per-user data directory and stopped its cluster on the way out.
    let running = cluster.as_ref().map(|c| c.is_running());
    let created = data.join("postgres").exists();
    // Nothing the quick start started is left: no process has its HOME in its environment.
    let left = left_behind();
    drop(group);
    cleanup();
    assert!(created, "the cluster lives in the per-user data directory");
    assert!(
        wrote_in_scratch && !wrote_at_start,
        "the session writes its files in its scratch folder ({scratch:?}), none where it started"
    );
    assert!(
        matches!(running, Ok(Ok(false))),
        "the gateway stopped its cluster: {running:?}"
    );
    assert!(left.is_empty(), "processes left behind: {left:?}");
}
