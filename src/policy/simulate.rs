//! A policy change tried against the gateway as it is: for every key and every tool it
//! reaches, the decision on a call with today's policies and with the change, answered as
//! the differences ("who loses what?"). A decision that rules on the call's arguments
//! could change is "depends on arguments": the audit trail keeps no call's arguments
//! (docs/reference/audit.md), so there is nothing to replay them from.
//!
//! Both callers ask the same question: `POST /api/v1/policies/simulate` with the reach
//! of each key as the routing table serves it, `keyadm policies simulate` with the tools
//! as pinned in the database.

use serde_json::{Value, json};

use super::rules::{Action, Decision, RuleSet, Subject, Target};

/// What the simulation says of the call's arguments.
pub const ARGUMENTS_NOTE: &str = "the audit trail keeps no call's arguments: a decision that \
     rules on them could change is reported as \"depends on arguments\"";

/// A tool a key reaches, and the namespaces whose policies decide on it there.
pub struct Reached {
    pub name: String,
    pub server: String,
    pub annotations: Value,
    pub namespaces: Vec<Option<String>>,
}

/// A key and the tools it reaches.
pub struct Reach {
    pub who: Subject,
    pub tools: Vec<Reached>,
}

/// One difference: who, what, and the decision before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub principal: String,
    pub tool: String,
    pub before: &'static str,
    pub after: &'static str,
}

impl Change {
    pub fn to_json(&self) -> Value {
        json!({"principal": self.principal, "tool": self.tool, "before": self.before,
            "after": self.after})
    }
}

/// A decision in the simulation's words: `allow`, `deny`, `confirm` or `depends on
/// arguments`.
fn word(d: &Decision) -> &'static str {
    if d.depends_on_arguments {
        "depends on arguments"
    } else {
        d.effect.as_str()
    }
}

/// The differences between `before` and `after` over `reach`, and how many calls were
/// compared.
pub fn compare(before: &RuleSet, after: &RuleSet, reach: &[Reach]) -> (Vec<Change>, usize) {
    let mut changes = Vec::new();
    let mut compared = 0;
    for r in reach {
        for t in &r.tools {
            let namespaces: Vec<Option<&str>> = t.namespaces.iter().map(Option::as_deref).collect();
            let target = Target {
                name: &t.name,
                server: &t.server,
                annotations: &t.annotations,
            };
            let decide = |set: &RuleSet| {
                word(&set.decide_over(&r.who, Action::CallUnseen, &namespaces, &target, None))
            };
            let (was, will) = (decide(before), decide(after));
            compared += 1;
            if was != will {
                changes.push(Change {
                    principal: r.who.name.clone(),
                    tool: t.name.clone(),
                    before: was,
                    after: will,
                });
            }
        }
    }
    (changes, compared)
}

/// The table `keyadm policies simulate` prints.
pub fn table(changes: &[Change]) -> Vec<Vec<String>> {
    changes
        .iter()
        .map(|c| {
            vec![
                c.principal.clone(),
                c.tool.clone(),
                c.before.to_string(),
                c.after.to_string(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::Policy;

    fn set(texts: &[&str]) -> RuleSet {
        RuleSet::new(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| Policy::compile(&format!("p{i}"), None, t).expect("compiles"))
                .collect(),
        )
    }

    #[test]
    fn the_differences_are_who_loses_what_and_arguments_are_not_guessed() {
        let key = |name: &str, scope: &str| Subject {
            name: name.into(),
            scope: scope.into(),
            kind: "key",
            ..Subject::default()
        };
        let tool = |name: &str| Reached {
            name: name.into(),
            server: "gh".into(),
            annotations: Value::Null,
            namespaces: vec![None],
        };
        let reach = vec![
            Reach {
                who: key("ci", "client"),
                tools: vec![tool("gh__delete"), tool("gh__read"), tool("gh__issue")],
            },
            Reach {
                who: key("root", "admin"),
                tools: vec![tool("gh__delete"), tool("gh__read")],
            },
        ];
        let before = set(&[]);
        let after = set(&[r#"[
            {"effect": "deny", "when": "principal.scope == 'client' && tool.name == 'gh__delete'"},
            {"effect": "confirm", "when": "tool.name == 'gh__read' && principal.name == 'root'"},
            {"effect": "deny", "when": "tool.name == 'gh__issue' && arguments.org != 'acme'"}
        ]"#]);
        let (changes, compared) = compare(&before, &after, &reach);
        assert_eq!(compared, 5);
        let got: Vec<(&str, &str, &str, &str)> = changes
            .iter()
            .map(|c| (&*c.principal, &*c.tool, c.before, c.after))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ci", "gh__delete", "allow", "deny"),
                ("ci", "gh__issue", "allow", "depends on arguments"),
                ("root", "gh__read", "allow", "confirm"),
            ]
        );
        assert!(compare(&after, &after, &reach).0.is_empty());
    }
}
