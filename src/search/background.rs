//! What tools exist besides a view's own: the background against which tool search tells
//! a need no tool of the view serves. A cosine alone cannot say "nothing fits": how close
//! a fitting tool sits to a need depends on how long the need is and how the tools are
//! described, so a cut-off fit to one set's phrasing turns away real needs of another's.
//! What does transfer is a comparison: "send an SMS to my mother" is far from every tool
//! of a developer's view, and much nearer to a messaging tool the view does not have. So
//! a search answers nothing only when its best tool is not close and a background tool
//! fits the need clearly better ([`super::hybrid`]).
//!
//! The catalogue (`background.jsonl`, written by `bench/toolsearch/background.py`) is
//! the English tools of two public benchmarks that nobody on this project wrote:
//! the 99 of MetaTool's 199 ChatGPT plugins (MIT) that the encoder was not trained on
//! (it brings needs nearer to the others than they fit) and LiveMCPBench's MCP tools
//! (Apache-2.0): their names, the start of their descriptions and their parameters'
//! names. The build
//! embeds each as a tool is embedded (`build/background.rs`, with the model it fetched)
//! and the binary carries the result: the background is there from a gateway's start,
//! and no gateway or replica spends the 546 embeddings' CPU (about 10 s) on it.
//! [`super::semantic::model`] checks that the model read at run time embeds as the
//! build's did.

use std::sync::{Arc, OnceLock};

use minilm::DIM;

/// The build's catalogue: its entries and their embeddings (`build/background.rs`).
static BUILT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/background.bin"));

/// One tool of the catalogue: the benchmark it comes from, the text it was embedded as,
/// and that embedding.
pub struct Entry {
    pub from: String,
    pub text: String,
    pub vector: [f32; DIM],
}

static CATALOGUE: OnceLock<Vec<Entry>> = OnceLock::new();

/// The catalogue, read on first use.
pub fn catalogue() -> &'static [Entry] {
    CATALOGUE.get_or_init(|| parse(BUILT).unwrap_or_default())
}

/// The entries of the build's file, or `None` when it is not one.
fn parse(bin: &[u8]) -> Option<Vec<Entry>> {
    let mut rest = bin.strip_prefix(b"MMBG1\n")?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let mut out = Vec::with_capacity(count.min(bin.len() / (DIM * 4)));
    for _ in 0..count {
        let mut string = || -> Option<String> {
            let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            String::from_utf8(take(n)?.to_vec()).ok()
        };
        let (from, text) = (string()?, string()?);
        let mut vector = [0f32; DIM];
        for (v, b) in vector.iter_mut().zip(take(DIM * 4)?.chunks_exact(4)) {
            *v = f32::from_le_bytes(b.try_into().ok()?);
        }
        out.push(Entry { from, text, vector });
    }
    Some(out)
}

/// The background a searcher compares with: the catalogue's embeddings as half floats,
/// one row each, without the entries of one benchmark (`skip`: the benchmark reporting on
/// that set leaves its own tools out).
pub struct Rows {
    pub rows: Vec<u16>,
    pub count: usize,
}

impl Rows {
    /// The rows of every entry but those from `skip`.
    pub fn without(skip: Option<&str>) -> Rows {
        let mut rows = Vec::with_capacity(catalogue().len() * DIM);
        let mut count = 0;
        for e in catalogue() {
            if skip.is_some_and(|s| s == e.from) {
                continue;
            }
            rows.extend(e.vector.iter().map(|x| minilm::half(*x)));
            count += 1;
        }
        Rows { rows, count }
    }

    /// Every entry's row, made once a process.
    pub fn full() -> Arc<Rows> {
        static FULL: OnceLock<Arc<Rows>> = OnceLock::new();
        FULL.get_or_init(|| Arc::new(Rows::without(None))).clone()
    }

    pub fn row(&self, i: usize) -> &[u16] {
        &self.rows[i * DIM..(i + 1) * DIM]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_built_in_and_kept_apart_by_source() {
        let all = catalogue();
        assert!(all.len() > 500, "{}", all.len());
        // MetaTool's tools the encoder was trained on are left out: only its held-out half.
        let held = include_str!("../../bench/toolsearch/metatool-heldout.txt")
            .lines()
            .filter(|l| l.starts_with("plugins__"))
            .count();
        let metatool = all.iter().filter(|e| e.from == "metatool").count();
        assert!(metatool > 0 && metatool <= held, "{metatool} of {held}");
        assert!(all.iter().any(|e| e.from == "livemcpbench"));
        assert!(all.iter().all(|e| !e.text.is_empty()));
        let mut texts: Vec<&str> = all.iter().map(|e| e.text.as_str()).collect();
        texts.sort();
        texts.dedup();
        assert!(texts.len() + 5 >= all.len(), "texts are distinct");
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            all.iter().all(|e| (norm(&e.vector) - 1.0).abs() < 1e-3),
            "unit vectors"
        );
    }

    #[test]
    fn the_builds_vectors_are_the_gateways_embeddings_of_its_texts() {
        for e in [&catalogue()[3], &catalogue()[catalogue().len() - 1]] {
            let now = super::super::semantic::embed_tool(&e.text).expect("the model");
            let cosine: f32 = now.iter().zip(&e.vector).map(|(a, b)| a * b).sum();
            assert!(cosine > 0.9999, "{cosine} for {:?}", e.text);
        }
        // The text is the one a tool of the same fields is embedded as.
        let e = &catalogue()[0];
        assert!(e.text.contains(" server "), "{}", e.text);
    }

    #[test]
    fn a_file_that_is_not_the_builds_gives_no_catalogue() {
        assert!(parse(b"").is_none());
        assert!(parse(b"MMBG0\n\x01\0\0\0").is_none());
        let cut = &BUILT[..BUILT.len() - 1];
        assert!(parse(cut).is_none(), "a truncated file");
        let mut one = b"MMBG1\n\x01\0\0\0".to_vec();
        for s in ["metatool", "x. server y"] {
            one.extend((s.len() as u32).to_le_bytes());
            one.extend(s.as_bytes());
        }
        one.extend(std::iter::repeat_n(0u8, DIM * 4));
        let parsed = parse(&one).expect("one entry");
        assert_eq!((parsed.len(), parsed[0].from.as_str()), (1, "metatool"));
    }

    #[test]
    fn rows_leave_out_one_benchmark() {
        let all = Rows::full();
        assert_eq!(all.count, catalogue().len());
        assert!(Arc::ptr_eq(&all, &Rows::full()), "made once");
        let only = Rows::without(Some("livemcpbench"));
        assert_eq!(
            only.count,
            catalogue().iter().filter(|e| e.from == "metatool").count()
        );
        assert_eq!(only.row(0).len(), DIM);
        assert_eq!(only.rows.len(), only.count * DIM);
    }
}
