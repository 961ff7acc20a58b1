//! The API-key check every request with a key makes, against what it would cost without
//! the gateway's cache, on a real PostgreSQL: a private cluster in a temporary directory
//! (the gateway's own embedded mechanism, the machine's PostgreSQL binaries), stopped and
//! removed when the bench ends.
//!
//! - `api_key_check/metamcp_cached`: `Authenticator::authenticate` for a key verified
//!   once before: the key text parsed, its SHA-256 compared in constant time with the
//!   cached digest, the key's state checked (active, not expired, same version), usage
//!   counted. The future is polled once and must be ready: no I/O on this path.
//! - `api_key_check/store_verify_each_request`: what a request would cost without the
//!   cache: the key's row read from the database and its argon2 hash verified (the
//!   gateway's own `KeyStore::verify`).
//!
//! Run: `cargo bench --bench api_key` (about a minute: the baseline is slow on purpose).

use std::future::Future;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::Criterion;
use hyper::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use metamcp::auth::Authenticator;
use metamcp::auth::token::Tokens;
use metamcp::config::{KeyBytes, Secret};
use metamcp::crypto::Cipher;
use metamcp::store::db;
use metamcp::store::embedded::Cluster;
use metamcp::store::keys::{KeyStore, NewKey, Scope};
use metamcp::store::migrate;

/// A cluster in a temporary directory, stopped and removed when dropped.
struct BenchCluster {
    cluster: Cluster,
    root: PathBuf,
}

impl Drop for BenchCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop(true);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn start_cluster() -> BenchCluster {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::Builder::new()
        .prefix("metamcp-bench-")
        .tempdir()
        .expect("a temporary directory")
        .keep();
    // The cluster's own user (when run as root) must be able to traverse it.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).expect("chmod");
    let cluster = Cluster::locate(&root.join("data"))
        .expect("PostgreSQL binaries")
        .unsynced();
    cluster.ensure_running().expect("the bench cluster starts");
    BenchCluster { cluster, root }
}

/// Polls `fut` once; the cached check must finish without waiting on anything.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the cached key check waited on I/O"),
    }
}

fn main() {
    let bench = start_cluster();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (auth, store, key) = rt.block_on(async {
        db::create_database_if_missing(&bench.cluster, "bench")
            .await
            .expect("bench database");
        let pg = bench.cluster.pg_config("bench");
        let mut client = db::connect(&pg).await.expect("connect");
        migrate::run(&mut client).await.expect("migrations");
        let cipher = Cipher::new(&KeyBytes([7; 32]));
        let store = KeyStore::new(db::make_pool(pg.clone(), 2), cipher.clone());
        let key = store
            .create(NewKey {
                name: "bench".into(),
                description: None,
                scope: Scope::Client,
                namespaces: Vec::new(),
                expires_in_days: None,
                limits: Default::default(),
            })
            .await
            .expect("a key")
            .api_key;
        let auth = Authenticator::new(
            KeyStore::new(db::make_pool(pg, 2), cipher),
            Tokens::new(&Secret::new(
                "bench-jwt-secret-long-enough-0123456789".into(),
            )),
            metamcp::auth::limits::Limiter::new(Default::default()),
        );
        (auth, store, key)
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {key}")).expect("a header value"),
    );
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    // The first use verifies with argon2 and fills the cache.
    rt.block_on(auth.authenticate(&headers, peer))
        .expect("the key verifies");

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("api_key_check");
        g.bench_function("metamcp_cached", |b| {
            b.iter(|| {
                let p = ready(auth.authenticate(black_box(&headers), peer));
                black_box(p.expect("cached key accepted").key_id)
            })
        });
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(5));
        g.bench_function("store_verify_each_request", |b| {
            b.iter(|| {
                let v = rt.block_on(store.verify(black_box(&key)));
                black_box(v.is_ok())
            })
        });
        g.finish();
    }
    c.final_summary();
    drop(bench);
}
