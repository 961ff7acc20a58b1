//! `keyadm`: administer metamcp API keys and the database schema.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(metamcp::keyadm::main(std::env::args().skip(1).collect()));
}
