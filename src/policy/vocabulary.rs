//! What a rule may read, and the check of a `when` against it at write
//! ([`check`]): every name is one the vocabulary offers (a misspelt one is refused with
//! the nearest known name, "did you mean `principal.scope`?"), and the operators meet the
//! types they work on (`principal.scope == 1`, `principal.groups.startsWith('x')` and a
//! `when` that is not true or false are refused). `arguments` is a map of anything: what
//! it holds is known only at a call.
//!
//! The vocabulary (what [`super::rules`] puts in a rule's scope): `principal` (`id`,
//! `name`, `scope`, `kind`, `issuer`, `sub`, `client_id`: strings; `namespaces`,
//! `groups`: lists of strings), `action` (`"list"` or `"call"`), `tool` (`name`,
//! `server`: strings; `annotations`: MCP's hints, `title` a string, the others
//! booleans, each `null` when the tool does not give it), `namespace` (a string, `null` on
//! `/mcp`), `arguments` and `now` (unix seconds).

use super::cel_syntax::{Ast, Lit, Node, Pos};

/// A name or a type that does not fit, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Unfit {
    pub at: Pos,
    /// The name read (`principal.scop`), when a name is at fault.
    pub field: Option<String>,
    /// The nearest known name (`principal.scope`).
    pub nearest: Option<String>,
    pub reason: String,
}

/// The variables a rule may read.
pub const VARIABLES: &[&str] = &[
    "principal",
    "action",
    "tool",
    "namespace",
    "arguments",
    "now",
];
/// The functions and macros a rule may call.
pub const FUNCTIONS: &[&str] = &[
    "contains",
    "size",
    "max",
    "min",
    "startsWith",
    "endsWith",
    "string",
    "bytes",
    "double",
    "int",
    "uint",
    "has",
    "all",
    "exists",
    "exists_one",
    "map",
    "filter",
];
const PRINCIPAL: &[(&str, Ty)] = &[
    ("id", Ty::Str),
    ("name", Ty::Str),
    ("scope", Ty::Str),
    ("kind", Ty::Str),
    ("issuer", Ty::Str),
    ("sub", Ty::Str),
    ("client_id", Ty::Str),
    ("namespaces", Ty::Strings),
    ("groups", Ty::Strings),
];
const TOOL: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("server", Ty::Str),
    ("annotations", Ty::Record(Record::Annotations)),
];
const ANNOTATIONS: &[(&str, Ty)] = &[
    ("title", Ty::Nullable(Prim::Str)),
    ("readOnlyHint", Ty::Nullable(Prim::Bool)),
    ("destructiveHint", Ty::Nullable(Prim::Bool)),
    ("idempotentHint", Ty::Nullable(Prim::Bool)),
    ("openWorldHint", Ty::Nullable(Prim::Bool)),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prim {
    Bool,
    Str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Record {
    Principal,
    Tool,
    Annotations,
}

impl Record {
    fn fields(self) -> &'static [(&'static str, Ty)] {
        match self {
            Record::Principal => PRINCIPAL,
            Record::Tool => TOOL,
            Record::Annotations => ANNOTATIONS,
        }
    }
}

/// What the check knows of a value's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Bool,
    Int,
    Uint,
    Double,
    Str,
    Bytes,
    Null,
    /// A list of strings (`principal.groups`).
    Strings,
    /// Any other list.
    List,
    /// A map of anything (`arguments`, a map literal).
    Map,
    Record(Record),
    /// The type, or `null`.
    Nullable(Prim),
    /// Not known until the rule runs.
    Dyn,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Bool | Ty::Nullable(Prim::Bool) => "a boolean",
            Ty::Int => "an int",
            Ty::Uint => "a uint",
            Ty::Double => "a double",
            Ty::Str | Ty::Nullable(Prim::Str) => "a string",
            Ty::Bytes => "bytes",
            Ty::Null => "null",
            Ty::Strings | Ty::List => "a list",
            Ty::Map | Ty::Record(_) => "a map",
            Ty::Dyn => "a value",
        }
    }

    /// The kind two values must share to be compared (`None`: any).
    fn kind(self) -> Option<u8> {
        match self {
            Ty::Bool | Ty::Nullable(Prim::Bool) => Some(0),
            Ty::Int | Ty::Uint | Ty::Double => Some(1),
            Ty::Str | Ty::Nullable(Prim::Str) => Some(2),
            Ty::Bytes => Some(3),
            Ty::Strings | Ty::List => Some(4),
            Ty::Map | Ty::Record(_) => Some(5),
            Ty::Null | Ty::Dyn => None,
        }
    }

    fn is(self, kind: u8) -> bool {
        self.kind().is_none_or(|k| k == kind)
    }
}

