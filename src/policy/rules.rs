//! Policies by identity, in CEL (`cel-interpreter`; why CEL and not Cedar: docs/guides/policies.md).
//!
//! A policy's text is a JSON list of rules, `{"effect": "allow" | "deny" | "confirm",
//! "when": "<CEL>", "reason"?: "<text for the client>"}`; the first rule of a policy
//! whose `when` is true decides for that policy. Across policies a deny wins over a
//! confirm, a confirm over an allow, and with no rule matching anywhere the call is
//! allowed: with no policy every call within reach is allowed, and a policy that only
//! denies takes away only what it names.
//!
//! What a rule sees: `principal` (`id`, `name`, `scope`, `namespaces`, `kind` `"key"`
//! or `"oauth"`, `issuer`, `sub`, `client_id`, `groups`), `action` (`"list"` or
//! `"call"`), `tool` (`name` as the view exposes it, `server`, `annotations`: the MCP hints a tool
//! does not give are `null`),
//! `namespace` (`null` on `/mcp`), `arguments` (the call's, as JSON) and `now` (unix
//! seconds, UTC).
//!
//! Lists are decided with `action == "list"` and without arguments: a rule that reads
//! `arguments` cannot decide before a call and is skipped there. A rule whose evaluation
//! fails (a key the arguments lack, a type mismatch) counts as matched when it denies or
//! confirms (fail closed) and as not matched when it allows.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Context, Value};
use cel_parser::Expression;
use serde_json::Value as Json;

use crate::jsonrpc::read_names::ReadNames;

use super::cel::{self, Evaluated};
use super::vocabulary;

/// The most rules one policy may hold, and all policies together: each call is checked
/// against every rule that applies, so the bound is the bound of a call's cost
/// (docs/guides/policies.md measures 100 rules).
pub const MAX_RULES: usize = 1000;
/// The longest a policy's text may be.
pub const MAX_TEXT: usize = 256 * 1024;
/// The longest a rule's `when` may be.
pub const MAX_WHEN: usize = 4096;

/// What a rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    Allow,
    Confirm,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Confirm => "confirm",
            Effect::Deny => "deny",
        }
    }
}

/// Listing or calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    List,
    Call,
    /// A call decided as [`Action::Call`] decides it, noting whether a rule read the
    /// arguments on the way to the decision (a simulation, which has no call's
    /// arguments): then with others it may differ ([`Decision::depends_on_arguments`]).
    CallProbed,
}

/// A policy that cannot be stored: the line of its text and the reason; for a rule's
/// `when`, the rule (from 1), the column within the `when`'s line, and the name at fault
/// with the nearest known one ([`vocabulary`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Invalid {
    pub line: usize,
    pub reason: String,
    pub rule: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub nearest: Option<String>,
}

impl Invalid {
    fn at(line: usize, reason: String) -> Invalid {
        Invalid {
            line,
            reason,
            ..Invalid::default()
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Whether a policy binds (`enforce`) or only records what it would have decided
/// (`audit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "enforce" => Some(Mode::Enforce),
            "audit" => Some(Mode::Audit),
            _ => None,
        }
    }
}

struct Rule {
    effect: Effect,
    /// Its `when`, compiled and bounded ([`cel`]).
    program: Expression,
    /// Reads `arguments` (so cannot decide a listing).
    on_arguments: bool,
    /// For a rule that reads `arguments`: its program with each reading noted
    /// ([`cel::probe`], for [`Action::CallProbed`]).
    probe: Option<Expression>,
    reason: Option<Arc<str>>,
}

/// One stored policy, compiled.
pub struct Policy {
    pub name: Arc<str>,
    /// `None`: every view.
    pub namespace: Option<String>,
    pub mode: Mode,
    rules: Vec<Rule>,
    /// The members of `arguments` its rules read ([`super::reads`]).
    reads: ReadNames,
}

impl Policy {
    /// Compiles a policy's `text` as it is written: read, bounded and checked against the
    /// vocabulary ([`vocabulary`]); an error names the line and the reason (and for a
    /// rule, its number, the column, the name at fault and the nearest known one). The
    /// parser runs on a thread of its own, with the stack the deepest text needs
    /// ([`cel::on_parse_stack`]), whoever calls this.
    pub fn compile(name: &str, namespace: Option<&str>, text: &str) -> Result<Policy, Invalid> {
        match Policy::stored(name, namespace, text)? {
            (p, None) => Ok(p),
            (_, Some(unfit)) => Err(unfit),
        }
    }

    /// Compiles a stored `text`: the policy, and what the vocabulary check finds wrong
    /// with it (a text stored by an earlier version, which did not check names; it is
    /// applied as written, and reported).
    pub fn stored(
        name: &str,
        namespace: Option<&str>,
        text: &str,
    ) -> Result<(Policy, Option<Invalid>), Invalid> {
        cel::on_parse_stack(|| Policy::compile_here(name, namespace, text)).unwrap_or_else(|| {
            Err(Invalid::at(
                1,
                "the thread that parses rules could not be started; try again".into(),
            ))
        })
    }

