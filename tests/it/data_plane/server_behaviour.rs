//! Connection-level behaviour: body limits, slow clients, graceful shutdown, the events
//! stream. Raw sockets where the client must misbehave.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::gateway::TestGateway;
use crate::support::http::{request, send_json};
use crate::support::run_bin;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Reads whatever the server sends until it closes or `deadline` passes.
async fn read_until_close(s: &mut TcpStream, deadline: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(deadline, s.read_to_end(&mut buf))
        .await
        .is_ok();
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_streamed() {
    let gw = TestGateway::start_with(|c| c.max_body = 1024).await;
    let big = json!({"name": "x", "protocol": "http", "url": "http://a", "pad": "p".repeat(4000)});
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &big).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    // Chunked, with no Content-Length: refused once the running total passes the limit.
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/mcp/servers HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        gw.admin_key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..4 {
        let chunk = "a".repeat(500);
        s.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
    }
    let (text, _) = read_until_close(&mut s, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");

    // The gateway keeps serving everyone else.
    assert_eq!(
        request(gw.addr, "GET", "/health", &[], None).await.status,
        200
    );
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let gw = TestGateway::start_with(|c| c.header_timeout = Duration::from_millis(500)).await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let t0 = Instant::now();
    let (text, closed) = read_until_close(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "connection still open after 10 s");
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        t0.elapsed()
    );
    assert_eq!(
        request(gw.addr, "GET", "/health", &[], None).await.status,
        200
    );
}

