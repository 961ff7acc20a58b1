//! Code mode's settings (`METAMCP_CODE_*`): whether `/mcp` offers `run_code`, and the
//! bounds of every run ([`crate::codemode::Bounds`]), the budgets for inner results
//! among them.

use std::time::Duration;

use super::read::Raw;
use super::values::{Collector, on_off, parse_size, whole_number};
use super::*;

/// Code mode as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct Code {
    /// `/mcp`'s code mode (a namespace has its own `code_mode`).
    pub mode: crate::model::CodeMode,
    pub bounds: crate::codemode::Bounds,
}

impl Default for Code {
    fn default() -> Code {
        Code {
            mode: crate::model::CodeMode::Off,
            bounds: crate::codemode::Bounds::default(),
        }
    }
}

/// Largest heap a run may be given.
const MAX_MEMORY_MB: usize = 4096;
/// Largest budget for inner results, of one run or of every run.
const MAX_RESULTS_MB: usize = 1 << 20;

pub(super) fn code(raw: &mut Raw, errs: &mut Collector) -> Code {
    let d = crate::codemode::Bounds::default();
    let mut number = |key: &str, max: usize, default: usize| {
        raw.take(key)
            .and_then(|s| errs.check(key, whole_number(&s, max)))
            .unwrap_or(default)
    };
    let timeout_ms = number(CODE_TIMEOUT_MS, 3_600_000, d.timeout.as_millis() as usize);
    let memory_mb = number(CODE_MEMORY_MB, MAX_MEMORY_MB, d.memory >> 20);
    let max_calls = number(CODE_MAX_CALLS, 100_000, d.max_calls);
    let runs_per_key = number(CODE_RUNS_PER_KEY, 100_000, d.runs_per_key);
    let runs = number(CODE_RUNS, 1_000_000, d.runs);
    let results_mb = number(CODE_RESULTS_MB, MAX_RESULTS_MB, d.results >> 20);
    let results_total_mb = number(CODE_RESULTS_TOTAL_MB, MAX_RESULTS_MB, d.results_total >> 20);
    if results_mb > results_total_mb {
        errs.check::<()>(
            CODE_RESULTS_MB,
            Err(format!(
                "{results_mb} MiB for one run is more than {CODE_RESULTS_TOTAL_MB} \
                 ({results_total_mb} MiB) for every run together"
            )),
        );
    }
    let mut size = |key: &str, max: usize, default: usize| {
        raw.take(key)
            .and_then(|s| {
                let n = errs.check(key, parse_size(&s))?;
                errs.check(
                    key,
                    match (1..=max).contains(&n) {
                        true => Ok(n),
                        false => Err(format!("must be from 1 byte to {} MiB", max >> 20)),
                    },
                )
            })
            .unwrap_or(default)
    };
    let max_bytes = size(CODE_MAX_BYTES, 16 << 20, d.max_bytes);
    let max_output = size(CODE_MAX_OUTPUT, 256 << 20, d.max_output);
    let mode = raw
        .take(CODE_MODE)
        .and_then(|s| errs.check(CODE_MODE, on_off(&s)))
        .map_or(crate::model::CodeMode::Off, |on| match on {
            true => crate::model::CodeMode::On,
            false => crate::model::CodeMode::Off,
        });
    Code {
        mode,
        bounds: crate::codemode::Bounds {
            timeout: Duration::from_millis(timeout_ms as u64),
            memory: memory_mb << 20,
            max_calls,
            max_bytes,
            max_output,
            runs_per_key,
            runs,
            results: results_mb << 20,
            results_total: results_total_mb << 20,
            ..d
        },
    }
}
