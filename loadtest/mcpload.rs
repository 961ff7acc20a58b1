//! `mcpload`: a load generator that speaks MCP.
//!
//! ```text
//! mcpload --url URL [--key KEY] [--jwt] [--stateless] [--answer-input]
//!         [--scenario ping|tools-list|tools-call|mixed|connect]
//!         [--tool NAME] [--args JSON] [--payload BYTES] [--mix ping=1,tools-list=1,tools-call=8]
//!         [--connections N] (--duration 10s | --requests N) [--rate R]
//!         [--timeout-ms N] [--json FILE] [--svg FILE] [--corpus FILE]
//! ```
//!
//! - Every connection opens a real MCP session (initialize, then calls carrying its id)
//!   or speaks the stateless era (`--stateless`); API key or JWT (`--jwt` exchanges the
//!   key first). Every request has its own JSON-RPC id. `--answer-input` answers a
//!   2026-07-28 `input_required` result as a client would and retries (up to 10 rounds):
//!   the request counts once, with the latency of every round.
//! - Closed loop (each connection sends its next request when the previous is
//!   answered) or open loop at `--rate` requests per second in total, latency measured
//!   from the intended send time, so queueing is not hidden. Send times are kept by one
//!   timer thread that sleeps until the next one is due (`Pacer`): the generator is idle
//!   between sends, so whatever shares its core (a database standing for another
//!   machine) runs then, instead of waiting behind a spinning load generator.
//! - The request bodies are prepared up front in a corpus file (a table of fixed-size
//!   `bytemuck::Pod` entries, then the payloads) mapped with `memmap2` and replayed; a
//!   connection reuses its buffers, so sending and reading a request allocates nothing.
//! - At the end: throughput, errors by kind (`http_<status>`, `rpc_<code>`, `timeout`,
//!   `connection` for a request sent and not answered, `connect` for a connection that
//!   could not be opened again, so nothing was sent), latency percentiles from a log-linear histogram (< 1 % error);
//!   `--json` writes the same, `--svg` draws latency and throughput over time and the
//!   latency distribution. A progress line is shown once a second on a terminal.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: mcpload --url URL [--key KEY] [--jwt] [--stateless] [--answer-input] \
[--capabilities JSON] \
[--scenario ping|tools-list|tools-call|mixed|connect] [--tool NAME] [--args JSON] \
[--payload BYTES] [--mix ping=1,tools-list=1,tools-call=8] [--connections N] \
(--duration 10s | --requests N) [--rate R] [--timeout-ms N] [--json FILE] [--svg FILE] \
[--corpus FILE]";

/// The stateless era's version.
const STATELESS: &str = "2026-07-28";
/// Distinct request bodies in the corpus (each connection walks it from its own offset).
const CORPUS_ENTRIES: usize = 4096;

// ---------------------------------------------------------------------------------------
// Arguments

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ping = 0,
    ToolsList = 1,
    ToolsCall = 2,
}

impl Kind {
    fn method(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::ToolsList => "tools/list",
            Kind::ToolsCall => "tools/call",
        }
    }
}

