//! `mockmcp`: the `metamcp` binary beside it, called as `mockmcp` (tools/shim/run.rs).

#[path = "run.rs"]
mod run;

fn main() {
    run::exec()
}
