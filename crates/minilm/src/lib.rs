//! Sentence embeddings from all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), in
//! pure Rust: the uncased WordPiece tokenizer ([`tokenizer`]) and the six-layer BERT
//! encoder (384 wide, 12 heads, 1536 in the feed-forward), mean-pooled over the tokens
//! and normalised, as the model's own pipeline does. The weights are the model's
//! `model.safetensors` (f32) and `vocab.txt`, read by [`Model::load`]; nothing is
//! downloaded here. The dense layers and the word embeddings are kept as half floats
//! (45 MB in memory instead of 91; the arithmetic is f32): an embedding's components move
//! by about 2e-5, and the tool search benchmark's figures not at all.
//!
//! Made for metamcp's tool search: a need of a few words is embedded in milliseconds on
//! one core; a tool's definition once (its embedding is kept by the caller).

// Unsafe code only where documented and allowed locally: the vector kernels (AVX-512,
// AVX2/FMA/F16C), called after the processor was checked.
#![deny(unsafe_code)]

use std::collections::HashMap;

mod kernel;
pub mod tokenizer;

use kernel::{Dense, gelu, layer_norm, linear};
pub use kernel::{dot, dot_half, half, widen};
use tokenizer::Tokenizer;

/// Width of an embedding.
pub const DIM: usize = 384;
const HEADS: usize = 12;
const HEAD: usize = DIM / HEADS;
const FFN: usize = 1536;
const LAYERS: usize = 6;
/// Most tokens a text is read as (the model was trained on 256; the rest is cut).
pub const MAX_TOKENS: usize = 256;
const EPS: f32 = 1e-12;

struct Layer {
    q: Dense,
    k: Dense,
    v: Dense,
    o: Dense,
    norm1: (Vec<f32>, Vec<f32>),
    up: Dense,
    down: Dense,
    norm2: (Vec<f32>, Vec<f32>),
}

/// The model, loaded.
pub struct Model {
    tokenizer: Tokenizer,
    /// The word embeddings as half floats (a text reads a row per token).
    words: Vec<u16>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    norm: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
}

impl Model {
    /// The model from its `model.safetensors` bytes and its `vocab.txt`. The error says
    /// which tensor is missing or malformed.
    pub fn load(safetensors: &[u8], vocab: &str) -> Result<Model, String> {
        let tensors = Tensors::parse(safetensors)?;
        let layer = |l: usize| -> Result<Layer, String> {
            let p = format!("encoder.layer.{l}.");
            // A dense layer's weights (`[out, in]`) and bias, packed for the kernel.
            let pair = |w: &str, b: &str, shape: &[usize]| -> Result<Dense, String> {
                Ok(Dense::new(
                    &tensors.get(&format!("{p}{w}"), shape)?,
                    &tensors.get(&format!("{p}{b}"), &shape[..1])?,
                    shape[1],
                    shape[0],
                ))
            };
            Ok(Layer {
                q: pair(
                    "attention.self.query.weight",
                    "attention.self.query.bias",
                    &[DIM, DIM],
                )?,
                k: pair(
                    "attention.self.key.weight",
                    "attention.self.key.bias",
                    &[DIM, DIM],
                )?,
                v: pair(
                    "attention.self.value.weight",
                    "attention.self.value.bias",
                    &[DIM, DIM],
                )?,
                o: pair(
                    "attention.output.dense.weight",
                    "attention.output.dense.bias",
                    &[DIM, DIM],
                )?,
                norm1: (
                    tensors.get(&format!("{p}attention.output.LayerNorm.weight"), &[DIM])?,
                    tensors.get(&format!("{p}attention.output.LayerNorm.bias"), &[DIM])?,
                ),
                up: pair(
                    "intermediate.dense.weight",
                    "intermediate.dense.bias",
                    &[FFN, DIM],
                )?,
                down: pair("output.dense.weight", "output.dense.bias", &[DIM, FFN])?,
                norm2: (
                    tensors.get(&format!("{p}output.LayerNorm.weight"), &[DIM])?,
                    tensors.get(&format!("{p}output.LayerNorm.bias"), &[DIM])?,
                ),
            })
        };
        let tokenizer = Tokenizer::from_vocab(vocab)?;
        let words: Vec<u16> = tensors
            .get_any("embeddings.word_embeddings.weight", DIM)?
            .into_iter()
            .map(kernel::half)
            .collect();
        if words.len() / DIM < tokenizer.len() {
            return Err("the vocabulary is larger than the word embeddings".into());
        }
        Ok(Model {
            tokenizer,
            words,
            positions: tensors.get("embeddings.position_embeddings.weight", &[512, DIM])?,
            token_type: tensors.get("embeddings.token_type_embeddings.weight", &[2, DIM])?,
            norm: (
                tensors.get("embeddings.LayerNorm.weight", &[DIM])?,
                tensors.get("embeddings.LayerNorm.bias", &[DIM])?,
            ),
            layers: (0..LAYERS).map(layer).collect::<Result<_, _>>()?,
        })
    }

