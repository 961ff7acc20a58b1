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

/// The most differences one simulation answers (the count of all is given beside).
pub const MAX_CHANGES: usize = 10_000;
/// The most calls one simulation compares, each decided twice: a gateway with a thousand
/// keys and two hundred tools has more, and a namespace narrows it.
pub const MAX_COMPARED: usize = 100_000;

/// A simulation's account: the first [`MAX_CHANGES`] differences and the count of all,
/// the keys and calls compared, and whether it stopped at its bound with calls left.
#[derive(Debug, Default)]
pub struct Tally {
    pub changes: Vec<Change>,
    pub total_changes: usize,
    pub keys: usize,
    pub compared: usize,
    pub stopped: bool,
}

impl Tally {
    /// Whether one more call may be compared: false once `max` were, and the tally then
    /// says it stopped.
    pub fn room(&mut self, max: usize) -> bool {
        self.stopped |= self.compared >= max;
        !self.stopped
    }

    /// One call compared: its two decisions.
    pub fn note(&mut self, principal: &str, tool: &str, before: &'static str, after: &'static str) {
        self.compared += 1;
        if before == after {
            return;
        }
        self.total_changes += 1;
        if self.changes.len() < MAX_CHANGES {
            self.changes.push(Change {
                principal: principal.to_string(),
                tool: tool.to_string(),
                before,
                after,
            });
        }
    }

    /// The answer of `POST /api/v1/policies/simulate`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "changes": self.changes.iter().map(Change::to_json).collect::<Vec<_>>(),
            "total_changes": self.total_changes,
            "truncated": self.total_changes > self.changes.len(),
            "keys": self.keys, "compared": self.compared, "complete": !self.stopped,
            "arguments": ARGUMENTS_NOTE,
        });
        if self.stopped {
            out["stopped"] = json!(format!(
                "stopped after {} calls of {} keys, the most one simulation compares: the \
                 differences are those of the calls compared; give a \"namespace\" to try \
                 the change on one namespace's keys and tools",
                self.compared, self.keys
            ));
        }
        out
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

    #[test]
    fn a_tally_keeps_the_first_differences_counts_them_all_and_stops_at_its_bound() {
        use super::{MAX_CHANGES, Tally};
        let mut t = Tally {
            keys: 3,
            ..Tally::default()
        };
        let max = 2 * MAX_CHANGES;
        let mut calls = 0;
        while t.room(max) {
            let i = t.compared;
            // Every call differs but the even hundreds.
            let after = if i.is_multiple_of(100) {
                "allow"
            } else {
                "deny"
            };
            t.note("ci", &format!("gh__t{i}"), "allow", after);
            calls += 1;
        }
        assert_eq!((calls, t.compared), (max, max));
        assert!(t.stopped);
        let differing = max - max.div_ceil(100);
        assert_eq!(t.total_changes, differing);
        assert_eq!(t.changes.len(), MAX_CHANGES);
        assert_eq!(t.changes[0].tool, "gh__t1");
        let out = t.to_json();
        assert_eq!(out["total_changes"], json!(differing));
        assert_eq!(out["truncated"], json!(true));
        assert_eq!(out["complete"], json!(false));
        assert_eq!(out["compared"], json!(max));
        let said = out["stopped"].as_str().expect("says why it stopped");
        assert!(
            said.contains(&format!("stopped after {max} calls of 3 keys"))
                && said.contains("namespace"),
            "{said}"
        );
        // A simulation whose calls all fit is complete, and says nothing of stopping.
        let mut whole = Tally::default();
        for _ in 0..2 {
            assert!(whole.room(2));
            whole.note("ci", "gh__t", "allow", "confirm");
        }
        let out = whole.to_json();
        assert_eq!(out["complete"], json!(true));
        assert_eq!(out["truncated"], json!(false));
        assert!(out.get("stopped").is_none());
        assert_eq!(out["changes"][1]["after"], json!("confirm"));
    }
}
