//! `mcpc`: a small MCP client for the command line.
//!
//! ```text
//! mcpc --url URL [--key KEY] tools | prompts | resources | templates
//! mcpc --url URL [--key KEY] call NAME JSON | get PROMPT JSON | read URI
//! ```
//! Prints the result as JSON. Exit status 1 on a JSON-RPC or transport error, 2 when a
//! tool reports `isError`, 64 on usage errors.

use std::process::ExitCode;
use std::time::Duration;

use metamcp::backend::http::{self as upstream, Endpoint, UpstreamError};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: mcpc --url URL [--key KEY] [--timeout-ms N] \
tools | prompts | resources | templates | call NAME JSON | get PROMPT JSON | read URI";

struct Args {
    url: String,
    key: Option<String>,
    timeout: Duration,
    command: Vec<String>,
}

fn parse() -> Result<Args, String> {
    let mut url = None;
    let mut key = None;
    let mut timeout = Duration::from_secs(60);
    let mut command = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--url" => url = Some(it.next().ok_or("--url needs a value")?),
            "--key" => key = Some(it.next().ok_or("--key needs a value")?),
            "--timeout-ms" => {
                let ms: u64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--timeout-ms needs a number")?;
                timeout = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ => command.push(a),
        }
    }
    let url = url.ok_or("--url is required")?;
    if command.is_empty() {
        return Err(USAGE.into());
    }
    Ok(Args {
        url,
        key,
        timeout,
        command,
    })
}

fn json_arg(s: Option<&String>) -> Result<Value, String> {
    match s {
        None => Ok(json!({})),
        Some(s) => serde_json::from_str(s).map_err(|e| format!("arguments are not JSON: {e}")),
    }
}

async fn run(args: Args) -> Result<Value, UpstreamError> {
    let auth = args.key.as_ref().map(|k| format!("Bearer {k}"));
    let extra: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let endpoint = Endpoint::new(&args.url, &extra)?;
    let client = upstream::client();
    let session = upstream::initialize(&client, &endpoint, 1, args.timeout).await?;
    let t = args.timeout;
    let cmd: Vec<&str> = args.command.iter().map(String::as_str).collect();
    let result = match cmd.as_slice() {
        ["tools"] => Value::Array(
            upstream::list_all(&client, &endpoint, &session, "tools/list", "tools", t).await?,
        ),
        ["prompts"] => Value::Array(
            upstream::list_all(&client, &endpoint, &session, "prompts/list", "prompts", t).await?,
        ),
        ["resources"] => Value::Array(
            upstream::list_all(
                &client,
                &endpoint,
                &session,
                "resources/list",
                "resources",
                t,
            )
            .await?,
        ),
        ["templates"] => Value::Array(
            upstream::list_all(
                &client,
                &endpoint,
                &session,
                "resources/templates/list",
                "resourceTemplates",
                t,
            )
            .await?,
        ),
        [verb @ ("call" | "get"), name, rest @ ..] => {
            let arguments = json_arg(rest.first().map(|s| s.to_string()).as_ref())
                .map_err(UpstreamError::Protocol)?;
            let method = if *verb == "call" {
                "tools/call"
            } else {
                "prompts/get"
            };
            upstream::call(
                &client,
                &endpoint,
                &session,
                "1",
                method,
                json!({"name": name, "arguments": arguments}),
                t,
            )
            .await?
        }
        ["read", uri] => {
            upstream::call(
                &client,
                &endpoint,
                &session,
                "1",
                "resources/read",
                json!({"uri": uri}),
                t,
            )
            .await?
        }
        _ => return Err(UpstreamError::Protocol(USAGE.into())),
    };
    upstream::terminate(&client, &endpoint, &session).await;
    Ok(result)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mcpc: {e}");
            return ExitCode::from(64);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpc: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(result) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&result).unwrap_or_default()
            );
            if result["isError"] == true {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("mcpc: {e}");
            ExitCode::FAILURE
        }
    }
}