#[derive(Clone, Debug)]
struct Args {
    host: String,
    port: u16,
    path: String,
    key: Option<String>,
    jwt: bool,
    stateless: bool,
    /// Answer `input_required` results (multi-round-trip requests) and retry: a request
    /// counts once, with the latency of all its rounds.
    answer_input: bool,
    scenario: String,
    tool: String,
    args: Value,
    payload: Option<usize>,
    mix: Vec<(Kind, u32)>,
    connections: usize,
    duration: Option<Duration>,
    requests: Option<u64>,
    rate: Option<f64>,
    timeout: Duration,
    json: Option<String>,
    svg: Option<String>,
    corpus: Option<String>,
    /// The client capabilities a session declares (`{}` unless given).
    capabilities: String,
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = n.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut flags: BTreeMap<&str, &str> = BTreeMap::new();
    let mut switches = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Err(USAGE.into()),
            "--jwt" | "--stateless" | "--answer-input" => switches.push(a.as_str()),
            f if f.starts_with("--") => {
                let v = it.next().ok_or(format!("{f} needs a value"))?;
                flags.insert(f, v);
            }
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    let known = [
        "--url",
        "--key",
        "--scenario",
        "--tool",
        "--args",
        "--payload",
        "--mix",
        "--connections",
        "--duration",
        "--requests",
        "--rate",
        "--timeout-ms",
        "--json",
        "--svg",
        "--corpus",
        "--capabilities",
    ];
    if let Some(f) = flags.keys().find(|f| !known.contains(f)) {
        return Err(format!("unknown option {f}\n{USAGE}"));
    }
    let url = flags
        .get("--url")
        .ok_or(format!("--url is required\n{USAGE}"))?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must be an http:// URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().map_err(|_| "bad port in --url")?),
        None => (authority.to_string(), 80),
    };
    let num = |f: &str| -> Result<Option<f64>, String> {
        flags
            .get(f)
            .map(|v| v.parse::<f64>().map_err(|_| format!("{f} needs a number")))
            .transpose()
    };
    let scenario = flags
        .get("--scenario")
        .copied()
        .unwrap_or("tools-call")
        .to_string();
    if !["ping", "tools-list", "tools-call", "mixed", "connect"].contains(&scenario.as_str()) {
        return Err(format!("unknown scenario {scenario:?}"));
    }
    let mut mix = Vec::new();
    for part in flags
        .get("--mix")
        .copied()
        .unwrap_or("ping=1,tools-list=1,tools-call=8")
        .split(',')
    {
        let (k, w) = part.split_once('=').ok_or("--mix is name=weight,...")?;
        let kind = match k {
            "ping" => Kind::Ping,
            "tools-list" => Kind::ToolsList,
            "tools-call" => Kind::ToolsCall,
            _ => return Err(format!("unknown kind {k:?} in --mix")),
        };
        mix.push((
            kind,
            w.parse().map_err(|_| "--mix weights are whole numbers")?,
        ));
    }
    let duration = flags
        .get("--duration")
        .map(|d| parse_duration(d).ok_or("--duration is like 10s, 500ms or 2m"))
        .transpose()?;
    let requests = num("--requests")?.map(|n| n as u64);
    let duration = match (duration, requests) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    let args = match flags.get("--args") {
        Some(a) => serde_json::from_str(a).map_err(|e| format!("--args is not JSON: {e}"))?,
        None => json!({"message": "hello from mcpload"}),
    };
    Ok(Args {
        host,
        port,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        },
        key: flags.get("--key").map(|s| s.to_string()),
        jwt: switches.contains(&"--jwt"),
        stateless: switches.contains(&"--stateless"),
        answer_input: switches.contains(&"--answer-input"),
        scenario,
        tool: flags.get("--tool").copied().unwrap_or("echo").to_string(),
        args,
        payload: num("--payload")?.map(|n| n as usize),
        mix,
        connections: num("--connections")?.map_or(1, |n| n.max(1.0) as usize),
        duration,
        requests,
        rate: num("--rate")?.filter(|r| *r > 0.0),
        timeout: Duration::from_millis(num("--timeout-ms")?.map_or(10_000, |n| n as u64)),
        json: flags.get("--json").map(|s| s.to_string()),
        svg: flags.get("--svg").map(|s| s.to_string()),
        corpus: flags.get("--corpus").map(|s| s.to_string()),
        capabilities: match flags.get("--capabilities") {
            Some(c) => serde_json::from_str::<Value>(c)
                .ok()
                .filter(Value::is_object)
                .map(|v| v.to_string())
                .ok_or("--capabilities is not a JSON object")?,
            None => "{}".into(),
        },
    })
}

// ---------------------------------------------------------------------------------------
// The corpus: request bodies prepared up front, mapped and replayed

/// One request body in the corpus file.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Entry {
    /// Where its bytes start in the payload area, and how many.
    offset: u64,
    len: u32,
    /// [`Kind`] as a number.
    kind: u32,
}

const MAGIC: u64 = u64::from_le_bytes(*b"MCPLOAD1");

/// The mapped corpus: `[magic][count][entries][payloads]`.
struct Corpus {
    map: memmap2::Mmap,
    count: usize,
}

impl Corpus {
    fn entries(&self) -> &[Entry] {
        let start = 16;
        bytemuck::cast_slice(&self.map[start..start + self.count * size_of::<Entry>()])
    }

    fn payloads(&self) -> &[u8] {
        &self.map[16 + self.count * size_of::<Entry>()..]
    }

    /// The body and kind of request `i`.
    fn get(&self, i: usize) -> (&[u8], Kind) {
        let e = self.entries()[i % self.count];
        let body = &self.payloads()[e.offset as usize..e.offset as usize + e.len as usize];
        let kind = match e.kind {
            0 => Kind::Ping,
            1 => Kind::ToolsList,
            _ => Kind::ToolsCall,
        };
        (body, kind)
    }
}

/// The kinds of request the scenario sends, in a cycle that follows the weights.
fn kinds(args: &Args) -> Vec<Kind> {
    match args.scenario.as_str() {
        "ping" => vec![Kind::Ping],
        "tools-list" | "connect" => vec![Kind::ToolsList],
        "tools-call" => vec![Kind::ToolsCall],
        _ => {
            let mut out = Vec::new();
            for (k, w) in &args.mix {
                out.extend(std::iter::repeat_n(*k, *w as usize));
            }
            if out.is_empty() {
                out.push(Kind::ToolsCall);
            }
            // Interleave, so a connection does not send long runs of one kind.
            let n = out.len();
            (0..n).map(|i| out[(i * 7919) % n]).collect()
        }
    }
}

