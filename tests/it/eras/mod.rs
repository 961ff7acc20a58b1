//! The two protocol eras and what the gateway does between them (docs/architecture/eras.md):
//! one scenario run across the four (client era, backend era) bridges by a macro
//! (`bridges`), the 2026-07-28 era against session backends (`stateless`), multi-round-trip
//! requests (`mrtr`), both eras' tasks (`tasks`), the extensions carried across
//! (`extensions`) and the gateway's own error codes in each era (`codes`).

mod bridges;
mod codes;
mod extensions;
mod mrtr;
mod stateless;
mod tasks;
