//! One reading of a client's JSON: the rules under which the gateway's reading of a
//! message is every backend's reading, and the values its inspectors decide on.
//!
//! The gateway forwards the bytes a client sent, never a re-serialisation of them, so a
//! policy, a guardrail or a confirmation decides on what runs only if it reads those
//! bytes exactly as the backend will. Readers differ on some JSON: Python and JavaScript
//! keep the last of two members of one name, other readers the first, Go's
//! `encoding/json` matches member names without regard to case; numbers past 64-bit
//! integers or doubles, and lone surrogates, are read differently or refused; each
//! reader stops at its own depth. Such a text has no one meaning, and is refused
//! ([`Ambiguity`]) before anything runs: [`check`] on the frame's tape, at every level of
//! the message (the envelope, `params`, `arguments` and everything inside it).
//!
//! What is left has one meaning, and [`value`] gives it: built off the same simd-json
//! tape ([`super::tape`]) the frame was read from, under the same rules. No inspector
//! parses forwarded bytes with a reader of its own.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};
use simd_json::{Node, StaticNode};

use super::fold;
use super::tape::{INEXACT_NUMBER, Reading, TapeError, with_tape};

/// The deepest nesting of arrays and objects read: deeper is refused. Every reader the
/// gateway and its backends use reads this deep (serde_json stops at 128, Python's at
/// about 1,000, V8's far past it), so nothing within it reads differently.
pub const MAX_DEPTH: usize = 64;

/// Objects with more members than this are checked for duplicates by sorting their
/// folded names; smaller ones pair by pair, without allocating.
const PAIRWISE: usize = 12;

/// JSON whose meaning depends on its reader: what, and where (a path such as
/// `params.arguments.org`, or a byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguity {
    pub what: &'static str,
    pub at: String,
    /// The name a reader takes the member at `at` for, when that is the ambiguity.
    pub reads_as: Option<Cow<'static, str>>,
}

impl std::fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}", self.what, self.at)
    }
}

pub const DUPLICATE: &str = "a member name used twice in one object";
pub const CASE_TWIN: &str = "two member names of one object that differ only in case (readers that ignore case take them for one)";
pub const FOLDED_NAME: &str = "a member name that readers which ignore case (Go's encoding/json) take for a member the gateway reads";
pub const TOO_DEEP: &str = "nesting deeper than the gateway reads";

impl Ambiguity {
    /// From a strict tape's refusal (a number or a string no reader holds one way).
    pub fn of_tape(e: TapeError) -> Option<Ambiguity> {
        match e {
            TapeError::Parse => None,
            TapeError::Unreadable { what, at } => Some(Ambiguity {
                what,
                at: format!("byte {at}"),
                reads_as: None,
            }),
        }
    }

    /// Whether it lies within `params` (a `-32602`) rather than the envelope (`-32600`).
    pub fn in_params(&self) -> bool {
        self.at == "params" || self.at.starts_with("params.") || self.at.starts_with("params[")
    }
}

/// Whether two member names are one name to some reader: equal, or equal but for case
/// as Go's `encoding/json` folds it ([`fold`]).
/// `ascii` says both are ASCII (then case folding keeps their lengths).
#[inline]
fn twins(a: &str, b: &str, ascii: bool) -> Option<&'static str> {
    let same = match ascii {
        true => a.len() == b.len() && a.as_bytes().eq_ignore_ascii_case(b.as_bytes()),
        false => fold::equal(a, b),
    };
    match same {
        false => None,
        true if a == b => Some(DUPLICATE),
        true => Some(CASE_TWIN),
    }
}

/// The index of the node after the value at `i`.
fn next(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes[i] {
        Node::Object { count, .. } | Node::Array { count, .. } => i + 1 + count,
        _ => i + 1,
    }
}

/// The member names of the object at `i`, with the index of each one's key node.
fn keys<'n>(nodes: &'n [Node<'_>], i: usize) -> Vec<(usize, &'n str)> {
    let Node::Object { len, .. } = nodes[i] else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(len);
    let mut k = i + 1;
    for _ in 0..len {
        let Node::String(key) = nodes[k] else { break };
        out.push((k, key));
        k = next(nodes, k + 1);
    }
    out
}

