//! The semantic half of tool search: sentence embeddings from the repository's fine-tune
//! of all-MiniLM-L6-v2 for tool retrieval ([`MODEL`], `train/toolsearch/`), run by the
//! `minilm` crate of this repository (the weights reach the machine with the build,
//! `build/model.rs`, checked against their pinned digest there, at start and when read), a
//! tool's kept by the hash of the text embedded, and the scores that join them to the
//! lexical ones ([`super::hybrid`]).
//!
//! A tool's embedding costs tens of milliseconds of one core, so it is computed once per
//! definition: [`Store`] keeps them by key in memory, and the gateway's worker
//! (`app/embeddings.rs`) looks a missing one up in PostgreSQL (shared by replicas) before
//! computing it there and storing it. A query's own embedding is computed per search.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Fields;

pub use minilm::DIM;

/// A unit-length embedding.
pub type Vector = Arc<[f32; DIM]>;

/// What an embedding is kept by: the SHA-256 of the model's name and the text embedded.
pub type Key = [u8; 32];

/// The model's name, part of every key (a new model never reads an old one's vectors):
/// the build's (`build/model.rs`).
pub const MODEL: &str = env!("METAMCP_MODEL_NAME");

/// The SHA-256 of the model's `model.safetensors`, pinned by the build.
pub const WEIGHTS_SHA256: &str = env!("METAMCP_MODEL_SHA256");

pub use super::text::TOOL_TOKENS;

/// Embeddings kept in memory at most (1.5 KB each); past it the oldest half goes (they
/// are in PostgreSQL, and a search meanwhile ranks those tools by their words).
pub const MAX_VECTORS: usize = 100_000;

/// Tools waiting for their embedding at most; past it, the rest wait for the next list
/// change (until then a search ranks them by their words).
pub const MAX_PENDING: usize = 20_000;

/// The text a tool is embedded as ([`super::text::embedded`]).
pub fn text_of(f: &Fields) -> String {
    super::text::embedded(f.name, f.title, f.description, &f.param_names, f.server)
}

/// The key of `text`'s embedding.
pub fn key_of(text: &str) -> Key {
    let mut h = Sha256::new();
    h.update(MODEL.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.finalize().into()
}

static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Where the model is read from: `METAMCP_TOOL_SEARCH_MODEL` (set once, at start), or
/// the folder the build fetched it into.
pub fn use_model_dir(dir: PathBuf) {
    let _ = DIR.set(dir);
}

pub fn model_dir() -> PathBuf {
    DIR.get()
        .cloned()
        .unwrap_or_else(|| PathBuf::from(env!("METAMCP_MODEL_BUILT")))
}

/// Whether the model's files are where they are read from, the weights with the digest
/// the build pinned (checked at start, so a gateway without them says so then, not at
/// its first search).
pub fn check_model() -> Result<(), String> {
    let dir = model_dir();
    for name in ["model.safetensors", "vocab.txt"] {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(format!(
                "tool search's model file {} is missing: set METAMCP_TOOL_SEARCH_MODEL to the \
                 folder holding model.safetensors and vocab.txt (the build fetches them into \
                 target/models/metamcp-toolsearch-1), or METAMCP_TOOL_SEARCH_RETRIEVAL=lexical",
                path.display()
            ));
        }
    }
    // Once a process for a file (every configuration a test process loads checks it),
    // read a mebibyte at a time: a gateway that never searches neither holds the 90 MB
    // nor pays for their pages.
    let path = dir.join("model.safetensors");
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let seen = Seen::of(&file).map_err(|e| format!("{}: {e}", path.display()))?;
    if checked(&path, &seen) {
        return Ok(());
    }
    let mut hasher = Sha256::new();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    std::io::copy(&mut reader, &mut hasher).map_err(|e| format!("{}: {e}", path.display()))?;
    check_digest(&path, &hasher.finalize())?;
    CHECKED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((path, seen));
    Ok(())
}

/// The weights' files this process checked, each as it was when checked.
static CHECKED: Mutex<Vec<(PathBuf, Seen)>> = Mutex::new(Vec::new());