fn build_corpus(args: &Args, path: &std::path::Path) -> Result<Corpus, String> {
    let cycle = kinds(args);
    let mut arguments = args.args.clone();
    if let Some(n) = args.payload {
        arguments["message"] = Value::String("x".repeat(n));
    }
    let arguments = arguments.to_string();
    // A client answering input declares what it answers.
    let caps = if args.answer_input {
        r#"{"roots":{},"sampling":{},"elicitation":{}}"#
    } else {
        "{}"
    };
    let meta = if args.stateless {
        format!(
            ",\"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"{STATELESS}\",\
             \"io.modelcontextprotocol/clientCapabilities\":{caps}}}"
        )
    } else {
        String::new()
    };
    let tool = Value::String(args.tool.clone()).to_string();
    let mut entries = Vec::with_capacity(CORPUS_ENTRIES);
    let mut payloads = Vec::new();
    for i in 0..CORPUS_ENTRIES {
        let kind = cycle[i % cycle.len()];
        let params = match kind {
            Kind::ToolsCall => format!("{{\"name\":{tool},\"arguments\":{arguments}{meta}}}"),
            _ if args.stateless => format!("{{{}}}", &meta[1..]),
            _ => "{}".to_string(),
        };
        let body = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"{}\",\"params\":{params}}}",
            i + 1,
            kind.method()
        );
        entries.push(Entry {
            offset: payloads.len() as u64,
            len: body.len() as u32,
            kind: kind as u32,
        });
        payloads.extend_from_slice(body.as_bytes());
    }
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(&MAGIC.to_le_bytes())
        .and_then(|()| file.write_all(&(entries.len() as u64).to_le_bytes()))
        .and_then(|()| file.write_all(bytemuck::cast_slice(&entries)))
        .and_then(|()| file.write_all(&payloads))
        .map_err(|e| format!("writing the corpus: {e}"))?;
    drop(file);
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: the file is ours, written just now and not changed while mapped.
    let map =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("mapping the corpus: {e}"))?;
    if map.len() < 16 || map[..8] != MAGIC.to_le_bytes() {
        return Err("the corpus file is not one of ours".into());
    }
    Ok(Corpus {
        count: entries.len(),
        map,
    })
}

// ---------------------------------------------------------------------------------------
// Latency histogram (log-linear, HDR style: 128 sub-buckets per power of two)

const SUB: usize = 128;
const SUB_BITS: u32 = 7;

#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; SUB * 40],
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < SUB as u64 {
            return v as usize;
        }
        let msb = 63 - v.leading_zeros();
        let shift = msb + 1 - SUB_BITS;
        let bucket = (shift as usize) + 1;
        let sub = (v >> shift) as usize - SUB / 2;
        (bucket * SUB / 2 + sub).min(SUB * 40 - 1)
    }

    /// The smallest value of bucket `i` (what percentiles report, within 1 %).
    fn value(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let bucket = i / (SUB / 2) - 1;
        let sub = (i % (SUB / 2) + SUB / 2) as u64;
        sub << (bucket as u32)
    }

    fn record(&mut self, us: u64) {
        self.counts[Self::index(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i).min(self.max);
            }
        }
        self.max
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 on a raw socket, buffers reused

/// A response as far as the generator cares.
struct Answer {
    status: u16,
    /// The JSON-RPC error code, if the answer was an error.
    rpc_error: Option<i64>,
    session: Option<String>,
    /// The server closes the connection after this answer (`Connection: close`).
    close: bool,
    /// A JSON body asking for the client's input (`resultType: "input_required"`).
    input: Option<Vec<u8>>,
}

/// Reads one response into `buf` (reused): head, then a body by `Content-Length` or
/// chunked. Returns the answer and leaves nothing of it in `buf`.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Answer> {
    let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed");
    let head_end = loop {
        if let Some(i) = memchr::memmem::find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if read_more(stream, buf).await? == 0 {
            return Err(eof());
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).unwrap_or_default();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = None;
    let mut chunked = false;
    let mut session = None;
    let mut close = false;
    for line in head.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
            chunked = true;
        } else if k.eq_ignore_ascii_case("mcp-session-id") {
            session = Some(v.to_string());
        } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    let rpc_error;
    let mut input = None;
    if chunked {
        // Chunks are consumed one by one; the body is looked at as it passes.
        let mut at = head_end;
        let mut error = None;
        loop {
            let line_end = loop {
                if let Some(i) = memchr::memmem::find(&buf[at..], b"\r\n") {
                    break at + i;
                }
                if read_more(stream, buf).await? == 0 {
                    return Err(eof());
                }
            };
            let size_text = std::str::from_utf8(&buf[at..line_end]).unwrap_or("0");
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
            let need = line_end + 2 + size + 2;
            while buf.len() < need {
                if read_more(stream, buf).await? == 0 {
                    return Err(eof());
                }
            }
            if error.is_none() {
                error = rpc_error_code(&buf[line_end + 2..line_end + 2 + size]);
            }
            at = need;
            if size == 0 {
                break;
            }
        }
        rpc_error = error;
        buf.drain(..at);
    } else {
        let len = length.unwrap_or(0);
        while buf.len() < head_end + len {
            if read_more(stream, buf).await? == 0 {
                return Err(eof());
            }
        }
        rpc_error = rpc_error_code(&buf[head_end..head_end + len]);
        let body = &buf[head_end..head_end + len];
        input = memchr::memmem::find(body, b"\"input_required\"").map(|_| body.to_vec());
        buf.drain(..head_end + len);
    }
    Ok(Answer {
        status,
        rpc_error,
        session,
        close,
        input,
    })
}

