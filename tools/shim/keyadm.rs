//! `keyadm`: the `metamcp` binary beside it, called as `keyadm` (tools/shim/run.rs).

#[path = "run.rs"]
mod run;

fn main() {
    run::exec()
}
