//! The `metamcp` binary as an operator runs it: start, serve /health, stop on SIGTERM.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support::{TestDb, start_gateway_binary};

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn starts_migrates_serves_health_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let (mut child, mut stderr, addr) = start_gateway_binary(&db);
    let addr = addr.to_string();

    let health = get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#));
    let ready = get(&addr, "/ready");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let missing = get(&addr, "/nope");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains(r#""code":"not_found""#));

    // The schema was migrated by the gateway itself.
    let client = db.client().await;
    let v: i32 = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, metamcp::store::migrate::latest());

    // SAFETY: kill with a valid pid of our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "exit 0 after SIGTERM, got {status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn bad_configuration_exits_64_naming_each_problem() {
    let out = support::keep_coverage(Command::new(env!("CARGO_BIN_EXE_metamcp")).env_clear())
        .env("METAMCP_LISTEN", "not-an-address")
        .env("METAMCP_MAX_BODY", "huge")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("METAMCP_LISTEN") && err.contains("METAMCP_MAX_BODY"),
        "{err}"
    );
}

/// Tool search's model is checked against the digest the build pinned before the
/// gateway starts: a folder whose weights are another file's (damaged, or another
/// model's) is refused, naming the file, what it should be and what to set.
#[test]
fn a_model_file_that_is_not_the_built_one_stops_the_start() {
    let dir = support::traversable_tempdir("model-digest");
    let built = std::path::Path::new(env!("METAMCP_MODEL_BUILT"));
    std::fs::copy(built.join("vocab.txt"), dir.join("vocab.txt")).unwrap();
    // A file of the right kind, not the pinned one (a tensor of another training).
    let header = br#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    let mut weights = (header.len() as u64).to_le_bytes().to_vec();
    weights.extend_from_slice(header);
    weights.extend_from_slice(&[0, 60, 0, 188]);
    std::fs::write(dir.join("model.safetensors"), &weights).unwrap();
    let out = support::keep_coverage(Command::new(env!("CARGO_BIN_EXE_metamcp")).env_clear())
        .env("METAMCP_TOOL_SEARCH_MODEL", &dir)
        // Another problem beside it, so a build that took the file would still exit.
        .env("METAMCP_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = dir.join("model.safetensors");
    assert!(
        err.contains("METAMCP_LISTEN")
            && err.contains(&format!("{} has SHA-256", file.display()))
            && err.contains(metamcp::search::semantic::WEIGHTS_SHA256)
            && err.contains("METAMCP_TOOL_SEARCH_MODEL")
            && err.contains("METAMCP_TOOL_SEARCH_RETRIEVAL=lexical"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The container image (`Dockerfile`) starts: the binary carries no weights and refuses
/// to start without tool search's model, so the image must copy the folder the build
/// wrote and point `METAMCP_TOOL_SEARCH_MODEL` at it. The runtime stage's `COPY` of the
/// model and its `ENV` are read, the files laid out as the image would hold them, and the
/// binary started with that environment: it gets past the model's check (a broken
/// listen address beside it makes it exit right after the configuration is read).
#[test]
fn the_image_holds_the_model_the_binary_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let runtime = dockerfile
        .rsplit("\nFROM ")
        .next()
        .unwrap()
        .replace("\\\n", " ");
    let built = std::path::Path::new(env!("METAMCP_MODEL_BUILT"));
    let folder = format!(
        "/src/target/models/{}/",
        built.file_name().unwrap().to_str().unwrap()
    );
    let copy = runtime
        .lines()
        .find(|l| l.starts_with("COPY ") && l.contains(&folder))
        .unwrap_or_else(|| panic!("the image copies no {folder}: {runtime}"));
    let words: Vec<&str> = copy.split_whitespace().collect();
    let dest = *words.last().unwrap();
    let mut names: Vec<&str> = words[2..words.len() - 1]
        .iter()
        .map(|w| w.strip_prefix(folder.as_str()).unwrap_or(w))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["model.safetensors", "vocab.txt"], "{copy}");
    let env = runtime
        .split_whitespace()
        .find_map(|w| w.strip_prefix("METAMCP_TOOL_SEARCH_MODEL="))
        .unwrap_or_else(|| panic!("the image sets no METAMCP_TOOL_SEARCH_MODEL: {runtime}"));
    assert_eq!(env.trim_end_matches('/'), dest.trim_end_matches('/'));
    // The image's file system, as far as the model goes.
    let image = support::traversable_tempdir("image-model");
    let held = image.join(dest.trim_start_matches('/'));
    std::fs::create_dir_all(&held).unwrap();
    for name in names {
        std::fs::copy(built.join(name), held.join(name)).unwrap();
    }
    let start = |model: &std::path::Path| {
        let out = support::keep_coverage(Command::new(env!("CARGO_BIN_EXE_metamcp")).env_clear())
            .env("METAMCP_TOOL_SEARCH_MODEL", model)
            .env("METAMCP_LISTEN", "not-an-address")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = start(&held);
    assert!(
        err.contains("METAMCP_LISTEN") && !err.contains("METAMCP_TOOL_SEARCH"),
        "{err}"
    );
    // Without the folder, the same start names the model (what the image did before).
    let err = start(&image.join("usr/local/share/nothing"));
    assert!(err.contains("METAMCP_TOOL_SEARCH_MODEL"), "{err}");
    let _ = std::fs::remove_dir_all(&image);
}

/// The binary's entry point in process: help, version, usage and configuration errors,
/// and a start that fails (a data directory that cannot exist).
#[tokio::test]
async fn the_entry_point_returns_the_exit_status() {
    let main = |args: &[&str]| metamcp::app::main(args.iter().map(|s| s.to_string()).collect());
    let codes = tokio::task::spawn_blocking(move || {
        [
            main(&["--help"]),
            main(&["--version"]),
            main(&["--frobnicate"]),
            main(&["--listen"]),
            main(&["--listen", "not an address"]),
            main(&["--listen", "127.0.0.1:0", "--data-dir", "/dev/null/metamcp"]),
        ]
    })
    .await
    .unwrap();
    assert_eq!(codes, [0, 0, 64, 64, 64, 1]);
}

/// A new user's first start: the log says how to make the first key, and a second
/// `metamcp` on the same address (the set-up's gateway still running) fails at once,
/// saying which process holds it and how to stop it; another program's address is told
/// apart from a gateway's.
#[tokio::test]
async fn a_first_start_names_the_first_key_and_an_address_in_use_names_its_owner() {
    let db = TestDb::new().await;
    let env = db.env();
    let (mut first, _stderr, addr, head) = support::start_gateway_binary_logged(&env);
    assert!(
        head.contains("no API key exists yet") && head.contains("keyadm keys create"),
        "{head}"
    );

    let second = support::keep_coverage(Command::new(env!("CARGO_BIN_EXE_metamcp")).env_clear())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("METAMCP_LISTEN", addr.to_string())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("in use") && err.contains(&format!("process {}", first.id())),
        "{err}"
    );
    assert!(err.contains(&format!("kill {}", first.id())), "{err}");

    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = other.local_addr().unwrap();
    let third = support::keep_coverage(Command::new(env!("CARGO_BIN_EXE_metamcp")).env_clear())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("METAMCP_LISTEN", taken.to_string())
        .output()
        .unwrap();
    assert_eq!(third.status.code(), Some(1));
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(
        err.contains("Another program listens there") && err.contains("--listen"),
        "{err}"
    );

    // With a key, the hint is gone.
    let created = support::keyadm_bin(&db, &["keys", "create", "--name", "first", "--json"]);
    assert!(created.status.success());
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut again, _stderr, _addr, head) = support::start_gateway_binary_logged(&env);
    assert!(!head.contains("no API key exists yet"), "{head}");
    again.kill().unwrap();
    again.wait().unwrap();
}

/// A refused login is in the log with its reason and the client's address (a mistyped
/// key told apart from a scan), and counted; a request without credentials is not a
/// line of its own.
#[tokio::test]
async fn a_refused_login_is_logged_with_its_reason_and_address() {
    use std::io::BufRead;
    let db = TestDb::new().await;
    let (mut child, stderr, addr) = start_gateway_binary(&db);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let addr = addr.to_string();
    let bad = {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /api/v1/mcp/servers HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Authorization: Bearer mcp_0000000000000000_not-the-secret\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(bad.starts_with("HTTP/1.1 401"), "{bad}");
    let deadline = std::time::Instant::now() + support::WAIT;
    let line = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("login refused") => break l,
            Ok(_) => continue,
            Err(e) => panic!("no refused login in the log: {e}"),
        }
    };
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(line.contains("reason="), "{line}");
    let metrics = get(&addr, "/metrics");
    assert!(
        metrics.contains("metamcp_auth_failures_total{reason="),
        "{metrics}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