/// The retry of `request` answering the questions of `input` (an `input_required`
/// answer) as a client would: elicitations accepted with no content, roots none, samples
/// a fixed text; the same `requestState`.
fn retry_with_input(request: &[u8], input: &[u8]) -> Option<Vec<u8>> {
    let answer: Value = serde_json::from_slice(input).ok()?;
    let result = &answer["result"];
    let mut responses = serde_json::Map::new();
    for (key, q) in result["inputRequests"].as_object()? {
        let reply = match q["method"].as_str()? {
            "roots/list" => json!({"roots": []}),
            "sampling/createMessage" => {
                json!({"role": "assistant", "model": "mcpload", "content": {"type": "text", "text": "ok"}})
            }
            _ => json!({"action": "accept", "content": {}}),
        };
        responses.insert(key.clone(), reply);
    }
    let mut retry: Value = serde_json::from_slice(request).ok()?;
    retry["id"] = json!(format!("r{}", answer["id"]));
    retry["params"]["inputResponses"] = Value::Object(responses);
    if let Some(state) = result.get("requestState") {
        retry["params"]["requestState"] = state.clone();
    }
    serde_json::to_vec(&retry).ok()
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 16 * 1024 {
        buf.reserve(64 * 1024);
    }
    stream.read_buf(buf).await
}

/// `"error":{"code":N` in a body: N.
fn rpc_error_code(body: &[u8]) -> Option<i64> {
    let at = memchr::memmem::find(body, b"\"error\":")?;
    let rest = &body[at..];
    let c = memchr::memmem::find(rest, b"\"code\":")? + 7;
    let digits: String = rest[c..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit() || **b == b'-')
        .map(|b| *b as char)
        .collect();
    Some(digits.parse().unwrap_or(0))
}

/// Writes a request: `head` (everything up to the blank line, without
/// `Content-Length`), its length, and the body, through `out` (reused).
async fn send(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<()> {
    out.clear();
    out.extend_from_slice(head);
    out.extend_from_slice(b"Content-Length: ");
    let mut digits = [0u8; 20];
    let mut n = body.len();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    stream.write_all(out).await
}

// ---------------------------------------------------------------------------------------
// Running the load

/// What every connection shares.
/// Wakes tasks at precise instants: tokio's timers tick in milliseconds, which would add
/// up to a millisecond of the generator's own lateness to every open-loop request. One
/// thread sleeps (a futex wait with a timeout: tens of microseconds late at most, less
/// as a real-time task) until the earliest instant asked for, and wakes its task.
struct Pacer {
    due: std::sync::Mutex<std::collections::BinaryHeap<Due>>,
    changed: std::sync::Condvar,
    stop: AtomicBool,
}

struct Due(Instant, tokio::sync::oneshot::Sender<()>);

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        self.0 == other.0
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Earliest first (the heap is a max-heap).
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        other.0.cmp(&self.0)
    }
}