    /// The same policy in `mode`.
    pub fn in_mode(self, mode: Mode) -> Policy {
        Policy { mode, ..self }
    }

    fn compile_here(
        name: &str,
        namespace: Option<&str>,
        text: &str,
    ) -> Result<(Policy, Option<Invalid>), Invalid> {
        if text.len() > MAX_TEXT {
            return Err(Invalid::at(
                1,
                format!(
                    "the policy is {} bytes; at most {MAX_TEXT} are taken (split it into several policies)",
                    text.len()
                ),
            ));
        }
        let list: Vec<Json> = serde_json::from_str(text).map_err(|e| Invalid {
            line: e.line().max(1),
            column: Some(e.column()),
            reason: format!(
                "not a JSON list of rules ({e}); write [{{\"effect\": \"deny\", \"when\": \"<CEL>\"}}, …]"
            ),
            ..Invalid::default()
        })?;
        if list.len() > MAX_RULES {
            return Err(Invalid::at(
                1,
                format!(
                    "{} rules; a policy holds at most {MAX_RULES} (every call is checked against each)",
                    list.len()
                ),
            ));
        }
        let lines = rule_lines(text);
        let mut rules = Vec::with_capacity(list.len());
        let mut reads = ReadNames::default();
        let mut unfit = None;
        for (i, r) in list.iter().enumerate() {
            let line = lines.get(i).copied().unwrap_or(1);
            let bad = |reason: String| Invalid {
                line,
                reason,
                rule: Some(i + 1),
                ..Invalid::default()
            };
            let Some(o) = r.as_object() else {
                return Err(bad(format!("rule {} is not an object", i + 1)));
            };
            if let Some(k) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "effect" | "when" | "reason"))
            {
                return Err(bad(format!(
                    "rule {}: unknown member {k:?} (a rule has effect, when and reason)",
                    i + 1
                )));
            }
            let effect = match o.get("effect").and_then(Json::as_str) {
                Some("allow") => Effect::Allow,
                Some("deny") => Effect::Deny,
                Some("confirm") => Effect::Confirm,
                _ => {
                    return Err(bad(format!(
                        "rule {}: effect must be \"allow\", \"deny\" or \"confirm\"",
                        i + 1
                    )));
                }
            };
            let Some(when) = o.get("when").and_then(Json::as_str) else {
                return Err(bad(format!(
                    "rule {}: when must be a CEL expression (a string)",
                    i + 1
                )));
            };
            if when.len() > MAX_WHEN {
                return Err(bad(format!(
                    "rule {}: when is {} bytes; at most {MAX_WHEN}",
                    i + 1,
                    when.len()
                )));
            }
            let reason = match o.get("reason") {
                None | Some(Json::Null) => None,
                Some(Json::String(s)) => Some(Arc::from(s.as_str())),
                Some(_) => return Err(bad(format!("rule {}: reason must be a string", i + 1))),
            };
            let (mut program, ast) = cel::compile(when).map_err(|r| Invalid {
                line: line + r.line.saturating_sub(1),
                column: r.column,
                reason: format!("rule {}: {}", i + 1, r.reason),
                rule: Some(i + 1),
                ..Invalid::default()
            })?;
            if unfit.is_none()
                && let Err(u) = vocabulary::check(&ast)
            {
                unfit = Some(Invalid {
                    line: line + u.at.line.saturating_sub(1),
                    column: Some(u.at.column),
                    reason: format!("rule {}: {}", i + 1, u.reason),
                    rule: Some(i + 1),
                    field: u.field,
                    nearest: u.nearest,
                });
            }
            reads.merge(&super::reads::of_rule(&ast));
            let refs = program.references();
            let on_arguments = refs.has_variable("arguments");
            cel::instrument(&mut program);
            let probe = on_arguments.then(|| cel::probe(&program));
            rules.push(Rule {
                effect,
                program,
                on_arguments,
                probe,
                reason,
            });
        }
        let policy = Policy {
            name: Arc::from(name),
            namespace: namespace.map(str::to_string),
            mode: Mode::Enforce,
            rules,
            reads,
        };
        Ok((policy, unfit))
    }

    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    fn applies_to(&self, namespace: Option<&str>) -> bool {
        self.namespace.is_none() || self.namespace.as_deref() == namespace
    }
}

/// The line of each rule's `when` in a policy's text (the i-th `"when"` member).
fn rule_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut last = 0;
    for (at, _) in text.match_indices("\"when\"") {
        line += text[last..at].bytes().filter(|b| *b == b'\n').count();
        last = at;
        lines.push(line);
    }
    lines
}

/// Who asks: what a rule reads as `principal`.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub namespaces: Vec<String>,
    /// `"key"` or `"oauth"`.
    pub kind: &'static str,
    pub issuer: String,
    pub sub: String,
    pub client_id: String,
    pub groups: Vec<String>,
}

