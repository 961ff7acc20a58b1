//! The `metamcp` binary: the gateway, and the tools that ship with it. Called as
//! `keyadm`, `mcpc` or `mockmcp` (the file name of argv[0]: the shims of tools/shim, or a
//! link), or with one of those names as its first argument (`metamcp keyadm keys list`),
//! it is that tool; otherwise it is the gateway. One binary links the crate once.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[path = "../tools/mockmcp/main.rs"]
mod mockmcp;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The names the binary answers to besides its own.
const TOOLS: [&str; 3] = ["keyadm", "mcpc", "mockmcp"];

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let mut rest: Vec<String> = args.collect();
    let called = Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let tool = if TOOLS.contains(&called) {
        called.to_string()
    } else if rest.first().is_some_and(|a| TOOLS.contains(&a.as_str())) {
        rest.remove(0)
    } else {
        String::new()
    };
    match tool.as_str() {
        "keyadm" => std::process::exit(metamcp::keyadm::main(rest)),
        "mcpc" => mcpc(rest),
        "mockmcp" => {
            mockmcp::main(rest);
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(metamcp::app::main(rest)),
    }
}

/// `mcpc`, the small MCP client: the work is in [`metamcp::mcpc`], tested in process.
fn mcpc(args: Vec<String>) -> ExitCode {
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
    if args.iter().any(|a| a == "bridge") {
        let code = rt.block_on(metamcp::mcpc::bridge::main(&args));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let (code, out, err) = rt.block_on(metamcp::mcpc::main(&args));
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stderr().write_all(err.as_bytes());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
