//! Governance: what decides who may call what and what a call may carry. Policies (by
//! identity, and the policy phase with `validate_arguments`), confirmations asked of the
//! user (`confirm`), pinned tool definitions and their reviews (`reviews`), external
//! guardrails (`guardrails`), the audit trail (`audit`), the threat model's checks
//! (`security`), the dry run of a call (`dry_run`: policies check answers as a call is
//! decided; `simulate`: a policy change simulated as calls are decided) and code mode, whose inner calls meet all of these (`code_mode`) and are
//! audited and traced under their run (`code_mode_audit`), within a run's memory bound
//! over their results (`code_mode_memory`).

mod audit;
mod check_limits;
mod code_mode;
mod code_mode_audit;
mod code_mode_memory;
mod confirm;
mod confirm_in_code;
mod door_matrix;
mod dry_run;
mod guardrails;
mod policies;
mod policy_rollout;
mod reviews;
mod security;
mod simulate;