impl Subject {
    /// An open namespace's caller (`auth: none`): `kind` `"anonymous"`, and the scope of
    /// a client key (`"client"`), so a rule written for clients covers it as well; a rule
    /// tells it apart by `principal.kind`.
    pub fn anonymous() -> Subject {
        Subject {
            scope: "client".into(),
            kind: "anonymous",
            ..Subject::default()
        }
    }
}

/// The tool asked for: what a rule reads as `tool`.
pub struct Target<'a> {
    pub name: &'a str,
    pub server: &'a str,
    /// The tool's `annotations` (`null` when it has none).
    pub annotations: &'a Json,
}

/// A decision, and the policy (and rule's reason) that made it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub effect: Effect,
    pub policy: Option<Arc<str>>,
    pub reason: Option<Arc<str>>,
    /// A rule stopped at an evaluation bound (`"steps"` or `"time"`, [`cel`]): it
    /// denied.
    pub bound: Option<&'static str>,
    /// The rules of enforced policies that failed to evaluate on the way.
    pub failed: Vec<Failure>,
    /// What each policy in audit mode that applies would have decided (it enforces
    /// nothing).
    pub audited: Vec<Trial>,
    /// An enforced rule read the call's arguments on the way to the decision
    /// ([`Action::CallProbed`]), and no enforced deny that reads none settles it: with
    /// other arguments it may differ.
    pub depends_on_arguments: bool,
}

/// A rule that failed to evaluate: its policy, its effect, and the note ("rule 2 of
/// `guard` failed to evaluate: no such key `org`").
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub policy: Arc<str>,
    pub effect: Effect,
    pub note: Arc<str>,
}

/// What a policy in audit mode would have decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub policy: Arc<str>,
    pub effect: Effect,
    /// Its rule that failed to evaluate, if one did.
    pub failed: Option<Arc<str>>,
}

impl Decision {
    pub const ALLOW: Decision = Decision {
        effect: Effect::Allow,
        policy: None,
        reason: None,
        bound: None,
        failed: Vec::new(),
        audited: Vec::new(),
        depends_on_arguments: false,
    };

