//! The questions a session-era backend's task asks, held for a 2026-07-28 client.
//!
//! In the 2025-11-25 revision a task that needs input says `input_required`, and its
//! questions (`elicitation/create`, `sampling/createMessage`, `roots/list`) reach the
//! requestor on the stream of its `tasks/result`. A 2026-07-28 client reads them in
//! `tasks/get` (`inputRequests`) and answers with `tasks/update`. So the gateway holds a
//! `tasks/result` open for such a task and keeps its questions here, by task, until the
//! client answers them or the task ends. Bounded per key and in total.

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Questions one task holds at most; a backend asking more is refused the rest.
pub const MAX_QUESTIONS: usize = 64;

/// One question of a task's, waiting for the client.
#[derive(Debug, Clone)]
pub struct Question {
    /// Its `inputRequests` key: the id the gateway gave the backend's request.
    pub key: String,
    pub method: String,
    pub params: Value,
}

/// One task's questions.
pub struct Inputs {
    /// The conversation that asks (its answers come from it).
    pub conversation: Arc<str>,
    principal: String,
    held: Mutex<Held>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct Held {
    asked: Vec<Question>,
    ended: bool,
}

impl Inputs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a question; `false` (not kept) when the task holds its most.
    pub fn ask(&self, q: Question) -> bool {
        let mut held = self.lock();
        if held.asked.len() >= MAX_QUESTIONS {
            return false;
        }
        held.asked.push(q);
        drop(held);
        self.changed.notify_waiters();
        true
    }

    /// The questions not answered yet, in the order asked.
    pub fn pending(&self) -> Vec<Question> {
        self.lock().asked.clone()
    }

    /// Takes the question `key` to answer it.
    pub fn take(&self, key: &str) -> Option<Question> {
        let mut held = self.lock();
        let at = held.asked.iter().position(|q| q.key == key)?;
        Some(held.asked.remove(at))
    }

    /// Whether the question `key` waits.
    pub fn waits(&self, key: &str) -> bool {
        self.lock().asked.iter().any(|q| q.key == key)
    }

    /// The task's `tasks/result` ended: no more questions come.
    pub fn end(&self) {
        self.lock().ended = true;
        self.changed.notify_waiters();
    }

    pub fn ended(&self) -> bool {
        self.lock().ended
    }

    /// Waits up to `within` for a question (or the end), unless one waits already.
    pub async fn asked(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let held = self.lock();
                if !held.asked.is_empty() || held.ended {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

/// Every task whose questions are held here, by gateway task id.
pub struct TaskInputs {
    map: Mutex<HashMap<String, Arc<Inputs>>>,
    per_key: usize,
    total: usize,
}

impl TaskInputs {
    pub fn new(per_key: usize, total: usize) -> TaskInputs {
        TaskInputs {
            map: Mutex::new(HashMap::new()),
            per_key,
            total,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Inputs>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, task: &str) -> Option<Arc<Inputs>> {
        self.lock().get(task).cloned()
    }

    /// Starts holding the questions of `task` for `principal` (a key id; empty for the
    /// anonymous callers of an open namespace, who share a bound): `None` over the
    /// bounds. `Err` with the holder when they are held already.
    pub fn open(
        &self,
        task: &str,
        conversation: Arc<str>,
        principal: &str,
    ) -> Option<Result<Arc<Inputs>, Arc<Inputs>>> {
        let mut map = self.lock();
        if let Some(held) = map.get(task) {
            return Some(Err(held.clone()));
        }
        let mine = map.values().filter(|i| i.principal == principal).count();
        if map.len() >= self.total || mine >= self.per_key {
            return None;
        }
        let inputs = Arc::new(Inputs {
            conversation,
            principal: principal.to_string(),
            held: Mutex::new(Held::default()),
            changed: tokio::sync::Notify::new(),
        });
        map.insert(task.to_string(), inputs.clone());
        Some(Ok(inputs))
    }

    /// Stops holding `task`'s questions, if `inputs` still are its holder.
    pub fn close(&self, task: &str, inputs: &Arc<Inputs>) {
        let mut map = self.lock();
        if map.get(task).is_some_and(|i| Arc::ptr_eq(i, inputs)) {
            map.remove(task);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(key: &str) -> Question {
        Question {
            key: key.into(),
            method: "elicitation/create".into(),
            params: Value::Null,
        }
    }

    #[test]
    fn questions_are_held_by_task_within_the_bounds() {
        let all = TaskInputs::new(2, 3);
        let conv: Arc<str> = Arc::from("k:1");
        let a = all
            .open("t1", conv.clone(), "k1")
            .map(Result::ok)
            .unwrap()
            .unwrap();
        assert!(all.open("t1", conv.clone(), "k1").unwrap().is_err());
        all.open("t2", conv.clone(), "k1")
            .map(Result::ok)
            .unwrap()
            .unwrap();
        assert!(all.open("t3", conv.clone(), "k1").is_none(), "per key");
        all.open("t3", conv.clone(), "k2")
            .map(Result::ok)
            .unwrap()
            .unwrap();
        assert!(all.open("t4", conv.clone(), "k3").is_none(), "in total");
        assert!(a.ask(question("q1")) && a.ask(question("q2")));
        assert!(a.waits("q1"));
        assert_eq!(a.take("q1").map(|q| q.key), Some("q1".to_string()));
        assert!(a.take("q1").is_none() && !a.waits("q1"));
        assert_eq!(a.pending().len(), 1);
        for i in 0..MAX_QUESTIONS - 1 {
            assert!(a.ask(question(&format!("x{i}"))));
        }
        assert!(!a.ask(question("one-too-many")));
        let other = Arc::new(Inputs {
            conversation: conv,
            principal: "k1".into(),
            held: Mutex::new(Held::default()),
            changed: tokio::sync::Notify::new(),
        });
        all.close("t1", &other);
        assert!(all.get("t1").is_some(), "only its holder closes it");
        all.close("t1", &a);
        assert!(all.get("t1").is_none());
        assert_eq!(all.len(), 2);
    }

    #[tokio::test]
    async fn a_wait_ends_at_a_question_or_the_end() {
        let all = TaskInputs::new(5, 5);
        let a = all
            .open("t", Arc::from("k:1"), "k")
            .map(Result::ok)
            .unwrap()
            .unwrap();
        let b = a.clone();
        let asker = tokio::spawn(async move { b.ask(question("q")) });
        a.asked(Duration::from_secs(30)).await;
        assert!(asker.await.unwrap());
        assert_eq!(a.pending().len(), 1);
        let c = all
            .open("u", Arc::from("k:1"), "k")
            .map(Result::ok)
            .unwrap()
            .unwrap();
        let d = c.clone();
        tokio::spawn(async move { d.end() });
        c.asked(Duration::from_secs(30)).await;
        assert!(c.ended());
        let started = tokio::time::Instant::now();
        all.open("v", Arc::from("k:1"), "k")
            .map(Result::ok)
            .unwrap()
            .unwrap()
            .asked(Duration::from_millis(50))
            .await;
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
