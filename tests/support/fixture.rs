//! The conformance fixtures as backends: `tests/conformance/legacy_fixture.py` (session
//! era, the Python SDK 1.x) and `modern_fixture.py … modern-only` (2026-07-28 alone, the
//! SDK 2.x; it refuses `initialize`, so session clients are bridged), each serving the
//! same `test_*` tools over Streamable HTTP on a port it picks and prints. Killed when
//! dropped.
#![allow(dead_code)]

use std::path::PathBuf;

use tokio::io::AsyncBufReadExt;

use super::PEER_WAIT;

/// A protocol era, of a client or of a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// Sessions: `initialize`, then `Mcp-Session-Id` (2025-03-26 … 2025-11-25).
    Session,
    /// 2026-07-28: stateless, every request carrying its version and capabilities.
    Modern,
}

/// A running fixture of one era.
pub struct Fixture {
    pub era: Era,
    pub port: u16,
    _child: tokio::process::Child,
}

impl Fixture {
    /// Starts the fixture of `era` and waits (at most `PEER_WAIT`) for its port.
    pub async fn start(era: Era) -> Fixture {
        let (python, script, args): (_, _, &[&str]) = match era {
            Era::Session => ("venv", "legacy_fixture.py", &["0"]),
            Era::Modern => ("venv2", "modern_fixture.py", &["0", "modern-only"]),
        };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance")
            .join(script);
        let mut child = tokio::process::Command::new(super::python(python))
            .arg(&script)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(PEER_WAIT, lines.next_line()).await;
        let port = match first {
            Ok(Ok(Some(line))) => line
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{}: not a port: {line}", script.display())),
            other => panic!("{} did not print its port: {other:?}", script.display()),
        };
        // Its later output is not read; keep the pipe drained so it never blocks.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Fixture {
            era,
            port,
            _child: child,
        }
    }

    /// Its MCP endpoint (the legacy fixture mounts its app at `/mcp/`, and answers
    /// `/mcp` with a redirect).
    pub fn url(&self) -> String {
        let path = match self.era {
            Era::Session => "/mcp/",
            Era::Modern => "/mcp",
        };
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
