//! `keyadm`: administer metamcp's API keys, servers, namespaces and database schema
//! (the commands are in `metamcp::keyadm`).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(metamcp::keyadm::main(std::env::args().skip(1).collect()));
}
