//! Gateway replicas on one PostgreSQL behind a round-robin balancer: nginx with the
//! repository's own `deploy/nginx.conf` when nginx is installed (tests/peers/install.sh
//! installs it), else a TCP round robin written here. The replicas get the settings
//! `compose.yaml` gives them (`metamcp.env.example`: one database, one JWT secret, one
//! encryption key, a pool of 8).

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use super::http::{get, request, send_json};
use super::mock::Mock;
use super::{TestDb, eventually};

/// One gateway process; a thread reads its log so that it never blocks on it.
pub struct Replica {
    pub addr: SocketAddr,
    pub child: Child,
    /// What it has logged so far.
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Replica {
    pub fn start(db: &TestDb) -> Replica {
        Replica::start_with(db, &[])
    }

    /// A replica with more settings.
    pub fn start_with(db: &TestDb, more: &[(&'static str, String)]) -> Replica {
        let mut env = db.env();
        // As in metamcp.env.example.
        env.push(("METAMCP_DB_POOL_SIZE", "8".into()));
        env.extend(more.iter().cloned());
        let (child, stderr, addr) = super::start_gateway_binary_with(&env);
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for l in stderr.lines().map_while(Result::ok) {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(l);
            }
        });
        Replica { addr, child, log }
    }

    /// Log lines that contain `needle`.
    pub fn logged(&self, needle: &str) -> usize {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().filter(|l| l.contains(needle)).count()
    }

    /// Stops it as a deploy does (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let _ = self.child.wait();
    }

    /// `POST /mcp` requests it has answered (its `/metrics`).
    pub async fn mcp_posts(&self) -> u64 {
        let text = request(self.addr, "GET", "/metrics", &[], None)
            .await
            .text();
        text.lines()
            .filter(|l| l.starts_with("metamcp_http_requests_total{route=\"/mcp\",method=\"POST\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The balancer in front.
pub enum Balancer {
    Nginx {
        addr: SocketAddr,
        child: Child,
        _dir: tempfile::TempDir,
    },
    Tcp {
        addr: SocketAddr,
        task: tokio::task::JoinHandle<()>,
    },
}

impl Balancer {
    pub async fn start(replicas: &[SocketAddr]) -> Balancer {
        if std::path::Path::new("/usr/sbin/nginx").exists() {
            Self::nginx(replicas)
        } else {
            Self::tcp(replicas.to_vec()).await
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Balancer::Nginx { addr, .. } | Balancer::Tcp { addr, .. } => *addr,
        }
    }

    /// deploy/nginx.conf with the upstream servers and the port replaced.
    fn nginx(replicas: &[SocketAddr]) -> Balancer {
        let conf =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
                .expect("deploy/nginx.conf");
        let start = conf.find("# servers begin").expect("servers begin");
        let end = conf.find("# servers end").expect("servers end");
        let servers: String = replicas
            .iter()
            .map(|a| format!("server {a} max_fails=1 fail_timeout=5s;\n        "))
            .collect();
        let dir = tempfile::tempdir().expect("nginx prefix");
        // nginx's workers run as nobody when the master is root: they must reach it.
        super::set_mode(dir.path(), 0o755);
        // nginx takes no port 0: a port free a moment ago may be taken by the time it
        // binds. It writes its pid file only once its sockets are bound, and exits when
        // it cannot bind: so a start that exits is tried again on another port.
        let mut tries = 0;
        let (child, addr) = loop {
            tries += 1;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let conf = format!("{}{servers}{}", &conf[..start], &conf[end..])
                .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
            std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
            let _ = std::fs::remove_file(dir.path().join("nginx.pid"));
            let mut child = Command::new("/usr/sbin/nginx")
                .arg("-p")
                .arg(dir.path())
                .args(["-c", "nginx.conf", "-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start nginx");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let bound = loop {
                if dir.path().join("nginx.pid").exists() {
                    break true;
                }
                if child.try_wait().expect("nginx's status").is_some() {
                    break false;
                }
                assert!(std::time::Instant::now() < deadline, "nginx did not start");
                std::thread::sleep(Duration::from_millis(20));
            };
            if bound {
                break (child, SocketAddr::from(([127, 0, 0, 1], port)));
            }
            assert!(tries < 5, "nginx could not bind a port in {tries} tries");
        };
        Balancer::Nginx {
            addr,
            child,
            _dir: dir,
        }
    }

    /// Round robin per connection; a replica that refuses is skipped (as nginx's
    /// `proxy_next_upstream error`).
    async fn tcp(replicas: Vec<SocketAddr>) -> Balancer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let next = Arc::new(AtomicUsize::new(0));
            while let Ok((mut client, _)) = listener.accept().await {
                let replicas = replicas.clone();
                let next = next.clone();
                tokio::spawn(async move {
                    for _ in 0..replicas.len() {
                        let i = next.fetch_add(1, Ordering::Relaxed) % replicas.len();
                        if let Ok(mut upstream) = tokio::net::TcpStream::connect(replicas[i]).await
                        {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer::Tcp { addr, task }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        match self {
            Balancer::Nginx { child, .. } => {
                // SIGTERM: the master takes its workers with it (SIGKILL would not).
                if let Ok(pid) = i32::try_from(child.id()) {
                    // SAFETY: kill(2) on our own child's pid.
                    unsafe {
                        libc::kill(pid, libc::SIGTERM);
                    }
                }
                let _ = child.wait();
            }
            Balancer::Tcp { task, .. } => task.abort(),
        }
    }
}

/// Three replicas on a fresh database, an admin key, a mock backend registered.
pub async fn cluster() -> (TestDb, Vec<Replica>, String, Mock) {
    cluster_with(&[]).await
}

/// [`cluster`], each replica with more settings.
pub async fn cluster_with(more: &[(&'static str, String)]) -> (TestDb, Vec<Replica>, String, Mock) {
    let db = TestDb::new().await;
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start_with(&db, more)).collect();
    let store = super::gateway::key_store(&db);
    let admin =
        super::gateway::create_key(&store, "admin", metamcp::store::keys::Scope::Admin, &[]).await;
    let mock = Mock::start(&["--profile", "rich"]);
    let r = send_json(
        replicas[0].addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        // `accept`: its `toggle` adds a tool, a list change the tests wait for (under the
        // default `hold` the new tool would be held for review and nothing would change).
        &json!({"name": "mock", "protocol": "http", "url": mock.url(), "tool_changes": "accept"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    for rep in &replicas {
        eventually(
            Duration::from_secs(20),
            "mock running on every replica",
            || async {
                let r = get(rep.addr, "/api/v1/mcp/servers/mock", &admin).await;
                (r.json()["status"] == "running").then_some(())
            },
        )
        .await;
    }
    (db, replicas, admin, mock)
}
