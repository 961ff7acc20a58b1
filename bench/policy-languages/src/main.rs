//! Cedar (`cedar-policy`) and CEL (`cel-interpreter`) evaluated on the gateway's call
//! path for the issue's four examples, with 0, 1 and 100 rules (the 100: the four and 96
//! that do not match, placed before them: the worst case of a first-match list). Each
//! figure is the median of 7 runs of 20,000 decisions, per decision, and includes what
//! the call path must build per call (Cedar's entities, request and context; CEL's
//! scope of variables).

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value as Json, json};

/// One call: who, what, with what.
struct Call {
    key: &'static str,
    scope: &'static str,
    groups: &'static [&'static str],
    action: &'static str,
    tool: &'static str,
    server: &'static str,
    destructive: bool,
    arguments: Json,
}

fn calls() -> Vec<Call> {
    vec![
        Call { key: "ci-bot", scope: "client", groups: &["contractors"], action: "call",
            tool: "github__list_issues", server: "github", destructive: false,
            arguments: json!({"org": "acme", "state": "open", "per_page": 30}) },
        Call { key: "intern-7", scope: "client", groups: &["interns"], action: "call",
            tool: "github__delete_repo", server: "github", destructive: true,
            arguments: json!({"org": "acme", "repo": "old"}) },
        Call { key: "alice", scope: "admin", groups: &["staff"], action: "call",
            tool: "github__create_issue", server: "github", destructive: false,
            arguments: json!({"org": "other", "title": "x", "body": "y"}) },
        Call { key: "bob", scope: "client", groups: &["staff"], action: "call",
            tool: "files__remove", server: "files", destructive: true,
            arguments: json!({"path": "/tmp/a", "recursive": false}) },
    ]
}

const CEDAR_EXAMPLES: &str = r#"
// This group may list but not call.
@id("contractors_list_only")
forbid (principal, action == Action::"call", resource)
when { principal.groups.contains("contractors") };

// Never delete_* for interns.
@id("no_deletes_for_interns")
forbid (principal, action, resource)
when { principal.groups.contains("interns") && resource.name like "*delete_*" };

// create_issue only in the acme org.
@id("create_issue_in_acme")
forbid (principal, action == Action::"call", resource == Tool::"github__create_issue")
unless { context.arguments has org && context.arguments.org == "acme" };

// Destructive tools need confirmation for client keys.
@id("confirm_destructive")
@confirm
permit (principal, action == Action::"call", resource)
when { principal.scope == "client" && resource.annotations has destructiveHint
       && resource.annotations.destructiveHint };
"#;

const CEL_EXAMPLES: &str = r#"[
  {"effect": "deny", "when": "action == 'call' && 'contractors' in principal.groups"},
  {"effect": "deny", "when": "'interns' in principal.groups && tool.name.contains('delete_')"},
  {"effect": "deny", "when": "tool.name == 'github__create_issue' && arguments.org != 'acme'"},
  {"effect": "confirm", "when": "principal.scope == 'client' && tool.annotations.destructiveHint == true"}
]"#;

fn cedar_filler(i: usize) -> String {
    format!(
        "@id(\"filler_{i}\")\nforbid (principal == Key::\"nobody_{i}\", action == Action::\"call\", resource)\n\
         when {{ resource.server == \"srv_{i}\" }};\n"
    )
}

fn cel_filler(i: usize) -> Json {
    json!({"effect": "deny", "when": format!("principal.name == 'nobody_{i}' && tool.server == 'srv_{i}'")})
}

mod cedar {
    use super::*;
    use cedar_policy::{
        Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
        PolicySet, Request, RestrictedExpression,
    };
    use std::str::FromStr;

    pub struct Engine {
        set: PolicySet,
        auth: Authorizer,
        key: EntityTypeName,
        tool: EntityTypeName,
        action: EntityTypeName,
    }

    impl Engine {
        pub fn new(rules: usize) -> Engine {
            // With no policy every call is allowed: a permit for all is always there.
            let mut text = String::from("@id(\"default\")\npermit (principal, action, resource);\n");
            if rules >= 100 {
                for i in 0..rules - 4 {
                    text.push_str(&cedar_filler(i));
                }
            }
            if rules >= 4 {
                text.push_str(CEDAR_EXAMPLES);
            } else if rules == 1 {
                text.push_str(CEDAR_EXAMPLES.split("\n\n").next().expect("one"));
            }
            Engine {
                set: PolicySet::from_str(&text).expect("the policies parse"),
                auth: Authorizer::new(),
                key: EntityTypeName::from_str("Key").expect("a type"),
                tool: EntityTypeName::from_str("Tool").expect("a type"),
                action: EntityTypeName::from_str("Action").expect("a type"),
            }
        }

