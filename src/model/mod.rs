//! The data model: servers, namespaces and the rules their names follow.

pub mod names;
