//! The two protocol eras and what the gateway does between them (docs/architecture/eras.md):
//! one scenario run across the four (client era, backend era) bridges by a macro
//! (`bridges`), the 2026-07-28 era against session backends (`stateless`), multi-round-trip
//! requests (`mrtr`), both eras' tasks (`tasks`) and the extensions carried across
//! (`extensions`).

mod bridges;
mod extensions;
mod mrtr;
mod stateless;
mod tasks;
