//! The member names inside a call's `arguments` that a decision reads (a policy's
//! `arguments.path`, `arguments.org.repo`), as a tree, and the check that no member of
//! the arguments is one that Go's `encoding/json` takes for such a name without being it.
//!
//! A rule reading `arguments.path` sees no `path` in `{"PATH": "/etc/victim"}`, while a
//! Go backend (mcp-go, the Go SDK before CVE-2026-27896) decodes `PATH`, `paTh`, `pathſ`
//! spelt with U+017F or a Kelvin sign for `k` into its `path` field ([`super::fold`]).
//! Such a member is refused as the envelope's are, where the decisions would differ on
//! what Go reads ([`ReadNames::as_go_reads`]). The tree is built once, when the decisions
//! are compiled; a request is checked only where it names the tree, so a table whose
//! decisions read no argument costs one emptiness check.

use std::borrow::Cow;

use serde_json::Value;

use super::fold;
use super::read::{Ambiguity, FOLDED_NAME};

/// One step of a path into the arguments: a member by name, or each element of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Name(String),
    Each,
}

/// The names read at one level of the arguments, each with what is read below it, and
/// what is read in each element when the value here is a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadNames {
    names: Vec<(Box<str>, ReadNames)>,
    each: Option<Box<ReadNames>>,
}

impl ReadNames {
    /// Whether nothing is read (then [`ReadNames::twin_in`] looks at nothing).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.each.is_none()
    }

    /// Notes that `path` is read (and so each of its prefixes).
    pub fn add(&mut self, path: &[Step]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let below = match first {
            Step::Each => &mut **self.each.get_or_insert_with(Box::default),
            Step::Name(n) => {
                let at = match self.names.iter().position(|(m, _)| **m == **n) {
                    Some(at) => at,
                    None => {
                        self.names.push((n.as_str().into(), ReadNames::default()));
                        self.names.len() - 1
                    }
                };
                &mut self.names[at].1
            }
        };
        below.add(rest);
    }

    /// Everything `other` reads, read here too.
    pub fn merge(&mut self, other: &ReadNames) {
        for (n, below) in &other.names {
            match self.names.iter_mut().find(|(m, _)| m == n) {
                Some((_, mine)) => mine.merge(below),
                None => self.names.push((n.clone(), below.clone())),
            }
        }
        if let Some(each) = &other.each {
            self.each.get_or_insert_with(Box::default).merge(each);
        }
    }

    /// The read name that `member` is taken for by Go's reader without being it.
    fn twin(&self, member: &str) -> Option<&str> {
        if self.names.iter().any(|(n, _)| **n == *member) {
            return None;
        }
        // An ASCII name's twin has as many characters of one to three bytes each (`ſ` is
        // two, `K` three): other lengths are passed over before a character is compared.
        self.names.iter().map(|(n, _)| &**n).find(|n| {
            (!n.is_ascii() || (member.len() >= n.len() && member.len() <= 3 * n.len()))
                && fold::equal(member, n)
        })
    }

    /// The first member of `arguments`, at a level the tree names, that Go's reader
    /// takes for a read name without being it: refused as [`FOLDED_NAME`] at
    /// `params.arguments.…`, with the name it is read as.
    pub fn twin_in(&self, arguments: &Value) -> Option<Ambiguity> {
        if self.is_empty() {
            return None;
        }
        let mut at = String::from("params.arguments");
        self.walk(arguments, &mut at)
    }

    /// `arguments` as Go's reader takes them: every member found by
    /// [`ReadNames::twin_in`] under the read name it is taken for.
    pub fn as_go_reads(&self, arguments: &Value) -> Value {
        let mut v = arguments.clone();
        self.rename(&mut v);
        v
    }

    fn rename(&self, v: &mut Value) {
        match v {
            Value::Object(members) if !self.names.is_empty() => {
                let twins: Vec<(String, String)> = members
                    .keys()
                    .filter_map(|m| self.twin(m).map(|n| (m.clone(), n.to_string())))
                    .collect();
                for (member, name) in twins {
                    if let Some(value) = members.remove(&member) {
                        members.insert(name, value);
                    }
                }
                for (name, below) in &self.names {
                    if let Some(value) = members.get_mut(&**name) {
                        below.rename(value);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(each) = self.each.as_deref() {
                    items.iter_mut().for_each(|item| each.rename(item));
                }
            }
            _ => {}
        }
    }

    fn walk(&self, v: &Value, at: &mut String) -> Option<Ambiguity> {
        match v {
            Value::Object(members) if !self.names.is_empty() => {
                for (member, value) in members {
                    let len = at.len();
                    at.push('.');
                    at.push_str(member);
                    if let Some(name) = self.twin(member) {
                        return Some(Ambiguity {
                            what: FOLDED_NAME,
                            at: std::mem::take(at),
                            reads_as: Some(Cow::Owned(name.to_string())),
                        });
                    }
                    if let Some((_, below)) = self.names.iter().find(|(n, _)| **n == **member)
                        && let Some(a) = below.walk(value, at)
                    {
                        return Some(a);
                    }
                    at.truncate(len);
                }
                None
            }
            Value::Array(items) => {
                let each = self.each.as_deref()?;
                for (i, item) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("[{i}]"));
                    if let Some(a) = each.walk(item, at) {
                        return Some(a);
                    }
                    at.truncate(len);
                }
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
