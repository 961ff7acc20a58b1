//! Confirmations being asked of session clients (a policy's `confirm`, put to the user
//! as `elicitation/create` on the call's stream, [`crate::mcp::confirm`]): a question
//! holds a place from when it is asked until it ends (answered, timed out, or its client
//! gone), within a bound per conversation and one in total. A 2026-07-28 client's
//! confirmation holds nothing: its state is sealed into the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Confirmations one conversation (a session, or a key's stateless requests) may be
/// asked at once.
pub const PER_CONVERSATION: usize = 8;
/// Confirmations the process asks at once, over every client.
pub const TOTAL: usize = 1024;

/// Places held per conversation, and in all.
#[derive(Default)]
pub struct Confirming(Mutex<(HashMap<Arc<str>, usize>, usize)>);

/// Which bound a confirmation found full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Conversation,
    Total,
}

impl Confirming {
    /// A place for a confirmation asked of `conversation`, if both bounds allow.
    pub fn take(self: &Arc<Self>, conversation: &Arc<str>) -> Result<Place, Full> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held.0.get(conversation).copied().unwrap_or(0);
        if mine >= PER_CONVERSATION {
            return Err(Full::Conversation);
        }
        if held.1 >= TOTAL {
            return Err(Full::Total);
        }
        held.0.insert(conversation.clone(), mine + 1);
        held.1 += 1;
        Ok(Place {
            confirming: self.clone(),
            conversation: conversation.clone(),
        })
    }

    /// Confirmations being asked now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One confirmation's place, given back when dropped.
pub struct Place {
    confirming: Arc<Confirming>,
    conversation: Arc<str>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut held = self.confirming.0.lock().unwrap_or_else(|p| p.into_inner());
        held.1 = held.1.saturating_sub(1);
        if let Some(n) = held.0.get_mut(&self.conversation) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.0.remove(&self.conversation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_per_conversation_and_in_all_and_given_back() {
        let c = Arc::new(Confirming::default());
        let a: Arc<str> = Arc::from("a");
        let mut held: Vec<Place> = (0..PER_CONVERSATION)
            .map(|_| c.take(&a).expect("a place"))
            .collect();
        assert_eq!(c.take(&a).err(), Some(Full::Conversation));
        // Another conversation is still served.
        let b: Arc<str> = Arc::from("b");
        let other = c.take(&b).expect("b's place");
        assert_eq!(c.len(), PER_CONVERSATION + 1);
        held.pop();
        assert!(c.take(&a).is_ok());
        drop(held);
        drop(other);
        assert!(c.is_empty());
        let many: Vec<Place> = (0..TOTAL)
            .map(|i| c.take(&Arc::from(format!("c{i}"))).expect("a place"))
            .collect();
        assert_eq!(c.take(&a).err(), Some(Full::Total));
        drop(many);
        assert!(c.is_empty());
    }
}