/// A `POST /api/v1/mcp/servers` head declaring `len` body bytes.
fn server_post_head(key: &str, len: usize) -> String {
    format!(
        "POST /api/v1/mcp/servers HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
}

#[tokio::test]
async fn slow_bodies_are_cut_off_and_bodies_in_pieces_are_read() {
    let gw = TestGateway::start_with(|c| c.body_timeout = Duration::from_millis(600)).await;
    let body =
        json!({"name": "pieces", "protocol": "http", "url": "http://127.0.0.1:9/mcp"}).to_string();

    // Part of the body, then silence: 408 once the body timeout passes, connection closed.
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(server_post_head(&gw.admin_key, body.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(&body.as_bytes()[..10]).await.unwrap();
    let t0 = Instant::now();
    let (text, closed) = read_until_close(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "connection still open after 10 s");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        t0.elapsed()
    );

    // The same body in three pieces, all within the timeout: read whole and acted on.
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(server_post_head(&gw.admin_key, body.len()).as_bytes())
        .await
        .unwrap();
    let third = body.len() / 3;
    for piece in [&body[..third], &body[third..2 * third], &body[2 * third..]] {
        // A slow client, not synchronisation: the gateway must wait for the rest.
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(piece.as_bytes()).await.unwrap();
    }
    let mut head = vec![0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 201", "{}", String::from_utf8_lossy(&head));
    let r = request(
        gw.addr,
        "GET",
        "/api/v1/mcp/servers/pieces",
        &[("authorization", &format!("Bearer {}", gw.admin_key))],
        None,
    )
    .await;
    assert_eq!(r.status, 200);

    // And the slow client cost nobody else anything.
    assert_eq!(
        request(gw.addr, "GET", "/health", &[], None).await.status,
        200
    );
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let mut gw = TestGateway::start().await;
    let body =
        json!({"name": "late", "protocol": "http", "url": "http://127.0.0.1:9/mcp"}).to_string();
    let (first, rest) = body.split_at(10);
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/mcp/servers HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        gw.admin_key,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // The request is in flight (headers read, body pending) once authentication has
    // happened; wait for the gateway to have counted the connection.
    support::eventually(Duration::from_secs(5), "connection accepted", || async {
        (gw.state
            .observe
            .metrics
            .connections_open
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1)
            .then_some(())
    })
    .await;
    let server = gw.begin_shutdown();
    // New connections are refused once the listener is closed.
    support::eventually(Duration::from_secs(5), "listener closed", || async {
        TcpStream::connect(gw.addr).await.is_err().then_some(())
    })
    .await;
    s.write_all(rest.as_bytes()).await.unwrap();
    let (text, _) = read_until_close(&mut s, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("server drains and returns")
        .unwrap();
    let n: i64 = gw
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM mcp_servers WHERE name = 'late'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

async fn next_event(lines: &mut tokio::io::Lines<BufReader<TcpStream>>) -> Value {
    loop {
        let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("stream open");
        // Chunk-size lines of the chunked encoding are hex; events are JSON objects.
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(&line).unwrap();
            // Backends' status changes come asynchronously (the test's server at port
            // 9 fails); they have a test of their own (tests/it/data_plane/stdio.rs).
            if v["type"] != "heartbeat" && v["type"] != "server.status" {
                return v;
            }
        }
    }
}

async fn subscribe(gw: &TestGateway, key: &str) -> tokio::io::Lines<BufReader<TcpStream>> {
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(
        format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    let status = lines.next_line().await.unwrap().unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut saw_ndjson = false;
    loop {
        let h = lines.next_line().await.unwrap().unwrap();
        if h.is_empty() {
            break;
        }
        saw_ndjson |= h.eq_ignore_ascii_case("content-type: application/x-ndjson");
    }
    assert!(saw_ndjson);
    assert_eq!(next_event(&mut lines).await["type"], "ready");
    lines
}

#[tokio::test]
async fn the_event_stream_reports_registry_and_key_changes() {
    let gw = TestGateway::start().await;
    let mut admin = subscribe(&gw, &gw.admin_key).await;
    let mut client = subscribe(&gw, &gw.client_key).await;

    let s = json!({"name": "svc", "protocol": "http", "url": "http://127.0.0.1:9/mcp"});
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &s).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    for stream in [&mut admin, &mut client] {
        let e = next_event(stream).await;
        assert_eq!(
            (e["type"].as_str(), e["name"].as_str()),
            (Some("server.created"), Some("svc"))
        );
        assert_eq!(e["id"], id.as_str());
        assert!(e["at"].as_str().unwrap().ends_with('Z'));
    }
    send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/svc",
        &gw.admin_key,
        &json!({"timeout_ms": 9}),
    )
    .await;
    assert_eq!(next_event(&mut admin).await["type"], "server.updated");

    // Key events reach admins only; the client's next event is the deletion below.
    let out = run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &gw.db.env(),
        &["keys", "create", "--name", "k", "--json"],
    );
    let kid = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = next_event(&mut admin).await;
    assert_eq!(
        (e["type"].as_str(), e["id"].as_str()),
        (Some("key.created"), Some(kid.as_str()))
    );
    run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &gw.db.env(),
        &["keys", "inactivate", &kid],
    );
    assert_eq!(next_event(&mut admin).await["type"], "key.revoked");
    let auth = format!("Bearer {}", gw.admin_key);
    request(
        gw.addr,
        "DELETE",
        "/api/v1/mcp/servers/svc",
        &[("authorization", &auth)],
        None,
    )
    .await;
    let e = next_event(&mut client).await;
    assert_eq!(e["type"], "server.updated", "client saw {e}");
    assert_eq!(next_event(&mut client).await["type"], "server.deleted");
}

/// HTTP/1.1 cannot tell a client that a request it is sending on a keep-alive
/// connection will not be read, so a drain never closes such a connection while the
/// client may still be using it: one kept open past the grace still answers (and says
/// `Connection: close`); one left quiet closes on its own.
#[tokio::test]
async fn a_drain_answers_a_request_sent_on_a_kept_connection_after_the_grace() {
    let mut gw = TestGateway::start_with(|c| {
        c.drain_grace = Duration::from_millis(300);
        c.drain_timeout = Duration::from_secs(10);
    })
    .await;
    let began = Instant::now();
    let server = gw.begin_shutdown();
    support::eventually(Duration::from_secs(2), "/ready to say draining", || async {
        (request(gw.addr, "GET", "/ready", &[], None).await.status == 503).then_some(())
    })
    .await;
    // Opened during the grace; the client sends on it only once the grace is over.
    let mut kept = TcpStream::connect(gw.addr).await.unwrap();
    let mut quiet = TcpStream::connect(gw.addr).await.unwrap();
    support::eventually(Duration::from_secs(5), "the listener to close", || async {
        TcpStream::connect(gw.addr).await.is_err().then_some(())
    })
    .await;
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_until_close(&mut kept, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer:?}"
    );
    assert!(closed, "the connection closes after its answer");
    // The quiet one is closed within a second or so of quiet, and the drain ends.
    let (rest, closed) = read_until_close(&mut quiet, Duration::from_secs(5)).await;
    assert!(closed && rest.is_empty(), "{rest:?}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the drain ends once every connection is closed")
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_drain_says_not_ready_serves_the_grace_then_finishes_what_is_in_flight() {
    let mut gw = TestGateway::start_with(|c| {
        c.drain_grace = Duration::from_millis(800);
        c.drain_timeout = Duration::from_secs(10);
    })
    .await;
    let mock = support::mock::Mock::start(&[]);
    gw.register(json!({"name": "slow", "protocol": "http", "url": mock.url()}))
        .await;
    let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    assert_eq!(
        request(gw.addr, "GET", "/ready", &[], None).await.status,
        200
    );
    // A call in flight when the drain begins, longer than the grace.
    let in_flight = {
        let c = support::mcp::Client {
            session: c.session.clone(),
            ..support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key))
        };
        tokio::spawn(async move {
            c.call(
                json!(1),
                "tools/call",
                json!({"name": "slow__sleep", "arguments": {"ms": 2000}}),
            )
            .await
        })
    };
    support::eventually(Duration::from_secs(5), "the call in flight", || async {
        (mock.control("GET", "/control/stats").await["calls"]["sleep"].as_u64() == Some(1))
            .then_some(())
    })
    .await;
    let began = Instant::now();
    let server = gw.begin_shutdown();
    // /ready says 503 at once; new connections are still served during the grace, and
    // told to close.
    support::eventually(Duration::from_secs(2), "/ready to say draining", || async {
        (request(gw.addr, "GET", "/ready", &[], None).await.status == 503).then_some(())
    })
    .await;
    assert!(began.elapsed() < Duration::from_millis(500));
    let r = c
        .call(
            json!(2),
            "tools/call",
            json!({"name": "slow__echo", "arguments": {"message": "grace"}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "grace", "{r}");
    let h = request(gw.addr, "GET", "/health", &[], None).await;
    assert_eq!((h.status, h.header("connection")), (200, Some("close")));
    // After the grace, no new connections.
    support::eventually(Duration::from_secs(5), "the listener to close", || async {
        TcpStream::connect(gw.addr).await.is_err().then_some(())
    })
    .await;
    assert!(
        began.elapsed() >= Duration::from_millis(800),
        "{:?}",
        began.elapsed()
    );
    // The call in flight finishes, and only then does the server return.
    let answer = in_flight.await.unwrap();
    assert_eq!(
        answer["result"]["content"][0]["text"], "slept 2000 ms",
        "{answer}"
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the drain ends once nothing is in flight")
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
}

/// `running` means a server's tools are served: REST, the events stream and keyadm's view
/// in PostgreSQL say it only once the routing table in use serves the server's current
/// connection. A client that polls for `running` and then calls finds the tool; a table
/// that does not serve it (one built before it connected) reads `starting`.
#[tokio::test]
async fn a_server_reads_running_only_once_the_table_in_use_serves_it() {
    use metamcp::routing::Table;
    let gw = TestGateway::start().await;
    let mut events = subscribe(&gw, &gw.admin_key).await;
    let alpha = support::mock::Mock::start(&[]);
    gw.add(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let status = || async {
        let r = support::http::get(gw.addr, "/api/v1/mcp/servers/alpha", &gw.admin_key).await;
        r.json()["status"].as_str().unwrap_or_default().to_string()
    };
    let served = || {
        let table = gw.state.data.routing.load();
        table
            .view(None)
            .is_some_and(|v| v.tools.iter().any(|t| t.backend.name == "alpha"))
    };
    support::eventually(Duration::from_secs(15), "alpha running", || async {
        (status().await == "running").then_some(())
    })
    .await;
    let client = gw.session("/mcp", &gw.admin_key).await;
    let r = client
        .call_tool("alpha__echo", json!({"message": "at once"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "at once", "{r}");

    // The events say `starting`, then `running` once served; never `running` before.
    let mut said = Vec::new();
    while said.last().map(String::as_str) != Some("running") {
        let line = tokio::time::timeout(Duration::from_secs(5), events.next_line())
            .await
            .expect("alpha's status events within 5 s")
            .unwrap()
            .expect("stream open");
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["type"] == "server.status" && v["name"] == "alpha" {
            said.push(v["status"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(said, ["starting", "running"]);

    // A table that does not serve alpha's connection is in use: `starting` (unless a
    // rebuild came in between, when the table read just after serves it again).
    let mut read_starting = false;
    for _ in 0..20 {
        gw.state.data.routing.store(Table::default());
        let s = status().await;
        if s == "starting" {
            read_starting = true;
            break;
        }
        assert!(
            served(),
            "REST read {s:?} while the table in use does not serve alpha"
        );
    }
    assert!(
        read_starting,
        "REST never read `starting` under a table without alpha"
    );
    gw.state.rebuild_routing();
    assert_eq!(status().await, "running");
    assert!(served());
    // keyadm's view, written once the table serves it.
    let pool = metamcp::store::db::make_pool(support::cluster().pg_config(&gw.db.name), 1);
    let written_since = |since: f64| {
        let pool = pool.clone();
        async move {
            let latest = metamcp::store::server_status::latest(&pool).await.ok()?;
            let seen = latest.into_values().next()?;
            (seen.at > since).then_some(seen.status)
        }
    };
    support::eventually(
        Duration::from_secs(5),
        "alpha running in PostgreSQL",
        || async { (written_since(0.0).await? == "running").then_some(()) },
    )
    .await;

    // A changed server is served by a backend built anew, whose connection the table
    // that served the old one must not pass for its own: keyadm's view says `starting`,
    // then `running` again once the new connection is served.
    let before: f64 = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .await
        .unwrap()
        .get(0);
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/alpha",
        &gw.admin_key,
        &json!({"timeout_ms": 15000}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    support::eventually(
        Duration::from_secs(15),
        "the changed alpha running",
        || async { (written_since(before).await? == "running").then_some(()) },
    )
    .await;
    assert_eq!(status().await, "running");
}