        pub fn decide(&self, c: &Call) -> &'static str {
            let principal = EntityUid::from_type_name_and_id(self.key.clone(), EntityId::new(c.key));
            let resource = EntityUid::from_type_name_and_id(self.tool.clone(), EntityId::new(c.tool));
            let action = EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(c.action));
            let p = Entity::new(
                principal.clone(),
                HashMap::from([
                    ("name".to_string(), RestrictedExpression::new_string(c.key.to_string())),
                    ("scope".to_string(), RestrictedExpression::new_string(c.scope.to_string())),
                    ("groups".to_string(), RestrictedExpression::new_set(
                        c.groups.iter().map(|g| RestrictedExpression::new_string(g.to_string())))),
                ]),
                HashSet::new(),
            ).expect("an entity");
            let r = Entity::new(
                resource.clone(),
                HashMap::from([
                    ("name".to_string(), RestrictedExpression::new_string(c.tool.to_string())),
                    ("server".to_string(), RestrictedExpression::new_string(c.server.to_string())),
                    ("namespace".to_string(), RestrictedExpression::new_string("dev".to_string())),
                    ("annotations".to_string(), RestrictedExpression::new_record([
                        ("destructiveHint".to_string(), RestrictedExpression::new_bool(c.destructive)),
                    ]).expect("a record")),
                ]),
                HashSet::new(),
            ).expect("an entity");
            let entities = Entities::from_entities([p, r], None).expect("entities");
            let context = Context::from_json_value(json!({"arguments": c.arguments}), None)
                .expect("a context");
            let request = Request::new(principal, action, resource, context, None).expect("a request");
            let answer = self.auth.is_authorized(&request, &self.set, &entities);
            match answer.decision() {
                Decision::Deny => "deny",
                Decision::Allow => {
                    let confirm = answer.diagnostics().reason().any(|id| {
                        self.set.policy(id).is_some_and(|p| p.annotation("confirm").is_some())
                    });
                    if confirm { "confirm" } else { "allow" }
                }
            }
        }
    }
}

mod cel {
    use super::*;
    use cel_interpreter::objects::{Key, Map};
    use cel_interpreter::{Context, Program, Value};

    pub struct Engine {
        rules: Vec<(&'static str, Program)>,
        root: Context<'static>,
    }

    pub fn value(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
            Json::String(s) => Value::String(Arc::new(s.clone())),
            Json::Array(a) => Value::List(Arc::new(a.iter().map(value).collect())),
            Json::Object(o) => Value::Map(Map { map: Arc::new(o.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), value(v))).collect()) }),
        }
    }

    impl Engine {
        pub fn new(rules: usize) -> Engine {
            let mut list: Vec<Json> = Vec::new();
            if rules >= 100 {
                list.extend((0..rules - 4).map(cel_filler));
            }
            let examples: Vec<Json> = serde_json::from_str(CEL_EXAMPLES).expect("JSON");
            if rules >= 4 {
                list.extend(examples);
            } else if rules == 1 {
                list.push(examples[0].clone());
            }
            let rules = list
                .iter()
                .map(|r| {
                    let effect = match r["effect"].as_str() {
                        Some("deny") => "deny",
                        Some("confirm") => "confirm",
                        _ => "allow",
                    };
                    (effect, Program::compile(r["when"].as_str().expect("when")).expect("compiles"))
                })
                .collect();
            Engine { rules, root: Context::default() }
        }

        pub fn decide(&self, c: &Call) -> &'static str {
            if self.rules.is_empty() {
                return "allow";
            }
            let mut scope = self.root.new_inner_scope();
            scope.add_variable_from_value("principal", Value::Map(Map { map: Arc::new(HashMap::from([
                (Key::from("name"), Value::from(c.key)),
                (Key::from("scope"), Value::from(c.scope)),
                (Key::from("groups"), Value::List(Arc::new(c.groups.iter().map(|g| Value::from(*g)).collect()))),
            ])) }));
            scope.add_variable_from_value("action", Value::from(c.action));
            scope.add_variable_from_value("namespace", Value::from("dev"));
            scope.add_variable_from_value("tool", Value::Map(Map { map: Arc::new(HashMap::from([
                (Key::from("name"), Value::from(c.tool)),
                (Key::from("server"), Value::from(c.server)),
                (Key::from("annotations"), Value::Map(Map { map: Arc::new(HashMap::from([
                    (Key::from("destructiveHint"), Value::Bool(c.destructive)),
                ])) })),
            ])) }));
            scope.add_variable_from_value("arguments", value(&c.arguments));
            for (effect, p) in &self.rules {
                if matches!(p.execute(&scope), Ok(Value::Bool(true))) {
                    return effect;
                }
            }
            "allow"
        }
    }
}

fn median_ns(mut f: impl FnMut()) -> f64 {
    let n = 20_000;
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[3]
}

fn main() {
    let calls = calls();
    // The decisions first: both languages must agree on the examples.
    let (cd, ce) = (cedar::Engine::new(100), cel::Engine::new(100));
    let want = ["deny", "deny", "deny", "confirm"];
    for (c, w) in calls.iter().zip(want) {
        assert_eq!(cd.decide(c), w, "cedar on {}", c.tool);
        assert_eq!(ce.decide(c), w, "cel on {}", c.tool);
    }
    println!("per decision, median of 7 x 20,000 (the 4 example calls in turn)");
    println!("{:>6} {:>12} {:>12}", "rules", "cedar ns", "cel ns");
    for rules in [0, 1, 4, 100, 1000] {
        let (cd, ce) = (cedar::Engine::new(rules), cel::Engine::new(rules));
        let mut i = 0;
        let a = median_ns(|| { black_box(cd.decide(&calls[i % 4])); i += 1; });
        let b = median_ns(|| { black_box(ce.decide(&calls[i % 4])); i += 1; });
        println!("{rules:>6} {a:>12.0} {b:>12.0}");
    }
    // Parsing (on write and on every replica's reload).
    for rules in [100, 10_000] {
        let t = Instant::now();
        black_box(cedar::Engine::new(rules));
        let a = t.elapsed();
        let t = Instant::now();
        black_box(cel::Engine::new(rules));
        let b = t.elapsed();
        println!("parse {rules} rules: cedar {a:?}, cel {b:?}");
    }
}
