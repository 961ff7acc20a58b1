use super::*;

fn key(n: u8) -> KeyId {
    let s = format!("{:016x}", n);
    KeyId::parse(&s).unwrap_or(KeyId::ZERO)
}

fn asker(n: u8, thread: &str) -> Asker {
    Asker {
        key: key(n),
        thread: Arc::from(thread),
    }
}

fn shown(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const T0: u64 = 1_800_000_000;

#[test]
fn a_call_after_a_search_boosts_that_tool_for_those_words_in_that_namespace_only() {
    let l = Learning::default();
    let a = asker(1, "s1");
    l.searched_at(
        "a",
        &a,
        "archive the old tickets",
        shown(&["x", "y", "z"]),
        T0,
    );
    assert!(l.waiting());
    l.called_at("a", a.key, "s1", "z", T0 + 5);
    let t = l.lock_table();
    let b = t.boosts("a", &terms_of("archive tickets"), T0 + 10);
    assert!(b["z"] > 0.0, "{b:?}");
    // Shown above the one called: weak negatives.
    assert!(b["x"] < 0.0 && b["y"] < 0.0, "{b:?}");
    assert!(b["z"] > -b["x"]);
    // Another namespace learned nothing.
    assert!(
        t.boosts("b", &terms_of("archive tickets"), T0 + 10)
            .is_empty()
    );
    // Words never seen: nothing.
    assert!(
        t.boosts("a", &terms_of("weather forecast"), T0 + 10)
            .is_empty()
    );
}

#[test]
fn a_tool_the_search_missed_is_learned_from_the_first_call_only() {
    let l = Learning::default();
    let a = asker(1, "s1");
    l.searched_at("a", &a, "archive tickets", shown(&["x"]), T0);
    l.called_at("a", a.key, "s1", "missed", T0 + 1);
    l.called_at("a", a.key, "s1", "unrelated", T0 + 2);
    let b = l
        .lock_table()
        .boosts("a", &terms_of("archive tickets"), T0 + 3);
    assert!(b["missed"] > 0.0);
    assert!(!b.contains_key("unrelated"), "{b:?}");
}

#[test]
fn no_pair_across_namespaces_keys_threads_or_past_the_window() {
    let l = Learning::default();
    let a = asker(1, "s1");
    l.searched_at("a", &a, "archive tickets", shown(&["x"]), T0);
    l.called_at("b", a.key, "s1", "x", T0 + 1); // another namespace
    l.called_at("a", key(2), "s1", "x", T0 + 1); // another key
    l.called_at("a", a.key, "s2", "x", T0 + 1); // another thread
    assert_eq!(l.cells(), 0);
    let l = Learning::default();
    l.searched_at("a", &a, "archive tickets", shown(&["x"]), T0);
    l.called_at("a", a.key, "s1", "x", T0 + pairs::WINDOW_SECS + 1);
    assert_eq!(l.cells(), 0);
    assert!(!l.waiting(), "the search past its window is gone");
}

#[test]
fn one_keys_flood_stays_within_its_cap() {
    let l = Learning::default();
    let flood = asker(9, "f");
    for i in 0..500 {
        l.searched_at("a", &flood, "archive tickets", shown(&["x", "bad"]), T0 + i);
        l.called_at("a", flood.key, "f", "bad", T0 + i);
    }
    let t = l.lock_table();
    let now = T0 + 500;
    assert!(t.share("a", "archive", "bad", flood.key, now) <= KEY_CAP);
    assert!(t.share("a", "archive", "x", flood.key, now) >= -KEY_CAP);
    // Its boost is bounded: at most BOOST × cap / (cap + prior).
    let b = t.boosts("a", &terms_of("archive tickets"), now);
    assert!(
        b["bad"] <= BOOST * KEY_CAP / (KEY_CAP + PRIOR) + 1e-4,
        "{b:?}"
    );
    drop(t);
    // Other keys agreeing on another tool outweigh it.
    for k in 1..=4 {
        let a = asker(k, &format!("t{k}"));
        for i in 0..3 {
            l.searched_at("a", &a, "archive tickets", shown(&["good"]), now + i);
            l.called_at("a", a.key, &a.thread, "good", now + i);
        }
    }
    let b = l
        .lock_table()
        .boosts("a", &terms_of("archive tickets"), now + 10);
    assert!(b["good"] > b["bad"], "{b:?}");
}

#[test]
fn weights_fade_and_faded_cells_give_way_when_the_table_is_full() {
    let mut t = Table::default();
    let terms = vec!["w".to_string()];
    t.learn("a", key(1), &terms, "x", 1.0, T0);
    assert!((t.share("a", "w", "x", key(1), T0 + HALF_LIFE_SECS) - 0.5).abs() < 1e-3);
    // Fill the namespace, then come back once the weights have faded.
    for i in 0..CELLS_PER_NAMESPACE {
        t.learn("a", key(1), &[format!("w{i}")], "x", 1.0, T0);
    }
    assert!(t.cells() <= CELLS_PER_NAMESPACE);
    t.learn("a", key(1), &["fresh".to_string()], "x", 1.0, T0 + 1);
    assert!(t.dropped > 0, "full and nothing faded: dropped");
    let later = T0 + 10 * HALF_LIFE_SECS;
    t.learn("a", key(1), &["fresh".to_string()], "x", 1.0, later);
    assert_eq!(t.share("a", "fresh", "x", key(1), later), 1.0);
    assert!(t.cells() < 10);
}

#[test]
fn waiting_searches_are_bounded_per_key_and_in_all() {
    let l = Learning::default();
    for i in 0..(pairs::PER_KEY + 10) {
        l.searched_at(
            "a",
            &asker(1, &format!("s{i}")),
            "find things",
            shown(&[]),
            T0,
        );
    }
    assert_eq!(l.waiting.load(Ordering::Relaxed), pairs::PER_KEY);
}

#[test]
fn rerank_moves_boosted_tools_up_and_keeps_ties_in_order() {
    let found = vec![("a", 0.9f32), ("b", 0.8), ("c", 0.1), ("d", 0.1)];
    let boosts: HashMap<String, f32> = [("c".to_string(), 0.85f32)].into();
    let out = rerank(found, &boosts, |t| t.0, |t| &mut t.1, 3);
    let names: Vec<&str> = out.iter().map(|t| t.0).collect();
    assert_eq!(names, ["c", "a", "b"]);
}

#[test]
fn rows_written_elsewhere_merge_when_later_and_within_the_cap() {
    let l = Learning::default();
    let a = asker(1, "s");
    l.searched_at("a", &a, "archive tickets", shown(&["x"]), T0);
    l.called_at("a", a.key, "s", "x", T0 + 1);
    let moved = l.take_moved();
    assert_eq!(moved.len(), 2, "a row per word: {moved:?}");
    assert!(l.take_moved().is_empty());
    let other = Learning::default();
    other.merge(moved.clone());
    assert_eq!(
        other.lock_table().share("a", "archive", "x", a.key, T0 + 1),
        1.0
    );
    // An older row changes nothing; a weight past the cap is capped.
    let mut old = moved[0].clone();
    old.at = T0 - 100;
    old.weight = -1.0;
    let mut big = moved[0].clone();
    big.key = key(5);
    big.weight = 99.0;
    other.merge(vec![old, big]);
    let t = other.lock_table();
    assert_eq!(t.share("a", "archive", "x", a.key, T0 + 1), 1.0);
    assert_eq!(t.share("a", "archive", "x", key(5), T0 + 1), KEY_CAP);
    drop(t);
    // What was merged is not written back.
    assert!(other.take_moved().is_empty());
}

#[test]
fn agents_that_agree_outweigh_one_keys_flood_through_the_pairs() {
    let l = Learning::default();
    let need = "return the text of a message";
    let mut now = T0;
    for k in 1..=3 {
        let a = asker(k, &format!("s{k}"));
        for _ in 0..2 {
            now += 1;
            l.searched_at("a", &a, need, shown(&["echo", "big", "fail"]), now);
            l.called_at("a", a.key, &a.thread, "big", now);
        }
    }
    let b = l.boosts_at("a", need, now);
    assert!(b["big"] > 0.3, "{b:?}");
    let flood = asker(9, "f");
    for _ in 0..25 {
        now += 1;
        l.searched_at("a", &flood, need, shown(&["big", "echo", "fail"]), now);
        l.called_at("a", flood.key, "f", "echo", now);
    }
    let b = l.boosts_at("a", need, now);
    assert!(b["big"] > 0.3 && b["big"] > b["echo"] + 0.2, "{b:?}");
    // Written once per share, its last weight.
    let moved = l.take_moved();
    let mut cells: Vec<_> = moved.iter().map(|r| (&r.term, &r.tool, r.key)).collect();
    cells.dedup();
    assert_eq!(cells.len(), moved.len());
}
