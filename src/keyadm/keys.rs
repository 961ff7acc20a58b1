//! `keyadm keys …`: create, list, show, update limits, activate, inactivate, delete,
//! rotate and usage, as text or JSON.

use serde_json::json;

use crate::cli::printable;
use crate::config;
use crate::model::limits::{Defaults, KeyLimits, Setting};
use crate::store::keys::{KeyRecord, KeyStore, NewKey};

use super::audit::usage_table;
use super::changes::Trail;
use super::text::{aligned, line};
use super::{Command, KeyadmError};

pub(super) async fn keys_command(
    store: &KeyStore,
    trail: &Trail,
    cmd: &Command,
    json: bool,
    defaults: &Defaults,
    streams_per_key: u32,
) -> Result<String, KeyadmError> {
    // A key's use of each limit, across the replicas (kept in PostgreSQL).
    let use_of = |key: &KeyRecord| {
        let eff = crate::model::limits::effective(defaults, &key.limits);
        let id = key.id.to_string();
        async move {
            crate::auth::limits::replicas::key_use(store.pool(), &id, &eff, streams_per_key).await
        }
    };
    match cmd {
        Command::List { include_inactive } => {
            let keys = store.list(*include_inactive).await?;
            Ok(if json {
                line(serde_json::to_value(&keys).unwrap_or_default())
            } else {
                table(&keys, *include_inactive)
            })
        }
        Command::Create(a) => {
            let issued = store
                .create(NewKey {
                    name: a.name.clone(),
                    description: a.description.clone(),
                    scope: a.scope,
                    namespaces: a.namespaces.clone(),
                    expires_in_days: a.expires_in_days,
                    limits: a.limits,
                })
                .await?;
            trail.key(store, "key.create", &issued.id.to_string()).await;
            Ok(if json {
                line(json!({"id": issued.id, "api_key": issued.api_key}))
            } else {
                format!(
                    "created key {} ({}, scope {})\n\nAPI key (shown only now; store it safely):\n{}\n",
                    issued.id, a.name, a.scope, issued.api_key
                )
            })
        }
        Command::Show(id) => {
            let key = store.show(id).await?;
            let in_use = use_of(&key).await?;
            Ok(if json {
                let mut v = serde_json::to_value(&key).unwrap_or_default();
                v["use"] = in_use;
                line(v)
            } else {
                format!("{}{}", details(&key, defaults), use_lines(&in_use))
            })
        }
        Command::Update { id, limits } => {
            let key = store.update_limits(id, limits).await?;
            trail.key(store, "key.update", &key.id.to_string()).await;
            Ok(if json {
                line(serde_json::to_value(&key).unwrap_or_default())
            } else {
                format!(
                    "key {} limits: {}\n",
                    key.id,
                    describe_limits(&key.limits, defaults)
                )
            })
        }
        Command::Activate(id) | Command::Inactivate(id) => {
            let active = matches!(cmd, Command::Activate(_));
            let key = store.set_active(id, active).await?;
            let what = if active {
                "key.activate"
            } else {
                "key.inactivate"
            };
            trail.key(store, what, &key.id.to_string()).await;
            Ok(if json {
                line(serde_json::to_value(&key).unwrap_or_default())
            } else {
                format!("key {} is now {}\n", key.id, key.state())
            })
        }
        Command::Delete { id, confirm } => {
            if !confirm {
                // Check the id first so a typo is reported as such, not as "confirm".
                store.show(id).await?;
                return Err(KeyadmError::NotConfirmed(format!("key {id}")));
            }
            // The key's id, when it was named by its name.
            let key = store.show(id).await?;
            store.delete(id).await?;
            trail.key(store, "key.delete", &key.id.to_string()).await;
            Ok(if json {
                line(json!({"id": id, "deleted": true}))
            } else {
                format!("deleted key {id}\n")
            })
        }
        Command::Rotate(id) => {
            let issued = store.rotate(id).await?;
            trail.key(store, "key.rotate", &issued.id.to_string()).await;
            Ok(if json {
                line(json!({"id": issued.id, "api_key": issued.api_key}))
            } else {
                format!(
                    "rotated key {}; the previous secret no longer works\n\nAPI key (shown only now; store it safely):\n{}\n",
                    issued.id, issued.api_key
                )
            })
        }
        Command::Usage { id, since } => {
            // An unknown key is an error, not an empty report.
            let key = store.show(id).await?;
            let mut usage =
                crate::store::audit::usage(store.pool(), &key.id.to_string(), since).await?;
            usage["daily_calls"] = use_of(&key).await?["daily_calls"].clone();
            Ok(if json {
                line(usage)
            } else {
                usage_table(&usage)
            })
        }
        Command::Help
        | Command::HelpFor(_)
        | Command::Migrate
        | Command::Status
        | Command::Audit(..)
        | Command::Servers(_)
        | Command::Namespaces(_)
        | Command::Policies(_)
        | Command::ClientConfig(_)
        | Command::OAuth(_)
        | Command::Reviews(_)
        | Command::Connections(_)
        | Command::Registry(_) => Ok(String::new()),
    }
}

