//! Governance: what decides who may call what and what a call may carry. Policies (by
//! identity, and the policy phase with `validate_arguments`), confirmations asked of the
//! user (`confirm`), pinned tool definitions and their reviews (`reviews`), external
//! guardrails (`guardrails`), the audit trail (`audit`) and the threat model's checks
//! (`security`).

mod audit;
mod confirm;
mod guardrails;
mod policies;
mod reviews;
mod security;
