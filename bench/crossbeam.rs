//! crossbeam where it is the natural tool, against what the gateway uses there, in one
//! run (report ratios: crossbeam time / metamcp time).
//!
//! - `snapshot_load`: reading the routing snapshot on every request. metamcp: `ArcSwap`
//!   (`state.data.routing`); crossbeam: an epoch-protected `crossbeam_epoch::Atomic` (pin,
//!   load, look up). Alone, and with another reader and a writer swapping the table every
//!   50 µs on the other core.
//! - `record_handoff`: handing one encoded audit row (or span) from the call's path to
//!   the writer, with the writer draining on the other thread. metamcp: a `Mutex` over
//!   batches the row is encoded straight into (buffers reused: no allocation); crossbeam:
//!   a `SegQueue<Vec<u8>>` (a row encoded into its own buffer, copied into the writer's
//!   batch) and an `ArrayQueue<[u8; 160]>` (fixed-size rows, no allocation, copied twice).
//!
//! Run: `cargo bench --bench crossbeam`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam_epoch::{self as epoch, Atomic, Owned};
use crossbeam_queue::{ArrayQueue, SegQueue};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn table(generation: usize) -> HashMap<String, usize> {
    (0..1000)
        .map(|i| (format!("server{}__tool_{}", i / 50, i % 50), i + generation))
        .collect()
}

/// Work run on another thread until told to stop.
type Background = Box<dyn Fn(&AtomicBool) + Send>;

/// Runs `f` while `background` runs on other threads (each until told to stop).
fn alongside<R>(background: Vec<Background>, f: impl FnOnce() -> R) -> R {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = background
        .into_iter()
        .map(|work| {
            let stop = stop.clone();
            std::thread::spawn(move || work(&stop))
        })
        .collect();
    let r = f();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    r
}

fn bench_snapshot(c: &mut Criterion) {
    const KEY: &str = "server7__tool_13";
    for contended in [false, true] {
        let label = if contended {
            "2_readers_1_writer"
        } else {
            "single_thread"
        };
        let mut g = c.benchmark_group(format!("snapshot_load_{label}"));

        let swap = Arc::new(ArcSwap::from_pointee(table(0)));
        let background: Vec<Background> = if contended {
            let (r, w) = (swap.clone(), swap.clone());
            vec![
                Box::new(move |stop: &AtomicBool| {
                    while !stop.load(Ordering::Relaxed) {
                        black_box(r.load().get(KEY).copied());
                    }
                }),
                Box::new(move |stop: &AtomicBool| {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        w.store(Arc::new(table(n)));
                        std::thread::sleep(std::time::Duration::from_micros(50));
                    }
                }),
            ]
        } else {
            vec![]
        };
        alongside(background, || {
            g.bench_function("metamcp_arc_swap", |b| {
                b.iter(|| black_box(swap.load().get(black_box(KEY)).copied()))
            });
        });

        let atomic = Arc::new(Atomic::new(table(0)));
        let background: Vec<Background> = if contended {
            let (r, w) = (atomic.clone(), atomic.clone());
            vec![
                Box::new(move |stop: &AtomicBool| {
                    while !stop.load(Ordering::Relaxed) {
                        let guard = epoch::pin();
                        let t = r.load(Ordering::Acquire, &guard);
                        // SAFETY: never null (set at creation, only ever swapped for another).
                        black_box(unsafe { t.deref() }.get(KEY).copied());
                    }
                }),
                Box::new(move |stop: &AtomicBool| {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let guard = epoch::pin();
                        let old = w.swap(Owned::new(table(n)), Ordering::AcqRel, &guard);
                        // SAFETY: unreachable from the Atomic now; freed once no pinned
                        // reader can still hold it.
                        unsafe { guard.defer_destroy(old) };
                        drop(guard);
                        std::thread::sleep(std::time::Duration::from_micros(50));
                    }
                }),
            ]
        } else {
            vec![]
        };
        alongside(background, || {
            g.bench_function("crossbeam_epoch", |b| {
                b.iter(|| {
                    let guard = epoch::pin();
                    let t = atomic.load(Ordering::Acquire, &guard);
                    // SAFETY: as above.
                    black_box(unsafe { t.deref() }.get(black_box(KEY)).copied())
                })
            });
        });
        g.finish();
        // Free the last table.
        let guard = epoch::pin();
        let last = atomic.swap(epoch::Shared::null(), Ordering::AcqRel, &guard);
        if !last.is_null() {
            // SAFETY: no reader is left.
            unsafe { guard.defer_destroy(last) };
        }
    }
}

