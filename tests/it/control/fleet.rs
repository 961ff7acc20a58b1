//! The fleet's files as CI checks them: the Helm chart (`deploy/helm/metamcp`) renders and
//! its objects are valid Kubernetes objects, the alert rules pass promtool and their unit
//! tests, the dashboard's queries parse, and every metric they use is one the gateway
//! exports (`deploy/check.sh`). And the chart's own migration step and gateway, their
//! command and environment as rendered, run here against the test PostgreSQL as a pod
//! would run them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{self, TestDb, http};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The renderer's Python (tests/peers/install.sh puts it there).
fn python() -> PathBuf {
    root().join("target/peers/helm/bin/python")
}

/// YAML documents to a JSON array, each Secret's data (and stringData) decoded as a
/// container sees it.
const TO_JSON: &str = r#"
import base64, json, sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
for d in docs:
    if d["kind"] == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()}
        d["data"] = {**data, **d.pop("stringData", {})}
json.dump(docs, sys.stdout)
"#;

/// The objects `render.sh` prints for the default values.
fn rendered() -> Vec<Value> {
    let out = Command::new(root().join("deploy/helm/metamcp/render.sh"))
        .output()
        .expect("run render.sh");
    assert!(
        out.status.success(),
        "render.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    objects(&out.stdout)
}

/// The raw manifests of `deploy/k8s/` that `kustomization.yaml` lists.
fn raw_manifests() -> Vec<Value> {
    let mut yaml = Vec::new();
    for file in ["secret.yaml", "deployment.yaml", "service.yaml"] {
        yaml.extend(std::fs::read(root().join("deploy/k8s").join(file)).expect(file));
        yaml.extend(b"\n---\n");
    }
    objects(&yaml)
}

/// YAML to JSON with the renderer's Python (PyYAML), installed by the repository's
/// script when missing, as render.sh does.
fn objects(yaml: &[u8]) -> Vec<Value> {
    if !python().exists() {
        let install = Command::new(root().join("tests/peers/install.sh"))
            .arg("--fleet")
            .output()
            .expect("run tests/peers/install.sh --fleet");
        assert!(
            install.status.success(),
            "tests/peers/install.sh --fleet failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    let mut child = Command::new(python())
        .args(["-c", TO_JSON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the renderer's python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml)
        .expect("write the objects");
    let json = child.wait_with_output().expect("yaml to json");
    assert!(json.status.success(), "the rendered objects are not YAML");
    serde_json::from_slice(&json.stdout).expect("JSON")
}

fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"))
}

/// One rendered container as it would run here: its command (the image's entry point
/// when it names none), and its environment resolved as the kubelet does (the Secret's
/// keys, the pod's IP as 127.0.0.1, `$(VAR)` of a variable before it), its emptyDir
/// mounts at `dir`.
struct Container {
    command: Vec<String>,
    env: Vec<(String, String)>,
}

fn container(spec: &Value, secret: &Value, dir: &Path) -> Container {
    let mounts: Vec<(String, PathBuf)> = spec["volumeMounts"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let at = m["mountPath"].as_str().expect("mountPath").to_string();
                    let here = dir.join(m["name"].as_str().expect("name"));
                    std::fs::create_dir_all(&here).expect("the volume's folder");
                    (at, here)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut env: Vec<(String, String)> = Vec::new();
    for from in spec["envFrom"].as_array().into_iter().flatten() {
        assert_eq!(
            from["secretRef"]["name"], secret["metadata"]["name"],
            "{from}"
        );
        let data = secret["data"].as_object().expect("the Secret's data");
        env.extend(
            data.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("text").into())),
        );
    }
    for e in spec["env"].as_array().expect("env") {
        let name = e["name"].as_str().expect("name").to_string();
        let value = if let Some(v) = e["value"].as_str() {
            let mut v = v.to_string();
            for (k, val) in &env {
                v = v.replace(&format!("$({k})"), val);
            }
            v
        } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_object() {
            assert_eq!(
                r["name"], secret["metadata"]["name"],
                "{name}: another Secret"
            );
            let key = r["key"].as_str().expect("key");
            secret["data"][key]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: the Secret has no {key}"))
                .to_string()
        } else if e["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP" {
            "127.0.0.1".to_string()
        } else {
            panic!("{name}: a source the test does not know: {e}");
        };
        let value = mounts
            .iter()
            .find(|(at, _)| value.starts_with(at.as_str()))
            .map_or(value.clone(), |(at, here)| {
                value.replacen(at.as_str(), &here.display().to_string(), 1)
            });
        env.push((name, value));
    }
    let entry_point = [Value::from("/usr/local/bin/metamcp")];
    let command = spec["command"]
        .as_array()
        .map_or(&entry_point[..], |c| &c[..])
        .iter()
        .chain(spec["args"].as_array().into_iter().flatten())
        .map(|a| a.as_str().expect("a word").to_string())
        .collect();
    Container { command, env }
}

/// `env` with DATABASE_URL pointing at `db`, the listen address on port 0, and the
/// values of `filled` (a Secret's placeholders, filled in as its comment asks).
fn here<'a>(
    env: &'a [(String, String)],
    db: &TestDb,
    filled: &[(&str, &str)],
) -> Vec<(&'a str, String)> {
    env.iter()
        .map(|(k, v)| match k.as_str() {
            "DATABASE_URL" => (k.as_str(), db.url.clone()),
            "METAMCP_LISTEN" => (k.as_str(), "127.0.0.1:0".to_string()),
            _ => match filled.iter().find(|(name, _)| name == k) {
                Some((_, value)) => (k.as_str(), value.to_string()),
                None => (k.as_str(), v.clone()),
            },
        })
        .collect()
}

/// The package's binary a container command names (`/usr/local/bin/keyadm` → keyadm).
fn binary(command: &[String]) -> &'static str {
    match command[0].as_str() {
        "/usr/local/bin/metamcp" => env!("CARGO_BIN_EXE_metamcp"),
        "/usr/local/bin/keyadm" => env!("CARGO_BIN_EXE_keyadm"),
        other => panic!("a command the image does not have: {other}"),
    }
}

/// The migration step (the pod's init container) as the pod runs it.
fn migrate(init: &Container, db: &TestDb) -> String {
    let out = support::run_bin(
        binary(&init.command),
        &here(&init.env, db, &[]),
        &init.command[1..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "the migration step failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills the gateway however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The gateway container started as rendered, once `/ready` answers 200 to the
/// kubelet's probe (its Host is the pod's address); the probe's Host with it.
async fn started(
    gateway: &Container,
    db: &TestDb,
    filled: &[(&str, &str)],
) -> (Killed, std::net::SocketAddr, String) {
    assert_eq!(binary(&gateway.command), env!("CARGO_BIN_EXE_metamcp"));
    assert_eq!(gateway.command.len(), 1, "{:?}", gateway.command);
    let (child, mut stderr, addr, _log) =
        support::start_gateway_binary_logged(&here(&gateway.env, db, filled));
    let killed = Killed(child);
    // Its log is read, or a full pipe would stop it (each refused probe is a line).
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let host = format!("127.0.0.1:{}", addr.port());
    let ready = support::eventually(support::WAIT, "/ready", || async {
        let probe = [("host", host.as_str())];
        let r = http::try_request(addr, "GET", "/ready", &probe, None);
        let r = tokio::time::timeout(std::time::Duration::from_secs(5), r).await;
        r.ok()?.ok().filter(|r| r.status == 200)
    })
    .await;
    assert_eq!(ready.json()["status"], "ready");
    let health = http::request(addr, "GET", "/health", &[("host", &host)], None).await;
    assert_eq!(health.status, 200, "{}", health.text());
    (killed, addr, host)
}

#[tokio::test]
async fn the_charts_migration_step_and_gateway_run_as_rendered_and_check_sh_passes() {
    let objects = rendered();
    let secret = object(&objects, "Secret");
    let deployment = object(&objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let dir = tempfile::tempdir().expect("a folder for the pod's volumes");
    let init = container(&pod["initContainers"][0], secret, dir.path());
    let gateway = container(&pod["containers"][0], secret, dir.path());
    assert_eq!(init.command, ["/usr/local/bin/keyadm", "migrate"]);
    assert_eq!(gateway.command, ["/usr/local/bin/metamcp"]);

    // The drain fits in the pod's grace period.
    let secs = |name: &str| -> u64 {
        let v = &gateway.env.iter().find(|(k, _)| k == name).expect(name).1;
        v.trim_end_matches('s').parse().expect("whole seconds")
    };
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace");
    assert!(
        secs("METAMCP_DRAIN_GRACE") + secs("METAMCP_DRAIN_TIMEOUT") < grace,
        "the drain outlasts terminationGracePeriodSeconds {grace}"
    );
    let probes = &pod["containers"][0];
    assert_eq!(probes["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(probes["livenessProbe"]["httpGet"]["path"], "/health");

    // A new pod on an empty database: its init container migrates, then its gateway
    // starts on that schema.
    let db = TestDb::new().await;
    let first = migrate(&init, &db);
    assert!(first.contains("applied 0001_init"), "{first}");
    let (_gateway, addr, host) = started(&gateway, &db, &[]).await;

    // The next pod of a rolling upgrade migrates while this one serves: nothing to do,
    // and this one stays ready.
    let again = migrate(&init, &db);
    assert!(again.contains("schema is up to date"), "{again}");
    let ready = http::request(addr, "GET", "/ready", &[("host", &host)], None).await;
    assert_eq!(ready.status, 200, "{}", ready.text());

    // deploy/check.sh, with this gateway's /metrics as what it exports.
    let metrics = http::request(addr, "GET", "/metrics", &[("host", &host)], None).await;
    assert_eq!(metrics.status, 200);
    let scraped = dir.path().join("metrics.txt");
    std::fs::write(&scraped, &metrics.body).expect("write the scrape");
    let check = tokio::task::spawn_blocking(move || {
        Command::new(root().join("deploy/check.sh"))
            .env("METRICS", &scraped)
            .output()
            .expect("run deploy/check.sh")
    })
    .await
    .expect("the check");
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "deploy/check.sh failed:\n{said}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(said.contains("ok: metric names"), "{said}");
}

/// `kubectl apply -k deploy/k8s` after filling in the Secret: the Deployment's gateway, as
/// its manifest runs it, migrates and answers the kubelet's probes.
#[tokio::test]
async fn the_raw_manifests_gateway_runs_as_written_and_answers_its_probes() {
    let objects = raw_manifests();
    let secret = object(&objects, "Secret");
    let pod = &object(&objects, "Deployment")["spec"]["template"]["spec"];
    let dir = tempfile::tempdir().expect("a folder for the pod's volumes");
    let gateway = container(&pod["containers"][0], secret, dir.path());
    let filled = [
        ("JWT_SECRET", support::TEST_JWT_SECRET),
        ("ENCRYPTION_KEY", support::TEST_ENCRYPTION_KEY),
    ];
    let db = TestDb::new().await;
    let (_gateway, _addr, _host) = started(&gateway, &db, &filled).await;
}
