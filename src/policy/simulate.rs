//! A policy change tried against the gateway as it is: for every key and every tool it
//! reaches, the decision on a call with today's policies and with the change, answered as
//! the differences ("who loses what?"). Each decision is the dry run's
//! (`crate::mcp::phases::dry_run::simulated`: the caller's reach, routing, then the
//! policies by identity, today's or the changed set in their place), the code a call
//! walks. A decision that a rule reached by reading the call's arguments is "depends on
//! arguments": the audit trail keeps no call's arguments (docs/reference/audit.md), so
//! there is nothing to replay them from.
//!
//! `POST /api/v1/policies/simulate` runs it; `keyadm policies simulate` asks the running
//! gateway that, as `policies check` does.

use serde_json::{Value, json};

/// What the simulation says of the call's arguments.
pub const ARGUMENTS_NOTE: &str = "the audit trail keeps no call's arguments: a decision \
     that a rule reached by reading them (has() included) is reported as \"depends on \
     arguments\"";

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

/// The table `keyadm policies simulate` prints, from the gateway's `changes`.
pub fn table(changes: &[Value]) -> Vec<Vec<String>> {
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    changes
        .iter()
        .map(|c| {
            vec![
                text(c, "principal"),
                text(c, "tool"),
                text(c, "before"),
                text(c, "after"),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::policy::rules::{Action, Effect, Policy, RuleSet, Subject, Target};
    use serde_json::{Value, json};

    fn set(text: &str) -> RuleSet {
        RuleSet::new(vec![Policy::compile("p", None, text).expect("compiles")])
    }

    /// The decision and whether it depends on the arguments, for a call of `tool`
    /// with `arguments`, probed.
    fn probed(set: &RuleSet, tool: &str, arguments: Value) -> (Effect, bool) {
        let who = Subject {
            name: "ci".into(),
            scope: "client".into(),
            kind: "key",
            ..Subject::default()
        };
        let target = Target {
            name: tool,
            server: "gh",
            annotations: &Value::Null,
        };
        let d = set.decide_over(&who, Action::CallProbed, &[None], &target, Some(&arguments));
        (d.effect, d.depends_on_arguments)
    }

    #[test]
    fn a_decision_depends_on_arguments_only_where_a_rule_read_them_on_its_way() {
        let s = set(r#"[
            {"effect": "deny", "when": "tool.name == 'gh__read' && has(arguments.path) && arguments.path.startsWith('/etc')"},
            {"effect": "deny", "when": "tool.name == 'gh__delete'"},
            {"effect": "confirm", "when": "tool.name == 'gh__issue' && arguments.org != 'acme'"}
        ]"#);
        // `has()` on no arguments is false, yet the rule read them: it may deny others.
        assert_eq!(probed(&s, "gh__read", json!({})), (Effect::Allow, true));
        assert_eq!(
            probed(&s, "gh__read", json!({"path": "/etc/passwd"})),
            (Effect::Deny, true)
        );
        // A rule CEL stops reading at the tool's name reads nothing of another tool's.
        assert_eq!(probed(&s, "gh__list", json!({})), (Effect::Allow, false));
        assert_eq!(probed(&s, "gh__delete", json!({})), (Effect::Deny, false));
        // A rule that fails on the missing member decides by its effect, and read them.
        assert_eq!(probed(&s, "gh__issue", json!({})), (Effect::Confirm, true));
        // A deny that reads nothing settles the call, whatever another policy reads.
        let both = RuleSet::new(vec![
            Policy::compile(
                "a",
                None,
                r#"[{"effect": "confirm", "when": "has(arguments.x)"}]"#,
            )
            .expect("compiles"),
            Policy::compile(
                "b",
                None,
                r#"[{"effect": "deny", "when": "tool.name == 'gh__delete'"}]"#,
            )
            .expect("compiles"),
        ]);
        assert_eq!(
            probed(&both, "gh__delete", json!({})),
            (Effect::Deny, false)
        );
        assert_eq!(probed(&both, "gh__list", json!({})), (Effect::Allow, true));
    }
}