/// A file as `stat` shows it: the same device, inode, length and modification time as
/// when its digest was checked is taken as the same bytes (replacing the file, or
/// writing into it, changes one of them).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Seen {
    fn of(file: &std::fs::File) -> std::io::Result<Seen> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata()?;
        Ok(Seen {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            modified: m.modified().ok(),
        })
    }
}

/// Whether this process checked `path` while it was as `seen`.
fn checked(path: &std::path::Path, seen: &Seen) -> bool {
    CHECKED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|(p, s)| p == path && s == seen)
}

/// Whether the weights read from `path`, whose SHA-256 is `digest`, are the model the
/// build pinned.
fn check_digest(path: &std::path::Path, digest: &[u8]) -> Result<(), String> {
    let got: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if got == WEIGHTS_SHA256 {
        return Ok(());
    }
    Err(format!(
        "tool search's model file {} has SHA-256 {got}, not {WEIGHTS_SHA256}, the model this \
         gateway was built with ({MODEL}): it is damaged or another model's. Set \
         METAMCP_TOOL_SEARCH_MODEL to the folder holding the build's model.safetensors and \
         vocab.txt (target/models/metamcp-toolsearch-1 after a build), or \
         METAMCP_TOOL_SEARCH_RETRIEVAL=lexical",
        path.display()
    ))
}

/// The weights in `path`, read whole; their digest is checked unless this process
/// checked the same file unchanged at start ([`check_model`]).
fn read_weights(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let said = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(said)?;
    let seen = Seen::of(&file).map_err(said)?;
    let mut weights = Vec::with_capacity(usize::try_from(seen.len).unwrap_or(0));
    file.read_to_end(&mut weights).map_err(said)?;
    if !checked(path, &seen) || u64::try_from(weights.len()).ok() != Some(seen.len) {
        check_digest(path, &Sha256::digest(&weights))?;
    }
    Ok(weights)
}

static LOADED: OnceLock<Result<minilm::Model, String>> = OnceLock::new();

