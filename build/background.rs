//! Embeds tool search's background catalogue (`src/search/background.jsonl`) with the
//! model the build fetched, into `$OUT_DIR/background.bin`, which `src/search/background.rs`
//! includes: a gateway then has the catalogue's 546 embeddings from its start, instead of
//! computing them on every new database (about 10 CPU-seconds, during which a search
//! could not yet say "no tool fits"), and every process that searches (each of the test
//! suite's) no longer computes them again.
//!
//! A tool's text is made by `src/search/text.rs`, included here, so the catalogue is
//! embedded exactly as the gateway embeds a tool. The file: `MMBG1\n`, the number of
//! entries (u32, little-endian), then for each the benchmark it comes from and its text
//! (each a u32 length and UTF-8 bytes) and its embedding (384 f32, little-endian).

use std::path::Path;

#[path = "../src/search/text.rs"]
#[allow(dead_code)]
mod text;

/// The file's first bytes (its format's name and version).
pub const MAGIC: &[u8] = b"MMBG1\n";

pub fn embed(model_dir: &Path, out: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/search/background.jsonl");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed=src/search/text.rs");
    println!("cargo:rerun-if-changed=build/background.rs");
    let lines =
        std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let entries: Vec<(String, String)> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: {e} in {l}", source.display()));
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let server = field("server");
            let params: Vec<&str> = v["params"]
                .as_array()
                .map(|p| p.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default();
            let name = format!("{server}__{}", field("name"));
            let embedded =
                text::embedded(&name, "", &field("description"), &params.join(" "), &server);
            (field("from"), embedded)
        })
        .collect();
    let read = |name: &str| {
        let path = model_dir.join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let vocab = String::from_utf8(read("vocab.txt")).expect("vocab.txt is UTF-8");
    let model = minilm::Model::load(&read("model.safetensors"), &vocab)
        .unwrap_or_else(|e| panic!("the model in {}: {e}", model_dir.display()));
    // On every core: about 12 ms an entry (45 tokens on average).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = entries.len().div_ceil(threads).max(1);
    let vectors: Vec<[f32; minilm::DIM]> = std::thread::scope(|s| {
        let parts: Vec<_> = entries
            .chunks(per)
            .map(|part| {
                let model = &model;
                s.spawn(move || {
                    part.iter()
                        .map(|(_, t)| model.embed_max(t, text::TOOL_TOKENS))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("an embedding thread"))
            .collect()
    });
    let mut bin = Vec::with_capacity(entries.len() * (minilm::DIM * 4 + 200));
    bin.extend_from_slice(MAGIC);
    bin.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for ((from, text), v) in entries.iter().zip(&vectors) {
        for s in [from, text] {
            bin.extend_from_slice(&(s.len() as u32).to_le_bytes());
            bin.extend_from_slice(s.as_bytes());
        }
        for x in v {
            bin.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(out.join("background.bin"), bin).expect("write background.bin");
}
