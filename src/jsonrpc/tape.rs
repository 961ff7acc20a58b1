//! The one JSON reader of the gateway's data plane: simd-json, run on a reused scratch
//! copy of the bytes (the original is never modified), its tape handed to the caller.
//! Frames ([`super::frame`]) and values ([`super::read`]) are both read off this tape, so
//! whatever the gateway decides on is read by the same parser, with the same rules.

use std::cell::RefCell;

/// How numbers and strings that readers disagree on are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Refused ([`TapeError::Unreadable`]): what a client sends, which the gateway decides
    /// on and a backend acts on.
    Strict,
    /// Numbers passed over uninterpreted: what the gateway only passes on.
    Lenient,
}

/// Why bytes gave no tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapeError {
    /// Not JSON.
    Parse,
    /// JSON whose meaning depends on the reader: what, and the byte it starts at.
    Unreadable { what: &'static str, at: usize },
}

/// A number no reader holds exactly (over 64-bit integers, or no finite double).
pub const INEXACT_NUMBER: &str = "a number the gateway cannot represent exactly";
/// An escape simd-json refuses: invalid, or a lone surrogate.
pub const BAD_ESCAPE: &str = "an invalid escape or a lone surrogate in a string";

/// The error a failed strict parse is; `None` when a lenient one should retry with the
/// numbers neutralised.
fn refused(bytes: &[u8], reading: Reading, error: &simd_json::ErrorType) -> Option<TapeError> {
    use simd_json::ErrorType as E;
    match (error, reading) {
        (E::InvalidNumber | E::InvalidExponent, Reading::Lenient) => None,
        (E::InvalidNumber | E::InvalidExponent, Reading::Strict) => {
            Some(match first_inexact_number(bytes) {
                Some(at) => TapeError::Unreadable {
                    what: INEXACT_NUMBER,
                    at,
                },
                None => TapeError::Parse,
            })
        }
        (
            E::InvalidEscape | E::InvalidUnicodeEscape | E::InvalidUnicodeCodepoint,
            Reading::Strict,
        ) => Some(TapeError::Unreadable {
            what: BAD_ESCAPE,
            at: first_escape(bytes).unwrap_or(0),
        }),
        _ => Some(TapeError::Parse),
    }
}

/// Reused scratch space for simd-json, which parses in place: the copy of the input,
/// simd-json's buffers, and the tape's allocation (kept empty between parses).
struct Scratch {
    input: Vec<u8>,
    buffers: Option<simd_json::Buffers>,
    tape: Vec<simd_json::Node<'static>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch { input: Vec::new(), buffers: None, tape: Vec::new() })
    };
}

/// An empty vector of another element lifetime on the same allocation (the in-place
/// collect of an empty iterator keeps it), so the tape's capacity outlives each parse
/// without a node outliving its input.
fn recycle<'a, 'b>(mut v: Vec<simd_json::Node<'a>>) -> Vec<simd_json::Node<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| simd_json::Node::Static(simd_json::StaticNode::Null))
        .collect()
}

