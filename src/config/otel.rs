//! Trace export: the standard `OTEL_*` variables (OTLP/HTTP with protobuf), read into
//! [`Tracing`].

use std::time::Duration;

use super::values::{Collector, whole_number};

/// Where and how spans are exported (OTLP/HTTP with protobuf).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// `host:port` of the collector (plain HTTP).
    pub authority: String,
    /// The path spans are POSTed to (`/v1/traces` under `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub path: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`): never logged.
    pub headers: Vec<(String, String)>,
    pub service_name: String,
    /// Resource attributes besides `service.name`.
    pub resource: Vec<(String, String)>,
    pub sampler: Sampler,
    /// Spans waiting for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`); beyond: dropped.
    pub queue: usize,
    /// Spans per export request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub batch: usize,
    /// The longest a span waits for its batch (`OTEL_BSP_SCHEDULE_DELAY`).
    pub delay: Duration,
    /// How long one export may take (`OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub timeout: Duration,
}

/// Which requests are recorded (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// A fraction of traces, chosen by trace id.
    Ratio(f64),
    /// The caller's decision when it sent one, else the root sampler's.
    ParentBased(Root),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

settings! {
    /// The standard OpenTelemetry variables the gateway reads.
    OTEL_KEYS;
    OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED",
    OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER",
    OTEL_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT",
    OTEL_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    OTEL_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS",
    OTEL_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    OTEL_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT",
    OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME",
    OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES",
    OTEL_SAMPLER = "OTEL_TRACES_SAMPLER",
    OTEL_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG",
    OTEL_BSP_QUEUE = "OTEL_BSP_MAX_QUEUE_SIZE",
    OTEL_BSP_BATCH = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    OTEL_BSP_DELAY = "OTEL_BSP_SCHEDULE_DELAY",
}

/// `k=v,k2=v2` with percent-encoded values (the OTel list format).
pub(super) fn otel_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {pair:?}"))?;
            let v = percent_decode(v.trim())
                .ok_or_else(|| format!("bad percent-encoding in {pair:?}"))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(format!("empty key in {pair:?}"));
            }
            Ok((k.to_string(), v))
        })
        .collect()
}

pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `http://host:port[/path]` → (`host:port`, path). Only plain HTTP: put a local
/// collector in front of a TLS one.
pub(super) fn otlp_endpoint(s: &str, traces_path: bool) -> Result<(String, String), String> {
    let rest = s
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| format!("expected http://host:port (OTLP over TLS is not supported; use a local collector), got {s:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
        return Err(format!("bad host in {s:?}"));
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let path = if traces_path {
        format!("{}/v1/traces", path.trim_end_matches('/'))
    } else if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    Ok((authority, path))
}

pub(super) fn otel_sampler(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, String> {
    let ratio = || -> Result<f64, String> {
        match arg {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    format!("{OTEL_SAMPLER_ARG}: expected a ratio from 0 to 1, got {a:?}")
                }),
        }
    };
    Ok(
        match name.map(str::trim).unwrap_or("parentbased_always_on") {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::Ratio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(Root::AlwaysOn),
            "parentbased_always_off" => Sampler::ParentBased(Root::AlwaysOff),
            "parentbased_traceidratio" => Sampler::ParentBased(Root::Ratio(ratio()?)),
            other => {
                return Err(format!(
                    "unknown sampler {other:?} (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
                ));
            }
        },
    )
}

/// The tracing settings, or `None` when no OTLP endpoint is set (or export is off).
pub(super) fn tracing_from(
    get: &mut dyn FnMut(&'static str) -> Option<String>,
    errs: &mut Collector,
) -> Option<Tracing> {
    let disabled = get(OTEL_SDK_DISABLED).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let exporter = get(OTEL_TRACES_EXPORTER);
    match exporter.as_deref().map(str::trim) {
        None | Some("otlp") => {}
        Some("none") => return None,
        Some(other) => {
            errs.push(
                OTEL_TRACES_EXPORTER,
                format!("only otlp or none, got {other:?}"),
            );
            return None;
        }
    }
    let (key, raw, traces_path) = match (get(OTEL_TRACES_ENDPOINT), get(OTEL_ENDPOINT)) {
        (Some(t), _) if !t.trim().is_empty() => (OTEL_TRACES_ENDPOINT, t, false),
        (_, Some(e)) if !e.trim().is_empty() => (OTEL_ENDPOINT, e, true),
        _ => return None,
    };
    let endpoint = errs.check(key, otlp_endpoint(&raw, traces_path));
    let mut headers = Vec::new();
    for k in [OTEL_HEADERS, OTEL_TRACES_HEADERS] {
        if let Some(h) = get(k)
            && let Some(pairs) = errs.check(k, otel_pairs(&h))
        {
            headers.extend(pairs);
        }
    }
    let resource = get(OTEL_RESOURCE_ATTRIBUTES)
        .and_then(|r| errs.check(OTEL_RESOURCE_ATTRIBUTES, otel_pairs(&r)))
        .unwrap_or_default();
    let service_name = get(OTEL_SERVICE_NAME)
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            resource
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "metamcp".to_string());
    let resource = resource
        .into_iter()
        .filter(|(k, _)| k != "service.name")
        .collect();
    let sampler_arg = get(OTEL_SAMPLER_ARG);
    let sampler = errs.check(
        OTEL_SAMPLER,
        otel_sampler(get(OTEL_SAMPLER).as_deref(), sampler_arg.as_deref()),
    );
    let mut number = |k: &'static str, default: usize, max: usize| {
        get(k).map_or(Some(default), |v| errs.check(k, whole_number(&v, max)))
    };
    let queue = number(OTEL_BSP_QUEUE, 2048, 1_000_000);
    let batch = number(OTEL_BSP_BATCH, 512, 100_000);
    let delay = number(OTEL_BSP_DELAY, 5000, 3_600_000);
    let timeout = number(OTEL_TIMEOUT, 10_000, 3_600_000);
    if disabled {
        return None;
    }
    let (authority, path) = endpoint?;
    let queue = queue?.max(1);
    Some(Tracing {
        authority,
        path,
        headers,
        service_name,
        resource,
        sampler: sampler?,
        queue,
        batch: batch?.clamp(1, queue),
        delay: Duration::from_millis(delay? as u64),
        timeout: Duration::from_millis(timeout?.max(1) as u64),
    })
}
