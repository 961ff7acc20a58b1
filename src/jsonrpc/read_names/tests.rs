//! The tree against Go's reader: a member is refused exactly when Go's `foldName`
//! ([`crate::jsonrpc::fold::tests::go_fold`], the reference) takes it for a read name it
//! is not, at the levels the tree names and nowhere else.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::jsonrpc::fold::tests::go_fold;

fn names(paths: &[&[&str]]) -> ReadNames {
    let mut r = ReadNames::default();
    for p in paths {
        let steps: Vec<Step> = p
            .iter()
            .map(|s| match *s {
                "*" => Step::Each,
                n => Step::Name(n.to_string()),
            })
            .collect();
        r.add(&steps);
    }
    r
}

#[test]
fn a_lone_member_go_reads_as_a_read_name_is_found_where_it_is_read() {
    let r = names(&[&["path"], &["org", "repo"], &["files", "*", "mask"]]);
    for (args, at, reads_as) in [
        (
            json!({"PATH": "/etc/victim"}),
            "params.arguments.PATH",
            "path",
        ),
        (json!({"Path": 1}), "params.arguments.Path", "path"),
        (json!({"paTh": 1}), "params.arguments.paTh", "path"),
        (json!({"x": 1, "pAtH": 1}), "params.arguments.pAtH", "path"),
        (
            json!({"org": {"REPO": "a"}}),
            "params.arguments.org.REPO",
            "repo",
        ),
        (
            json!({"files": [{}, {"MASK": 1}]}),
            "params.arguments.files[1].MASK",
            "mask",
        ),
    ] {
        let a = r.twin_in(&args).expect("refused");
        assert_eq!(
            (a.at.as_str(), a.reads_as.as_deref()),
            (at, Some(reads_as)),
            "{args}"
        );
        assert_eq!(a.what, FOLDED_NAME);
    }
    // U+017F LONG S is `s`, U+212A KELVIN SIGN is `k` to Go.
    let signs = names(&[&["key"], &["disk"]]);
    for (member, reads_as) in [
        ("\u{212a}ey", "key"),
        ("di\u{17f}k", "disk"),
        ("dis\u{212a}", "disk"),
    ] {
        let a = signs.twin_in(&json!({member: "x"})).expect(member);
        assert_eq!(a.reads_as.as_deref(), Some(reads_as), "{member}");
    }
    for args in [
        json!({"path": "/etc/victim"}),
        json!({"paths": 1, "pat": 2, "other": {"PATH": 1}}),
        json!({"org": "REPO", "files": {"MASK": 1}}),
        json!([{"PATH": 1}]),
    ] {
        assert_eq!(r.twin_in(&args), None, "{args}");
    }
    // `Org` is itself a twin of `org`.
    assert!(r.twin_in(&json!({"Org": {"repo": 1}})).is_some());
    assert_eq!(ReadNames::default().twin_in(&json!({"PATH": 1})), None);
}

#[test]
fn go_reads_each_such_member_as_the_name_it_is_taken_for() {
    let r = names(&[&["path"], &["org", "repo"], &["files", "*", "mask"]]);
    let sent = json!({"PATH": 1, "org": {"REPO": 2, "x": 3}, "files": [{"Mask": 4}], "Other": 5});
    let go = json!({"path": 1, "org": {"repo": 2, "x": 3}, "files": [{"mask": 4}], "Other": 5});
    assert_eq!(r.as_go_reads(&sent), go);
    assert_eq!(r.as_go_reads(&go), go);
}

#[test]
fn trees_merge_by_name() {
    let mut a = names(&[&["org", "repo"]]);
    a.merge(&names(&[&["org", "team"], &["path"]]));
    assert_eq!(a, names(&[&["org", "repo"], &["org", "team"], &["path"]]));
}

/// A spelling of `name` with some letters swapped for another of their fold class.
fn respelt(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(0..4u8, name.chars().count()).prop_map(move |picks| {
        name.chars()
            .zip(picks)
            .map(|(c, p)| match (c, p) {
                ('s', 1) => '\u{17f}'.to_string(),
                ('k', 1) => '\u{212a}'.to_string(),
                (c, 2) => c.to_ascii_uppercase().to_string(),
                ('i', 3) => '\u{131}'.to_string(),
                (c, _) => c.to_string(),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn refused_exactly_when_go_reads_it_as_a_read_name(
        name in prop_oneof![respelt("path"), respelt("mask_keys"), respelt("is_kind"), "[a-zA-Zſ\u{212a}_]{1,9}"],
        nested in any::<bool>(),
    ) {
        let r = names(&[&["path"], &["mask_keys"], &["is_kind"], &["org", "path"]]);
        let args = match nested {
            true => json!({"org": {name.clone(): 1}}),
            false => json!({name.clone(): 1}),
        };
        let read: &[&str] = match nested {
            true => &["path"],
            false => &["path", "mask_keys", "is_kind", "org"],
        };
        let go = read
            .iter()
            .find(|n| **n != name && go_fold(n) == go_fold(&name) && !read.contains(&name.as_str()));
        let found = r.twin_in(&args);
        prop_assert_eq!(found.as_ref().and_then(|a| a.reads_as.as_deref()), go.copied(), "{}", name);
    }
}
