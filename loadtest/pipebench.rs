//! `pipebench`: drives a stdio MCP server directly over its pipe, as the baseline for
//! calls through the gateway to the same server (`loadtest/stdio.sh`).
//!
//! ```text
//! pipebench --concurrency N --seconds S -- COMMAND [ARGS...]
//! ```
//! Starts the command, initializes it, then keeps N `tools/call echo` requests in flight
//! (closed loop) for S seconds; prints `calls=… rps=…`.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut concurrency, mut seconds, mut command) = (1usize, 5u64, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--concurrency" => concurrency = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--" => command = args.by_ref().collect(),
            _ => {
                eprintln!("usage: pipebench --concurrency N --seconds S -- COMMAND [ARGS...]");
                std::process::exit(64);
            }
        }
    }
    let Some((program, rest)) = command.split_first() else {
        eprintln!("pipebench: a command is needed after --");
        std::process::exit(64);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let Ok(rt) = rt else {
        std::process::exit(1);
    };
    match rt.block_on(run(
        program,
        rest,
        concurrency.max(1),
        Duration::from_secs(seconds),
    )) {
        Ok((calls, took)) => println!(
            "pipe concurrency={concurrency} calls={calls} rps={:.0}",
            calls as f64 / took.as_secs_f64()
        ),
        Err(e) => {
            eprintln!("pipebench: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(
    program: &str,
    args: &[String],
    concurrency: usize,
    duration: Duration,
) -> std::io::Result<(u64, Duration)> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("no pipes"));
    };
    let waiting: Waiting = Arc::default();
    let reader = {
        let waiting = waiting.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(id) = v["id"].as_u64()
                    && let Some(tx) = waiting
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id)
                {
                    let _ = tx.send(());
                }
            }
        })
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1024);
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if stdin.write_all(&line).await.is_err() {
                return;
            }
        }
    });
    let shared = waiting.clone();
    let call = move |id: u64, method: &str, params: &str| {
        let (done_tx, done_rx) = oneshot::channel();
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, done_tx);
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\",\"params\":{params}}}\n"
        );
        (line.into_bytes(), done_rx)
    };
    let (line, done) = call(
        0,
        "initialize",
        r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"pipebench","version":"1"}}"#,
    );
    let _ = tx.send(line).await;
    let _ = done.await;
    let _ = tx
        .send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n".to_vec())
        .await;
    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::new();
    for w in 0..concurrency as u64 {
        let tx = tx.clone();
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let id = (w + 1) * 1_000_000_000 + n;
                let (line, done) = call(
                    id,
                    "tools/call",
                    r#"{"name":"echo","arguments":{"message":"hello from pipebench"}}"#,
                );
                if tx.send(line).await.is_err() || done.await.is_err() {
                    break;
                }
                n += 1;
            }
            n
        }));
    }
    let mut calls = 0;
    for w in workers {
        calls += w.await.unwrap_or(0);
    }
    let took = start.elapsed();
    reader.abort();
    Ok((calls, took))
}
