//! The `metamcp` gateway binary: parse flags and configuration, then run the library.

use std::process::ExitCode;

use metamcp::cli::{SETTING_FLAGS, parse_settings};
use metamcp::config::{Config, EXIT_USAGE};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str = "\
metamcp — an MCP gateway: many MCP servers behind one authenticated endpoint

usage: metamcp [--listen ADDR] [--database-url URL] [--data-dir DIR] [--max-body SIZE]
               [--config FILE]

Flags override environment variables (METAMCP_LISTEN, DATABASE_URL, METAMCP_DATA_DIR,
METAMCP_MAX_BODY), which override the TOML file named by --config or METAMCP_CONFIG.
Without DATABASE_URL a private PostgreSQL cluster is started under the data dir.";

fn main() -> ExitCode {
    let parsed = match parse_settings(std::env::args().skip(1)) {
        Ok(p) => p,
        Err(e) => return usage(&e.to_string()),
    };
    if let Some(arg) = parsed.rest.first() {
        return match arg.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                ExitCode::SUCCESS
            }
            "-V" | "--version" => {
                println!("metamcp {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            other => usage(&format!(
                "unknown argument {other:?} (flags: {})",
                SETTING_FLAGS
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
    }
    let config = match Config::load(parsed.overrides, parsed.config_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_USAGE as u8);
        }
    };
    metamcp::app::init_logging(&config.log_filter);
    // On one core (taskset, a one-CPU container) a current-thread runtime avoids the
    // work-stealing scheduler's cost; with more, one worker per CPU.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("metamcp: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(metamcp::app::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metamcp: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("metamcp: {message}\nrun `metamcp --help` for usage");
    ExitCode::from(EXIT_USAGE as u8)
}
