//! Tasks being created per key: a task call holds a place under its key's bound
//! (`METAMCP_KEY_MAX_TASKS`) from before it is forwarded until its task's row is
//! written, so concurrent task calls cannot all pass the bound before any is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Places held per key.
#[derive(Default)]
pub struct Creating(Mutex<HashMap<String, usize>>);

impl Creating {
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
    creating: Arc<Creating>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_key_and_given_back() {
        let c = Arc::new(Creating::default());
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
