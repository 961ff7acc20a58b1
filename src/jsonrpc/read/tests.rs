//! The one reading against a reference reader: serde_json, through a value type that
//! keeps every member of an object (duplicates included) and every number's literal, so
//! what a first-wins, a last-wins or a case-blind reader would read can be told apart.
//! The case-blind reader is Go's `encoding/json`, folding names as Go does
//! ([`go_fold`]: written from Go's rule and Unicode's folding table, not from the
//! gateway's own [`fold`]).

use std::fmt;

use proptest::prelude::*;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::*;
use crate::jsonrpc::fold::tests::go_fold;
use crate::jsonrpc::frame::{self, FrameError};

/// A JSON text as a reader that drops nothing sees it.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

impl<'de> serde::Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Raw, E> {
                Ok(Raw::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Raw, E> {
                Ok(Raw::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Raw, E> {
                serde_json::Number::from_f64(n)
                    .map(Raw::Number)
                    .ok_or_else(|| E::custom("not finite"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
                Ok(Raw::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Raw, E> {
                Ok(Raw::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(Raw::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Raw>()? {
                    out.push((k, v));
                }
                Ok(Raw::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Raw {
    /// The value a reader that keeps the first (`first`) or the last duplicate reads.
    fn reading(&self, first: bool) -> Value {
        match self {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(*b),
            Raw::Number(n) => Value::Number(n.clone()),
            Raw::String(s) => Value::String(s.clone()),
            Raw::Array(a) => Value::Array(a.iter().map(|v| v.reading(first)).collect()),
            Raw::Object(o) => {
                let mut m = serde_json::Map::new();
                for (k, v) in o {
                    if first && m.contains_key(k) {
                        continue;
                    }
                    m.insert(k.clone(), v.reading(first));
                }
                Value::Object(m)
            }
        }
    }

    /// The member `name` of this object as Go's `encoding/json` reads it into a field of
    /// that name: the last member whose name Go folds to the field's.
    fn go_member(&self, name: &str) -> Option<&Raw> {
        let Raw::Object(o) = self else { return None };
        let field = go_fold(name);
        o.iter()
            .rev()
            .find(|(k, _)| go_fold(k) == field)
            .map(|(_, v)| v)
    }

    /// Whether some object has two names a reader takes for one (equal, or equal but
    /// for case as Go folds it), and the deepest nesting.
    fn twins_and_depth(&self) -> (bool, usize) {
        match self {
            Raw::Array(a) => a
                .iter()
                .map(Raw::twins_and_depth)
                .fold((false, 1), |x, y| (x.0 || y.0, x.1.max(y.1 + 1))),
            Raw::Object(o) => {
                let names: Vec<String> = o.iter().map(|(k, _)| go_fold(k)).collect();
                let mut sorted = names.clone();
                sorted.sort();
                sorted.dedup();
                let twins = sorted.len() != names.len();
                o.iter()
                    .map(|(_, v)| v.twins_and_depth())
                    .fold((twins, 1), |x, y| (x.0 || y.0, x.1.max(y.1 + 1)))
            }
            _ => (false, 0),
        }
    }
}

/// Generated JSON texts: objects whose names repeat, differ by case or are spelt with
/// escapes; numbers exact and not; strings with escapes, surrogate pairs and lone
/// surrogates; nesting up to past the bound.
fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("arguments".to_string()),
        Just("Arguments".to_string()),
        Just("org".to_string()),
        Just("ORG".to_string()),
        Just("\u{212a}ey".to_string()),
        Just("key".to_string()),
        Just("argumentſ".to_string()),
        Just("\u{df}".to_string()),
        Just("\u{1e9e}".to_string()),
        Just("\u{131}".to_string()),
        Just("I".to_string()),
        "[a-c]{1,2}",
    ]
}

/// A name's literal: plain, or with one character written as a `\u` escape.
fn literal(name: &str, escape: usize) -> String {
    let mut out = String::from("\"");
    for (i, c) in name.chars().enumerate() {
        if i == escape && (c as u32) < 0x10000 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e300f64..1e300).prop_map(|f| format!("{f:e}")),
        Just("1e400".to_string()),
        Just("-1.5E+400".to_string()),
        Just("123456789012345678901234567890".to_string()),
        Just("-99999999999999999999".to_string()),
        Just("0.5".to_string()),
        Just("-0".to_string()),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,6}".prop_map(|s| format!("\"{s}\"")),
        Just("\"a\\\"b\\\\c\\/d\\n\"".to_string()),
        Just("\"\\ud83d\\ude00\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("\"x\\udc00y\"".to_string()),
        Just("\"\\u00e9\"".to_string()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        number(),
        string(),
    ];
    leaf.prop_recursive(8, 64, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(" , "))),
            prop::collection::vec((names(), 0..3usize, inner), 0..5).prop_map(|members| {
                let m: Vec<String> = members
                    .iter()
                    .map(|(k, e, v)| format!("{}:{v}", literal(k, *e)))
                    .collect();
                format!("{{{}}}", m.join(","))
            }),
        ]
    })
}

/// The `params` of a request as the reference reads it.
fn raw_params(raw: &Raw) -> Raw {
    let Raw::Object(o) = raw else {
        return Raw::Null;
    };
    o.iter()
        .rev()
        .find(|(k, _)| k == "params")
        .map_or(Raw::Null, |(_, v)| v.clone())
}

/// Deep nesting, built apart from the generator (which stops at eight levels).
fn deep(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// Whether every number literal of `text` is held exactly by a 64-bit integer or a
/// finite double.
fn exact_numbers(raw_ok: bool, text: &str) -> bool {
    raw_ok && crate::jsonrpc::tape::first_inexact_number(text.as_bytes()).is_none()
}

/// Equal as values, numbers compared as numbers (`-0` is an integer to simd-json and
/// Python, a double to serde_json and JavaScript: zero all the same).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn differential(text: &str) -> Result<(), TestCaseError> {
    let ours = value(text.as_bytes());
    let reference = serde_json::from_str::<Raw>(text);
    match (&ours, &reference) {
        (Ok(v), Ok(raw)) => {
            let (twins, depth) = raw.twins_and_depth();
            prop_assert!(!twins, "read one way, but has twins: {text}");
            prop_assert!(depth <= MAX_DEPTH, "read past the depth: {text}");
            prop_assert!(exact_numbers(true, text), "read an inexact number: {text}");
            // Every reader reads it so: first-wins and last-wins alike.
            prop_assert!(same(v, &raw.reading(true)), "{v} first-wins: {text}");
            prop_assert!(same(v, &raw.reading(false)), "{v} last-wins: {text}");
        }
        (Ok(v), Err(e)) => {
            // serde_json refuses numbers past a double and stops at 128 levels; nothing
            // else it refuses may be read.
            prop_assert!(false, "read {v} where the reference refused ({e}): {text}");
        }
        (Err(Some(a)), Ok(raw)) => {
            let (twins, depth) = raw.twins_and_depth();
            prop_assert!(
                twins || depth > MAX_DEPTH || !exact_numbers(true, text),
                "refused ({a}) what reads one way: {text}"
            );
        }
        (Err(Some(_)), Err(_)) => {}
        (Err(None), Ok(_)) => prop_assert!(false, "not JSON to us, JSON to serde: {text}"),
        (Err(None), Err(_)) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_reading_is_every_readers_or_refused(text in text()) {
        differential(&text)?;
    }

    #[test]
    fn a_request_is_framed_as_it_is_read(args in text(), twice in any::<bool>(), spelling in 0..6usize) {
        let spellings = [r#""arguments""#, r#""argu\u006dents""#, r#""Arguments""#,
            r#""ARGUMENTS""#, r#""argumentſ""#, r#""argument\u017f""#];
        let name = spellings[spelling];
        // Spelt otherwise than MCP spells it, but the name Go's reader takes it for.
        let folded = spelling >= 2;
        let second = if twice { r#","arguments":{"org":"evil"}"#.to_string() } else { String::new() };
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"t",{name}:{args}{second}}}}}"#
        );
        let reference = serde_json::from_str::<Raw>(&body);
        match frame::parse_request(body.as_bytes()) {
            Ok(f) => {
                let raw = reference.expect("the reference reads what we frame");
                let (twins, depth) = raw.twins_and_depth();
                prop_assert!(!twins && depth <= MAX_DEPTH, "{}", body);
                prop_assert!(!folded, "a name Go reads as arguments was framed: {}", body);
                let span = f.arguments(body.as_bytes()).expect("arguments framed");
                let ours = value(span.of(body.as_bytes())).expect("readable");
                let theirs = raw.reading(false);
                prop_assert!(same(&ours, &theirs["params"]["arguments"]), "{}", body);
                // Go's reader, folding names, reads the very arguments the gateway framed.
                let params = &raw_params(&raw);
                let go = params.go_member("arguments").expect("Go reads arguments");
                prop_assert!(same(&ours, &go.reading(false)), "Go reads otherwise: {}", body);
            }
            Err(FrameError::Ambiguous(a)) if folded && !twice => {
                // Refused with the id; as the name it is, whatever the arguments hold,
                // once the text reads at all (a number or escape no reader holds is
                // refused first).
                prop_assert_eq!(a.1.map(|s| s.of(body.as_bytes()).to_vec()), Some(b"7".to_vec()));
                if reference.is_ok() && exact_numbers(true, &body) {
                    prop_assert_eq!(a.0.what, FOLDED_NAME, "{:?}", a);
                    prop_assert_eq!(a.0.reads_as.as_deref(), Some("arguments"));
                    prop_assert!(a.0.at.starts_with("params.") && a.0.at != "params.arguments", "{:?}", a);
                }
            }
            Err(FrameError::Ambiguous(a)) if folded => {
                prop_assert!(a.0.at.starts_with("params") || a.0.at.starts_with("byte "), "{:?}", a);
            }
            Err(FrameError::Ambiguous(a)) => {
                prop_assert!(!twice || a.0.at.starts_with("params") || a.0.at.starts_with("byte "), "{:?}", a);
                if let Ok(raw) = reference {
                    let (twins, depth) = raw.twins_and_depth();
                    prop_assert!(twins || depth > MAX_DEPTH || !exact_numbers(true, &body), "{}", body);
                    // The id answers the refusal: the envelope has one.
                    prop_assert_eq!(a.1.map(|s| s.of(body.as_bytes()).to_vec()), Some(b"7".to_vec()));
                }
            }
            Err(e) => prop_assert!(reference.is_err(), "{:?} for readable {}", e, body),
        }
    }

    /// A script's text (numbers written as JavaScript writes doubles: Rust's `{}` of an
    /// f64 is the same shortest digits, never an exponent) reads as the very doubles,
    /// inside strings left as they were.
    #[test]
    fn a_scripts_doubles_read_as_the_doubles_they_were(
        xs in proptest::collection::vec(any::<f64>().prop_filter("finite", |x| x.is_finite()), 1..6),
        s in ".{0,6}",
    ) {
        let numbers: Vec<String> = xs.iter().map(|x| format!("{x}")).collect();
        let text = format!(r#"{{"s":{},"n":[{}],"t":"12345678901234567890123"}}"#,
            serde_json::to_string(&s).unwrap(), numbers.join(","));
        let v = script_value(text.as_bytes()).expect("a script's text reads");
        prop_assert_eq!(&v["s"], &Value::String(s));
        prop_assert_eq!(&v["t"], "12345678901234567890123");
        let read: Vec<f64> = v["n"].as_array().unwrap().iter().map(|n| n.as_f64().unwrap()).collect();
        prop_assert_eq!(read, xs, "{}", text);
    }
}

