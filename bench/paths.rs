//! The per-request checks and lookups besides frame handling, each beside a naive
//! baseline in the same group (report ratios: baseline time / metamcp time).
//!
//! - `routing_lookup`: the routing snapshot (`ArcSwap`, what `state.data.routing` is) against
//!   `RwLock<HashMap>`, single-threaded and with another reader and a writer swapping
//!   the table every 50 µs on other threads.
//! - `jwt_verify`: the gateway's `Tokens::verify` (key and validation built once, HS256
//!   pinned) plus its revocation check (the key's state in a map), against building the
//!   decoding key and validation for every token.
//! - `session_open`: an opened session from the bounded cache (every use still checked
//!   for expiry, key, endpoint and ending), opening the sealed id (ChaCha20-Poly1305 +
//!   JSON) every time, and a server-side session store (`RwLock<HashMap>`) as baseline.
//! - `stdio_id_rewrite`: a `tools/call` with a progress token made unique on the way to a
//!   stdio child (id and token spliced in the bytes) against parse-modify-serialise.
//! - `key_limits`: what a request pays for per-key limits: a key with none (the common
//!   case: three fields looked at), a key with a rate it never reaches (its bucket), and
//!   a key with a rate and a concurrency cap; the baseline is a global `Mutex<HashMap>`
//!   of buckets by key, what a naive limiter would take on every request.
//!
//! Run: `cargo bench --bench paths`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use metamcp::auth::session::{self, EndedSessions, SessionCache, SessionClaims};
use metamcp::auth::token::{Claims, Tokens};
use metamcp::config::{KeyBytes, Secret};
use metamcp::crypto::Cipher;
use metamcp::jsonrpc::frame;
use serde_json::{Value, json};

fn table(generation: usize) -> HashMap<String, usize> {
    (0..1000)
        .map(|i| (format!("server{}__tool_{}", i / 50, i % 50), i + generation))
        .collect()
}

