//! Policies by identity as stored (`sql/0022_policies.sql`): read whole into a
//! [`RuleSet`] on every registry reload (NOTIFY), written one at a time after they
//! compile ([`crate::policy::rules`]).

use deadpool_postgres::Pool;

use crate::policy::rules::{self, Invalid, Mode, Policy, RuleSet};
use crate::store::db::DbError;

/// The most policies stored.
pub const MAX_POLICIES: usize = 100;
/// The most rules of all policies together: a call is checked against each that applies.
pub const MAX_TOTAL_RULES: usize = 2 * rules::MAX_RULES;

/// A policy as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub name: String,
    pub text: String,
    pub namespace: Option<String>,
    /// `enforce` (the default) or `audit`: decided, recorded, never binding.
    pub mode: Mode,
}

impl Stored {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"name": self.name, "text": self.text, "namespace": self.namespace,
            "mode": self.mode.as_str()})
    }
}

/// Why a policy was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Db(#[from] DbError),
    /// Its text does not compile: the line and the reason.
    #[error("{0}")]
    Invalid(Invalid),
    /// Its name, namespace or size.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
}

/// Whether `name` is a policy's name: 1-64 of letters, digits, `_`, `-`, `.`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Every stored policy, by name.
pub async fn list(pool: &Pool) -> Result<Vec<Stored>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT name, text, namespace, mode FROM policies ORDER BY name",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Stored {
                name: r.try_get(0)?,
                text: r.try_get(1)?,
                namespace: r.try_get(2)?,
                mode: Mode::parse(r.try_get(3)?).unwrap_or_default(),
            })
        })
        .collect()
}

/// One policy, if stored.
pub async fn get(pool: &Pool, name: &str) -> Result<Option<Stored>, DbError> {
    Ok(list(pool).await?.into_iter().find(|p| p.name == name))
}

/// The stored policies compiled; one that no longer compiles (stored by another
/// version) is left out, with an error in the log. One that compiles but no longer
/// checks against the vocabulary (stored before names were checked: a misspelt field)
/// is applied as written, its failing rules deciding by their effect, and reported in
/// the log the same way.
pub async fn load(pool: &Pool) -> Result<RuleSet, DbError> {
    Ok(compile_all(&list(pool).await?))
}

/// `stored` compiled as [`load`] compiles them.
pub fn compile_all(stored: &[Stored]) -> RuleSet {
    let compiled = stored
        .iter()
        .filter_map(
            |p| match Policy::stored(&p.name, p.namespace.as_deref(), &p.text) {
                Ok((c, unfit)) => {
                    if let Some(u) = unfit {
                        tracing::error!(policy = %p.name, error = %u, "a stored policy does not check against the vocabulary; it is applied as written (its rule fails to evaluate on every call): correct it");
                    }
                    Some(c.in_mode(p.mode))
                }
                Err(e) => {
                    tracing::error!(policy = %p.name, error = %e, "a stored policy does not compile (or passes a bound); it is not applied, the others are");
                    None
                }
            },
        )
        .collect();
    RuleSet::new(compiled)
}

/// Today's policies and the same with `change` in force (replacing the policy of its
/// name, or added), after `change` is checked as a write would check it.
pub async fn with_change(pool: &Pool, change: &Stored) -> Result<(RuleSet, RuleSet), WriteError> {
    Policy::compile(&change.name, change.namespace.as_deref(), &change.text)
        .map_err(WriteError::Invalid)?;
    let today = list(pool).await?;
    let mut changed: Vec<Stored> = today
        .iter()
        .filter(|p| p.name != change.name)
        .cloned()
        .collect();
    changed.push(Stored {
        mode: Mode::Enforce,
        ..change.clone()
    });
    Ok((compile_all(&today), compile_all(&changed)))
}

/// Writes `p` after checking it: `create` refuses a name in use, else the name must be
/// stored already.
pub async fn write(pool: &Pool, p: &Stored, create: bool) -> Result<(), WriteError> {
    if !is_valid_name(&p.name) {
        return Err(WriteError::Refused(format!(
            "name {:?}: 1-64 letters, digits, '_', '-' or '.'",
            p.name
        )));
    }
    if let Some(ns) = &p.namespace
        && !crate::model::names::is_valid_name(ns)
    {
        return Err(WriteError::Refused(format!(
            "namespace {ns:?} is not a namespace name"
        )));
    }
    let compiled =
        Policy::compile(&p.name, p.namespace.as_deref(), &p.text).map_err(WriteError::Invalid)?;
    let stored = list(pool).await?;
    let exists = stored.iter().any(|s| s.name == p.name);
    match (create, exists) {
        (true, true) => {
            return Err(WriteError::Conflict(format!(
                "a policy named {:?} exists; change it with PUT /api/v1/policies/{}",
                p.name, p.name
            )));
        }
        (false, false) => {
            return Err(WriteError::NotFound(format!(
                "no policy named {:?}; create it with POST /api/v1/policies",
                p.name
            )));
        }
        _ => {}
    }
    if create && stored.len() >= MAX_POLICIES {
        return Err(WriteError::Refused(format!(
            "{MAX_POLICIES} policies are stored, the most there may be: join some into one"
        )));
    }
    let others: usize = stored
        .iter()
        .filter(|s| s.name != p.name)
        .filter_map(|s| Policy::compile(&s.name, None, &s.text).ok())
        .map(|c| c.rules())
        .sum();
    if others + compiled.rules() > MAX_TOTAL_RULES {
        return Err(WriteError::Refused(format!(
            "the policies would hold {} rules together; at most {MAX_TOTAL_RULES} (each call is checked against every rule that applies)",
            others + compiled.rules()
        )));
    }
    let client = pool.get().await.map_err(DbError::from)?;
    client
        .execute(
            "INSERT INTO policies (name, text, namespace, mode) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET text = $2, namespace = $3, mode = $4, updated_at = now()",
            &[&p.name, &p.text, &p.namespace, &p.mode.as_str()],
        )
        .await
        .map_err(DbError::from)?;
    Ok(())
}

/// Removes a policy; `false` when there was none of that name.
pub async fn remove(pool: &Pool, name: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    Ok(client
        .execute("DELETE FROM policies WHERE name = $1", &[&name])
        .await?
        > 0)
}
