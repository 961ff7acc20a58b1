//! One build: the set-up's `cargo build --release` links the crate once. `metamcp` is
//! the gateway and, under the names `keyadm`, `mcpc` and `mockmcp` (argv[0], or its first
//! argument), those tools; the three binaries of those names only run it. The load-test
//! tools are a package of their own, outside the default build.

use std::path::Path;
use std::process::{Command, Stdio};

const METAMCP: &str = env!("CARGO_BIN_EXE_metamcp");
const SHIMS: [(&str, &str); 3] = [
    ("keyadm", env!("CARGO_BIN_EXE_keyadm")),
    ("mcpc", env!("CARGO_BIN_EXE_mcpc")),
    ("mockmcp", env!("CARGO_BIN_EXE_mockmcp")),
];

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_default_build_is_the_gateway_and_its_tools_and_the_load_tools_are_apart() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("Cargo.toml parses");
    let bins: Vec<(String, String)> = manifest["bin"]
        .as_array()
        .expect("[[bin]]")
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or_default().to_string(),
                b["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = bins.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["metamcp", "keyadm", "mcpc", "mockmcp"], "{bins:?}");
    for (name, path) in &bins[1..] {
        assert!(path.starts_with("tools/shim/"), "{name} at {path}");
    }
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("members");
    assert!(
        members.iter().any(|m| m.as_str() == Some("loadtest")),
        "{members:?}"
    );
    let load: toml::Table = std::fs::read_to_string(root.join("loadtest/Cargo.toml"))
        .expect("loadtest/Cargo.toml")
        .parse()
        .expect("loadtest/Cargo.toml parses");
    let load_bins: Vec<&str> = load["bin"]
        .as_array()
        .expect("[[bin]]")
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(load_bins, ["mcpload", "pipebench", "fixedserver"]);
    // The tools link none of the crate: each is a small fraction of the gateway.
    let size = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    for (name, path) in SHIMS {
        assert!(
            size(path) * 10 < size(METAMCP),
            "{name} is {} bytes against metamcp's {}: it links the crate again",
            size(path),
            size(METAMCP)
        );
    }
}

#[test]
fn each_tool_answers_as_itself_by_its_binary_its_link_and_the_subcommand() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, keyadm_help, err) = run(Command::new(SHIMS[0].1).arg("--help"));
    assert_eq!(code, Some(0), "{err}");
    assert!(keyadm_help.contains("keys create"), "{keyadm_help}");
    let (code, same, _) = run(Command::new(METAMCP).args(["keyadm", "--help"]));
    assert_eq!((code, same.as_str()), (Some(0), keyadm_help.as_str()));
    // A link named after a tool is that tool.
    let link = dir.path().join("keyadm");
    std::os::unix::fs::symlink(METAMCP, &link).expect("link");
    let (code, same, _) = run(Command::new(&link).arg("--help"));
    assert_eq!((code, same.as_str()), (Some(0), keyadm_help.as_str()));

    let (code, mcpc_help, err) = run(Command::new(SHIMS[1].1).arg("--help"));
    assert_eq!(code, Some(0), "{err}");
    assert!(mcpc_help.contains("--url"), "{mcpc_help}");
    let (_, same, _) = run(Command::new(METAMCP).args(["mcpc", "--help"]));
    assert_eq!(same, mcpc_help);

    // mockmcp over stdio prints its port (0) and ends with its input.
    for cmd in [
        Command::new(SHIMS[2].1).args(["--transport", "stdio"]),
        Command::new(METAMCP).args(["mockmcp", "--transport", "stdio"]),
    ] {
        let (code, out, err) = run(cmd);
        assert_eq!((code, out.lines().next()), (Some(0), Some("0")), "{err}");
    }
    // The gateway itself still refuses an unknown word, naming its flags.
    let (code, _, err) = run(Command::new(METAMCP).arg("keyadmin"));
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("unknown argument \"keyadmin\""), "{err}");
}

#[test]
fn a_tool_without_the_gateway_beside_it_says_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let alone = dir.path().join("keyadm");
    std::fs::copy(SHIMS[0].1, &alone).expect("copy");
    let (code, out, err) = run(Command::new(&alone).args(["keys", "list"]));
    assert_eq!(code, Some(127), "{out}{err}");
    assert!(
        err.contains("found none next to") && err.contains("install metamcp in the same directory"),
        "{err}"
    );
}
