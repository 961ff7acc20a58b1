//! Processes a test starts through a shell or a script: each runs in a process group of
//! its own, its output goes to files (a grandchild that keeps a pipe open cannot hold the
//! test), it is bounded in time, and the whole group is ended on every path. A failing
//! test fails; it never hangs.

use std::io::{Read, Seek};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A process group; ended (TERM, then KILL after a grace period) when dropped.
pub struct Group {
    pgid: i32,
}

impl Group {
    /// Whether any process of the group is still there.
    pub fn alive(&self) -> bool {
        signal(self.pgid, 0) == 0
    }

    /// Ends every process of the group: TERM, up to 3 s for them to go, then KILL.
    pub fn end(&self) {
        if self.pgid <= 1 {
            return;
        }
        signal(self.pgid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(self.pgid, libc::SIGKILL);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.end();
    }
}

/// kill(2) on the process group `pgid` (signal 0 only asks whether it is there).
#[allow(unsafe_code)]
fn signal(pgid: i32, sig: i32) -> i32 {
    // SAFETY: kill(2) has no memory preconditions; the group is one this test created.
    unsafe { libc::kill(-pgid, sig) }
}

/// Runs `cmd` to its end, for at most `limit`, in a process group of its own. What it
/// and its children left running is still in the returned group (ended when the group is
/// dropped), so a test can check for leftovers first. On time-out the group is ended and
/// stderr says so; the status is then the killed process's.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> (Output, Group) {
    let mut out = tempfile::tempfile().expect("a file for stdout");
    let mut err = tempfile::tempfile().expect("a file for stderr");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().expect("stdout file"))
        .stderr(err.try_clone().expect("stderr file"))
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn the command");
    let group = Group {
        pgid: child.id() as i32,
    };
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            group.end();
            break child.wait().expect("wait for the ended command");
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let read = |f: &mut std::fs::File| {
        let mut v = Vec::new();
        f.rewind().expect("rewind");
        f.read_to_end(&mut v).expect("read the output");
        v
    };
    let stdout = read(&mut out);
    let mut stderr = read(&mut err);
    if timed_out {
        stderr.extend_from_slice(
            format!("\n[still running after {limit:?}: its process group was ended]\n").as_bytes(),
        );
    }
    (
        Output {
            status,
            stdout,
            stderr,
        },
        group,
    )
}