    /// The first failed rule's note, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.first().map(|f| &*f.note)
    }

    /// The note of the failed rule that made this decision, when one did (a `deny` or
    /// `confirm` that could not be evaluated).
    pub fn deciding_failure(&self) -> Option<&str> {
        self.failed
            .iter()
            .find(|f| f.effect == self.effect && Some(&f.policy) == self.policy.as_ref())
            .map(|f| &*f.note)
    }

    /// The decision as the dry runs show it: the effect, the policy and reason, the rules
    /// that failed to evaluate, and what policies in audit mode would have decided.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "decision": self.effect.as_str(),
            "policy": self.policy.as_deref(),
            "reason": self.reason.as_deref(),
            "failed": self.failed.iter().map(|f| &*f.note).collect::<Vec<_>>(),
            "audit": self.audited.iter().map(|t| serde_json::json!({
                "policy": &*t.policy, "decision": t.effect.as_str(), "failed": t.failed.as_deref(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The audit-mode decisions in one line (`deny by trial-guard; allow by other`).
    pub fn trials(&self) -> Option<String> {
        (!self.audited.is_empty()).then(|| {
            self.audited
                .iter()
                .map(|t| format!("{} by {}", t.effect.as_str(), t.policy))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// What one policy decided: the effect of its first rule that matched, with its reason
/// and bound, and the failures met on the way.
struct Matched {
    hit: Option<(Effect, Option<Arc<str>>)>,
    bound: Option<&'static str>,
    failed: Vec<Failure>,
    /// A rule read the call's arguments on the way ([`Action::CallProbed`]).
    depends: bool,
}

/// The first rule of `p` that matches in `scope`. A rule whose evaluation fails (a key
/// the arguments lack, a type mismatch, a value that is not true or false) decides by
/// its effect: on a call a `deny` denies and a `confirm` asks (fail closed), an `allow`
/// allows nothing; on a listing none matches (the tool is listed, and its call is
/// decided with the call's own values). Either way the failure is noted.
fn first_match(p: &Policy, action: Action, scope: &Context<'_>, tool: &str) -> Matched {
    let mut m = Matched {
        hit: None,
        bound: None,
        failed: Vec::new(),
        depends: false,
    };
    for (i, r) in p.rules.iter().enumerate() {
        if action == Action::List && r.on_arguments {
            continue;
        }
        // A probed call notes whether the rule read the arguments on the path CEL took
        // (`tool.name == 'x' && arguments.org …` on another tool does not; `has(…)` does,
        // whatever it gives): then with others the rule may go the other way.
        let evaluated = match (&r.probe, action) {
            (Some(probe), Action::CallProbed) => {
                let (evaluated, read) = cel::execute_probed(probe, scope);
                m.depends |= read;
                evaluated
            }
            _ => cel::execute(&r.program, scope),
        };
        let why = match evaluated {
            Evaluated::Value(Value::Bool(true)) => {
                m.hit = Some((r.effect, r.reason.clone()));
                return m;
            }
            Evaluated::Value(Value::Bool(false)) => continue,
            Evaluated::Value(v) => format!("it gave {:?}, not true or false", v.type_of()),
            Evaluated::Failed(why) => why,
            // Over its bound the rule denies, whatever its effect.
            Evaluated::OverBudget(b) => {
                tracing::warn!(policy = %p.name, rule = i + 1, bound = b, tool,
                    "a policy's rule went over its evaluation bound; it denies");
                m.bound = Some(b);
                m.hit = Some((
                    Effect::Deny,
                    Some(Arc::from(format!(
                        "rule {} of this policy went over its evaluation bound ({b}); \
                         an admin should simplify it",
                        i + 1
                    ))),
                ));
                return m;
            }
        };
        let note: Arc<str> = Arc::from(format!(
            "rule {} of `{}` failed to evaluate: {why}",
            i + 1,
            p.name
        ));
        tracing::debug!(policy = %p.name, rule = i + 1, tool, failure = %note, "a policy's rule failed to evaluate");
        m.failed.push(Failure {
            policy: p.name.clone(),
            effect: r.effect,
            note: note.clone(),
        });
        if action != Action::List && r.effect != Effect::Allow {
            let said = r
                .reason
                .as_deref()
                .map_or_else(String::new, |r| format!(" ({r})"));
            m.hit = Some((r.effect, Some(Arc::from(format!("{note}{said}")))));
            return m;
        }
    }
    m
}

/// Every stored policy, compiled, with the CEL functions they share.
pub struct RuleSet {
    policies: Vec<Policy>,
    /// What every policy's rules read of `arguments`, built with the set, never per call.
    reads: ReadNames,
    root: Context<'static>,
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::new(Vec::new())
    }
}

impl RuleSet {
    pub fn new(policies: Vec<Policy>) -> RuleSet {
        let mut reads = ReadNames::default();
        policies.iter().for_each(|p| reads.merge(&p.reads));
        RuleSet {
            reads,
            policies,
            root: cel::root(),
        }
    }

    /// The members of a call's `arguments` some rule reads ([`crate::jsonrpc::read_names`]).
    pub fn argument_reads(&self) -> &ReadNames {
        &self.reads
    }

    pub fn is_empty(&self) -> bool {
        self.policies.iter().all(|p| p.rules.is_empty())
    }

    /// Whether any policy applies to the view of `namespace`.
    pub fn applies_to(&self, namespace: Option<&str>) -> bool {
        self.policies
            .iter()
            .any(|p| !p.rules.is_empty() && p.applies_to(namespace))
    }

    /// The strongest decision of [`RuleSet::decide`] over `namespaces` (a deny over a
    /// confirm over an allow; the first at a tie): where the policies of several
    /// namespaces bind one call (a key limited to them, on `/mcp`).
    pub fn decide_over(
        &self,
        who: &Subject,
        action: Action,
        namespaces: &[Option<&str>],
        tool: &Target<'_>,
        arguments: Option<&Json>,
    ) -> Decision {
        let mut decided = Decision::ALLOW;
        let mut failed = Vec::new();
        let mut audited: Vec<Trial> = Vec::new();
        let (mut depends, mut settled) = (false, false);
        for namespace in namespaces {
            let mut d = self.decide(who, action, *namespace, tool, arguments);
            failed.append(&mut d.failed);
            for t in d.audited.drain(..) {
                match audited.iter_mut().find(|a| a.policy == t.policy) {
                    Some(a) if t.effect > a.effect => *a = t,
                    Some(_) => {}
                    None => audited.push(t),
                }
            }
            depends |= d.depends_on_arguments;
            // A deny that depends on nothing the call passes settles it everywhere.
            settled |= d.effect == Effect::Deny && !d.depends_on_arguments;
            if d.effect > decided.effect {
                decided = d;
            }
        }
        decided.failed = failed;
        decided.audited = audited;
        decided.depends_on_arguments = depends && !settled;
        decided
    }

    /// The decision on `action` of `tool` by `who` in `namespace` (`arguments`: the
    /// call's; `None` for a listing).
    pub fn decide(
        &self,
        who: &Subject,
        action: Action,
        namespace: Option<&str>,
        tool: &Target<'_>,
        arguments: Option<&Json>,
    ) -> Decision {
        let applying: Vec<&Policy> = self
            .policies
            .iter()
            .filter(|p| p.applies_to(namespace) && !p.rules.is_empty())
            .collect();
        // Audit-mode policies are decided as the others are (after them), and bind nothing.
        let applying: Vec<&Policy> = applying
            .iter()
            .filter(|p| p.mode == Mode::Enforce)
            .chain(applying.iter().filter(|p| p.mode == Mode::Audit))
            .copied()
            .collect();
        if applying.is_empty() {
            return Decision::ALLOW;
        }
        let mut scope = self.root.new_inner_scope();
        scope.add_variable_from_value("principal", subject_value(who));
        scope.add_variable_from_value(
            "action",
            match action {
                Action::List => "list",
                Action::Call | Action::CallProbed => "call",
            },
        );
        scope.add_variable_from_value("namespace", namespace.map_or(Value::Null, Value::from));
        scope.add_variable_from_value(
            "tool",
            map([
                ("name", Value::from(tool.name)),
                ("server", Value::from(tool.server)),
                ("annotations", annotations(tool.annotations)),
            ]),
        );
        let empty = Json::Object(serde_json::Map::new());
        scope.add_variable_from_value("arguments", value(arguments.unwrap_or(&empty)));
        scope.add_variable_from_value(
            "now",
            Value::Int(i64::try_from(crate::base::unix_now()).unwrap_or(i64::MAX)),
        );
        let mut decided = Decision::ALLOW;
        let mut failed = Vec::new();
        let mut audited = Vec::new();
        let mut depends = false;
        let mut settled = false;
        for p in applying {
            let m = first_match(p, action, &scope, tool.name);
            if p.mode == Mode::Audit {
                audited.push(Trial {
                    policy: p.name.clone(),
                    effect: m.hit.as_ref().map_or(Effect::Allow, |(e, _)| *e),
                    failed: m.failed.first().map(|f| f.note.clone()),
                });
                continue;
            }
            failed.extend(m.failed);
            // Past a deny nothing can change the decision.
            // A policy that denies without reading the arguments settles the call.
            match (m.depends, &m.hit) {
                (true, _) => depends = true,
                (false, Some((Effect::Deny, _))) => settled = true,
                _ => {}
            }
            if let Some((effect, reason)) = m.hit
                && effect > decided.effect
                && decided.effect != Effect::Deny
            {
                decided = Decision {
                    effect,
                    policy: Some(p.name.clone()),
                    reason,
                    bound: m.bound,
                    ..Decision::ALLOW
                };
            }
        }
        decided.failed = failed;
        decided.audited = audited;
        decided.depends_on_arguments = depends && !settled;
        decided
    }
}

/// A tool's annotations; the hints it does not give are `null` (so a rule may compare
/// them without `has()`: `tool.annotations.destructiveHint == true` is false for a tool
/// that says nothing).
fn annotations(given: &Json) -> Value {
    let mut all: HashMap<Key, Value> = HINTS.iter().map(|h| (Key::from(*h), Value::Null)).collect();
    if let Json::Object(o) = given {
        all.extend(o.iter().map(|(k, v)| (Key::from(k.as_str()), value(v))));
    }
    Value::Map(Map { map: Arc::new(all) })
}

/// The annotations MCP defines.
const HINTS: &[&str] = &[
    "title",
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
];

fn map<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Map(Map {
        map: Arc::new(
            members
                .into_iter()
                .map(|(k, v)| (Key::from(k), v))
                .collect(),
        ),
    })
}

fn strings(list: &[String]) -> Value {
    Value::List(Arc::new(
        list.iter().map(|s| Value::from(s.as_str())).collect(),
    ))
}

fn subject_value(who: &Subject) -> Value {
    map([
        ("id", Value::from(who.id.as_str())),
        ("name", Value::from(who.name.as_str())),
        ("scope", Value::from(who.scope.as_str())),
        ("namespaces", strings(&who.namespaces)),
        ("kind", Value::from(who.kind)),
        ("issuer", Value::from(who.issuer.as_str())),
        ("sub", Value::from(who.sub.as_str())),
        ("client_id", Value::from(who.client_id.as_str())),
        ("groups", strings(&who.groups)),
    ])
}

/// A JSON value as CEL sees it (whole numbers as `int`, others as `double`).
pub fn value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::UInt))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(value).collect())),
        Json::Object(o) => Value::Map(Map {
            map: Arc::new(
                o.iter()
                    .map(|(k, v)| (Key::from(k.as_str()), value(v)))
                    .collect(),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(name: &str, scope: &str, groups: &[&str]) -> Subject {
        Subject {
            id: "k1".into(),
            name: name.into(),
            scope: scope.into(),
            kind: "key",
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Subject::default()
        }
    }

    const EXAMPLES: &str = r#"[
  {"effect": "deny", "when": "action == 'call' && 'contractors' in principal.groups"},
  {"effect": "deny", "when": "'interns' in principal.groups && tool.name.contains('delete_')",
   "reason": "interns may not delete"},
  {"effect": "deny", "when": "tool.name == 'github__create_issue' && arguments.org != 'acme'"},
  {"effect": "confirm", "when": "principal.scope == 'client' && tool.annotations.destructiveHint == true"}
]"#;

    #[test]
    fn the_examples_decide_as_written() {
        let set = RuleSet::new(vec![
            Policy::compile("examples", None, EXAMPLES).expect("compiles"),
        ]);
        let none = json!(null);
        let destructive = json!({"destructiveHint": true});
        fn t<'a>(name: &'a str, annotations: &'a Json) -> Target<'a> {
            Target {
                name,
                server: "github",
                annotations,
            }
        }
        let d = set.decide(
            &subject("ci", "client", &["contractors"]),
            Action::Call,
            None,
            &t("github__list_issues", &none),
            None,
        );
        assert_eq!(
            (d.effect, d.policy.as_deref()),
            (Effect::Deny, Some("examples"))
        );
        // The same group may list.
        let d = set.decide(
            &subject("ci", "client", &["contractors"]),
            Action::List,
            None,
            &t("github__list_issues", &none),
            None,
        );
        assert_eq!(d.effect, Effect::Allow);
        let d = set.decide(
            &subject("i", "client", &["interns"]),
            Action::List,
            None,
            &t("github__delete_repo", &none),
            None,
        );
        assert_eq!(
            (d.effect, d.reason.as_deref()),
            (Effect::Deny, Some("interns may not delete"))
        );
        let admin = subject("alice", "admin", &[]);
        let issue = t("github__create_issue", &none);
        let elsewhere = json!({"org": "other"});
        let acme = json!({"org": "acme"});
        assert_eq!(
            set.decide(&admin, Action::Call, None, &issue, Some(&elsewhere))
                .effect,
            Effect::Deny
        );
        assert_eq!(
            set.decide(&admin, Action::Call, None, &issue, Some(&acme))
                .effect,
            Effect::Allow
        );
        // Without the org the rule cannot be evaluated: it denies (fail closed); a
        // listing skips it.
        assert_eq!(
            set.decide(&admin, Action::Call, None, &issue, None).effect,
            Effect::Deny
        );
        assert_eq!(
            set.decide(&admin, Action::List, None, &issue, None).effect,
            Effect::Allow
        );
        let remove = t("files__remove", &destructive);
        assert_eq!(
            set.decide(
                &subject("bob", "client", &[]),
                Action::Call,
                None,
                &remove,
                None
            )
            .effect,
            Effect::Confirm
        );
        assert_eq!(
            set.decide(&admin, Action::Call, None, &remove, None).effect,
            Effect::Allow
        );
        // An open namespace's anonymous caller is asked too (the documented first policy
        // covers every caller that is not an admin).
        assert_eq!(
            set.decide(&Subject::anonymous(), Action::Call, None, &remove, None)
                .effect,
            Effect::Confirm
        );
    }

    #[test]
    fn namespaces_and_combination() {
        let only_dev = Policy::compile(
            "dev",
            Some("dev"),
            r#"[{"effect": "deny", "when": "true"}]"#,
        )
        .expect("compiles");
        let confirm = Policy::compile("c", None, r#"[{"effect": "confirm", "when": "true"}]"#)
            .expect("compiles");
        let set = RuleSet::new(vec![confirm, only_dev]);
        let who = subject("a", "client", &[]);
        let none = json!(null);
        let t = Target {
            name: "x",
            server: "s",
            annotations: &none,
        };
        let d = set.decide(&who, Action::Call, Some("dev"), &t, None);
        assert_eq!((d.effect, d.policy.as_deref()), (Effect::Deny, Some("dev")));
        let d = set.decide(&who, Action::Call, Some("prod"), &t, None);
        assert_eq!(
            (d.effect, d.policy.as_deref()),
            (Effect::Confirm, Some("c"))
        );
        assert!(set.applies_to(Some("prod")));
        assert!(!RuleSet::default().applies_to(None));
    }

    #[test]
    fn invalid_policies_name_the_line_and_the_reason() {
        let e = Policy::compile(
            "p",
            None,
            "[\n{\"effect\": \"deny\",\n \"when\": \"tool.name ==\"}\n]",
        )
        .err()
        .expect("refused");
        assert_eq!(e.line, 3, "{e}");
        assert!(
            e.reason.contains("rule 1") && e.reason.contains("CEL"),
            "{e}"
        );
        let e = Policy::compile(
            "p",
            None,
            "[\n{\"effect\": \"deny\", \"when\": \"user.name == 'x'\"}]",
        )
        .err()
        .expect("refused");
        assert!(e.reason.contains("unknown variable `user`"), "{e}");
        assert_eq!(e.line, 2);
        let e = Policy::compile("p", None, "[{\"effect\": \"maybe\", \"when\": \"true\"}]")
            .err()
            .expect("refused");
        assert!(e.reason.contains("effect"), "{e}");
        let e = Policy::compile("p", None, "{\n\"effect\": 1")
            .err()
            .expect("refused");
        assert!(e.reason.contains("JSON list"), "{e}");
        Policy::compile(
            "p",
            None,
            "[{\"effect\": \"deny\", \"when\": \"principal.groups.exists(g, g.startsWith('x'))\"}]",
        )
        .expect("a macro's variable is known");
        let e = Policy::compile("p", None, "[{\"effect\": \"deny\", \"when\": \"frob(1)\"}]")
            .err()
            .expect("refused");
        assert!(e.reason.contains("unknown function"), "{e}");
        let many: Vec<Json> = (0..=MAX_RULES)
            .map(|_| json!({"effect": "deny", "when": "false"}))
            .collect();
        let e = Policy::compile("p", None, &Json::Array(many).to_string())
            .err()
            .expect("refused");
        assert!(e.reason.contains("at most"), "{e}");
    }

    #[test]
    fn a_misspelt_field_is_refused_naming_rule_line_column_and_the_nearest_name() {
        let text = "[\n{\"effect\": \"allow\", \"when\": \"true\"},\n{\"effect\": \"deny\",\n \"when\": \"tool.nmae == 'x'\"}]";
        let e = Policy::compile("p", None, text).err().expect("refused");
        assert_eq!((e.rule, e.line, e.column), (Some(2), 4, Some(6)), "{e}");
        assert_eq!(e.field.as_deref(), Some("tool.nmae"));
        assert_eq!(e.nearest.as_deref(), Some("tool.name"));
        assert!(e.reason.contains("did you mean `tool.name`?"), "{e}");
        let e = Policy::compile(
            "p",
            None,
            r#"[{"effect": "deny", "when": "principal.scop == 'admin'"}]"#,
        )
        .err()
        .expect("refused");
        assert_eq!(e.nearest.as_deref(), Some("principal.scope"));
        // Stored before names were checked: compiled, and the misfit reported beside it.
        let (p, unfit) = Policy::stored(
            "p",
            None,
            r#"[{"effect": "deny", "when": "principal.scop == 'admin'"}]"#,
        )
        .expect("compiles");
        assert_eq!(p.rules(), 1);
        assert_eq!(
            unfit.and_then(|u| u.nearest).as_deref(),
            Some("principal.scope")
        );
        // A syntax error: the column and the reason, never "does not parse" alone.
        let e = Policy::compile(
            "p",
            None,
            r#"[{"effect": "deny", "when": "tool.name = 'x'"}]"#,
        )
        .err()
        .expect("refused");
        assert_eq!(e.column, Some(11), "{e}");
        assert!(e.reason.contains("`==`"), "{e}");
    }

    fn set_of(texts: &[(&str, Mode, &str)]) -> RuleSet {
        RuleSet::new(
            texts
                .iter()
                .map(|(name, mode, text)| {
                    Policy::compile(name, None, text)
                        .expect("compiles")
                        .in_mode(*mode)
                })
                .collect(),
        )
    }

    #[test]
    fn a_rule_that_fails_to_evaluate_decides_by_its_effect_and_says_so() {
        let none = json!(null);
        let tool = Target {
            name: "github__create_issue",
            server: "github",
            annotations: &none,
        };
        let who = subject("a", "client", &[]);
        let guard = r#"[{"effect": "allow", "when": "principal.name == 'root'"},
                        {"effect": "deny", "when": "arguments.org != 'acme'"}]"#;
        let set = set_of(&[("guard", Mode::Enforce, guard)]);
        // A deny that cannot be evaluated still denies the call, and says why.
        let d = set.decide(&who, Action::Call, None, &tool, Some(&json!({})));
        assert_eq!(d.effect, Effect::Deny);
        let note = "rule 2 of `guard` failed to evaluate: no such key `org`";
        assert_eq!(d.reason.as_deref(), Some(note));
        assert_eq!(d.failure(), Some(note));
        assert_eq!(d.failed[0].effect, Effect::Deny);
        // A listing: the tool stays listed (the rule reads arguments: skipped).
        let listed = set_of(&[(
            "titles",
            Mode::Enforce,
            r#"[{"effect": "deny", "when": "tool.annotations.title.startsWith('Danger')"}]"#,
        )]);
        let d = listed.decide(&who, Action::List, None, &tool, None);
        assert_eq!(
            d.effect,
            Effect::Allow,
            "a failed deny hides nothing from a listing"
        );
        assert!(
            d.failure()
                .is_some_and(|f| f.contains("rule 1 of `titles`"))
        );
        assert_eq!(
            listed.decide(&who, Action::Call, None, &tool, None).effect,
            Effect::Deny
        );
        // A confirm asks; an allow allows nothing (the next rule decides).
        let confirm = set_of(&[(
            "c",
            Mode::Enforce,
            r#"[{"effect": "confirm", "when": "arguments.n > 1"}]"#,
        )]);
        assert_eq!(
            confirm.decide(&who, Action::Call, None, &tool, None).effect,
            Effect::Confirm
        );
        let allow = set_of(&[(
            "a",
            Mode::Enforce,
            r#"[{"effect": "allow", "when": "arguments.n > 1"}, {"effect": "deny", "when": "true"}]"#,
        )]);
        let d = allow.decide(&who, Action::Call, None, &tool, None);
        assert_eq!(d.effect, Effect::Deny);
        assert_eq!(d.failed[0].effect, Effect::Allow);
    }

    #[test]
    fn a_policy_in_audit_mode_decides_and_binds_nothing() {
        let none = json!(null);
        let t = |name| Target {
            name,
            server: "s",
            annotations: &none,
        };
        let trial = r#"[{"effect": "deny", "when": "tool.name == 'drop'"},
                        {"effect": "confirm", "when": "tool.name == 'send'"}]"#;
        let set = set_of(&[
            ("trial", Mode::Audit, trial),
            (
                "real",
                Mode::Enforce,
                r#"[{"effect": "confirm", "when": "tool.name == 'drop'"}]"#,
            ),
        ]);
        let who = subject("a", "client", &[]);
        for (tool, real, would) in [
            ("drop", Effect::Confirm, Effect::Deny),
            ("send", Effect::Allow, Effect::Confirm),
            ("read", Effect::Allow, Effect::Allow),
        ] {
            let d = set.decide(&who, Action::Call, None, &t(tool), None);
            assert_eq!(d.effect, real, "{tool}");
            assert_eq!(d.audited.len(), 1);
            assert_eq!(
                (&*d.audited[0].policy, d.audited[0].effect),
                ("trial", would),
                "{tool}"
            );
            assert_eq!(d.trials(), Some(format!("{} by trial", would.as_str())));
        }
        // A listing is not narrowed by it either.
        assert_ne!(
            set.decide(&who, Action::List, None, &t("drop"), None)
                .effect,
            Effect::Deny
        );
    }

    #[test]
    fn json_values_as_cel_sees_them() {
        let v = value(&json!({"a": [1, 2.5, "x", null, true], "b": u64::MAX}));
        let Value::Map(m) = v else { panic!("a map") };
        assert_eq!(m.map.len(), 2);
    }
    /// Generated rule texts (deep nesting of every kind, long chains of operators and of
    /// comprehensions, token soup, random bytes) are refused with a line and a reason,
    /// or compile and are decided within the evaluation bound; none crashes the process
    /// (a stack overflow would abort this test binary).
    mod property {
        use super::*;
        use proptest::prelude::*;
        use std::time::{Duration, Instant};

        fn comprehension(depth: usize, items: usize, m: &str) -> String {
            let list = format!(
                "[{}]",
                (0..items)
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let mut body = "true".to_string();
            for d in 0..depth {
                let range = if d % 2 == 0 {
                    "arguments.l"
                } else {
                    list.as_str()
                };
                body = match m {
                    "map" => format!("size({range}.map(v{d}, {body})) >= 0"),
                    "filter" => format!("size({range}.filter(v{d}, {body})) >= 0"),
                    _ => format!("{range}.{m}(v{d}, {body})"),
                };
            }
            body
        }

        fn when_text() -> impl Strategy<Value = String> {
            let opens = prop::sample::select(vec!["(", "[", "{", "!(", "-(", "a ? b : (", "[1, "]);
            let ops = prop::sample::select(vec![
                " + 1", ".b", "[0]", " || a", " && true", " == 1", " ? 1 : 2", ".size()",
            ]);
            let macros = prop::sample::select(vec!["all", "exists", "exists_one", "map", "filter"]);
            let tokens = prop::sample::select(vec![
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                "?",
                ":",
                "'",
                "\"",
                "\\",
                "r'",
                "'''",
                "a",
                ".all(x, ",
                "x",
                ",",
                " && ",
                "1",
                "arguments.l",
                "!",
                "-",
                "principal.name",
                " in ",
                "{'k': ",
                "size(",
                "\n",
            ]);
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..600)
                    .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                (1usize..600, opens).prop_map(|(n, o)| format!("{}true", o.repeat(n))),
                (1usize..400).prop_map(|n| format!("{}true{}", "(".repeat(n), ")".repeat(n))),
                (1usize..2000, ops).prop_map(|(n, op)| format!("a{}", op.repeat(n))),
                (1usize..7, 1usize..80, macros).prop_map(|(d, n, m)| comprehension(d, n, m)),
                prop::collection::vec(tokens, 0..400).prop_map(|v| v.concat()),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
            #[test]
            fn rule_texts_are_refused_or_decided_within_the_bound(when in when_text()) {
                let text = json!([{"effect": "deny", "when": when}]).to_string();
                match Policy::compile("p", None, &text) {
                    Err(e) => prop_assert!(e.line >= 1 && !e.reason.is_empty(), "{e}"),
                    Ok(p) => {
                        let set = RuleSet::new(vec![p]);
                        let arguments = json!({"l": (0..300).collect::<Vec<i64>>(), "b": "x"});
                        let none = json!(null);
                        let tool = Target { name: "t", server: "s", annotations: &none };
                        let who = subject("a", "client", &[]);
                        for action in [Action::Call, Action::List] {
                            let started = Instant::now();
                            let _ = set.decide(&who, action, None, &tool, Some(&arguments));
                            // The bound is 10 ms of evaluation; a debug build on a loaded
                            // machine overshoots it by one step at most.
                            prop_assert!(
                                started.elapsed() < Duration::from_secs(2),
                                "{:?} for {}", started.elapsed(), when.chars().take(80).collect::<String>()
                            );
                        }
                    }
                }
            }
        }
    }
}