/// A 150-byte row, roughly an audit row's binary COPY tuple, with the varying fields
/// written in.
const ROW: usize = 150;

fn encode(out: &mut Vec<u8>, n: u64) {
    let start = out.len();
    out.resize(start + ROW, b'x');
    out[start..start + 8].copy_from_slice(&n.to_be_bytes());
    out[start + 40..start + 48].copy_from_slice(&(n * 31).to_be_bytes());
}

/// The gateway's shape: rows encoded into the open batch under a lock; the writer takes
/// closed batches and gives their buffers back.
struct Batches {
    open: Vec<u8>,
    rows: usize,
    closed: Vec<Vec<u8>>,
    spare: Vec<Vec<u8>>,
}

const PER_BATCH: usize = 1000;

fn bench_handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("record_handoff_with_writer");

    let locked = Arc::new(Mutex::new(Batches {
        open: Vec::with_capacity(ROW * PER_BATCH),
        rows: 0,
        closed: Vec::new(),
        spare: Vec::new(),
    }));
    let writer = locked.clone();
    alongside(
        vec![Box::new(move |stop: &AtomicBool| {
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch = writer.lock().unwrap().closed.pop();
                match batch {
                    Some(mut b) => {
                        written += black_box(b.len()) as u64;
                        b.clear();
                        writer.lock().unwrap().spare.push(b);
                    }
                    None => std::thread::yield_now(),
                }
            }
            black_box(written);
        })],
        || {
            let mut n = 0u64;
            g.bench_function("metamcp_mutex_batches", |b| {
                b.iter(|| {
                    n += 1;
                    let mut q = locked.lock().unwrap();
                    encode(&mut q.open, n);
                    q.rows += 1;
                    if q.rows == PER_BATCH {
                        let next = q.spare.pop().unwrap_or_default();
                        let full = std::mem::replace(&mut q.open, next);
                        q.closed.push(full);
                        q.rows = 0;
                    }
                })
            });
        },
    );

    let seg = Arc::new(SegQueue::<Vec<u8>>::new());
    let writer = seg.clone();
    alongside(
        vec![Box::new(move |stop: &AtomicBool| {
            let mut batch = Vec::with_capacity(ROW * PER_BATCH);
            while !stop.load(Ordering::Relaxed) {
                match writer.pop() {
                    Some(row) => {
                        batch.extend_from_slice(&row);
                        if batch.len() >= ROW * PER_BATCH {
                            black_box(batch.len());
                            batch.clear();
                        }
                    }
                    None => std::thread::yield_now(),
                }
            }
        })],
        || {
            let mut n = 0u64;
            g.bench_function("crossbeam_segqueue_vec", |b| {
                b.iter(|| {
                    n += 1;
                    let mut row = Vec::with_capacity(ROW);
                    encode(&mut row, n);
                    seg.push(row);
                })
            });
        },
    );
    // What the writer could not drain in time is freed here, not measured.
    while seg.pop().is_some() {}

    let ring = Arc::new(ArrayQueue::<[u8; 160]>::new(100_000));
    let writer = ring.clone();
    alongside(
        vec![Box::new(move |stop: &AtomicBool| {
            let mut batch = Vec::with_capacity(ROW * PER_BATCH);
            while !stop.load(Ordering::Relaxed) {
                match writer.pop() {
                    Some(row) => {
                        batch.extend_from_slice(&row[..ROW]);
                        if batch.len() >= ROW * PER_BATCH {
                            black_box(batch.len());
                            batch.clear();
                        }
                    }
                    None => std::thread::yield_now(),
                }
            }
        })],
        || {
            let mut n = 0u64;
            let mut scratch = Vec::with_capacity(ROW);
            g.bench_function("crossbeam_arrayqueue_fixed", |b| {
                b.iter(|| {
                    n += 1;
                    scratch.clear();
                    encode(&mut scratch, n);
                    let mut row = [0u8; 160];
                    row[..ROW].copy_from_slice(&scratch);
                    // A full ring drops the row, as the gateway's bounded queue does.
                    black_box(ring.push(row).is_ok());
                })
            });
        },
    );
    g.finish();
}

criterion_group!(benches, bench_snapshot, bench_handoff);
criterion_main!(benches);