impl Pacer {
    /// Starts the timer thread; it runs until [`Pacer::stop`].
    fn start() -> Arc<Pacer> {
        let pacer = Arc::new(Pacer {
            due: std::sync::Mutex::new(std::collections::BinaryHeap::new()),
            changed: std::sync::Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let p = pacer.clone();
        std::thread::Builder::new()
            .name("mcpload-pacer".into())
            .spawn(move || p.run())
            .ok();
        pacer
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn run(&self) {
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            match due.peek().map(|d| d.0) {
                Some(t) if t <= now => {
                    if let Some(Due(_, wake)) = due.pop() {
                        let _ = wake.send(());
                    }
                }
                next => {
                    // At most 100 ms at a time, to see `stop`.
                    let wait = next
                        .map_or(Duration::from_millis(100), |t| t - now)
                        .min(Duration::from_millis(100));
                    due = self
                        .changed
                        .wait_timeout(due, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        // Whoever still waits is let go.
        for Due(_, wake) in due.drain() {
            let _ = wake.send(());
        }
    }

    /// Completes at `t` (at once if it has passed).
    async fn until(&self, t: Instant) {
        // The bulk of a long wait on tokio's timer; the last stretch on the thread.
        let margin = Duration::from_micros(2500);
        if t > Instant::now() + margin {
            tokio::time::sleep_until((t - margin).into()).await;
        }
        if t <= Instant::now() {
            return;
        }
        let (wake, woken) = tokio::sync::oneshot::channel();
        self.due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Due(t, wake));
        self.changed.notify_one();
        let _ = woken.await;
    }
}

struct Shared {
    args: Args,
    /// The open loop's timer (with `--rate`).
    pacer: Option<Arc<Pacer>>,
    corpus: Corpus,
    auth: Option<String>,
    /// Request slots handed out (with `--requests`).
    issued: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    started: Instant,
}

/// What one connection measured.
struct Tally {
    latency: Histogram,
    /// Per second since the start: (requests, latency histogram).
    seconds: Vec<(u64, Histogram)>,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new(),
            seconds: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    fn error(&mut self, kind: String, shared: &Shared) {
        *self.errors.entry(kind).or_default() += 1;
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn record(&mut self, at: Duration, us: u64) {
        self.latency.record(us);
        let s = at.as_secs() as usize;
        while self.seconds.len() <= s {
            self.seconds.push((0, Histogram::new()));
        }
        self.seconds[s].0 += 1;
        self.seconds[s].1.record(us);
    }
}

/// The head of every request of `kind` on a connection (all but `Content-Length`).
fn head_for(shared: &Shared, session: Option<&str>, kind: Kind) -> Vec<u8> {
    let a = &shared.args;
    let mut h = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n",
        a.path, a.host, a.port
    );
    if let Some(auth) = &shared.auth {
        h.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if let Some(s) = session {
        h.push_str(&format!(
            "Mcp-Session-Id: {s}\r\nMCP-Protocol-Version: 2025-06-18\r\n"
        ));
    }
    if a.stateless {
        h.push_str(&format!(
            "MCP-Protocol-Version: {STATELESS}\r\nMcp-Method: {}\r\n",
            kind.method()
        ));
        if kind == Kind::ToolsCall {
            h.push_str(&format!("Mcp-Name: {}\r\n", a.tool));
        }
    }
    h.into_bytes()
}

async fn connect(shared: &Shared) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect((shared.args.host.as_str(), shared.args.port)).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Opens a session on a fresh connection: its id.
async fn open_session(shared: &Shared) -> Result<(TcpStream, Option<String>), String> {
    let mut stream = connect(shared).await.map_err(|e| format!("connect: {e}"))?;
    if shared.args.stateless {
        return Ok((stream, None));
    }
    let mut head = head_for(shared, None, Kind::Ping);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{{"name":"mcpload","version":"1"}}}}}}"#,
        shared.args.capabilities
    );
    send(&mut stream, &mut out, &head, init.as_bytes())
        .await
        .map_err(|e| format!("initialize: {e}"))?;
    let a = read_response(&mut stream, &mut buf)
        .await
        .map_err(|e| format!("initialize: {e}"))?;
    if a.status != 200 {
        return Err(format!("initialize answered HTTP {}", a.status));
    }
    let session = a.session;
    head = head_for(shared, session.as_deref(), Kind::Ping);
    send(
        &mut stream,
        &mut out,
        &head,
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await
    .map_err(|e| format!("initialized: {e}"))?;
    read_response(&mut stream, &mut buf)
        .await
        .map_err(|e| format!("initialized: {e}"))?;
    Ok((stream, session))
}

/// One connection's loop until the run ends.
async fn run_connection(shared: Arc<Shared>, index: usize) -> Tally {
    let mut tally = Tally::new();
    let a = &shared.args;
    let (mut stream, session) = match open_session(&shared).await {
        Ok(s) => s,
        Err(e) => {
            tally.error("connection".into(), &shared);
            eprintln!("mcpload: connection {index}: {e}");
            return tally;
        }
    };
    let heads = [Kind::Ping, Kind::ToolsList, Kind::ToolsCall]
        .map(|k| head_for(&shared, session.as_deref(), k));
    let mut out = Vec::with_capacity(4096);
    let mut buf = Vec::with_capacity(64 * 1024);
    // Open loop: this connection's share of the rate, from its own start.
    let interval = a
        .rate
        .map(|r| Duration::from_secs_f64(a.connections as f64 / r));
    // Connections' schedules are staggered, so the offered load is even, not in bursts.
    let mut next_send = Instant::now()
        + interval.map_or(Duration::ZERO, |s| {
            s.mul_f64(index as f64 / a.connections as f64)
        });
    let mut i = index * (CORPUS_ENTRIES / a.connections.max(1));
    let mut reconnect_failed = false;
    loop {
        if shared.stop.load(Ordering::Relaxed) || reconnect_failed {
            break;
        }
        if let Some(limit) = a.requests
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= limit
        {
            break;
        }
        let intended = match interval {
            Some(step) => {
                let t = next_send;
                next_send += step;
                match &shared.pacer {
                    Some(p) => p.until(t).await,
                    None => tokio::time::sleep_until(t.into()).await,
                }
                t
            }
            None => Instant::now(),
        };
        if a.scenario == "connect" {
            match connect(&shared).await {
                Ok(s) => stream = s,
                Err(_) => {
                    tally.error("connection".into(), &shared);
                    continue;
                }
            }
            buf.clear();
        }
        let (body, kind) = shared.corpus.get(i);
        i += 1;
        let exchange = async {
            send(&mut stream, &mut out, &heads[kind as usize], body).await?;
            let mut answer = read_response(&mut stream, &mut buf).await?;
            let mut rounds = 0;
            while a.answer_input && rounds < 10 {
                let Some(retry) = answer
                    .input
                    .as_deref()
                    .and_then(|i| retry_with_input(body, i))
                else {
                    break;
                };
                rounds += 1;
                send(&mut stream, &mut out, &heads[kind as usize], &retry).await?;
                answer = read_response(&mut stream, &mut buf).await?;
            }
            Ok::<_, std::io::Error>(answer)
        };
        let result = tokio::time::timeout(a.timeout, exchange).await;
        let now = Instant::now();
        let us = now.duration_since(intended).as_micros() as u64;
        match result {
            Ok(Ok(answer)) => {
                // A server that closes keep-alive connections now and then (nginx after
                // `keepalive_requests`) is not failing: connect again.
                if answer.close && a.scenario != "connect" {
                    match connect(&shared).await {
                        Ok(s) => {
                            stream = s;
                            buf.clear();
                        }
                        // Nothing was sent: the server no longer takes connections (it
                        // is draining, or gone). This connection's share ends here.
                        Err(_) => {
                            tally.error("connect".into(), &shared);
                            reconnect_failed = true;
                        }
                    }
                }
                if answer.status != 200 && answer.status != 202 {
                    tally.error(format!("http_{}", answer.status), &shared);
                } else if let Some(code) = answer.rpc_error {
                    tally.error(format!("rpc_{code}"), &shared);
                } else {
                    tally.record(intended.duration_since(shared.started), us);
                    shared.done.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tally.record(intended.duration_since(shared.started), us);
                shared.done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(_)) | Err(_) => {
                tally.error(
                    if result.is_err() {
                        "timeout"
                    } else {
                        "connection"
                    }
                    .into(),
                    &shared,
                );
                // The connection is in an unknown state: a new one (and session).
                match open_session(&shared).await {
                    Ok((s, _)) => {
                        stream = s;
                        buf.clear();
                    }
                    Err(_) => break,
                }
            }
        }
    }
    tally
}

fn progress(shared: &Shared, last: &mut (u64, Instant)) {
    let done = shared.done.load(Ordering::Relaxed);
    let now = Instant::now();
    let rate = (done - last.0) as f64 / now.duration_since(last.1).as_secs_f64();
    *last = (done, now);
    eprint!(
        "\r{:>6.1}s  {:>10.0} req/s  {:>9} requests  {:>6} errors ",
        shared.started.elapsed().as_secs_f64(),
        rate,
        done,
        shared.errors.load(Ordering::Relaxed)
    );
    let _ = std::io::stderr().flush();
}

// ---------------------------------------------------------------------------------------
// Reporting

fn summary(args: &Args, tallies: &[Tally], elapsed: Duration) -> Value {
    let mut latency = Histogram::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut seconds: Vec<(u64, Histogram)> = Vec::new();
    for t in tallies {
        latency.merge(&t.latency);
        for (k, n) in &t.errors {
            *errors.entry(k.clone()).or_default() += n;
        }
        for (s, (n, h)) in t.seconds.iter().enumerate() {
            while seconds.len() <= s {
                seconds.push((0, Histogram::new()));
            }
            seconds[s].0 += n;
            seconds[s].1.merge(h);
        }
    }
    let error_total: u64 = errors.values().sum();
    let ok = latency.total.saturating_sub(
        errors
            .iter()
            .filter(|(k, _)| k.starts_with("http_") || k.starts_with("rpc_"))
            .map(|(_, n)| n)
            .sum(),
    );
    let distribution: Vec<Value> = [50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0]
        .iter()
        .map(|p| json!([p, latency.percentile(*p)]))
        .collect();
    let per_second: Vec<Value> = seconds
        .iter()
        .map(|(n, h)| json!({"requests": n, "p50_us": h.percentile(50.0), "p99_us": h.percentile(99.0)}))
        .collect();
    let requests = latency.total
        + errors.get("timeout").copied().unwrap_or(0)
        + errors.get("connection").copied().unwrap_or(0);
    json!({
        "url": format!("http://{}:{}{}", args.host, args.port, args.path),
        "scenario": args.scenario,
        "stateless": args.stateless,
        "connections": args.connections,
        "rate": args.rate,
        "duration_s": elapsed.as_secs_f64(),
        "requests": requests,
        "ok": ok,
        "errors": errors,
        "error_total": error_total,
        "rps": latency.total as f64 / elapsed.as_secs_f64().max(1e-9),
        "latency_us": {
            "p50": latency.percentile(50.0),
            "p90": latency.percentile(90.0),
            "p99": latency.percentile(99.0),
            "p999": latency.percentile(99.9),
            "max": latency.max,
        },
        "distribution_us": distribution,
        "seconds": per_second,
    })
}

/// Latency (p50, p99) and throughput per second, and the latency distribution.
fn svg(report: &Value) -> String {
    let seconds = report["seconds"].as_array().cloned().unwrap_or_default();
    let dist = report["distribution_us"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (w, h, pad) = (760.0, 260.0, 50.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        2.0 * h + 40.0
    );
    out.push_str(&format!(
        "<text x=\"{pad}\" y=\"18\">mcpload {} — {:.0} req/s, p50 {} µs, p99 {} µs, p99.9 {} µs</text>\n",
        report["scenario"].as_str().unwrap_or(""),
        report["rps"].as_f64().unwrap_or(0.0),
        report["latency_us"]["p50"],
        report["latency_us"]["p99"],
        report["latency_us"]["p999"]
    ));
    // Over time: p50 and p99 (left axis), requests per second (right).
    let top = 30.0;
    let max_lat = seconds
        .iter()
        .filter_map(|s| s["p99_us"].as_f64())
        .fold(1.0_f64, f64::max);
    let max_rps = seconds
        .iter()
        .filter_map(|s| s["requests"].as_f64())
        .fold(1.0_f64, f64::max);
    let n = seconds.len().max(2) as f64;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1.0);
    let line = |field: &str, max: f64, color: &str| -> String {
        let points: Vec<String> = seconds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let v = s[field].as_f64().unwrap_or(0.0);
                format!("{:.1},{:.1}", x(i), top + h - 40.0 - (h - 60.0) * v / max)
            })
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            points.join(" ")
        )
    };
    out.push_str(&format!(
        "<rect x=\"{pad}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n",
        w - 2.0 * pad,
        h - 40.0
    ));
    out.push_str(&line("p50_us", max_lat, "#1f77b4"));
    out.push_str(&line("p99_us", max_lat, "#d62728"));
    out.push_str(&line("requests", max_rps, "#2ca02c"));
    out.push_str(&format!(
        "<text x=\"{pad}\" y=\"{}\">over time (s): p50 (blue), p99 (red) up to {max_lat:.0} µs; \
         req/s (green) up to {max_rps:.0}</text>\n",
        top + h - 20.0
    ));
    // Distribution: latency at each percentile, log scale on x (nines).
    let top2 = top + h;
    let max_d = dist
        .iter()
        .filter_map(|d| d[1].as_f64())
        .fold(1.0_f64, f64::max);
    let nines = |p: f64| -(1.0 - p / 100.0).max(1e-5).log10();
    let xd = |p: f64| pad + (w - 2.0 * pad) * nines(p) / 5.0;
    let points: Vec<String> = dist
        .iter()
        .map(|d| {
            let p = d[0].as_f64().unwrap_or(0.0);
            let v = d[1].as_f64().unwrap_or(0.0);
            format!(
                "{:.1},{:.1}",
                xd(p),
                top2 + h - 40.0 - (h - 60.0) * v / max_d
            )
        })
        .collect();
    out.push_str(&format!(
        "<rect x=\"{pad}\" y=\"{top2}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n",
        w - 2.0 * pad,
        h - 40.0
    ));
    out.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"#9467bd\" stroke-width=\"2\" points=\"{}\"/>\n",
        points.join(" ")
    ));
    for d in &dist {
        let p = d[0].as_f64().unwrap_or(0.0);
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\">p{p}</text>\n",
            xd(p),
            top2 + h - 28.0
        ));
    }
    out.push_str(&format!(
        "<text x=\"{pad}\" y=\"{}\">latency distribution (µs, up to {max_d:.0}) by percentile</text>\n</svg>\n",
        top2 + h - 8.0
    ));
    out
}