#[test]
fn a_scripts_text_is_read_under_the_same_rules_but_its_large_integers() {
    // Past 64 bits: a client's text is refused, a script's is the double.
    let big = b"[-228161176525290400000, 18446744073709551616]";
    assert_eq!(value(big).unwrap_err().unwrap().what, INEXACT_NUMBER);
    assert_eq!(
        script_value(big).unwrap(),
        json!([-2.281611765252904e20, 1.8446744073709552e19])
    );
    // What fits stays an integer; everything else refused as before.
    assert_eq!(
        script_value(b"[1, -9223372036854775808]").unwrap(),
        json!([1, i64::MIN])
    );
    assert_eq!(
        script_value(br#"{"a":1,"a":2}"#).unwrap_err().unwrap().what,
        DUPLICATE
    );
    assert_eq!(
        script_value(br#"["\ud800"]"#).unwrap_err().unwrap().what,
        super::super::tape::BAD_ESCAPE
    );
    assert_eq!(
        script_value(b"[1e400]").unwrap_err().unwrap().what,
        INEXACT_NUMBER
    );
    assert!(script_value(b"[01]").unwrap_err().is_none(), "not JSON");
}

#[test]
fn duplicates_are_refused_however_spelt_and_wherever_they_are() {
    for (text, at) in [
        (r#"{"a":1,"a":2}"#, "a"),
        (r#"{"a":1,"\u0061":2}"#, "a"),
        (r#"{"x":{"org":"acme","org":"evil"}}"#, "x.org"),
        (r#"{"x":[{"k":1},{"k":1,"K":2}]}"#, "x[1].K"),
        (r#"{"key":1,"\u212aey":2}"#, "\u{212a}ey"),
        (r#"{"Arguments":{},"arguments":{}}"#, "arguments"),
    ] {
        let err = value(text.as_bytes()).expect_err(text).expect("ambiguous");
        assert_eq!(err.at, at, "{text}");
        assert!(err.what == DUPLICATE || err.what == CASE_TWIN, "{text}");
    }
    // Many members: the sorted check finds them too.
    let mut many: Vec<String> = (0..40).map(|i| format!("\"m{i}\":{i}")).collect();
    many.push("\"M7\":0".into());
    let text = format!("{{{}}}", many.join(","));
    assert_eq!(value(text.as_bytes()).unwrap_err().unwrap().what, CASE_TWIN);
    assert!(value(br#"{"a":1,"b":{"a":2},"c":[{"a":3}]}"#).is_ok());
}

#[test]
fn numbers_no_reader_holds_exactly_are_refused() {
    for n in [
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "18446744073709551616",
    ] {
        let text = format!(r#"{{"n":[1,{n}]}}"#);
        let err = value(text.as_bytes()).expect_err(n).expect("ambiguous");
        assert_eq!(err.what, crate::jsonrpc::tape::INEXACT_NUMBER, "{n}");
        assert_eq!(err.at, "byte 8", "{n}");
    }
    for n in [
        "18446744073709551615",
        "-9223372036854775808",
        "1.5e300",
        "0.0",
        "-0",
    ] {
        let text = format!(r#"{{"n":{n}}}"#);
        assert!(value(text.as_bytes()).is_ok(), "{n}");
    }
    // Malformed numbers are not JSON at all.
    assert_eq!(value(b"[01]"), Err(None));
}

#[test]
fn escapes_no_reader_decodes_one_way_are_refused() {
    for s in [r#"["\ud800"]"#, r#"["\udc00"]"#, r#"["\ud800\u0041"]"#] {
        let err = value(s.as_bytes()).expect_err(s).expect("ambiguous");
        assert_eq!(err.what, crate::jsonrpc::tape::BAD_ESCAPE, "{s}");
    }
    assert_eq!(value(br#"["\ud83d\ude00"]"#), Ok(json!(["\u{1f600}"])));
    assert!(value(br#"["\x"]"#).is_err());
}

#[test]
fn nesting_is_read_to_its_bound_and_refused_past_it() {
    assert!(value(deep(MAX_DEPTH).as_bytes()).is_ok());
    let err = value(deep(MAX_DEPTH + 1).as_bytes()).unwrap_err().unwrap();
    assert_eq!(err.what, TOO_DEEP);
    assert_eq!(err.at, format!("{}", "[0]".repeat(MAX_DEPTH)));
    let deep200 = format!(r#"{{"message":"evil","d":{}}}"#, deep(200));
    assert!(value(deep200.as_bytes()).is_err());
}

#[test]
fn an_ambiguity_in_a_message_not_read_whole_is_answered_without_its_id() {
    // The walk saw the id before it refused the envelope (`jsonrpc` is not "2.0"): the
    // frame it filled is not whole, and its id answers nothing.
    let body = br#"{"jsonrpc":"1.0","id":5,"method":"ping","params":{"a":1,"a":2}}"#;
    let Err(FrameError::Ambiguous(a)) = frame::parse_request(body) else {
        panic!("refused")
    };
    assert_eq!((a.0.at.as_str(), a.1), ("params.a", None));
    // Read whole, the same request is answered with it.
    let body = br#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{"a":1,"a":2}}"#;
    let Err(FrameError::Ambiguous(a)) = frame::parse_request(body) else {
        panic!("refused")
    };
    assert_eq!(a.1.map(|s| s.of(body)), Some(&b"5"[..]));
}

#[test]
fn a_request_refused_says_what_and_where_with_its_id() {
    let body = br#"{"jsonrpc":"2.0","id":"q","method":"tools/call","params":{"name":"t","arguments":{"org":"acme"},"arguments":{"org":"evil"}}}"#;
    let Err(FrameError::Ambiguous(a)) = frame::parse_request(body) else {
        panic!("refused")
    };
    assert_eq!(a.0.at, "params.arguments");
    assert!(a.0.in_params());
    assert_eq!(a.1.map(|s| s.of(body)), Some(&br#""q""#[..]));
    // Two ids: no id answers.
    let body = br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#;
    let Err(FrameError::Ambiguous(a)) = frame::parse_request(body) else {
        panic!("refused")
    };
    assert_eq!((a.0.at.as_str(), a.1), ("id", None));
    assert!(!a.0.in_params());
    // The lenient parse of a backend's message still passes numbers over.
    assert!(frame::parse(br#"{"jsonrpc":"2.0","id":1,"result":{"n":1e400}}"#).is_ok());
    assert!(
        frame::parse_request(br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1e400}}"#)
            .is_err()
    );
}

#[test]
fn extra_text_generated_once_reads_the_same() {
    // A fixed sample of the generator's shapes, so a failure here names its input.
    for text in [
        r#"{"a":{"A":1}}"#,
        r#"[{"b":1},{"b":2}]"#,
        r#"{"k":"\u00e9","K":1}"#,
    ] {
        let _ = differential(text);
    }
}

#[test]
fn a_name_go_reads_as_one_the_gateway_reads_is_refused_at_every_level() {
    let call = |params: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":"q","method":"tools/call","params":{params}}}"#)
    };
    for (body, at, reads_as, id) in [
        (call(r#"{"name":"t","Arguments":{"path":"/etc/victim"}}"#), "params.Arguments", "arguments", true),
        (call(r#"{"name":"t","ARGUMENTS":{}}"#), "params.ARGUMENTS", "arguments", true),
        (call(r#"{"name":"t","argument\u017f":{}}"#), "params.argumentſ", "arguments", true),
        (call(r#"{"NAME":"rm","name":"t"}"#), "params.NAME", "name", true),
        (call(r#"{"name":"t","_Meta":{}}"#), "params._Meta", "_meta", true),
        (call(r#"{"name":"t","_meta":{"progre\u017fsToken":1}}"#), "params._meta.progreſsToken", "progressToken", true),
        (r#"{"jsonrpc":"2.0","id":1,"Method":"tools/call","method":"ping"}"#.to_string(), "Method", "method", true),
        (r#"{"jsonrpc":"2.0","ID":2,"id":1,"method":"ping"}"#.to_string(), "ID", "id", false),
        (r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","Uri":1}}}"#.to_string(), "params.ref.Uri", "uri", true),
    ] {
        let Err(FrameError::Ambiguous(a)) = frame::parse_request(body.as_bytes()) else {
            panic!("refused: {body}")
        };
        assert_eq!((a.0.what, a.0.at.as_str(), a.0.reads_as.as_deref()), (FOLDED_NAME, at, Some(reads_as)), "{body}");
        assert_eq!(a.1.is_some(), id, "{body}");
    }
    // Spelt as MCP spells them, or names no reader takes for one the gateway reads, or
    // a known name whose value the gateway does not take (a number `name`): read.
    for body in [
        call(r#"{"name":"t","arguments":{"Name":1,"ARGUMENTS":2}}"#),
        call(r#"{"name":"t","argument":{},"argumentss":{},"\u0131d":1}"#),
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"name":1,"ref":{"name":2}}}"#.to_string(),
    ] {
        assert!(frame::parse_request(body.as_bytes()).is_ok(), "{body}");
    }
    // What the gateway only passes on (a backend's answer) is not held to it.
    assert!(frame::parse(br#"{"jsonrpc":"2.0","id":1,"Result":{},"result":{}}"#).is_ok());
}

#[test]
fn twins_are_the_names_go_folds_to_one() {
    // Capital sharp s folds to sharp s (whose upper case is two letters); dotless i is
    // not i to Go, nor sharp s "ss".
    for (text, twins) in [
        (r#"{"stra\u00dfe":1,"stra\u1e9ee":2}"#, true),
        (r#"{"\u212Aey":1,"KEY":2}"#, true),
        (r#"{"\u0131d":1,"id":2}"#, false),
        (r#"{"\u00df":1,"ss":2}"#, false),
    ] {
        assert_eq!(value(text.as_bytes()).is_err(), twins, "{text}");
        let raw: Raw = serde_json::from_str(text).unwrap();
        assert_eq!(raw.twins_and_depth().0, twins, "the reference: {text}");
    }
}
