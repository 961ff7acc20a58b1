//! Process groups of stdio children, recorded in the data dir so that a gateway killed
//! without a chance to stop them (SIGKILL, a crash, power loss aside) has their leftovers
//! killed by the next gateway that starts on the same data dir.
//!
//! Each gateway process writes its own file (`stdio-groups-<pid>-<random>`); a file is
//! only reaped once its gateway process is gone, so gateways sharing a data dir never
//! touch each other's children.
//!
//! The direct child dies with the gateway (`PR_SET_PDEATHSIG`, set by [`confine`],
//! which also bounds its memory), but what it started
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
                    kill_process(pid);
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

/// Kills one process.
#[allow(unsafe_code)] // kill(2)
pub fn kill_process(pid: i32) {
    if pid > 1 {
        // SAFETY: kill has no memory preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Sends `signal` to the process group `pgid`.
#[allow(unsafe_code)] // kill(2) on a process group we created
pub fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill has no memory preconditions; a stale group id fails with ESRCH.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// The child dies with the gateway, even when the gateway is SIGKILLed; its address
/// space is limited to `max_memory` bytes when set.
#[allow(unsafe_code)] // prctl and setrlimit in the child between fork and exec
pub fn confine(cmd: &mut tokio::process::Command, max_memory: Option<u64>) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and setrlimit are async-signal-safe and touch no
    // memory of the parent; they run in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(bytes) = max_memory {
                let limit = libc::rlimit {
                    rlim_cur: bytes as libc::rlim_t,
                    rlim_max: bytes as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    /// A `sleep` in a process group of its own, carrying `marker`. `spawn` returns once
    /// the child has begun its exec, but the kernel sets the new image's environment
    /// after that: until it has, `/proc/<pid>/environ` reads empty (CI saw a leftover
    /// reaped as 0 for it), so this waits for the marker to show.
    fn marked_sleeper(marker: &str) -> Child {
        let child = Command::new("sleep")
            .arg("60")
            .env(MARKER_VAR, marker)
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        let needle = format!("{MARKER_VAR}={marker}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !std::fs::read(format!("/proc/{}/environ", child.id()))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{marker} never showed"
            );
            std::thread::yield_now();
        }
        child
    }

    /// The id of a process that has ended.
    fn gone_pid() -> u32 {
        let mut c = Command::new("true").spawn().expect("spawn true");
        let pid = c.id();
        c.wait().expect("reaped");
        pid
    }

    fn ended(child: &mut Child) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if child.try_wait().expect("try_wait").is_some() {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    #[test]
    fn groups_are_recorded_as_they_come_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let g = Groups::new(Some(dir.path().join("nested")));
        g.add(4242, "m1");
        g.add(4343, "m2");
        g.remove(4242);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 1, "one file per gateway, no temporary left");
        let name = files[0].file_name().into_string().unwrap();
        assert!(name.starts_with(&format!("{PREFIX}{}-", std::process::id())));
        assert_eq!(
            std::fs::read_to_string(files[0].path()).unwrap(),
            "4343 m2\n"
        );
        // Without a data dir nothing is recorded and nothing reaped.
        let none = Groups::new(None);
        none.add(1, "x");
        assert_eq!(none.reap_leftovers(), 0);
    }

    #[test]
    fn leftovers_of_a_gateway_that_is_gone_are_killed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut leftover = marked_sleeper("left-behind");
        let mut wrong_marker = marked_sleeper("someone-else");
        let mut still_owned = marked_sleeper("owned");
        let pgid = |c: &Child| c.id() as i32;
        let dead = gone_pid();
        // A gateway that is gone: its groups, a garbled line, a group whose processes
        // carry another marker (a reused group id).
        std::fs::write(
            dir.path().join(format!("{PREFIX}{dead}-abcdefgh")),
            format!(
                "{} left-behind\nnot a line\n{} not-their-marker\n",
                pgid(&leftover),
                pgid(&wrong_marker)
            ),
        )
        .unwrap();
        // A gateway that is alive (this process): never touched.
        let mine = dir
            .path()
            .join(format!("{PREFIX}{}-zzzzzzzz", std::process::id()));
        std::fs::write(&mine, format!("{} owned\n", pgid(&still_owned))).unwrap();
        std::fs::write(dir.path().join("unrelated-file"), "1 x\n").unwrap();

        let g = Groups::new(Some(dir.path().to_path_buf()));
        assert_eq!(g.reap_leftovers(), 1);
        assert!(ended(&mut leftover), "the leftover is killed");
        assert!(wrong_marker.try_wait().unwrap().is_none(), "not its marker");
        assert!(
            still_owned.try_wait().unwrap().is_none(),
            "its gateway lives"
        );
        assert!(mine.exists());
        assert!(
            !dir.path().join(format!("{PREFIX}{dead}-abcdefgh")).exists(),
            "the dead gateway's record is removed"
        );
        assert_eq!(
            process_group(still_owned.id() as i32),
            Some(pgid(&still_owned))
        );
        for c in [&mut wrong_marker, &mut still_owned] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        assert_eq!(process_group(i32::MAX), None);
    }
}
