//! The control plane and its tools: the REST API (`control_plane`, `swagger_ui`),
//! `keyadm` and importing clients' server files (`keyadm`, `import`), the `mcpc` client,
//! the database's migrations and the embedded cluster (`migrations`, `embedded`), and
//! traces (`tracing`); servers installed from an MCP registry (`registry`); the Helm
//! chart, alert rules and dashboard under `deploy/` (`fleet`).

mod agreement;
mod agreement_more;
mod control_plane;
mod embedded;
mod fleet;
mod import;
mod keyadm;
mod mcpc;
mod migrations;
mod registry;
mod swagger_ui;
pub(crate) mod tracing;
