//! The places tasks hold:
//! - [`PerKey`]: places counted per key: the tasks being created (a task call holds a
//!   place under its key's bound, `METAMCP_KEY_MAX_TASKS`, from before it is forwarded
//!   until its task's row is written, so concurrent task calls cannot all pass the bound
//!   before any is recorded), and the requests about a key's tasks waiting at once.
//! - [`Running`]: a task's place among its key's requests in flight (`max_concurrent`). The
//!   call that makes a task hands its place to the task ([`Handoff`]), which holds it until
//!   the gateway sees the task end (a `tasks/get` or `tasks/cancel` answer, or a look when
//!   the key is refused for concurrency, [`Running::held_by`]) or its time to live runs out.
//!   So under `max_concurrent` a key's tasks run at the backend no more at once than its
//!   calls do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::auth::limits::InFlight;
use crate::base::KeyId;

/// Places held per key.
#[derive(Default)]
pub struct PerKey(Mutex<HashMap<String, usize>>);

impl PerKey {
    /// Takes a place for `key`; with it, how many the key holds now (this one counted).
    pub fn reserve(self: &Arc<Self>, key: String) -> (Place, usize) {
        let ahead = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        (
            Place {
                creating: self.clone(),
                key,
            },
            ahead,
        )
    }
}

/// One reserved place, given back when dropped (once the task's row is written, or the
/// call made none).
pub struct Place {
    creating: Arc<PerKey>,
    key: String,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut map = self.creating.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// How often the key's tasks are looked at when it is refused for concurrency.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How many of them one look reads (the next ones the look after: a key with many
/// places asks its backends at most this many `tasks/get` a second).
pub const LOOK_AT: usize = 8;

/// The tasks holding their key's place in flight on this replica.
#[derive(Default)]
pub struct Running(Mutex<Tasks>);

#[derive(Default)]
struct Tasks {
    /// By gateway task id: its key, and the end that gives its place back.
    by_id: HashMap<Arc<str>, (KeyId, oneshot::Sender<()>)>,
    /// By key: its tasks here, and when they were last looked at.
    by_key: HashMap<KeyId, (Vec<Arc<str>>, Option<Instant>)>,
}

impl Tasks {
    fn forget(&mut self, gid: &str) -> Option<oneshot::Sender<()>> {
        let (key, end) = self.by_id.remove(gid)?;
        if let Some((gids, _)) = self.by_key.get_mut(&key) {
            gids.retain(|g| &**g != gid);
            if gids.is_empty() {
                self.by_key.remove(&key);
            }
        }
        Some(end)
    }
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The task `gid` of `key` holds `place` until it is seen to end ([`Running::end`])
    /// or `life` runs out.
    pub fn keep(self: &Arc<Self>, gid: Arc<str>, key: KeyId, place: InFlight, life: Duration) {
        let (end, ended) = oneshot::channel();
        {
            let mut tasks = self.lock();
            tasks.by_id.insert(gid.clone(), (key, end));
            tasks.by_key.entry(key).or_default().0.push(gid.clone());
        }
        let running = self.clone();
        tokio::spawn(async move {
            let _place = place;
            // Ended (the sender dropped) or out of time: the place goes back either way.
            let _ = tokio::time::timeout(life, ended).await;
            running.lock().forget(&gid);
        });
    }

    /// The task `gid` ended: its place goes back (nothing if it holds none).
    pub fn end(&self, gid: &str) {
        let end = self.lock().forget(gid);
        drop(end);
    }

    /// Whether `gid` holds a place here.
    pub fn holds(&self, gid: &str) -> bool {
        self.lock().by_id.contains_key(gid)
    }

    /// The tasks of `key` holding places here to look at now, at most [`LOOK_AT`] of
    /// them, in turn: none when it has none, or when they were looked at less than
    /// [`LOOK_EVERY`] ago (a refused key's requests do not each ask its backends).
    pub fn held_by(&self, key: &KeyId) -> Vec<Arc<str>> {
        self.held_by_at(key, Instant::now())
    }

