//! `mcpc`: a small MCP client for the command line. The work is in
//! [`metamcp::mcpc`], where it is tested in process; this runs it.

use std::io::Write;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
