//! Storage: the database (external or embedded), migrations, and the registry and key
//! queries, the audit trail's reads, and where installed servers came from ([`sources`]).

pub mod audit;
pub mod confirm_uses;
pub mod db;
pub mod dpop_proofs;
pub mod embedded;
pub mod import;
pub mod keys;
pub mod migrate;
pub mod oauth;
pub mod policies;
pub mod registry;
pub mod search_learning;
pub mod server_status;
pub mod sources;
pub mod subscriptions;
pub mod tasks;
