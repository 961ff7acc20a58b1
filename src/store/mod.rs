//! Storage: the database (external or embedded), migrations, and the registry and key
//! queries.

pub mod db;
pub mod embedded;
pub mod keys;
pub mod migrate;
pub mod registry;
