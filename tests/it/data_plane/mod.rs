//! The data plane, end to end: a real gateway in front of real backends (mockmcp, stdio
//! children, JSON-lines and TLS servers) over real sockets. What a client sees of many
//! backends as one (`views`), the hop and what it survives (`upstream`, `resilience`,
//! `streaming`, `stdio`, `json_lines_backend`, `tls_backends`), what flows back besides the
//! answer (`notifications`), clients that leave mid-call (`departures`), the one reader of
//! what is forwarded (`one_reading`, `folded_arguments`), the gateway's own tools and tool search
//! (`gateway_tools`, `tool_search`, `search_learning`), skills, the HTTP server's own behaviour
//! (`server_behaviour`) and the per-call log line (`call_log`).

mod call_log;
mod departures;
mod folded_arguments;
mod gateway_tools;
mod json_lines_backend;
mod notifications;
mod one_reading;
mod resilience;
mod search_learning;
mod server_behaviour;
mod skills;
mod stdio;
mod streaming;
mod tls_backends;
mod tool_search;
mod upstream;
mod views;