/// The model, read on first use (a 90 MB file kept as 45 MB of halves, a tenth of a
/// second), once its digest is the build's and it embeds as the build's did
/// ([`embeds_as_built`]).
pub fn model() -> Result<&'static minilm::Model, String> {
    LOADED
        .get_or_init(|| {
            let dir = model_dir();
            let path = dir.join("model.safetensors");
            let weights = read_weights(&path)?;
            let vocab = std::fs::read_to_string(dir.join("vocab.txt"))
                .map_err(|e| format!("{}: {e}", dir.join("vocab.txt").display()))?;
            let model = minilm::Model::load(&weights, &vocab)?;
            match super::background::catalogue().first() {
                Some(e) => embeds_as_built(&model, &e.text, &e.vector)
                    .map_err(|e| format!("tool search's model in {}: {e}", dir.display()))?,
                None => return Err("the gateway was built without its background catalogue".into()),
            }
            Ok(model)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Whether `model` embeds `text` as the build did (`built`): the background catalogue's
/// embeddings come from the build's model, and a model folder given at run time
/// (`METAMCP_TOOL_SEARCH_MODEL`) that holds another model would compare needs with them
/// in another space. The same model differs by rounding alone (its kernels agree within
/// 1e-4 on every layer's outputs, `minilm`'s tests; the bound is 1e-3 a component of the
/// unit vector); another model by far more.
pub fn embeds_as_built(
    model: &minilm::Model,
    text: &str,
    built: &[f32; DIM],
) -> Result<(), String> {
    let now = model.embed_max(text, TOOL_TOKENS);
    let apart = now
        .iter()
        .zip(built)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    if apart <= 1e-3 {
        return Ok(());
    }
    Err(format!(
        "it is not the model this gateway was built with ({MODEL}, the repository's \
         fine-tune of all-MiniLM-L6-v2): its embedding of a known text differs by {apart:.3} \
         a component. Set \
         METAMCP_TOOL_SEARCH_MODEL to the folder holding that model's model.safetensors and \
         vocab.txt (target/models/metamcp-toolsearch-1 after a build), or unset it"
    ))
}

/// A query's embedding (blocking: milliseconds of one core).
pub fn embed_query(query: &str) -> Result<Vector, String> {
    Ok(Arc::new(model()?.embed(query)))
}

/// Queries embedded at once at most ([`super::QueryVectors::compute`]); a search that waits longer than
/// [`QUERY_WAIT`] for its turn is ranked by its words alone.
pub const QUERY_SLOTS: usize = 2;

/// How long a search waits for a slot to embed its query.
pub const QUERY_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// A tool's embedding, from its text ([`text_of`]) (blocking: tens of milliseconds).
pub fn embed_tool(text: &str) -> Result<Vector, String> {
    Ok(Arc::new(model()?.embed_max(text, TOOL_TOKENS)))
}

/// A tool's text waiting for its embedding.
pub type Wanted = (Key, String);

/// The embeddings of tools, by key, and those wanted: one a gateway (its worker writes
/// to its database).
#[derive(Default)]
pub struct Store {
    vectors: Mutex<HashMap<Key, Vector>>,
    pending: Mutex<HashSet<Key>>,
    worker: Mutex<Option<mpsc::UnboundedSender<Vec<Wanted>>>>,
}

impl Store {
    pub fn get(&self, key: &Key) -> Option<Vector> {
        self.vectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// Keeps embeddings (bounded by [`MAX_VECTORS`]), and they are no longer wanted.
    pub fn put(&self, found: impl IntoIterator<Item = (Key, Vector)>) {
        let mut vectors = self.vectors.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (key, v) in found {
            if vectors.len() >= MAX_VECTORS {
                let drop: Vec<Key> = vectors.keys().take(MAX_VECTORS / 2).copied().collect();
                for k in drop {
                    vectors.remove(&k);
                }
            }
            pending.remove(&key);
            vectors.insert(key, v);
        }
    }

    /// They will not come (the model failed): wanted again at the next list change.
    pub fn give_up(&self, keys: impl IntoIterator<Item = Key>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            pending.remove(&k);
        }
    }

    /// How many are kept, and how many wanted.
    pub fn counts(&self) -> (usize, usize) {
        let kept = self.vectors.lock().unwrap_or_else(|p| p.into_inner()).len();
        let wanted = self.pending.lock().unwrap_or_else(|p| p.into_inner()).len();
        (kept, wanted)
    }

    /// Asks for the embeddings of `wanted` that are neither kept nor already asked for:
    /// the worker takes them ([`Store::attach`]); without one, they are computed here.
    pub fn want(&self, wanted: Vec<Wanted>) {
        let fresh: Vec<Wanted> = {
            let vectors = self.vectors.lock().unwrap_or_else(|p| p.into_inner());
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            wanted
                .into_iter()
                .filter(|(k, _)| !vectors.contains_key(k))
                .filter(|(k, _)| pending.len() < MAX_PENDING && pending.insert(*k))
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match worker {
            Some(tx) => {
                if let Err(back) = tx.send(fresh) {
                    self.give_up(back.0.into_iter().map(|(k, _)| k));
                }
            }
            None => self.compute(fresh),
        }
    }

    /// Computes `wanted` here and keeps them (the benchmark, and processes without a
    /// worker).
    pub fn compute(&self, wanted: Vec<Wanted>) {
        for (key, text) in wanted {
            match embed_tool(&text) {
                Ok(v) => self.put([(key, v)]),
                Err(e) => {
                    tracing::warn!(error = %e, "tool search: a tool's embedding failed");
                    self.give_up([key]);
                }
            }
        }
    }

    /// Forgets every embedding kept in memory (what is wanted next is read back from
    /// PostgreSQL, or computed).
    pub fn forget_all(&self) {
        self.vectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Makes the caller the worker: what is wanted from now on comes on the channel.
    pub fn attach(&self) -> mpsc::UnboundedReceiver<Vec<Wanted>> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start's check is trusted when the model is read only for the very file it
    /// checked: one rewritten since is hashed again and refused.
    #[test]
    fn weights_changed_after_their_check_are_checked_again_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, b"not the model").unwrap();
        let err = read_weights(&path).unwrap_err();
        assert!(err.contains("has SHA-256"), "{err}");
        // As if the start had checked this very file.
        let seen = Seen::of(&std::fs::File::open(&path).unwrap()).unwrap();
        CHECKED.lock().unwrap().push((path.clone(), seen));
        assert_eq!(read_weights(&path).unwrap(), b"not the model");
        std::fs::write(&path, b"another model's weights").unwrap();
        let err = read_weights(&path).unwrap_err();
        assert!(
            err.contains(&format!("{} has SHA-256", path.display()))
                && err.contains(WEIGHTS_SHA256),
            "{err}"
        );
    }

    #[test]
    fn the_model_gives_the_reference_embeddings() {
        let near = |v: &[f32; DIM], want: [f32; 6]| {
            for (got, want) in v.iter().zip(want) {
                assert!((got - want).abs() < 2e-4, "{got} against {want}");
            }
            let norm: f32 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-4);
        };
        // The stock all-MiniLM-L6-v2: sentence-transformers' own pipeline (tokenizer.json,
        // the f32 weights, mean pooling, normalisation) gives these first components.
        let stock = std::path::Path::new(env!("METAMCP_MODEL_STOCK"));
        let read = |name: &str| std::fs::read(stock.join(name)).unwrap();
        let vocab = String::from_utf8(read("vocab.txt")).unwrap();
        let stock = minilm::Model::load(&read("model.safetensors"), &vocab).unwrap();
        let query = "what time is it in Tokyo?";
        near(
            &stock.embed(query),
            [0.04118, 0.02437, -0.00522, 0.01511, 0.00355, 0.0166],
        );
        // The gateway's fine-tune of it: the training's own pipeline
        // (train/toolsearch/common.py `embed`, torch) gives these.
        near(
            &embed_query(query).unwrap(),
            [0.06696, 0.03873, -0.00746, 0.00165, -0.00864, 0.01882],
        );
        let m = model().unwrap();
        assert_eq!(
            m.tokens("Don't re-use e-mail addresses (CO2 émission)", 256),
            [
                101, 2123, 1005, 1056, 2128, 1011, 2224, 1041, 1011, 5653, 11596, 1006, 2522, 2475,
                15760, 1007, 102
            ]
        );
        assert_eq!(
            m.tokens(&"word ".repeat(1000), TOOL_TOKENS).len(),
            TOOL_TOKENS
        );
    }

    #[test]
    fn a_model_that_embeds_otherwise_than_the_builds_is_refused() {
        let m = model().expect("the build's model passes its own check");
        let e = &super::super::background::catalogue()[0];
        embeds_as_built(m, &e.text, &e.vector).expect("the same model");
        let mut other = e.vector;
        other[7] += 0.05;
        let err = embeds_as_built(m, &e.text, &other).expect_err("another model");
        assert!(
            err.contains("not the model this gateway was built with")
                && err.contains("METAMCP_TOOL_SEARCH_MODEL"),
            "{err}"
        );
    }

    #[test]
    fn a_tools_text_and_key() {
        let f = Fields {
            name: "git__git_createBranch",
            title: "Create a branch",
            description: &"x".repeat(5000),
            param_names: "repo_path branchName".into(),
            server: "git",
            ..Fields::default()
        };
        let text = text_of(&f);
        assert!(
            text.starts_with("git git create branch. Create a branch xxx"),
            "{text}"
        );
        assert!(
            text.ends_with(" parameters: repo path branch name server git"),
            "{text}"
        );
        assert!(text.len() < 700);
        assert_eq!(key_of(&text), key_of(&text));
        assert_ne!(key_of(&text), key_of("other"));
    }

    #[test]
    fn the_store_keeps_computes_and_bounds() {
        let store = Store::default();
        let text = "read a file".to_string();
        let key = key_of(&text);
        store.want(vec![(key, text.clone())]);
        let v = store.get(&key).expect("computed here without a worker");
        assert_eq!(store.counts(), (1, 0));
        // Asked again: kept, not recomputed; with a worker, what is new goes to it.
        let mut rx = store.attach();
        store.want(vec![(key, text), (key_of("b"), "b".into())]);
        let sent = rx.try_recv().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(store.counts(), (1, 1));
        store.want(vec![(key_of("b"), "b".into())]);
        assert!(rx.try_recv().is_err(), "already wanted");
        store.give_up([key_of("b")]);
        assert_eq!(store.counts(), (1, 0));
        assert!(Arc::ptr_eq(&v, &store.get(&key).unwrap()));
        store.put((0..MAX_VECTORS as u32 + 1).map(|i| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_le_bytes());
            (k, v.clone())
        }));
        assert!(store.counts().0 <= MAX_VECTORS);
    }
}