/// Runs `f` on a simd-json tape of `bytes` (built on the reused scratch copy) and the
/// scratch's address. Read [`Reading::Strict`], a number simd-json cannot represent (a
/// 30-digit integer, `1e400`) or a string it cannot decode (an invalid escape, a lone
/// surrogate) is [`TapeError::Unreadable`]: readers differ on them. Read
/// [`Reading::Lenient`] (messages the gateway passes on without deciding on their
/// numbers), such bodies are parsed again with every number in the scratch replaced by
/// `0` and spaces of the same length (offsets, and so spans, stay those of `bytes`).
pub fn with_tape<R>(
    bytes: &[u8],
    reading: Reading,
    f: impl FnOnce(&[simd_json::Node<'_>], usize) -> R,
) -> Result<R, TapeError> {
    SCRATCH.with(|cell| {
        let mut guard = cell.borrow_mut();
        let Scratch {
            input: scratch,
            buffers,
            tape: kept,
        } = &mut *guard;
        let buffers = buffers.get_or_insert_with(|| simd_json::Buffers::new(bytes.len()));
        let mut tape = simd_json::tape::Tape(recycle(std::mem::take(kept)));
        scratch.clear();
        scratch.extend_from_slice(bytes);
        let base = scratch.as_ptr() as usize;
        let refusal = match simd_json::fill_tape(scratch, buffers, &mut tape) {
            Ok(()) => {
                let r = f(&tape.0, base);
                *kept = recycle(tape.0);
                return Ok(r);
            }
            Err(e) => refused(bytes, reading, e.error()),
        };
        if let Some(error) = refusal {
            *kept = recycle(tape.0);
            return Err(error);
        }
        let mut tape = simd_json::tape::Tape(recycle(tape.0));
        scratch.clear();
        scratch.extend_from_slice(bytes);
        if !neutralize_numbers(scratch) {
            *kept = recycle(tape.0);
            return Err(TapeError::Parse);
        }
        let base = scratch.as_ptr() as usize;
        let parsed = simd_json::fill_tape(scratch, buffers, &mut tape);
        let r = parsed
            .map(|()| f(&tape.0, base))
            .map_err(|_| TapeError::Parse);
        *kept = recycle(tape.0);
        r
    })
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, the grammar of a JSON number.
pub(crate) fn is_json_number(t: &[u8]) -> bool {
    let digits = |t: &[u8], i: &mut usize| {
        let start = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(t, &mut i);
        }
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if !digits(t, &mut i) {
            return false;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(t, &mut i) {
            return false;
        }
    }
    i == t.len()
}

/// Replaces every number outside strings by `0` and spaces (same length); `false` when
/// there was none, or one is not a JSON number.
fn neutralize_numbers(buf: &mut [u8]) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while i < buf.len() && buf[i] != b'"' {
                    i += if buf[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < buf.len()
                    && matches!(buf[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                if !is_json_number(&buf[start..i]) {
                    return false;
                }
                buf[start] = b'0';
                buf[start + 1..i].fill(b' ');
                changed = true;
            }
            _ => i += 1,
        }
    }
    changed
}

/// Where the first number of `bytes` (outside strings) starts that is a JSON number but
/// no 64-bit integer or finite double holds exactly; `None` when every number is held,
/// or one is not a JSON number at all (then the text is not JSON).
pub fn first_inexact_number(bytes: &[u8]) -> Option<usize> {
    let mut found = None;
    let numbers = each_number(bytes, |start, end| {
        if found.is_none() && !exact(&bytes[start..end]) {
            found = Some(start);
        }
    });
    numbers.then_some(found).flatten()
}

/// `bytes` (text JavaScript's `JSON.stringify` wrote, where every number is a double)
/// with `.0` after each integer literal past 64 bits: JavaScript writes a double under
/// 1e21 without an exponent however large, and `.0` makes it the double it was for
/// every reader.
pub fn integers_as_doubles(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut copied = 0;
    each_number(bytes, |start, end| {
        let literal = &bytes[start..end];
        if !literal.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) && !exact(literal) {
            out.extend_from_slice(&bytes[copied..end]);
            out.extend_from_slice(b".0");
            copied = end;
        }
    });
    out.extend_from_slice(&bytes[copied..]);
    out
}

/// Calls `f` with the start and end of each number literal outside strings, in order;
/// `false` when a literal is not a JSON number (the text is not JSON).
fn each_number(bytes: &[u8], mut f: impl FnMut(usize, usize)) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                if !is_json_number(&bytes[start..i]) {
                    return false;
                }
                f(start, i);
            }
            _ => i += 1,
        }
    }
    true
}

/// Whether a JSON number literal is held by a 64-bit integer (no fraction, no exponent)
/// or a finite double (a literal that is not zero does not read as zero).
fn exact(literal: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(literal) else {
        return false;
    };
    if !text.contains(['.', 'e', 'E']) {
        return text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok();
    }
    // A mantissa with a digit other than 0 must not read as zero (underflow).
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let zero = !mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    text.parse::<f64>()
        .is_ok_and(|v| v.is_finite() && (v != 0.0 || zero))
}

/// `bytes` with every escape [`first_escape`] finds replaced by one of the same length
/// that every reader decodes (a lone surrogate by a space, another by `\/`): offsets,
/// and so spans into `bytes`, are kept. For answering a refused request with its id.
pub fn mended(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    // Each turn mends one escape; a body of many is answered without its id.
    for _ in 0..16 {
        let Some(at) = first_escape(&out) else { break };
        match out.get(at + 1) {
            Some(b'u') if out.len() >= at + 6 => out[at..at + 6].copy_from_slice(b"\\u0020"),
            Some(_) => out[at + 1] = b'/',
            None => break,
        }
    }
    out
}

/// Where the first string escape of `bytes` starts that JSON does not allow or that
/// leaves a lone surrogate.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    let hex = |at: usize| -> Option<u32> {
        let h = bytes.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match (bytes[i], in_string) {
            (b'"', _) => in_string = !in_string,
            (b'\\', true) => {
                match bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => match hex(i + 2) {
                        Some(0xD800..=0xDBFF) => {
                            let low = (bytes.get(i + 6..i + 8) == Some(b"\\u"))
                                .then(|| hex(i + 8))
                                .flatten();
                            if !matches!(low, Some(0xDC00..=0xDFFF)) {
                                return Some(i);
                            }
                            i += 6;
                        }
                        Some(0xDC00..=0xDFFF) | None => return Some(i),
                        Some(_) => {}
                    },
                    _ => return Some(i),
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}