fn table(r: &Value) -> String {
    let l = &r["latency_us"];
    format!(
        "mcpload {} ({} connection(s){}{}): {} requests in {:.2} s = {:.0} req/s; errors {}\n\
         latency µs: p50 {} p90 {} p99 {} p99.9 {} max {}\nRESULT rps={:.1} p50_us={} p99_us={} requests={} errors={}\n",
        r["scenario"].as_str().unwrap_or(""),
        r["connections"],
        if r["stateless"] == true {
            ", stateless"
        } else {
            ""
        },
        r["rate"]
            .as_f64()
            .map_or(String::new(), |x| format!(", {x} req/s offered")),
        r["requests"],
        r["duration_s"].as_f64().unwrap_or(0.0),
        r["rps"].as_f64().unwrap_or(0.0),
        r["errors"],
        l["p50"],
        l["p90"],
        l["p99"],
        l["p999"],
        l["max"],
        r["rps"].as_f64().unwrap_or(0.0),
        l["p50"],
        l["p99"],
        r["requests"],
        r["error_total"],
    )
}

/// Exchanges the key for a JWT.
async fn token(args: &Args, key: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let body = json!({"api_key": key}).to_string();
    let head = format!(
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\
         Content-Type: application/json\r\n",
        args.host, args.port
    );
    let mut out = Vec::new();
    send(&mut stream, &mut out, head.as_bytes(), body.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("token answer: {e}"))?;
    let at = memchr::memmem::find(&raw, b"\r\n\r\n").ok_or("no token answer")? + 4;
    let v: Value = serde_json::from_slice(&raw[at..]).map_err(|e| format!("token answer: {e}"))?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no token: {v}"))
}