const BOOL: u8 = 0;
const NUMBER: u8 = 1;
const STRING: u8 = 2;
const LIST: u8 = 4;

/// Checks a `when`'s names and types against the vocabulary.
pub fn check(when: &Ast) -> Result<(), Unfit> {
    let mut c = Checker { bound: Vec::new() };
    let ty = c.ty(when)?;
    if !ty.is(BOOL) {
        return Err(unfit(
            when.at,
            format!(
                "a rule's when must be true or false; this one is {} (compare it: `… == …`)",
                ty.name()
            ),
        ));
    }
    Ok(())
}

fn unfit(at: Pos, reason: String) -> Unfit {
    Unfit {
        at,
        field: None,
        nearest: None,
        reason,
    }
}

/// The name a node reads, when it is a path of names (`principal.scope`).
fn path(e: &Ast) -> Option<String> {
    match &e.node {
        Node::Ident(n) => Some(n.clone()),
        Node::Select(o, f) => path(o).map(|p| format!("{p}.{f}")),
        _ => None,
    }
}

fn shown(e: &Ast) -> String {
    path(e).map_or_else(|| "the value".into(), |p| format!("`{p}`"))
}

/// The known name nearest to `name` (by edit distance, a swap of two letters counting
/// one), if any is near enough to be a slip.
pub fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let (best, d) = known
        .into_iter()
        .map(|k| (k, distance(name, k)))
        .min_by_key(|(_, d)| *d)?;
    (d <= (name.chars().count() / 2).max(2)).then_some(best)
}

/// Optimal string alignment distance.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

struct Checker {
    /// The names macros bind here (`g` in `groups.exists(g, …)`), with their types.
    bound: Vec<(String, Ty)>,
}

