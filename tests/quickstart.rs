//! The README's quick start, run line by line as written: the block after
//! `<!-- quickstart -->` is executed by bash with three substitutions only — the test
//! build's binaries for `target/release/` (cargo test has just built them, so the
//! `cargo build` line is skipped), free ports for 12009 (`METAMCP_LISTEN` tells the
//! gateway) and 3001, and a fresh `HOME`
//! (so the per-user data directory, the virtualenvs and `sdk.py` live in a temporary
//! directory). It must exit 0, print what a user would expect, and leave no gateway,
//! server process or PostgreSQL cluster behind.

mod support;

use std::path::Path;
use std::process::Command;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

#[test]
fn the_readme_quick_start_works_line_by_line() {
    let block = quickstart_block();
    assert!(block.contains("target/release/metamcp &"), "{block}");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_metamcp")).parent().unwrap();
    let (gateway, mock) = (free_port(), free_port());
    let script: String = block
        .lines()
        .filter(|l| !l.starts_with("cargo build"))
        .map(|l| {
            l.replace("target/release/", &format!("{}/", bin_dir.display()))
                .replace("127.0.0.1:12009", &format!("127.0.0.1:{gateway}"))
                .replace("--port 3001", &format!("--port {mock}"))
                .replace("127.0.0.1:3001", &format!("127.0.0.1:{mock}"))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let home = support::traversable_tempdir("metamcp-quickstart-");
    let pip_cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/quickstart-pip-cache");
    // Bounded: a line that waits forever fails the test instead of hanging it.
    let out = Command::new("timeout")
        .args(["-k", "10", "600", "bash", "-euo", "pipefail", "-c", &script])
        .current_dir(&home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .env("RUST_LOG", "warn")
        // The gateway's own address, where the lines below expect it.
        .env("METAMCP_LISTEN", format!("127.0.0.1:{gateway}"))
        .env("PIP_CACHE_DIR", &pip_cache)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .output()
        .unwrap();
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
            metamcp::backend::stdio::kill_process(pid);
        }
        if let Ok(c) = &cluster {
            let _ = c.stop(false);
        }
        let _ = std::fs::remove_dir_all(&home);
    };
    if !out.status.success() {
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
            cleanup();
            panic!("{expected} is missing from the quick start's output:\n{stdout}\n{stderr}");
        }
    }
    // The gateway used the per-user data directory and stopped its cluster on the way out.
    let running = cluster.as_ref().map(|c| c.is_running());
    let created = data.join("postgres").exists();
    // Nothing the quick start started is left: no process has its HOME in its environment.
    let left = left_behind();
    cleanup();
    assert!(created, "the cluster lives in the per-user data directory");
    assert!(
        matches!(running, Ok(Ok(false))),
        "the gateway stopped its cluster: {running:?}"
    );
    assert!(left.is_empty(), "processes left behind: {left:?}");
}