/// Runs `f` while another reader and a writer (swapping every 50 µs) work on other
/// threads, if `contended`.
fn with_contention<R>(
    contended: bool,
    read: impl Fn() + Send + Sync + 'static,
    write: impl Fn(usize) + Send + Sync + 'static,
    f: impl FnOnce() -> R,
) -> R {
    if !contended {
        return f();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (s1, s2) = (stop.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        while !s1.load(Ordering::Relaxed) {
            read();
        }
    });
    let writer = std::thread::spawn(move || {
        let mut g = 0;
        while !s2.load(Ordering::Relaxed) {
            g += 1;
            write(g);
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    });
    let r = f();
    stop.store(true, Ordering::Relaxed);
    let _ = (reader.join(), writer.join());
    r
}

fn bench_routing(c: &mut Criterion) {
    for contended in [false, true] {
        let label = if contended {
            "2_readers_1_writer"
        } else {
            "single_thread"
        };
        let mut g = c.benchmark_group(format!("routing_lookup_{label}"));
        let snapshot = Arc::new(ArcSwap::from_pointee(table(0)));
        let (r, w) = (snapshot.clone(), snapshot.clone());
        with_contention(
            contended,
            move || {
                black_box(r.load().get("server7__tool_13").copied());
            },
            move |gen_| w.store(Arc::new(table(gen_))),
            || {
                g.bench_function("metamcp_arc_swap", |b| {
                    b.iter(|| {
                        black_box(snapshot.load().get(black_box("server7__tool_13")).copied())
                    })
                });
            },
        );
        let locked = Arc::new(RwLock::new(table(0)));
        let (r, w) = (locked.clone(), locked.clone());
        with_contention(
            contended,
            move || {
                black_box(r.read().unwrap().get("server7__tool_13").copied());
            },
            move |gen_| *w.write().unwrap() = table(gen_),
            || {
                g.bench_function("rwlock_hashmap", |b| {
                    b.iter(|| {
                        black_box(
                            locked
                                .read()
                                .unwrap()
                                .get(black_box("server7__tool_13"))
                                .copied(),
                        )
                    })
                });
            },
        );
        g.finish();
    }
}

fn bench_jwt(c: &mut Criterion) {
    let secret = "s".repeat(48);
    let tokens = Tokens::new(&Secret::new(secret.clone()));
    let now = metamcp::base::unix_now();
    let claims = Claims {
        sub: "0123456789abcdef".into(),
        scope: "client".into(),
        ns: vec![],
        iat: now,
        exp: now + 900,
        jti: "00".repeat(16),
        kv: "v1".into(),
    };
    let token = tokens.sign(&claims).unwrap();
    let states: RwLock<HashMap<String, String>> = RwLock::new(
        (0..1000)
            .map(|i| (format!("{i:016x}"), "v1".to_string()))
            .collect(),
    );
    let mut g = c.benchmark_group("jwt_verify");
    g.bench_function("metamcp", |b| {
        b.iter(|| {
            let c = tokens.verify(black_box(&token), now).unwrap();
            let live = states
                .read()
                .unwrap()
                .get(&c.sub)
                .is_some_and(|v| *v == c.kv);
            black_box(live)
        })
    });
    g.bench_function("key_and_validation_per_token", |b| {
        b.iter(|| {
            let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
            let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            let c = jsonwebtoken::decode::<Claims>(black_box(&token), &key, &validation)
                .unwrap()
                .claims;
            let live = states
                .read()
                .unwrap()
                .get(&c.sub)
                .is_some_and(|v| *v == c.kv);
            black_box(live)
        })
    });
    g.finish();
}

fn bench_sessions(c: &mut Criterion) {
    let cipher = Cipher::new(&KeyBytes([7; 32]));
    let ended = EndedSessions::default();
    let now = metamcp::base::unix_now();
    let claims = SessionClaims {
        kid: "0123456789abcdef".into(),
        ns: None,
        v: "2025-06-18".into(),
        c: 0,
        iat: now,
        exp: now + 86_400,
    };
    let id = session::seal(&cipher, &claims);
    let cache = SessionCache::default();
    cache
        .open(&cipher, &ended, &id, "0123456789abcdef", None, now)
        .unwrap();
    let store: RwLock<HashMap<String, SessionClaims>> = RwLock::new(
        (0..1000)
            .map(|i| (format!("session-{i}"), claims.clone()))
            .chain([(id.clone(), claims.clone())])
            .collect(),
    );
    let mut g = c.benchmark_group("session_open");
    g.bench_function("metamcp_cached", |b| {
        b.iter(|| {
            black_box(
                cache
                    .open(
                        &cipher,
                        &ended,
                        black_box(&id),
                        "0123456789abcdef",
                        None,
                        now,
                    )
                    .unwrap(),
            )
        })
    });
    g.bench_function("metamcp_unseal_every_time", |b| {
        b.iter(|| {
            black_box(
                session::open(
                    &cipher,
                    &ended,
                    black_box(&id),
                    "0123456789abcdef",
                    None,
                    now,
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("server_side_store", |b| {
        b.iter(|| black_box(store.read().unwrap().get(black_box(&id)).cloned().unwrap()))
    });
    g.bench_function("metamcp_seal", |b| {
        b.iter(|| black_box(session::seal(&cipher, black_box(&claims))))
    });
    g.finish();
}

fn bench_stdio_rewrite(c: &mut Criterion) {
    let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
        "params": {"name": "read_file", "arguments": {"path": "/srv/data/report.txt", "max": 4096},
                   "_meta": {"progressToken": "client-token-17"}}}))
    .unwrap();
    let upstream_id = b"\"g123456\"";
    let mut g = c.benchmark_group("stdio_id_rewrite");
    g.bench_function("metamcp_splice", |b| {
        b.iter(|| {
            let f = frame::parse(black_box(&body)).unwrap();
            let (id, token) = (f.id.unwrap(), f.progress_token.unwrap());
            black_box(frame::splice(
                &body,
                &mut [(id, upstream_id), (token, upstream_id)],
            ))
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let mut v: Value = serde_json::from_slice(black_box(&body)).unwrap();
            v["id"] = json!("g123456");
            v["params"]["_meta"]["progressToken"] = json!("g123456");
            black_box(serde_json::to_vec(&v).unwrap())
        })
    });
    g.finish();
}

fn bench_key_limits(c: &mut Criterion) {
    use metamcp::auth::limits::Limiter;
    use metamcp::base::KeyId;
    use metamcp::model::limits::{Defaults, KeyLimits, Rate, Setting};
    use std::time::Instant;
    let limiter = Limiter::new(Defaults::default());
    let key = KeyId::parse("0123456789abcdef").unwrap();
    let none = KeyLimits::default();
    let rate = KeyLimits {
        rate: Setting::Is(Rate::parse("1000000000/s").unwrap()),
        ..KeyLimits::default()
    };
    let both = KeyLimits {
        max_concurrent: Setting::Is(1_000_000),
        ..rate
    };
    let mut g = c.benchmark_group("key_limits");
    let admit = |limits: &KeyLimits| {
        let eff = limiter.effective(limits);
        if !eff.any() {
            return None;
        }
        // Without a database the limiter answers at once: polled once, never pending.
        use futures_util::FutureExt;
        limiter.request(&key, &eff).now_or_never()?.ok()?;
        limiter.enter(&key, &eff).now_or_never()?.ok()?
    };
    g.bench_function("metamcp_unlimited_key", |b| {
        b.iter(|| black_box(admit(black_box(&none))))
    });
    g.bench_function("metamcp_rate_never_reached", |b| {
        b.iter(|| black_box(admit(black_box(&rate))))
    });
    g.bench_function("metamcp_rate_and_concurrency", |b| {
        b.iter(|| black_box(admit(black_box(&both))))
    });
    let naive: std::sync::Mutex<HashMap<String, (f64, Instant)>> = std::sync::Mutex::default();
    g.bench_function("global_mutex_hashmap", |b| {
        b.iter(|| {
            let mut m = naive.lock().unwrap();
            let now = Instant::now();
            let e = m.entry(key.to_string()).or_insert((1e9, now));
            e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * 1e9).min(1e9) - 1.0;
            e.1 = now;
            black_box(e.0)
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_routing,
    bench_jwt,
    bench_sessions,
    bench_stdio_rewrite,
    bench_key_limits
);
criterion_main!(benches);