impl Checker {
    fn ty(&mut self, e: &Ast) -> Result<Ty, Unfit> {
        match &e.node {
            Node::Ident(n) => self.ident(e.at, n),
            Node::Lit(l, _) => Ok(match l {
                Lit::Int => Ty::Int,
                Lit::Uint => Ty::Uint,
                Lit::Double => Ty::Double,
                Lit::String => Ty::Str,
                Lit::Bytes => Ty::Bytes,
                Lit::Bool => Ty::Bool,
                Lit::Null => Ty::Null,
            }),
            Node::Select(o, f) => {
                let t = self.ty(o)?;
                field(e.at, o, t, f)
            }
            Node::Index(o, i) => {
                let (t, it) = (self.ty(o)?, self.ty(i)?);
                match (t, &i.node) {
                    (Ty::Record(Record::Annotations), Node::Lit(Lit::String, _)) => Ok(Ty::Dyn),
                    (Ty::Record(_), Node::Lit(Lit::String, k)) => field(e.at, o, t, k),
                    (Ty::Strings | Ty::List, _) if !it.is(NUMBER) => Err(unfit(
                        i.at,
                        format!(
                            "{} is a list: its index is a number, not {}",
                            shown(o),
                            it.name()
                        ),
                    )),
                    (Ty::Strings, _) => Ok(Ty::Str),
                    (Ty::Str | Ty::Nullable(_) | Ty::Int | Ty::Uint | Ty::Double | Ty::Bool, _) => {
                        Err(unfit(
                            e.at,
                            format!("{} is {}: it cannot be indexed", shown(o), t.name()),
                        ))
                    }
                    _ => Ok(Ty::Dyn),
                }
            }
            Node::List(items) => {
                let tys = items
                    .iter()
                    .map(|i| self.ty(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if !tys.is_empty() && tys.iter().all(|t| *t == Ty::Str) {
                    Ty::Strings
                } else {
                    Ty::List
                })
            }
            Node::Map(entries) => {
                for (k, v) in entries {
                    self.ty(k)?;
                    self.ty(v)?;
                }
                Ok(Ty::Map)
            }
            Node::Unary(op, o) => {
                let t = self.ty(o)?;
                let (kind, what) = if *op == "!" {
                    (BOOL, "a boolean")
                } else {
                    (NUMBER, "a number")
                };
                if !t.is(kind) {
                    return Err(unfit(
                        o.at,
                        format!("`{op}` takes {what}; {} is {}", shown(o), t.name()),
                    ));
                }
                Ok(if *op == "!" { Ty::Bool } else { t })
            }
            Node::Binary(op, l, r) => self.binary(e.at, op, l, r),
            Node::Cond(c, y, n) => {
                let t = self.ty(c)?;
                if !t.is(BOOL) {
                    return Err(unfit(
                        c.at,
                        format!(
                            "a condition (`… ? … : …`) is true or false; {} is {}",
                            shown(c),
                            t.name()
                        ),
                    ));
                }
                let (y, n) = (self.ty(y)?, self.ty(n)?);
                Ok(if y == n { y } else { Ty::Dyn })
            }
            Node::Call { target, name, args } => self.call(e, target.as_deref(), name, args),
        }
    }

    fn ident(&self, at: Pos, n: &str) -> Result<Ty, Unfit> {
        if let Some((_, t)) = self.bound.iter().rev().find(|(b, _)| b == n) {
            return Ok(*t);
        }
        Ok(match n {
            "principal" => Ty::Record(Record::Principal),
            "tool" => Ty::Record(Record::Tool),
            "action" => Ty::Str,
            "namespace" => Ty::Nullable(Prim::Str),
            "arguments" => Ty::Map,
            "now" => Ty::Int,
            _ => {
                let known = VARIABLES
                    .iter()
                    .copied()
                    .chain(self.bound.iter().map(|(b, _)| b.as_str()));
                let near = nearest(n, known).map(str::to_string);
                return Err(Unfit {
                    at,
                    field: Some(n.to_string()),
                    reason: format!(
                        "unknown variable `{n}`{} (a rule reads {})",
                        near.as_deref()
                            .map_or_else(String::new, |k| format!("; did you mean `{k}`?")),
                        VARIABLES.join(", ")
                    ),
                    nearest: near,
                });
            }
        })
    }

    fn binary(&mut self, at: Pos, op: &str, l: &Ast, r: &Ast) -> Result<Ty, Unfit> {
        let (lt, rt) = (self.ty(l)?, self.ty(r)?);
        let mismatch = |what: &str| {
            Err(unfit(
                at,
                format!(
                    "`{op}` {what}: {} is {} and {} is {}",
                    shown(l),
                    lt.name(),
                    shown(r),
                    rt.name()
                ),
            ))
        };
        match op {
            "&&" | "||" => {
                for (side, t) in [(l, lt), (r, rt)] {
                    if !t.is(BOOL) {
                        return Err(unfit(
                            side.at,
                            format!(
                                "`{op}` takes true or false; {} is {}",
                                shown(side),
                                t.name()
                            ),
                        ));
                    }
                }
                Ok(Ty::Bool)
            }
            "==" | "!=" => match (lt.kind(), rt.kind()) {
                (Some(a), Some(b)) if a != b => mismatch("compares values of two types"),
                _ => Ok(Ty::Bool),
            },
            "<" | "<=" | ">" | ">=" => match (lt.kind(), rt.kind()) {
                (Some(a), Some(b)) if a != b || !matches!(a, NUMBER | STRING | 3) => {
                    mismatch("orders numbers, strings or bytes of one kind")
                }
                _ => Ok(Ty::Bool),
            },
            "in" => match rt {
                Ty::Strings if !lt.is(STRING) => {
                    mismatch("looks for a string in a list of strings")
                }
                Ty::Record(_) | Ty::Map if !lt.is(STRING) => {
                    mismatch("looks for a key (a string) in a map")
                }
                Ty::Strings | Ty::List | Ty::Map | Ty::Record(_) | Ty::Dyn => Ok(Ty::Bool),
                _ => mismatch("looks in a list or a map"),
            },
            "+" => match (lt.kind(), rt.kind()) {
                (Some(a), Some(b)) if a != b || a == BOOL || a == 5 => {
                    mismatch("adds numbers, joins strings or lists")
                }
                (Some(STRING), _) | (_, Some(STRING)) => Ok(Ty::Str),
                (Some(LIST), _) | (_, Some(LIST)) => Ok(Ty::List),
                _ if lt == rt => Ok(lt),
                _ => Ok(Ty::Dyn),
            },
            _ => {
                if !lt.is(NUMBER) || !rt.is(NUMBER) {
                    return mismatch("takes numbers");
                }
                Ok(if lt == rt { lt } else { Ty::Dyn })
            }
        }
    }

    /// A macro's type (`all`, `exists`, `exists_one`, `map`, `filter` with a name
    /// first), its body checked with the name bound; `None` for any other call.
    fn comprehension(
        &mut self,
        e: &Ast,
        target: Option<&Ast>,
        name: &str,
        args: &[Ast],
    ) -> Result<Option<Ty>, Unfit> {
        let macro_var = matches!(name, "all" | "exists" | "exists_one" | "map" | "filter");
        if let (
            true,
            Some(t),
            Some(Ast {
                node: Node::Ident(var),
                ..
            }),
        ) = (macro_var, target, args.first())
        {
            let range = self.ty(t)?;
            let item = match range {
                Ty::Strings | Ty::Record(_) | Ty::Map => Ty::Str,
                Ty::List | Ty::Dyn => Ty::Dyn,
                _ => {
                    return Err(unfit(
                        e.at,
                        format!(
                            "`{name}` goes through a list or a map; {} is {}",
                            shown(t),
                            range.name()
                        ),
                    ));
                }
            };
            self.bound.push((var.clone(), item));
            let body = args[1..]
                .iter()
                .map(|a| self.ty(a))
                .collect::<Result<Vec<_>, _>>();
            self.bound.pop();
            let body = body?;
            if matches!(name, "all" | "exists" | "exists_one" | "filter")
                && let Some(b) = body.last().filter(|b| !b.is(BOOL))
            {
                return Err(unfit(
                    args[args.len() - 1].at,
                    format!(
                        "`{name}`'s condition is true or false; this one is {}",
                        b.name()
                    ),
                ));
            }
            return Ok(Some(if matches!(name, "map" | "filter") {
                Ty::List
            } else {
                Ty::Bool
            }));
        }
        Ok(None)
    }

    fn call(
        &mut self,
        e: &Ast,
        target: Option<&Ast>,
        name: &str,
        args: &[Ast],
    ) -> Result<Ty, Unfit> {
        if !FUNCTIONS.contains(&name) {
            let near = nearest(name, FUNCTIONS.iter().copied()).map(str::to_string);
            return Err(Unfit {
                at: e.at,
                field: Some(name.to_string()),
                reason: format!(
                    "unknown function `{name}`{} (known: {})",
                    near.as_deref()
                        .map_or_else(String::new, |k| format!("; did you mean `{k}`?")),
                    FUNCTIONS.join(", ")
                ),
                nearest: near,
            });
        }
        if let Some(ty) = self.comprehension(e, target, name, args)? {
            return Ok(ty);
        }
        if name == "has" {
            return match args {
                [
                    a @ Ast {
                        node: Node::Select(o, f),
                        ..
                    },
                ] => {
                    let t = self.ty(o)?;
                    field(a.at, o, t, f).map(|_| Ty::Bool)
                }
                _ => Err(unfit(
                    e.at,
                    "has() takes a field: has(arguments.org)".into(),
                )),
            };
        }
        let receiver = target.map(|t| self.ty(t)).transpose()?;
        let arg_tys = args
            .iter()
            .map(|a| self.ty(a))
            .collect::<Result<Vec<_>, _>>()?;
        match (name, receiver) {
            ("startsWith" | "endsWith", Some(r))
            | ("contains", Some(r @ (Ty::Str | Ty::Nullable(Prim::Str)))) => {
                if !r.is(STRING) {
                    return Err(unfit(
                        e.at,
                        format!(
                            "`{name}` works on a string; {} is {}",
                            target.map_or_else(String::new, shown),
                            r.name()
                        ),
                    ));
                }
                if let Some(a) = arg_tys.first().filter(|a| !a.is(STRING)) {
                    return Err(unfit(
                        args[0].at,
                        format!("`{name}` looks for a string, not {}", a.name()),
                    ));
                }
                Ok(Ty::Bool)
            }
            ("contains", Some(r)) => {
                if !matches!(
                    r,
                    Ty::Strings | Ty::List | Ty::Map | Ty::Record(_) | Ty::Dyn
                ) {
                    return Err(unfit(
                        e.at,
                        format!(
                            "`contains` works on a string, a list or a map; {} is {}",
                            target.map_or_else(String::new, shown),
                            r.name()
                        ),
                    ));
                }
                Ok(Ty::Bool)
            }
            ("size", r) => {
                if let Some(t) = r
                    .or(arg_tys.first().copied())
                    .filter(|t| matches!(t, Ty::Int | Ty::Uint | Ty::Double | Ty::Bool | Ty::Null))
                {
                    return Err(unfit(
                        e.at,
                        format!(
                            "`size` measures a string, bytes, a list or a map, not {}",
                            t.name()
                        ),
                    ));
                }
                Ok(Ty::Int)
            }
            ("string", _) => Ok(Ty::Str),
            ("int", _) => Ok(Ty::Int),
            ("uint", _) => Ok(Ty::Uint),
            ("double", _) => Ok(Ty::Double),
            ("bytes", _) => Ok(Ty::Bytes),
            _ => Ok(Ty::Dyn),
        }
    }
}

/// The field `f` of `o` (of type `t`): its type, or the nearest name to the one misspelt.
fn field(at: Pos, o: &Ast, t: Ty, f: &str) -> Result<Ty, Unfit> {
    match t {
        Ty::Record(r) => {
            if let Some((_, ty)) = r.fields().iter().find(|(n, _)| *n == f) {
                return Ok(*ty);
            }
            let base = path(o).unwrap_or_default();
            let near =
                nearest(f, r.fields().iter().map(|(n, _)| *n)).map(|n| format!("{base}.{n}"));
            let known: Vec<&str> = r.fields().iter().map(|(n, _)| *n).collect();
            let escape = if r == Record::Annotations {
                format!(" (another annotation is read as {base}['{f}'])")
            } else {
                String::new()
            };
            Err(Unfit {
                at,
                field: Some(format!("{base}.{f}")),
                reason: format!(
                    "unknown field `{base}.{f}`{}; {base} has {}{escape}",
                    near.as_deref()
                        .map_or_else(String::new, |n| format!("; did you mean `{n}`?")),
                    known.join(", ")
                ),
                nearest: near,
            })
        }
        Ty::Map | Ty::Dyn => Ok(Ty::Dyn),
        _ => Err(Unfit {
            at,
            field: path(o).map(|p| format!("{p}.{f}")),
            nearest: None,
            reason: format!("{} is {}: it has no field `{f}`", shown(o), t.name()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::cel_syntax::read;

    fn unfit_of(when: &str) -> Unfit {
        check(&read(when).expect("reads")).expect_err(when)
    }

    #[test]
    fn the_vocabulary_is_taken() {
        for ok in [
            "principal.scope == 'admin' && 'x' in principal.groups",
            "tool.annotations.destructiveHint == true && namespace != null",
            "tool.annotations['x-custom'] == 1 || arguments.org.repo == 'a'",
            "principal.groups.exists(g, g.startsWith('ops-')) && size(principal.namespaces) > 0",
            "has(arguments.org) && arguments.org in ['a', 'b'] && now > 0",
            "action == 'call' ? tool.name.contains('x') : false",
            "arguments.n + 1 > 2.5 && tool.server + '/' + tool.name == 'a/b'",
        ] {
            let ast = read(ok).expect("reads");
            check(&ast).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
    }

    #[test]
    fn a_misspelt_field_is_refused_with_the_nearest_name_and_its_place() {
        let u = unfit_of("principal.scop == 'admin'");
        assert_eq!(u.field.as_deref(), Some("principal.scop"));
        assert_eq!(u.nearest.as_deref(), Some("principal.scope"));
        assert_eq!(
            u.at,
            Pos {
                line: 1,
                column: 11
            }
        );
        assert!(
            u.reason.contains("did you mean `principal.scope`?"),
            "{}",
            u.reason
        );
        let u = unfit_of("action == 'call' &&\n tool.nmae == 'x'");
        assert_eq!(u.nearest.as_deref(), Some("tool.name"));
        assert_eq!(u.at.line, 2);
        assert_eq!(
            unfit_of("tool.annotations.destructivehint")
                .nearest
                .as_deref(),
            Some("tool.annotations.destructiveHint")
        );
        assert_eq!(
            unfit_of("principal.group.exists(g, true)")
                .nearest
                .as_deref(),
            Some("principal.groups")
        );
        assert_eq!(
            unfit_of("has(principal.scop)").nearest.as_deref(),
            Some("principal.scope")
        );
        assert_eq!(
            unfit_of("principle.name == 'x'").nearest.as_deref(),
            Some("principal")
        );
        assert_eq!(
            unfit_of("tool.name.startWith('x')").nearest.as_deref(),
            Some("startsWith")
        );
        for (when, says) in [
            ("principal.scope == 1", "two types"),
            ("principal.groups.startsWith('x')", "works on a string"),
            ("principal.name", "true or false"),
            ("principal.name.first == 'x'", "no field"),
            ("1 in principal.groups", "list of strings"),
            ("!principal.name", "`!`"),
            ("'abc'.all(c, true)", "list or a map"),
            ("principal.groups['x'] == 'y'", "index is a number"),
            ("tool.name > 1", "orders"),
        ] {
            let u = unfit_of(when);
            assert!(u.reason.contains(says), "{when}: {}", u.reason);
        }
    }

    #[test]
    fn nearest_is_a_slip_not_any_name() {
        assert_eq!(nearest("scop", ["scope", "sub"]), Some("scope"));
        assert_eq!(nearest("nmae", ["name", "server"]), Some("name"));
        assert_eq!(nearest("zzzzzzzz", ["name", "server"]), None);
    }
}
