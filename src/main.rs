//! The `metamcp` gateway binary: parse flags and configuration, then run the library.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ExitCode::from(metamcp::app::main(std::env::args().skip(1).collect()))
}
