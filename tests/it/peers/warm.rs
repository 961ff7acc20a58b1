//! The peers' warm interpreter (`support::python`, tests/peers/warm.py) is the
//! interpreter as far as a script and its caller can tell: what the other peer tests see
//! of a peer is the peer's own doing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{peers, python};

/// The script `text` as `name` in a fresh directory.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the script");
    path
}

/// Runs `interpreter args` in `dir` with `stdin`, an environment variable set and the
/// caller's unset, and all it printed.
fn run(interpreter: &Path, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(interpreter)
        .args(args)
        .current_dir(dir)
        .env("WARM_PROBE", "set for this start")
        .env_remove("METAMCP_WARM")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the interpreter");
    child
        .stdin
        .take()
        .expect("its stdin")
        .write_all(stdin.as_bytes())
        .expect("write its stdin");
    child.wait_with_output().expect("its output")
}

#[test]
fn a_warm_start_runs_a_script_as_the_interpreter_does() {
    let dir = tempfile::tempdir().expect("a directory");
    script(
        dir.path(),
        "helper_here.py",
        "WHERE = 'the script directory, first on the path'\n",
    );
    script(
        dir.path(),
        "probe.py",
        r#"import json, os, sys
import mcp
from helper_here import WHERE
line = sys.stdin.readline().strip()
print(json.dumps({"argv": sys.argv, "file": __file__, "name": __name__,
                  "spec": __spec__ is None, "cwd": os.getcwd(), "path0": sys.path[0],
                  "env": os.environ.get("WARM_PROBE"), "stdin": line, "where": WHERE}))
sys.stderr.write("to stderr\n")
if sys.argv[1] == "raise":
    def inner():
        raise ValueError("raised by the script")
    inner()
sys.exit(int(sys.argv[1]))
"#,
    );
    // Each form under the 2.x SDK's interpreter, and a script's traceback and exit code
    // under the 1.x's (each cold start costs most of a CPU-second).
    let forms: [(&str, &[&str]); 7] = [
        ("venv2", &["probe.py", "3"]),
        ("venv2", &["probe.py", "raise"]),
        ("venv2", &["probe.py", "0"]),
        ("venv2", &["-u", "probe.py", "0"]),
        ("venv2", &["-m", "json.tool"]),
        ("venv2", &["-m", "no_such_module_here"]),
        ("venv", &["probe.py", "raise"]),
    ];
    for (venv, args) in forms {
        let cold = peers().join(venv).join("bin/python");
        let warm = python(venv);
        let stdin = if args[0] == "-m" {
            "{\"a\": [1]}\n"
        } else {
            "a line\n"
        };
        let expected = run(&cold, dir.path(), args, stdin);
        let got = run(&warm, dir.path(), args, stdin);
        let what = format!("{venv} {args:?}");
        assert_eq!(
            String::from_utf8_lossy(&got.stderr),
            String::from_utf8_lossy(&expected.stderr),
            "{what}"
        );
        assert_eq!(
            String::from_utf8_lossy(&got.stdout),
            String::from_utf8_lossy(&expected.stdout),
            "{what}"
        );
        assert_eq!(got.status.code(), expected.status.code(), "{what}");
    }
}

/// Whether process `pid` is still there (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

fn until_gone(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "{what}: process {pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_warm_start_passes_signals_on_and_dies_with_its_caller() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("a directory");
    let sleeper = script(
        dir.path(),
        "sleeper.py",
        "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n",
    );
    let start = || {
        let mut child = Command::new(python("venv2"))
            .arg(&sleeper)
            .env_remove("METAMCP_WARM")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the sleeper");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("its pid");
        let pid: i32 = line.trim().parse().expect("a pid");
        assert_ne!(
            pid,
            child.id() as i32,
            "the script runs in a process of its own"
        );
        (child, pid)
    };

    // A signal to the interpreter reaches the script, which ends by it, as does the caller.
    let (mut child, pid) = start();
    #[allow(unsafe_code)]
    // SAFETY: kill has no memory preconditions; the pid is our running child's.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let ended = child.wait().expect("wait");
    assert_eq!(ended.signal(), Some(libc::SIGTERM), "{ended:?}");
    until_gone(pid, "after SIGTERM");

    // Killed outright, the interpreter takes the script with it.
    let (mut child, pid) = start();
    child.kill().expect("kill");
    child.wait().expect("wait");
    until_gone(pid, "after SIGKILL of its caller");
}

/// A start is never run twice: a server that took a request (it may have started the
/// script, which may have read its input) and then ended without saying the script's
/// pid is reported, not sent the request again or run cold (either would run the
/// script a second time on an input already read). Here a stand-in server takes the
/// request and closes: the caller exits 70 naming it, and nothing ran the script.
#[test]
fn a_start_the_server_took_is_never_sent_again() {
    let dir = tempfile::tempdir().expect("a directory");
    // A copy of python-warm of its own: its server's name is its own, so the stand-in
    // below is the only server it can reach.
    let warm = dir.path().join("python-warm");
    std::fs::copy(python("venv2"), &warm).expect("copy python-warm");
    let ran = dir.path().join("ran");
    let marks = script(
        dir.path(),
        "marks.py",
        &format!(
            "import sys\nopen({:?}, 'a').write(sys.stdin.read())\n",
            ran.display()
        ),
    );
    let stand_in = script(
        dir.path(),
        "stand_in.py",
        &format!(
            r#"import importlib.machinery, socket, sys
warm = importlib.machinery.SourceFileLoader("warm", {warm:?}).load_module()
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind("\0" + warm.server_name())
listener.listen(8)
print("listening", flush=True)
conn, _ = listener.accept()
data, fds, _, _ = socket.recv_fds(conn, 4096, 3)
size = int.from_bytes(data[:4], "big") + 4
while len(data) < size:  # the whole request, as a server reads it before it says so
    data += conn.recv(size - len(data))
conn.sendall(b"took\n")
conn.close()
listener.close()
print("took", len(fds), flush=True)
"#,
            warm = warm.display().to_string()
        ),
    );
    let mut server = Command::new(peers().join("venv2/bin/python"))
        .arg(&stand_in)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the stand-in");
    let mut out = std::io::BufReader::new(server.stdout.take().expect("its stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).expect("it listens");
    assert_eq!(line.trim(), "listening");
    let got = run(
        &warm,
        dir.path(),
        &[marks.to_str().expect("a path")],
        "input\n",
    );
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(got.status.code(), Some(70), "{err}");
    assert!(
        err.contains("took the start of") && err.contains("marks.py"),
        "{err}"
    );
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).expect("it took");
    assert_eq!(line.trim(), "took 3");
    server.wait().expect("the stand-in ends");
    assert!(!ran.exists(), "the script ran");
}
