//! The embedded cluster as users meet it: no DATABASE_URL, just a data dir.

use crate::support;

use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use crate::support::{set_mode, start_gateway_binary_with, stderr, traversable_tempdir};
use metamcp::store::embedded::Cluster;

const KEYADM: &str = env!("CARGO_BIN_EXE_keyadm");

fn keyadm_in(data_dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(KEYADM);
    support::keep_coverage(cmd.args(args).env_clear())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("METAMCP_DATA_DIR", data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Stops the cluster and removes the directory even when the test fails.
/// Fields: the temp root; the data dir if not `<root>/data`; the relocation root if any.
struct Cleanup(
    std::path::PathBuf,
    Option<std::path::PathBuf>,
    Option<std::path::PathBuf>,
);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let data = self.1.clone().unwrap_or_else(|| self.0.join("data"));
        let located = match &self.2 {
            Some(root) => Cluster::locate_with_root(&data, root),
            None => Cluster::locate(&data),
        };
        if let Ok(c) = located {
            let _ = c.stop(false);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A gateway process on `data` (its cluster created or reused), once it listens.
fn gateway_in(data: &std::path::Path, extra: &[(&'static str, String)]) -> std::process::Child {
    let mut env = vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("METAMCP_DATA_DIR", data.display().to_string()),
    ];
    env.extend_from_slice(extra);
    let (child, mut stderr, _) = start_gateway_binary_with(&env);
    // Keep reading its log, so it never writes to a closed pipe.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    });
    child
}

/// SIGTERM, then its exit status.
fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    // SAFETY: kill with a valid pid of our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap()
}

#[test]
fn processes_starting_together_share_one_cluster_and_one_set_of_secrets() {
    let root = traversable_tempdir("metamcp-embedded-");
    let _cleanup = Cleanup(root.clone(), None, None);
    let data = root.join("data");
    // keyadm never creates a cluster: it says where it looked and what to do.
    let out = keyadm_in(&data, &["keys", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&data.display().to_string()) && err.contains("start the gateway"),
        "{err}"
    );
    assert!(!data.exists(), "nothing created");
    // Three gateways starting together create one cluster and one set of secrets.
    let racers: Vec<_> = (0..3)
        .map(|_| {
            let data = data.clone();
            std::thread::spawn(move || gateway_in(&data, &[]))
        })
        .collect();
    let gateways: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let children: Vec<_> = (0..3)
        .map(|i| {
            // Names tell active keys apart: one each.
            let name = format!("racer{i}");
            keyadm_in(&data, &["keys", "create", "--name", &name, "--json"])
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    // One cluster holds all three keys (a second cluster would have lost some).
    let out = keyadm_in(&data, &["keys", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 3);
    for id in &ids {
        assert!(listed.iter().any(|k| k["id"] == id.as_str()));
    }
    // Socket only: no TCP port, a socket in the data dir.
    let conf = std::fs::read_to_string(data.join("postgres/metamcp.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"));
    assert!(data.join("run/.s.PGSQL.5432").exists());
    // Secrets generated once, private to the owner.
    for name in ["jwt_secret", "encryption_key"] {
        let meta = std::fs::metadata(data.join(name)).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600, "{name}");
        let text = std::fs::read_to_string(data.join(name)).unwrap();
        assert_eq!(text.trim().len(), 64);
    }
    // No scratch directories or files left by the race.
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.contains("init-")
                || (n.starts_with('.') && n != ".postgres.lock" && n != ".postgres.users")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Gateways leaving cleanly keep the cluster running for the others; the last one
    // stops it.
    let cluster = Cluster::locate(&data).unwrap();
    let mut gateways = gateways.into_iter();
    for g in gateways.by_ref().take(2) {
        assert!(stop(g).success());
        assert!(cluster.is_running().unwrap(), "others still use it");
    }
    assert!(stop(gateways.next().unwrap()).success());
    assert!(!cluster.is_running().unwrap(), "the last one stopped it");
    // keyadm starts an existing cluster, data intact, and stops it again when done.
    let out = keyadm_in(&data, &["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["database"]["mode"], "embedded");
    assert_eq!(s["keys"]["active"], 3);
    assert!(!cluster.is_running().unwrap());
    // A key's whole text is accepted wherever a key id is.
    let out = keyadm_in(&data, &["keys", "create", "--name", "whole", "--json"])
        .output()
        .unwrap();
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = created["api_key"].as_str().unwrap();
    let out = keyadm_in(&data, &["keys", "show", text, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], created["id"]);
    let bad = keyadm_in(&data, &["keys", "show", "mcp_nothex_secretpart"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(!stderr(&bad).contains("secretpart"), "{}", stderr(&bad));
}

#[test]
fn a_data_dir_the_postgres_user_cannot_reach_gets_a_relocated_cluster() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Only root hands the cluster to another user; nothing to check otherwise.
        return;
    }
    let root = traversable_tempdir("metamcp-closed-");
    let relocation = root.join("clusters");
    let closed = root.join("closed");
    std::fs::create_dir(&closed).unwrap();
    set_mode(&closed, 0o700);
    let data = closed.join("data");
    let _cleanup = Cleanup(root.clone(), Some(data.clone()), Some(relocation.clone()));

    // The gateway creates it (relocated), and stops it when it leaves.
    let gw = gateway_in(
        &data,
        &[("METAMCP_CLUSTER_ROOT", relocation.display().to_string())],
    );
    assert!(stop(gw).success());
    let out = keyadm_in(&data, &["status", "--json"])
        .env("METAMCP_CLUSTER_ROOT", &relocation)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let location = s["database"]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&relocation.display().to_string()),
        "{location}"
    );
    // The closed directory kept its mode; the data dir links to the cluster.
    assert_eq!(std::fs::metadata(&closed).unwrap().mode() & 0o777, 0o700);
    let link = std::fs::read_link(data.join("postgres")).unwrap();
    assert!(link.starts_with(&relocation), "{}", link.display());
    assert!(
        stderr(&out).contains("cannot traverse"),
        "a warning explains it"
    );

    // Without a usable fallback the error names the directory at fault, in one line.
    let blocked_root = root.join("closed2");
    std::fs::create_dir(&blocked_root).unwrap();
    set_mode(&blocked_root, 0o700);
    let out = keyadm_in(&blocked_root.join("data"), &["status"])
        .env("METAMCP_CLUSTER_ROOT", blocked_root.join("clusters"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot reach"), "{err}");
    assert!(err.contains(&blocked_root.display().to_string()), "{err}");
    assert!(err.contains("chmod o+x"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
}