    /// The tokens `text` is read as, `[CLS]` and `[SEP]` included, at most `max` (and
    /// at most [`MAX_TOKENS`]).
    pub fn tokens(&self, text: &str, max: usize) -> Vec<u32> {
        let max = max.clamp(2, MAX_TOKENS);
        let mut ids = Vec::with_capacity(16);
        ids.push(self.tokenizer.cls);
        ids.extend(self.tokenizer.encode(text, max - 2));
        ids.push(self.tokenizer.sep);
        ids
    }

    /// `text`'s embedding: unit length, so the dot product of two is their cosine.
    pub fn embed(&self, text: &str) -> [f32; DIM] {
        self.embed_max(text, MAX_TOKENS)
    }

    /// [`Model::embed`] of at most `max` tokens of `text` (the cost grows with them).
    pub fn embed_max(&self, text: &str, max: usize) -> [f32; DIM] {
        let ids = self.tokens(text, max);
        let (tokens, n) = (ids.len(), ids.len());
        let mut x = vec![0f32; n * DIM];
        for (i, &id) in ids.iter().enumerate() {
            let row = &mut x[i * DIM..(i + 1) * DIM];
            let w = &self.words[id as usize * DIM..(id as usize + 1) * DIM];
            let p = &self.positions[i * DIM..(i + 1) * DIM];
            for k in 0..DIM {
                row[k] = kernel::widen(w[k]) + p[k] + self.token_type[k];
            }
        }
        layer_norm(&mut x, DIM, &self.norm.0, &self.norm.1, EPS);
        let mut q = vec![0f32; n * DIM];
        let mut k = vec![0f32; n * DIM];
        let mut v = vec![0f32; n * DIM];
        let mut ctx = vec![0f32; n * DIM];
        let mut proj = vec![0f32; n * DIM];
        let mut hidden = vec![0f32; n * FFN];
        let mut scores = vec![0f32; tokens];
        let scale = 1.0 / (HEAD as f32).sqrt();
        for l in &self.layers {
            linear(&x, n, &l.q, &mut q);
            linear(&x, n, &l.k, &mut k);
            linear(&x, n, &l.v, &mut v);
            for h in 0..HEADS {
                let at = h * HEAD;
                for i in 0..tokens {
                    let qi = &q[i * DIM + at..i * DIM + at + HEAD];
                    let mut max = f32::NEG_INFINITY;
                    for (j, s) in scores.iter_mut().enumerate() {
                        *s = kernel::dot(qi, &k[j * DIM + at..j * DIM + at + HEAD]) * scale;
                        max = max.max(*s);
                    }
                    let mut sum = 0.0;
                    for s in scores.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    let out = &mut ctx[i * DIM + at..i * DIM + at + HEAD];
                    out.fill(0.0);
                    for (j, s) in scores.iter().enumerate() {
                        let p = s / sum;
                        let vj = &v[j * DIM + at..j * DIM + at + HEAD];
                        for d in 0..HEAD {
                            out[d] += p * vj[d];
                        }
                    }
                }
            }
            linear(&ctx, n, &l.o, &mut proj);
            for (a, b) in x.iter_mut().zip(&proj) {
                *a += b;
            }
            layer_norm(&mut x, DIM, &l.norm1.0, &l.norm1.1, EPS);
            linear(&x, n, &l.up, &mut hidden);
            for h in hidden.iter_mut() {
                *h = gelu(*h);
            }
            linear(&hidden, n, &l.down, &mut proj);
            for (a, b) in x.iter_mut().zip(&proj) {
                *a += b;
            }
            layer_norm(&mut x, DIM, &l.norm2.0, &l.norm2.1, EPS);
        }
        let mut pooled = [0f32; DIM];
        for row in x.chunks_exact(DIM).take(tokens) {
            for (p, v) in pooled.iter_mut().zip(row) {
                *p += v;
            }
        }
        let norm = pooled
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::EPSILON);
        for p in pooled.iter_mut() {
            *p /= norm;
        }
        pooled
    }
}

