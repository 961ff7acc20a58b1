//! The members of `arguments` a rule reads, found in its tree when it is compiled
//! ([`crate::jsonrpc::read_names`] refuses a call with a member Go's reader takes for
//! one of them): `arguments.path` and `arguments['path']` read `path`;
//! `arguments.org.repo` reads `repo` inside `org`; `arguments.files.all(f, f.mask)`
//! reads `mask` in each element of `files`. Where a rule reads a level by a name it
//! computes (`arguments[k]`, `'path' in arguments`, `arguments.exists(k, …)`, the whole
//! of `arguments` handed to a function), every string the rule writes counts as a name
//! read there.

use crate::jsonrpc::read_names::{ReadNames, Step};

use super::cel_syntax::{Ast, Lit, Node};

/// The macros that bind a variable to each element (or key) of their target.
const MACROS: &[&str] = &["all", "exists", "exists_one", "map", "filter"];

/// What `when` reads of `arguments`.
pub fn of_rule(when: &Ast) -> ReadNames {
    let mut literals = Vec::new();
    strings(when, &mut literals);
    let mut walk = Walk {
        out: ReadNames::default(),
        literals,
        bound: Vec::new(),
    };
    walk.node(when);
    walk.out
}

/// Every string literal of `ast`.
fn strings(ast: &Ast, out: &mut Vec<String>) {
    if let Node::Lit(Lit::String, s) = &ast.node {
        out.push(s.clone());
    }
    for c in children(ast) {
        strings(c, out);
    }
}

struct Walk {
    out: ReadNames,
    literals: Vec<String>,
    /// Comprehension variables in scope, each with the path it stands for.
    bound: Vec<(String, Vec<Step>)>,
}

impl Walk {
    /// The path into `arguments` that `ast` is, when it is one.
    fn path(&self, ast: &Ast) -> Option<Vec<Step>> {
        match &ast.node {
            Node::Ident(v) => match self.bound.iter().rev().find(|(b, _)| b == v) {
                Some((_, p)) => Some(p.clone()),
                None => (v == "arguments").then(Vec::new),
            },
            Node::Select(t, field) => {
                let mut p = self.path(t)?;
                p.push(Step::Name(field.clone()));
                Some(p)
            }
            Node::Index(t, key) => match &key.node {
                Node::Lit(Lit::String, k) => {
                    let mut p = self.path(t)?;
                    p.push(Step::Name(k.clone()));
                    Some(p)
                }
                Node::Lit(Lit::Int | Lit::Uint, _) => {
                    let mut p = self.path(t)?;
                    p.push(Step::Each);
                    Some(p)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// `at` is read by names the rule computes: each of its strings counts.
    fn any_name(&mut self, mut at: Vec<Step>) {
        for s in &self.literals {
            at.push(Step::Name(s.clone()));
            self.out.add(&at);
            at.pop();
        }
    }

    fn node(&mut self, ast: &Ast) {
        if let Some(p) = self.path(ast) {
            // A path used as a value: read as a whole where it is a bare variable, else
            // its last step is the member read.
            match &ast.node {
                Node::Ident(_) => self.any_name(p),
                _ => self.out.add(&p),
            }
            return;
        }
        match &ast.node {
            Node::Index(t, key) => {
                // A computed key: the level below `t` is read by any name.
                if let Some(p) = self.path(t) {
                    self.out.add(&p);
                    self.any_name(p);
                }
                self.node(t);
                self.node(key);
            }
            Node::Binary("in", needle, hay) => {
                if let Some(p) = self.path(hay) {
                    self.out.add(&p);
                    self.any_name(p);
                }
                self.node(needle);
                self.node(hay);
            }
            Node::Call {
                target: Some(t),
                name,
                args,
            } if MACROS.contains(&name.as_str()) => {
                let (Some(p), Some(Node::Ident(var))) =
                    (self.path(t), args.first().map(|a| &a.node))
                else {
                    children(ast).into_iter().for_each(|c| self.node(c));
                    return;
                };
                // Over a map the variable is each key (the names are computed); over a
                // list, each element.
                self.out.add(&p);
                self.any_name(p.clone());
                let mut each = p;
                each.push(Step::Each);
                self.bound.push((var.clone(), each));
                args[1..].iter().for_each(|a| self.node(a));
                self.bound.pop();
            }
            _ => children(ast).into_iter().for_each(|c| self.node(c)),
        }
    }
}

/// The nodes directly below `ast`.
fn children(ast: &Ast) -> Vec<&Ast> {
    let mut out: Vec<&Ast> = Vec::new();
    match &ast.node {
        Node::Ident(_) | Node::Lit(..) => {}
        Node::Select(t, _) | Node::Unary(_, t) => out.push(t),
        Node::Call { target, args, .. } => {
            if let Some(t) = target {
                out.push(t);
            }
            out.extend(args.iter());
        }
        Node::Index(a, b) | Node::Binary(_, a, b) => {
            out.push(a);
            out.push(b);
        }
        Node::List(items) => out.extend(items.iter()),
        Node::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            out.push(k);
            out.push(v);
        }),
        Node::Cond(a, b, c) => {
            out.push(a);
            out.push(b);
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::cel_syntax;

    fn reads(when: &str) -> ReadNames {
        of_rule(&cel_syntax::read(when).expect("reads"))
    }

    fn tree(paths: &[&[&str]]) -> ReadNames {
        let mut r = ReadNames::default();
        for p in paths {
            let steps: Vec<Step> = p
                .iter()
                .map(|s| match *s {
                    "*" => Step::Each,
                    n => Step::Name(n.to_string()),
                })
                .collect();
            r.add(&steps);
        }
        r
    }

    #[test]
    fn the_members_a_rule_reads_are_found_at_their_depth() {
        for (when, paths) in [
            ("tool.name == 'x'", &[][..]),
            (
                "has(arguments.path) && arguments.path.startsWith('/etc')",
                &[&["path"][..]][..],
            ),
            ("arguments['path'] == '/x'", &[&["path"]]),
            ("arguments.org.repo == 'a'", &[&["org", "repo"]]),
            (
                "arguments.files.all(f, f.mask == 1)",
                &[&["files", "*", "mask"]],
            ),
            ("arguments.list[0].kind == 'k'", &[&["list", "*", "kind"]]),
        ] {
            assert_eq!(reads(when), tree(paths), "{when}");
        }
    }

    #[test]
    fn a_level_read_by_computed_names_reads_every_string_of_the_rule() {
        for (when, paths) in [
            ("'path' in arguments", &[&["path"][..]][..]),
            ("arguments.exists(k, k == 'path')", &[&["path"]]),
            ("size(arguments) > 0 && tool.name == 'w'", &[&["w"]]),
            (
                "'mode' in arguments.opts && arguments.opts[tool.name] == 'rw'",
                &[&["opts", "mode"], &["opts", "rw"]],
            ),
        ] {
            let r = reads(when);
            let mut with = r.clone();
            with.merge(&tree(paths));
            assert_eq!(with, r, "{when}: every expected name is read");
        }
    }
}