async fn run(args: Args) -> Result<Value, String> {
    let corpus_path = args.corpus.clone().map_or_else(
        || std::env::temp_dir().join(format!("mcpload-{}.corpus", std::process::id())),
        std::path::PathBuf::from,
    );
    let corpus = build_corpus(&args, &corpus_path)?;
    if args.corpus.is_none() {
        // Mapped already: the name is not needed any more.
        let _ = std::fs::remove_file(&corpus_path);
    }
    let auth = match (&args.key, args.jwt) {
        (Some(k), true) => Some(format!("Bearer {}", token(&args, k).await?)),
        (Some(k), false) => Some(format!("Bearer {k}")),
        (None, _) => None,
    };
    let shared = Arc::new(Shared {
        args: args.clone(),
        pacer: args.rate.map(|_| Pacer::start()),
        corpus,
        auth,
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        started: Instant::now(),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(run_connection(shared.clone(), i)))
        .collect();
    let tty = std::io::stderr().is_terminal();
    let deadline = args.duration.map(|d| shared.started + d);
    let mut last = (0u64, Instant::now());
    let all_done = async {
        let mut tallies = Vec::new();
        for t in tasks {
            if let Ok(t) = t.await {
                tallies.push(t);
            }
        }
        tallies
    };
    tokio::pin!(all_done);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let tallies = loop {
        tokio::select! {
            t = &mut all_done => break t,
            _ = tick.tick() => {
                if tty {
                    progress(&shared, &mut last);
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    let elapsed = shared.started.elapsed();
    if let Some(p) = &shared.pacer {
        p.stop();
    }
    if tty {
        eprintln!();
    }
    Ok(summary(&args, &tallies, elapsed))
}

fn main() -> std::process::ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            let help = argv.iter().any(|a| a == "-h" || a == "--help");
            if help {
                println!("{e}");
                return std::process::ExitCode::SUCCESS;
            }
            eprintln!("mcpload: {e}");
            return std::process::ExitCode::from(64);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpload: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let report = match rt.block_on(run(args.clone())) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mcpload: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    print!("{}", table(&report));
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, format!("{report:#}\n"))
    {
        eprintln!("mcpload: {path}: {e}");
        return std::process::ExitCode::FAILURE;
    }
    if let Some(path) = &args.svg
        && let Err(e) = std::fs::write(path, svg(&report))
    {
        eprintln!("mcpload: {path}: {e}");
        return std::process::ExitCode::FAILURE;
    }
    if report["ok"].as_u64() == Some(0) {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The open loop's timer wakes each waiter at its instant, never before, in order,
    /// and idles in between: the process uses a small share of a core while 32 waiters
    /// wait out 300 ms (the spinning wait it replaced used all of it).
    #[test]
    fn the_pacer_wakes_on_time_and_idles_between() {
        fn cpu_time() -> Duration {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or("", |(_, rest)| rest)
                .split_whitespace()
                .collect();
            let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
                + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
            Duration::from_millis(ticks * 10)
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pacer = Pacer::start();
        let start = Instant::now() + Duration::from_millis(20);
        let cpu_before = cpu_time();
        let woken: Vec<(Instant, Instant)> = rt.block_on(async {
            let waits = (0..32u32).map(|i| {
                let pacer = pacer.clone();
                let at = start + Duration::from_millis(u64::from(i) * 9 % 280);
                async move {
                    pacer.until(at).await;
                    (at, Instant::now())
                }
            });
            futures_util::future::join_all(waits).await
        });
        let cpu = cpu_time().saturating_sub(cpu_before);
        pacer.stop();
        // Never early. Late by under 20 ms for most waits: a pacer that woke on a coarse
        // tick would be late for most of them. A busy machine may hold any one thread
        // back for longer (a run with both cores kept busy saw one 26 ms late), so the
        // rest only within 200 ms.
        let mut late: Vec<Duration> = woken
            .iter()
            .map(|(due, at)| {
                assert!(at >= due, "woken {:?} early", *due - *at);
                *at - *due
            })
            .collect();
        late.sort();
        assert!(
            late[late.len() * 3 / 4] < Duration::from_millis(20),
            "{late:?}"
        );
        assert!(
            late[late.len() - 1] < Duration::from_millis(200),
            "{late:?}"
        );
        assert!(
            cpu < Duration::from_millis(150),
            "{cpu:?} of CPU over ~300 ms of waiting"
        );
        // An instant that has passed completes at once.
        rt.block_on(pacer.until(Instant::now() - Duration::from_millis(1)));
    }

    #[test]
    fn histogram_percentiles_are_within_one_percent() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (p, want) in [(50.0, 50_000.0), (99.0, 99_000.0), (99.9, 99_900.0)] {
            let got = h.percentile(p) as f64;
            assert!((got - want).abs() / want < 0.01, "p{p}: {got} vs {want}");
        }
        assert_eq!(h.max, 100_000);
        for v in [0u64, 1, 127, 128, 129, 1000, 123_456_789] {
            let i = Histogram::index(v);
            assert!(
                Histogram::value(i) <= v && v - Histogram::value(i) <= v / 64 + 1,
                "{v}"
            );
        }
    }

    #[test]
    fn error_codes_and_durations() {
        assert_eq!(
            rpc_error_code(br#"{"id":1,"error":{"code":-32602,"message":"x"}}"#),
            Some(-32602)
        );
        assert_eq!(rpc_error_code(br#"{"id":1,"result":{}}"#), None);
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert!(parse_duration("x").is_none());
    }
}
