//! `mcpc`: the `metamcp` binary beside it, called as `mcpc` (tools/shim/run.rs).

#[path = "run.rs"]
mod run;

fn main() {
    run::exec()
}