/// The first pair of member names of the object at `i` that some reader takes for one:
/// the key node of the second, and why.
fn object_twins(nodes: &[Node<'_>], i: usize, len: usize) -> Option<(usize, &'static str)> {
    if len < 2 {
        return None;
    }
    if len <= PAIRWISE {
        // Each name with whether it is ASCII, found once.
        let mut seen: [(&str, bool); PAIRWISE] = [("", true); PAIRWISE];
        let mut k = i + 1;
        for n in 0..len {
            let Node::String(key) = nodes[k] else {
                return None;
            };
            let ascii = key.is_ascii();
            for &(before, was_ascii) in &seen[..n] {
                if let Some(why) = twins(before, key, ascii && was_ascii) {
                    return Some((k, why));
                }
            }
            seen[n] = (key, ascii);
            k = next(nodes, k + 1);
        }
        return None;
    }
    let mut all: Vec<(Cow<'_, str>, usize, &str)> = keys(nodes, i)
        .into_iter()
        .map(|(k, key)| (fold::folded(key), k, key))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    all.windows(2)
        .find(|w| w[0].0 == w[1].0)
        .map(|w| (w[1].1, twins(w[0].2, w[1].2, false).unwrap_or(DUPLICATE)))
}

/// Checks a whole tape: no object has two members some reader takes for one, nothing
/// nests deeper than [`MAX_DEPTH`]. One pass over the nodes; the depth is measured only
/// when there are more containers than it allows (a request's few never need it).
pub fn check(nodes: &[Node<'_>]) -> Result<(), Ambiguity> {
    let mut containers = 0;
    for (i, node) in nodes.iter().enumerate() {
        match *node {
            Node::Object { len, .. } => {
                containers += 1;
                if let Some((k, why)) = object_twins(nodes, i, len) {
                    return Err(at(nodes, k, why));
                }
            }
            Node::Array { .. } => containers += 1,
            _ => {}
        }
    }
    match containers > MAX_DEPTH {
        true => check_depth(nodes),
        false => Ok(()),
    }
}

/// Nothing nests deeper than [`MAX_DEPTH`].
fn check_depth(nodes: &[Node<'_>]) -> Result<(), Ambiguity> {
    // The end (node index) of each open container, on the stack: no allocation.
    let mut open = [0usize; MAX_DEPTH];
    let mut depth = 0;
    for (i, node) in nodes.iter().enumerate() {
        let count = match *node {
            Node::Object { count, .. } | Node::Array { count, .. } => count,
            _ => continue,
        };
        while depth > 0 && open[depth - 1] <= i {
            depth -= 1;
        }
        if depth == MAX_DEPTH {
            return Err(at(nodes, i, TOO_DEEP));
        }
        open[depth] = i + 1 + count;
        depth += 1;
    }
    Ok(())
}

/// The ambiguity `what` at node `target`, with the path that leads to it.
fn at(nodes: &[Node<'_>], target: usize, what: &'static str) -> Ambiguity {
    Ambiguity {
        what,
        at: path(nodes, target),
        reads_as: None,
    }
}

/// The path from the root to node `target` (a member's key node names the member):
/// `params.arguments.org`, `params.arguments.list[3]`; `$` for the root.
pub fn path(nodes: &[Node<'_>], target: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    // Each step goes one level down; the depth is bounded by the tape's length.
    while i < target && i < nodes.len() {
        match nodes[i] {
            Node::Object { len, .. } => {
                let mut k = i + 1;
                let mut inside = None;
                for _ in 0..len {
                    let Node::String(key) = nodes[k] else { break };
                    let end = next(nodes, k + 1);
                    if k == target || (k < target && target < end) {
                        inside = Some((k, key));
                        break;
                    }
                    k = end;
                }
                let Some((k, key)) = inside else { break };
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
                if k == target {
                    break;
                }
                i = k + 1;
            }
            Node::Array { len, .. } => {
                let mut e = i + 1;
                let mut found = None;
                for n in 0..len {
                    let end = next(nodes, e);
                    if e <= target && target < end {
                        found = Some((n, e));
                        break;
                    }
                    e = end;
                }
                let Some((n, e)) = found else { break };
                out.push_str(&format!("[{n}]"));
                i = e;
            }
            _ => break,
        }
    }
    if out.is_empty() { "$".into() } else { out }
}

/// The one value of a JSON text read under the rules above: `Err` names the ambiguity,
/// or is `None` when the text is not JSON.
pub fn value(bytes: &[u8]) -> Result<Value, Option<Ambiguity>> {
    with_tape(bytes, Reading::Strict, |nodes, _| {
        check(nodes).map_err(Some)?;
        Ok(build(nodes, &mut 0))
    })
    .map_err(Ambiguity::of_tape)?
}

/// The one value of a text JavaScript's `JSON.stringify` wrote (a code-mode script's
/// arguments or value). Every number in it is a double, and JavaScript writes one under
/// 1e21 without an exponent however large: an integer literal past 64 bits is the
/// double it was ([`super::tape::integers_as_doubles`]), not refused. All else is
/// [`value`]'s reading.
pub fn script_value(bytes: &[u8]) -> Result<Value, Option<Ambiguity>> {
    match value(bytes) {
        Err(Some(a)) if a.what == INEXACT_NUMBER => value(&super::tape::integers_as_doubles(bytes)),
        read => read,
    }
}

/// The decoded text of a JSON string literal (quotes included): `None` when it is not
/// one, or one no reader decodes one way.
pub fn string(literal: &[u8]) -> Option<String> {
    with_tape(literal, Reading::Strict, |nodes, _| match nodes {
        [Node::String(s)] => Some((*s).to_string()),
        _ => None,
    })
    .ok()
    .flatten()
}

/// The value at node `*i`, advancing `*i` past it. The tape was checked: its depth is
/// bounded, so is this recursion.
fn build(nodes: &[Node<'_>], i: &mut usize) -> Value {
    let node = nodes.get(*i).copied();
    *i += 1;
    match node {
        None | Some(Node::Static(StaticNode::Null)) => Value::Null,
        Some(Node::Static(StaticNode::Bool(b))) => Value::Bool(b),
        Some(Node::Static(StaticNode::I64(n))) => Value::Number(n.into()),
        Some(Node::Static(StaticNode::U64(n))) => Value::Number(n.into()),
        Some(Node::Static(StaticNode::F64(f))) => {
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        Some(Node::String(s)) => Value::String(s.to_string()),
        Some(Node::Array { len, .. }) => {
            let mut out = Vec::with_capacity(len);
            for _ in 0..len {
                out.push(build(nodes, i));
            }
            Value::Array(out)
        }
        Some(Node::Object { len, .. }) => {
            let mut out = Map::new();
            for _ in 0..len {
                let key = match nodes.get(*i) {
                    Some(Node::String(k)) => (*k).to_string(),
                    _ => String::new(),
                };
                *i += 1;
                let v = build(nodes, i);
                out.insert(key, v);
            }
            Value::Object(out)
        }
    }
}

/// [`value`] taken as a `T` (`None`: not JSON, not one reading, or not a `T`).
pub fn typed<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    value(bytes)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

#[cfg(test)]
mod tests;