    fn held_by_at(&self, key: &KeyId, now: Instant) -> Vec<Arc<str>> {
        let mut tasks = self.lock();
        let Some((gids, looked)) = tasks.by_key.get_mut(key) else {
            return Vec::new();
        };
        if looked.is_some_and(|t| now.duration_since(t) < LOOK_EVERY) {
            return Vec::new();
        }
        *looked = Some(now);
        let n = gids.len().min(LOOK_AT);
        let turn = gids[..n].to_vec();
        gids.rotate_left(n);
        turn
    }

    /// How many of `key`'s tasks hold places here.
    pub fn count(&self, key: &KeyId) -> usize {
        self.lock().by_key.get(key).map_or(0, |(g, _)| g.len())
    }
}

/// A task call's place in flight, handed from its answer to the task it makes: the
/// answer gives the place ([`Handoff::place`]) and the task its id ([`Handoff::made`]),
/// in either order; a call that makes no task gives its place back when the last of
/// the two lets go of the handoff.
pub struct Handoff {
    running: Arc<Running>,
    key: KeyId,
    slot: Mutex<Slot>,
}

enum Slot {
    Waiting,
    Place(InFlight),
    Made(Arc<str>, Duration),
    Done,
}

impl Handoff {
    pub fn new(running: Arc<Running>, key: KeyId) -> Arc<Handoff> {
        Arc::new(Handoff {
            running,
            key,
            slot: Mutex::new(Slot::Waiting),
        })
    }

    fn settle(&self, with: Slot) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match (std::mem::replace(&mut *slot, Slot::Done), with) {
            (Slot::Waiting, with) => *slot = with,
            (Slot::Place(place), Slot::Made(gid, life))
            | (Slot::Made(gid, life), Slot::Place(place)) => {
                self.running.keep(gid, self.key, place, life);
            }
            // Given twice, or after the task was made: what came is dropped.
            (old, _) => *slot = old,
        }
    }

    /// The call's place, as its answer hands it on.
    pub fn place(&self, place: InFlight) {
        self.settle(Slot::Place(place));
    }

