//! Process groups of stdio children, recorded in the data dir so that a gateway killed
//! without a chance to stop them (SIGKILL, a crash, power loss aside) has their leftovers
//! killed by the next gateway that starts on the same data dir.
//!
//! Each gateway process writes its own file (`stdio-groups-<pid>-<random>`); a file is
//! only reaped once its gateway process is gone, so gateways sharing a data dir never
//! touch each other's children.
//!
//! The direct child dies with the gateway (`PR_SET_PDEATHSIG`), but what it started
//! (the servers behind `npx`, `uvx` and other launchers) may not. Each child gets a
//! random marker in its environment, inherited by everything it starts; at start-up
//! every process of a recorded group that carries its group's marker is killed, so a
//! process group id reused by someone else is never touched.

use std::path::PathBuf;
use std::sync::Mutex;

/// The environment variable carrying a child's marker.
pub const MARKER_VAR: &str = "METAMCP_STDIO_MARKER";
const PREFIX: &str = "stdio-groups-";

/// The recorded groups: `<pgid> <marker>` per line.
pub struct Groups {
    path: Option<PathBuf>,
    live: Mutex<Vec<(i32, String)>>,
}

impl Groups {
    /// Records in `data_dir` (created if missing); `None` records nothing.
    pub fn new(data_dir: Option<PathBuf>) -> Groups {
        let path = data_dir.and_then(|d| {
            std::fs::create_dir_all(&d).ok()?;
            let own = format!(
                "{PREFIX}{}-{}",
                std::process::id(),
                crate::crypto::random_alphanumeric(8)
            );
            Some(d.join(own))
        });
        Groups {
            path,
            live: Mutex::new(Vec::new()),
        }
    }

    pub fn add(&self, pgid: i32, marker: &str) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.push((pgid, marker.to_string()));
        self.write(&live);
    }

    pub fn remove(&self, pgid: i32) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|(g, _)| *g != pgid);
        self.write(&live);
    }

    fn write(&self, live: &[(i32, String)]) {
        let Some(path) = &self.path else { return };
        let text: String = live.iter().map(|(g, m)| format!("{g} {m}\n")).collect();
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .is_err()
        {
            tracing::warn!(path = %path.display(), "could not record stdio process groups");
        }
    }

    /// Kills what gateways that are gone left running on this data dir; returns how
    /// many processes were killed.
    pub fn reap_leftovers(&self) -> usize {
        let Some(dir) = self.path.as_ref().and_then(|p| p.parent()) else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if std::path::Path::new(&format!("/proc/{owner}")).exists() {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for line in text.lines() {
                let mut parts = line.split_whitespace();
                let (Some(Ok(pgid)), Some(marker)) =
                    (parts.next().map(str::parse::<i32>), parts.next())
                else {
                    continue;
                };
                for pid in members_with_marker(pgid, marker) {
                    super::stdio::kill_process(pid);
                    killed += 1;
                }
            }
            let _ = std::fs::remove_file(entry.path());
        }
        if killed > 0 {
            tracing::warn!(
                killed,
                "killed processes a gateway that is gone left behind"
            );
        }
        killed
    }
}

/// Processes whose group is `pgid` and whose environment carries `marker`.
fn members_with_marker(pgid: i32, marker: &str) -> Vec<i32> {
    let needle = format!("{MARKER_VAR}={marker}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| process_group(*pid) == Some(pgid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

/// The process group of `pid`, from `/proc/<pid>/stat` (the fields after the command).
pub fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // state ppid pgrp …
    after.split_whitespace().nth(2)?.parse().ok()
}