/// `keys show`'s lines on the key's use of each limit.
fn use_lines(u: &serde_json::Value) -> String {
    let or_none = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "no limit".to_string(),
        v => v.to_string(),
    };
    let rate = match &u["rate"] {
        serde_json::Value::Null => "no limit".to_string(),
        r => format!(
            "{} tokens of {} available ({})",
            r["available"],
            r["burst"],
            r["limit"].as_str().unwrap_or("-")
        ),
    };
    let d = &u["daily_calls"];
    format!(
        "use (all replicas)\n  rate         {rate}\n  in flight    {} held of {}\n  streams      {} held of {}\n  calls today  {} of {} (resets {})\n",
        u["max_concurrent"]["held"],
        or_none(&u["max_concurrent"]["limit"]),
        u["streams"]["held"],
        or_none(&u["streams"]["limit"]),
        d["used"],
        or_none(&d["limit"]),
        d["resets_at"].as_str().unwrap_or("-"),
    )
}

/// An aligned table of keys.
fn table(keys: &[KeyRecord], include_inactive: bool) -> String {
    if keys.is_empty() {
        return if include_inactive {
            "no keys\n".to_string()
        } else {
            "no active keys (--include-inactive shows the rest)\n".to_string()
        };
    }
    let dash = || "-".to_string();
    let rows: Vec<[String; 9]> = keys
        .iter()
        .map(|k| {
            [
                k.id.to_string(),
                k.name.clone(),
                k.scope.to_string(),
                k.state().to_string(),
                if k.namespaces.is_empty() {
                    "*".to_string()
                } else {
                    k.namespaces.join(",")
                },
                k.created_at.clone(),
                k.last_used_at.clone().unwrap_or_else(dash),
                k.calls.to_string(),
                k.expires_at.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "SCOPE",
        "STATE",
        "NAMESPACES",
        "CREATED",
        "LAST USED",
        "CALLS",
        "EXPIRES",
    ];
    aligned(&header, rows.iter().map(|r| r.to_vec()).collect())
}

/// `rate 20/s (burst 40), max concurrent none (no limit), daily calls default (no limit:
/// …)`: each limit as set, and where the default applies, what it is in this
/// configuration.
fn describe_limits(l: &KeyLimits, d: &Defaults) -> String {
    let rate = l.rate.describe(
        d.rate.as_ref().map(|r| r as &dyn std::fmt::Display),
        config::KEY_RATE,
    );
    let burst = match (l.burst, l.rate) {
        (Some(b), _) => format!(" (burst {b})"),
        (None, Setting::Default) => match (d.rate, d.burst) {
            (Some(_), Some(b)) => format!(" (burst {b})"),
            _ => String::new(),
        },
        (None, _) => String::new(),
    };
    let concurrent = l.max_concurrent.describe(
        d.max_concurrent
            .as_ref()
            .map(|n| n as &dyn std::fmt::Display),
        config::KEY_MAX_CONCURRENT,
    );
    // Daily quotas have no process default: `default` means none.
    let daily = match l.daily_calls {
        Setting::Default => format!("{} (no limit)", crate::model::limits::DEFAULT),
        other => other.describe(None, ""),
    };
    format!("rate {rate}{burst}, max concurrent {concurrent}, daily calls {daily}")
}

fn details(k: &KeyRecord, d: &Defaults) -> String {
    let dash = "-".to_string();
    format!(
        "id           {}\nname         {}\ndescription  {}\nscope        {}\nstate        {}\nnamespaces   {}\ncreated      {}\nupdated      {}\nlast used    {}\ncalls        {}\nexpires      {}\nlimits       {}\n",
        k.id,
        printable(&k.name),
        printable(k.description.as_deref().unwrap_or("-")),
        k.scope,
        k.state(),
        if k.namespaces.is_empty() {
            "* (all)".to_string()
        } else {
            printable(&k.namespaces.join(", ")).into_owned()
        },
        k.created_at,
        k.updated_at,
        k.last_used_at.as_ref().unwrap_or(&dash),
        k.calls,
        k.expires_at.as_ref().unwrap_or(&dash),
        describe_limits(&k.limits, d),
    )
}
