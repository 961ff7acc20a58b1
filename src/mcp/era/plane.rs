//! The eras' own plane of the gateway's state: what the era adapters leave behind
//! between a call's requests (a 2026-07-28 client's calls parked between rounds, the
//! questions of session-era backends' tasks held for 2026-07-28 clients, the tasks being
//! created). Composed by the state beside the data plane; the hop knows nothing of it.

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::Cipher;
use crate::mcp::era::rounds::{ParkBounds, Parked};
use crate::mcp::era::tasks::inputs::TaskInputs;
use crate::mcp::era::tasks::places::{PerKey, Running};

/// What the era adapters hold between a call's requests, shared by every request.
pub struct EraPlane {
    /// Stateless clients' calls waiting for their input (multi-round-trip requests).
    pub parked: Arc<Parked>,
    /// The questions of session-era backends' tasks, held for 2026-07-28 clients.
    pub task_inputs: Arc<TaskInputs>,
    /// Tasks being created per key, counted against `METAMCP_KEY_MAX_TASKS` with the
    /// recorded ones.
    pub tasks_creating: Arc<PerKey>,
    /// Tasks holding their key's place among its requests in flight (`max_concurrent`)
    /// until they are seen to end.
    pub tasks_running: Arc<Running>,
    /// Requests about a key's tasks waiting at once, counted against
    /// `METAMCP_KEY_MAX_TASKS` (they take no place in flight: the task holds one).
    pub tasks_reading: Arc<PerKey>,
}

impl EraPlane {
    /// The plane as `config` bounds it; `cipher` seals the parked calls' states.
    pub fn new(config: &Config, cipher: &Cipher) -> EraPlane {
        EraPlane {
            parked: Arc::new(Parked::new(
                ParkBounds {
                    ttl: config.parked.ttl,
                    per_key: config.parked.per_key,
                    total: config.parked.total,
                },
                cipher.clone(),
                config.parked.replica_url.clone(),
            )),
            task_inputs: Arc::new(TaskInputs::new(config.tasks.per_key, config.parked.total)),
            tasks_creating: Arc::default(),
            tasks_running: Arc::default(),
            tasks_reading: Arc::default(),
        }
    }
}