/// The tensors of a safetensors file, by name: (dtype, shape, byte range).
struct Tensors<'a> {
    data: &'a [u8],
    index: HashMap<String, (String, Vec<usize>, usize, usize)>,
}

impl<'a> Tensors<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Tensors<'a>, String> {
        let len = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize)
            .ok_or("the weights are not a safetensors file (too short)")?;
        let header = bytes
            .get(8..8usize.saturating_add(len))
            .ok_or("the weights' safetensors header runs past the file")?;
        let header: serde_json::Value = serde_json::from_slice(header)
            .map_err(|e| format!("the weights' safetensors header is not JSON: {e}"))?;
        let data = &bytes[8 + len..];
        let mut index = HashMap::new();
        for (name, t) in header.as_object().into_iter().flatten() {
            if name == "__metadata__" {
                continue;
            }
            let dtype = t["dtype"].as_str().unwrap_or_default().to_string();
            let shape: Vec<usize> = t["shape"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_u64().map(|d| d as usize))
                .collect();
            let offsets: Vec<usize> = t["data_offsets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_u64().map(|d| d as usize))
                .collect();
            let [start, end] = offsets[..] else {
                return Err(format!("tensor {name} has no data_offsets"));
            };
            if start > end || end > data.len() {
                return Err(format!("tensor {name} runs past the file"));
            }
            index.insert(name.clone(), (dtype, shape, start, end));
        }
        Ok(Tensors { data, index })
    }

    /// A tensor of exactly `shape`, stored as f32 or as half floats (`F16`: a trained
    /// model ships so, at half the size), as f32 (`bert.` prefixed names are taken too).
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let (dtype, got, start, end) = self
            .index
            .get(name)
            .or_else(|| self.index.get(&format!("bert.{name}")))
            .ok_or_else(|| format!("the weights have no tensor {name}"))?;
        let count = shape.iter().product::<usize>();
        let width = match dtype.as_str() {
            "F32" => 4,
            "F16" => 2,
            _ => 0,
        };
        if width == 0 || got != shape || end - start != width * count {
            return Err(format!(
                "tensor {name} is {dtype} {got:?}, not F32 or F16 {shape:?}"
            ));
        }
        let bytes = &self.data[*start..*end];
        Ok(match width {
            4 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            _ => bytes
                .chunks_exact(2)
                .map(|b| widen(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        })
    }

    /// A tensor of any number of rows `width` wide ([`Tensors::get`]).
    fn get_any(&self, name: &str, width: usize) -> Result<Vec<f32>, String> {
        let rows = self
            .index
            .get(name)
            .or_else(|| self.index.get(&format!("bert.{name}")))
            .and_then(|t| t.1.first().copied())
            .ok_or_else(|| format!("the weights have no tensor {name}"))?;
        self.get(name, &[rows, width])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file of the given tensors: (name, dtype, shape, little-endian bytes).
    fn file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, dtype, shape, bytes) in tensors {
            let start = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
            );
        }
        let header = serde_json::Value::Object(header).to_string();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn half_float_tensors_are_read_as_f32() {
        let values = [1.0f32, -0.5, 0.099975586, 3.0e-5];
        let halves: Vec<u8> = values.iter().flat_map(|v| half(*v).to_le_bytes()).collect();
        let singles: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bytes = file(&[
            ("w", "F16", &[2, 2], halves.clone()),
            ("b", "F32", &[4], singles),
            ("short", "F16", &[4], halves[..6].to_vec()),
            ("odd", "BF16", &[4], halves),
        ]);
        let t = Tensors::parse(&bytes).unwrap();
        for (got, want) in t.get("w", &[2, 2]).unwrap().iter().zip(values) {
            assert!(
                (got - want).abs() <= want.abs() * 1e-3,
                "{got} against {want}"
            );
        }
        assert_eq!(t.get("b", &[4]).unwrap(), values);
        assert_eq!(t.get_any("w", 2).unwrap().len(), 4);
        let err = t.get("short", &[4]).unwrap_err();
        assert!(
            err.contains("tensor short is F16 [4], not F32 or F16 [4]"),
            "{err}"
        );
        let err = t.get("odd", &[4]).unwrap_err();
        assert!(err.contains("BF16"), "{err}");
        assert!(
            t.get("w", &[4]).is_err(),
            "a shape that is not the tensor's"
        );
    }
}