    /// The task the call made: its gateway id and how long it lives.
    pub fn made(&self, gid: &str, life: Duration) {
        self.settle(Slot::Made(Arc::from(gid), life));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::limits::Limiter;
    use crate::model::limits::{Defaults, Effective};

    fn key(n: u8) -> KeyId {
        KeyId::parse(&format!("{n:016x}")).unwrap()
    }

    /// A limiter whose keys have one place in flight each.
    fn one_place() -> (Limiter, Effective) {
        let eff = Effective {
            max_concurrent: Some(1),
            ..Effective::default()
        };
        (Limiter::new(Defaults::default()), eff)
    }

    async fn place(l: &Limiter, eff: &Effective, k: u8) -> Option<InFlight> {
        l.enter(&key(k), eff).await.ok().flatten()
    }

    #[tokio::test]
    async fn a_task_holds_its_place_until_it_is_seen_to_end() {
        let (l, eff) = one_place();
        let running = Arc::new(Running::default());
        let p = place(&l, &eff, 1).await.unwrap();
        running.keep("mtk1.a".into(), key(1), p, Duration::from_secs(60));
        assert!(running.holds("mtk1.a"));
        assert_eq!(running.count(&key(1)), 1);
        assert!(
            place(&l, &eff, 1).await.is_none(),
            "the task holds the key's one place"
        );
        assert!(
            place(&l, &eff, 2).await.is_some(),
            "another key's are its own"
        );
        running.end("mtk1.a");
        assert_eq!(running.count(&key(1)), 0);
        let back = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(p) = place(&l, &eff, 1).await {
                    return p;
                }
                tokio::task::yield_now().await;
            }
        });
        assert!(back.await.is_ok(), "the place came back");
        running.end("mtk1.a");
        running.end("mtk1.never");
    }

    #[tokio::test]
    async fn a_task_never_seen_to_end_gives_its_place_back_when_its_life_does() {
        let (l, eff) = one_place();
        let running = Arc::new(Running::default());
        let p = place(&l, &eff, 1).await.unwrap();
        let kept = Instant::now();
        running.keep("mtk1.a".into(), key(1), p, Duration::from_millis(300));
        assert!(running.holds("mtk1.a"));
        assert!(place(&l, &eff, 1).await.is_none());
        let back = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(p) = place(&l, &eff, 1).await {
                    return p;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert!(back.await.is_ok(), "the place came back");
        assert!(kept.elapsed() >= Duration::from_millis(300), "not before");
        assert!(!running.holds("mtk1.a"), "its life is over");
    }

    #[tokio::test]
    async fn a_refused_keys_tasks_are_looked_at_at_most_once_a_second() {
        let (l, eff) = one_place();
        let running = Arc::new(Running::default());
        let p = place(&l, &eff, 1).await.unwrap();
        running.keep("mtk1.a".into(), key(1), p, Duration::from_secs(60));
        let t = Instant::now();
        assert!(running.held_by_at(&key(2), t).is_empty(), "a key with none");
        assert_eq!(
            running.held_by_at(&key(1), t),
            vec![Arc::<str>::from("mtk1.a")]
        );
        let soon = t + LOOK_EVERY / 2;
        assert!(
            running.held_by_at(&key(1), soon).is_empty(),
            "looked at just now"
        );
        assert_eq!(running.held_by_at(&key(1), t + LOOK_EVERY).len(), 1);
    }

    #[tokio::test]
    async fn a_look_reads_a_few_of_many_tasks_and_the_next_ones_the_next_time() {
        let eff = Effective {
            max_concurrent: Some(20),
            ..Effective::default()
        };
        let l = Limiter::new(Defaults::default());
        let running = Arc::new(Running::default());
        for i in 0..20 {
            let p = place(&l, &eff, 1).await.unwrap();
            running.keep(
                format!("mtk1.{i}").into(),
                key(1),
                p,
                Duration::from_secs(60),
            );
        }
        let t = Instant::now();
        let mut seen = Vec::new();
        for n in 0..3u32 {
            let turn = running.held_by_at(&key(1), t + LOOK_EVERY * n);
            assert!(turn.len() <= LOOK_AT, "{turn:?}");
            seen.extend(turn);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20, "every task in turn: {seen:?}");
    }

    #[tokio::test]
    async fn a_calls_place_goes_to_its_task_whichever_comes_first() {
        let (l, eff) = one_place();
        let running = Arc::new(Running::default());
        // The answer hands its place on before the task is made, and after.
        let first = Handoff::new(running.clone(), key(1));
        first.place(place(&l, &eff, 1).await.unwrap());
        first.made("mtk1.a", Duration::from_secs(60));
        let second = Handoff::new(running.clone(), key(2));
        second.made("mtk1.b", Duration::from_secs(60));
        second.place(place(&l, &eff, 2).await.unwrap());
        drop((first, second));
        assert!(running.holds("mtk1.a") && running.holds("mtk1.b"));
        assert!(place(&l, &eff, 1).await.is_none() && place(&l, &eff, 2).await.is_none());
        // A call that made no task: its place goes back with the handoff.
        let none = Handoff::new(running.clone(), key(3));
        none.place(place(&l, &eff, 3).await.unwrap());
        assert!(
            place(&l, &eff, 3).await.is_none(),
            "held while the answer goes"
        );
        drop(none);
        assert!(place(&l, &eff, 3).await.is_some());
        assert_eq!(running.count(&key(3)), 0);
    }

    #[test]
    fn places_are_counted_per_key_and_given_back() {
        let c = Arc::new(PerKey::default());
        let (a, n) = c.reserve("k".into());
        assert_eq!(n, 1);
        let (_b, n) = c.reserve("k".into());
        assert_eq!(n, 2);
        assert_eq!(c.reserve("other".into()).1, 1);
        drop(a);
        assert_eq!(c.reserve("k".into()).1, 2);
        assert!(
            c.0.lock().unwrap().get("other").is_none(),
            "an idle key holds nothing"
        );
    }
}
