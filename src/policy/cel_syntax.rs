//! A rule's `when` read before `cel-parser` sees it: CEL's grammar (`CEL.g4`, the one the
//! parser is generated from), read by a recursive descent that refuses what the grammar
//! refuses, with the line, column and reason of the first thing wrong, and builds a small
//! tree with positions ([`Ast`]) that [`super::vocabulary`] checks names and types on.
//!
//! Why: the generated parser recovers from a syntax error and then walks the tree it
//! made of the broken text, and that walk panics on missing tokens (`expect("Has to have
//! int!")` and the like, `cel-parser` 0.10.1 `parser.rs`). A text read here first never
//! reaches the parser broken, so its panics are unreachable rather than caught.
//!
//! It takes a little less than the grammar: what a rule has no use for and the
//! interpreter does not run (message construction `a.B{…}`, optional selection `a.?b`,
//! `[?x]`, back-quoted names, a leading `.`, a list of only a comma) is refused, naming it.

/// A place in a `when`: its line and column (in characters), both from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// The first thing wrong with a `when`, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub at: Pos,
    pub reason: String,
}

/// A literal's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lit {
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Bool,
    Null,
}

/// A `when` read, with the place of each node.
#[derive(Clone, Debug)]
pub struct Ast {
    pub at: Pos,
    pub node: Node,
}

#[derive(Clone, Debug)]
pub enum Node {
    Ident(String),
    /// The literal's kind and text (a string's without its quotes, unescaped loosely).
    Lit(Lit, String),
    Select(Box<Ast>, String),
    Call {
        target: Option<Box<Ast>>,
        name: String,
        args: Vec<Ast>,
    },
    Index(Box<Ast>, Box<Ast>),
    List(Vec<Ast>),
    Map(Vec<(Ast, Ast)>),
    /// `!` or `-`.
    Unary(&'static str, Box<Ast>),
    Binary(&'static str, Box<Ast>, Box<Ast>),
    Cond(Box<Ast>, Box<Ast>, Box<Ast>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Op(&'static str),
    Ident(String),
    Num(Lit, String),
    Str(Lit, String),
    Word(&'static str),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Op(o) | Tok::Word(o) => format!("`{o}`"),
            Tok::Ident(i) => format!("the name `{i}`"),
            Tok::Num(_, n) => format!("the number {n}"),
            Tok::Str(..) => "a string".into(),
            Tok::End => "the end of the expression".into(),
        }
    }
}

const OPS2: &[&str] = &["==", "!=", "<=", ">=", "&&", "||"];
const OPS1: &[&str] = &[
    "<", ">", "[", "]", "{", "}", "(", ")", ".", ",", "-", "!", "?", ":", "+", "*", "/", "%",
];

struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn pos(&self, at: usize) -> Pos {
        let before = &self.s[..at.min(self.s.len())];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |n| n + 1);
        Pos {
            line,
            column: before[start..].chars().count() + 1,
        }
    }

    fn err<T>(&self, at: usize, reason: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            at: self.pos(at),
            reason: reason.into(),
        })
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            self.skip_blank();
            let at = self.i;
            let Some(&c) = self.b.get(at) else {
                out.push((at, Tok::End));
                return Ok(out);
            };
            let tok = match c {
                b'0'..=b'9' => self.number().and_then(|t| self.in_range(at, t)),
                b'.' if self.b.get(at + 1).is_some_and(u8::is_ascii_digit) => {
                    self.number().and_then(|t| self.in_range(at, t))
                }
                b'"' | b'\'' => self.string(Lit::String, false),
                b'r' | b'R' if self.quote_at(at + 1) => {
                    self.i += 1;
                    self.string(Lit::String, true)
                }
                b'b' | b'B' if self.quote_at(at + 1) => {
                    self.i += 1;
                    self.string(Lit::Bytes, false)
                }
                b'b' | b'B'
                    if matches!(self.b.get(at + 1), Some(b'r' | b'R')) && self.quote_at(at + 2) =>
                {
                    self.i += 2;
                    self.string(Lit::Bytes, true)
                }
                c if c.is_ascii_alphabetic() || c == b'_' => Ok(self.word()),
                b'`' => self.err(at, "back-quoted names are not taken in rules"),
                _ => self.op(),
            }?;
            out.push((at, tok));
        }
    }

    fn quote_at(&self, i: usize) -> bool {
        matches!(self.b.get(i), Some(b'"' | b'\''))
    }

    fn skip_blank(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0c => self.i += 1,
                b'/' if self.b.get(self.i + 1) == Some(&b'/') => {
                    while self.b.get(self.i).is_some_and(|c| *c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn op(&mut self) -> Result<Tok, SyntaxError> {
        let rest = &self.b[self.i..];
        if let Some(o) = OPS2.iter().find(|o| rest.starts_with(o.as_bytes())) {
            self.i += 2;
            return Ok(Tok::Op(o));
        }
        if let Some(o) = OPS1.iter().find(|o| rest.starts_with(o.as_bytes())) {
            self.i += 1;
            return Ok(Tok::Op(o));
        }
        let c = self.s[self.i..].chars().next().unwrap_or('?');
        let hint = match c {
            '=' => " (equality is `==`)",
            '&' => " (and is `&&`)",
            '|' => " (or is `||`)",
            _ => "",
        };
        self.err(self.i, format!("unexpected character {c:?}{hint}"))
    }

    fn word(&mut self) -> Tok {
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            "in" => Tok::Word("in"),
            "true" => Tok::Word("true"),
            "false" => Tok::Word("false"),
            "null" => Tok::Word("null"),
            w => Tok::Ident(w.to_string()),
        }
    }

    fn digits(&mut self, hex: bool) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(|c| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        }) {
            self.i += 1;
        }
        self.i - start
    }

    /// An exponent if a whole one follows (else nothing is taken).
    fn exponent(&mut self) -> bool {
        if !matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            return false;
        }
        let mut j = self.i + 1;
        if matches!(self.b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if !self.b.get(j).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        self.i = j;
        self.digits(false);
        true
    }

    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.i;
        let text = |l: &Self| l.s[start..l.i].to_string();
        if self.b[self.i] == b'.' {
            self.i += 1;
            self.digits(false);
            self.exponent();
            return Ok(Tok::Num(Lit::Double, text(self)));
        }
        if self.b[self.i..].starts_with(b"0x")
            && self.b.get(self.i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            self.i += 2;
            self.digits(true);
            return Ok(self.unsigned_or(Lit::Int, start));
        }
        self.digits(false);
        if self.b.get(self.i) == Some(&b'.')
            && self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit)
        {
            self.i += 1;
            self.digits(false);
            self.exponent();
            return Ok(Tok::Num(Lit::Double, text(self)));
        }
        if self.exponent() {
            return Ok(Tok::Num(Lit::Double, text(self)));
        }
        Ok(self.unsigned_or(Lit::Int, start))
    }

    /// The number `t` (at `at`) if the parser can hold it: an int in 64 bits, a uint in
    /// 64 unsigned, a double finite.
    fn in_range(&self, at: usize, t: Tok) -> Result<Tok, SyntaxError> {
        let ok = match &t {
            Tok::Num(Lit::Int, n) => match n.strip_prefix("0x") {
                Some(h) => i64::from_str_radix(h, 16).is_ok(),
                None => n.parse::<i64>().is_ok(),
            },
            Tok::Num(Lit::Uint, n) => {
                let n = &n[..n.len() - 1];
                match n.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).is_ok(),
                    None => n.parse::<u64>().is_ok(),
                }
            }
            Tok::Num(_, n) => n.parse::<f64>().is_ok_and(f64::is_finite),
            _ => true,
        };
        if ok {
            return Ok(t);
        }
        self.err(
            at,
            "a number out of range (an int is 64 bits, a uint 64 unsigned, a double finite)",
        )
    }

    fn unsigned_or(&mut self, lit: Lit, start: usize) -> Tok {
        if matches!(self.b.get(self.i), Some(b'u' | b'U')) {
            self.i += 1;
            return Tok::Num(Lit::Uint, self.s[start..self.i].to_string());
        }
        Tok::Num(lit, self.s[start..self.i].to_string())
    }

    /// A string (or bytes) literal at its first quote, as `STRING` reads it.
    fn string(&mut self, lit: Lit, raw: bool) -> Result<Tok, SyntaxError> {
        let open = self.i;
        let q = self.b[open];
        let triple = self.b.get(open..open + 3) == Some(&[q, q, q][..]);
        let mut i = open + if triple { 3 } else { 1 };
        let body = i;
        loop {
            let Some(&c) = self.b.get(i) else {
                return self.err(open, "a string that does not end (no closing quote)");
            };
            if triple && self.b.get(i..i + 3) == Some(&[q, q, q][..]) {
                self.i = i + 3;
                break;
            }
            if !triple && c == q {
                self.i = i + 1;
                break;
            }
            if triple && c == q {
                // The parser's unescaping reads each quote as opening or closing a string.
                return self.err(i, "a quote inside a string in three quotes (write it \\' or \\\", or use the other quotes)");
            }
            if !triple && (c == b'\n' || c == b'\r') {
                return self.err(
                    open,
                    "a string that does not end on its line (no closing quote)",
                );
            }
            if c == b'\\'
                && lit == Lit::Bytes
                && (raw || !matches!(self.b.get(i + 1), Some(b'x' | b'X' | b'0'..=b'3')))
            {
                // The parser reads a bytes literal's escapes itself, and only these.
                return self.err(
                    i,
                    "in bytes, a backslash starts \\xHH or \\ooo and nothing else",
                );
            }
            if c == b'\\' && !raw {
                i = self.escape(i)?;
                continue;
            }
            i += 1;
        }
        let end = self.i - if triple { 3 } else { 1 };
        Ok(Tok::Str(lit, self.s[body..end].to_string()))
    }

    /// Whether the `n` hex digits at `i` name a character (not a surrogate, not past
    /// U+10FFFF).
    fn code_point(&self, i: usize, n: usize) -> bool {
        self.s
            .get(i..i + n)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
            .is_some()
    }

    /// Past the escape at `i` (a backslash), or where it is wrong.
    fn escape(&self, i: usize) -> Result<usize, SyntaxError> {
        let hex = |from: usize, n: usize| {
            (from..from + n).all(|j| self.b.get(j).is_some_and(u8::is_ascii_hexdigit))
        };
        let ok = match self.b.get(i + 1) {
            Some(
                b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'"' | b'\'' | b'\\' | b'?' | b'`',
            ) => Some(2),
            Some(b'0'..=b'3')
                if matches!(self.b.get(i + 2), Some(b'0'..=b'7'))
                    && matches!(self.b.get(i + 3), Some(b'0'..=b'7')) =>
            {
                Some(4)
            }
            Some(b'x' | b'X') if hex(i + 2, 2) => Some(4),
            Some(b'u') if hex(i + 2, 4) && self.code_point(i + 2, 4) => Some(6),
            Some(b'U') if hex(i + 2, 8) && self.code_point(i + 2, 8) => Some(10),
            _ => None,
        };
        match ok {
            Some(n) => Ok(i + n),
            None => self.err(
                i,
                "an escape that CEL does not have (\\n, \\t, \\\\, \\', \\\", \\xHH, \\uHHHH, \\ooo, …)",
            ),
        }
    }
}

/// What CEL's macros ask of their arguments, where the parser expands them: `has(a.b)`
/// takes a field, and `l.all(x, …)` (`exists`, `exists_one`, `existsOne`, `map`,
/// `filter`) a name first.
fn macro_arguments(name: &str, target: bool, args: &[Ast], at: Pos) -> Result<(), SyntaxError> {
    let wrong = |reason: String| {
        Err(SyntaxError {
            at: args.first().map_or(at, |a| a.at),
            reason,
        })
    };
    match (name, target, args) {
        ("has", false, [a]) if !matches!(a.node, Node::Select(..)) => {
            wrong("has() takes a field: has(arguments.org)".into())
        }
        ("all" | "exists" | "exists_one" | "existsOne" | "filter", true, [a, _])
        | ("map", true, [a, _] | [a, _, _])
            if !matches!(a.node, Node::Ident(_)) =>
        {
            wrong(format!("{name}() takes a name first: list.{name}(x, …)"))
        }
        _ => Ok(()),
    }
}

/// Reads `when`: its tree, or the first thing wrong with it.
pub fn read(when: &str) -> Result<Ast, SyntaxError> {
    let lexer = Lexer {
        s: when,
        b: when.as_bytes(),
        i: 0,
    };
    // A control character (NUL and the like; tab and line ends aside) belongs in no rule,
    // and the parser refuses it inside a raw string where this reader would not.
    if let Some((at, c)) = when
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return lexer.err(
            at,
            format!(
                "a control character (U+{:04X}) has no place in a rule: remove it",
                c as u32
            ),
        );
    }
    let toks = lexer.tokens()?;
    let mut p = Reader {
        lexer: Lexer {
            s: when,
            b: when.as_bytes(),
            i: 0,
        },
        toks,
        at: 0,
    };
    let e = p.expr()?;
    match p.peek() {
        Tok::End => Ok(e),
        t => p.err(format!("{} where the expression should end", t.describe())),
    }
}

struct Reader<'a> {
    /// For positions only.
    lexer: Lexer<'a>,
    toks: Vec<(usize, Tok)>,
    at: usize,
}

type Read = Result<Ast, SyntaxError>;

impl Reader<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.at).map_or(&Tok::End, |(_, t)| t)
    }

    fn here(&self) -> Pos {
        let offset = self
            .toks
            .get(self.at)
            .map_or(self.lexer.s.len(), |(o, _)| *o);
        self.lexer.pos(offset)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.at = (self.at + 1).min(self.toks.len());
        t
    }

    fn is(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn err<T>(&self, reason: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            at: self.here(),
            reason: reason.into(),
        })
    }

    fn expect(&mut self, op: &str, what: &str) -> Result<(), SyntaxError> {
        if self.is(op) {
            self.next();
            return Ok(());
        }
        self.err(format!(
            "expected `{op}` {what}, found {}",
            self.peek().describe()
        ))
    }

    fn expr(&mut self) -> Read {
        let c = self.or()?;
        if !self.is("?") {
            return Ok(c);
        }
        self.next();
        // The grammar: `or ? or : expr` (a conditional in the middle needs brackets).
        let yes = self.or()?;
        self.expect(":", "after the first branch of `?`")?;
        let no = self.expr()?;
        Ok(Ast {
            at: c.at,
            node: Node::Cond(Box::new(c), Box::new(yes), Box::new(no)),
        })
    }

    fn chain(&mut self, ops: &[&'static str], next: fn(&mut Self) -> Read) -> Read {
        let mut left = next(self)?;
        while let Tok::Op(o) | Tok::Word(o) = *self.peek() {
            let Some(op) = ops.iter().find(|x| **x == o) else {
                break;
            };
            self.next();
            let right = next(self)?;
            left = Ast {
                at: left.at,
                node: Node::Binary(op, Box::new(left), Box::new(right)),
            };
        }
        Ok(left)
    }

    fn or(&mut self) -> Read {
        self.chain(&["||"], Self::and)
    }

    fn and(&mut self) -> Read {
        self.chain(&["&&"], Self::relation)
    }

    fn relation(&mut self) -> Read {
        self.chain(&["<", "<=", ">=", ">", "==", "!=", "in"], Self::sum)
    }

    fn sum(&mut self) -> Read {
        self.chain(&["+", "-"], Self::product)
    }

    fn product(&mut self) -> Read {
        self.chain(&["*", "/", "%"], Self::unary)
    }

    fn unary(&mut self) -> Read {
        let at = self.here();
        for op in ["!", "-"] {
            if self.is(op) {
                while self.is(op) {
                    self.next();
                }
                if self.is("!") || self.is("-") {
                    return self.err("`!` and `-` cannot follow one another without brackets");
                }
                if matches!(self.peek(), Tok::Num(Lit::Int, n) if n.starts_with("0x")) {
                    // The parser reads `-0x1F` as one literal and cannot convert it.
                    return self.err(
                        "a negative hexadecimal number: write it in decimal, or as (0 - 0x…)",
                    );
                }
                let operand = self.member()?;
                return Ok(Ast {
                    at,
                    node: Node::Unary(op, Box::new(operand)),
                });
            }
        }
        self.member()
    }

    fn member(&mut self) -> Read {
        let mut e = self.primary()?;
        loop {
            if self.is(".") {
                self.next();
                let at = self.here();
                let name = match self.next() {
                    Tok::Ident(n) => n,
                    Tok::Op("?") => {
                        return self.err("optional selection (`.?`) is not taken in rules");
                    }
                    t => {
                        self.at -= 1;
                        return self.err(format!(
                            "expected a field's name after `.`, found {}",
                            t.describe()
                        ));
                    }
                };
                if self.is("(") {
                    self.next();
                    let args = self.args(")")?;
                    macro_arguments(&name, true, &args, at)?;
                    e = Ast {
                        at,
                        node: Node::Call {
                            target: Some(Box::new(e)),
                            name,
                            args,
                        },
                    };
                } else if self.is("{") {
                    return self.err("message construction (`Name{…}`) is not taken in rules");
                } else {
                    e = Ast {
                        at,
                        node: Node::Select(Box::new(e), name),
                    };
                }
            } else if self.is("[") {
                let at = self.here();
                self.next();
                if self.is("?") {
                    return self.err("optional indexing (`[?…]`) is not taken in rules");
                }
                let index = self.expr()?;
                self.expect("]", "to close the index")?;
                e = Ast {
                    at,
                    node: Node::Index(Box::new(e), Box::new(index)),
                };
            } else {
                return Ok(e);
            }
        }
    }

    /// Arguments up to `close` (no trailing comma).
    fn args(&mut self, close: &str) -> Result<Vec<Ast>, SyntaxError> {
        let mut args = Vec::new();
        if self.is(close) {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.is(",") {
                self.next();
                continue;
            }
            self.expect(close, "to close the arguments")?;
            return Ok(args);
        }
    }

    fn primary(&mut self) -> Read {
        let at = self.here();
        let node = match self.next() {
            Tok::Ident(name) => {
                if self.is("(") {
                    self.next();
                    let args = self.args(")")?;
                    macro_arguments(&name, false, &args, at)?;
                    Node::Call {
                        target: None,
                        name,
                        args,
                    }
                } else if self.is("{") {
                    return self.err("message construction (`Name{…}`) is not taken in rules");
                } else {
                    Node::Ident(name)
                }
            }
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")", "to close the bracket")?;
                return Ok(e);
            }
            Tok::Op("[") => Node::List(self.list()?),
            Tok::Op("{") => Node::Map(self.map()?),
            Tok::Op(".") => return self.err("a name with a leading `.` is not taken in rules"),
            Tok::Num(lit, text) => Node::Lit(lit, text),
            Tok::Str(lit, text) => Node::Lit(lit, text),
            Tok::Word("true") | Tok::Word("false") => Node::Lit(Lit::Bool, String::new()),
            Tok::Word("null") => Node::Lit(Lit::Null, String::new()),
            t => {
                self.at -= 1;
                return self.err(format!("expected a value, found {}", t.describe()));
            }
        };
        Ok(Ast { at, node })
    }

    /// A list's elements after `[` (a trailing comma is taken).
    fn list(&mut self) -> Result<Vec<Ast>, SyntaxError> {
        let mut items = Vec::new();
        while !self.is("]") {
            if self.is("?") {
                return self.err("optional elements (`?x`) are not taken in rules");
            }
            items.push(self.expr()?);
            if self.is(",") {
                self.next();
            } else if !self.is("]") {
                return self.err(format!(
                    "expected `,` or `]` in the list, found {}",
                    self.peek().describe()
                ));
            }
        }
        self.next();
        Ok(items)
    }

    /// A map's entries after `{` (a trailing comma is taken).
    fn map(&mut self) -> Result<Vec<(Ast, Ast)>, SyntaxError> {
        let mut entries = Vec::new();
        while !self.is("}") {
            if self.is("?") {
                return self.err("optional entries (`?k: v`) are not taken in rules");
            }
            let k = self.expr()?;
            self.expect(":", "between a map's key and its value")?;
            let v = self.expr()?;
            entries.push((k, v));
            if self.is(",") {
                self.next();
            } else if !self.is("}") {
                return self.err(format!(
                    "expected `,` or `}}` in the map, found {}",
                    self.peek().describe()
                ));
            }
        }
        self.next();
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong(when: &str) -> (usize, usize, String) {
        let e = read(when).expect_err(when);
        (e.at.line, e.at.column, e.reason)
    }

    /// CI's minimal input of the property below: a NUL inside a raw string, read here
    /// and refused by the parser; a control character is refused with its place.
    #[test]
    fn a_control_character_is_refused_where_it_stands() {
        let when = "r'aw\\d' +r'''\0multi\nline''' + \"esc\\u00e9\\101\" == tool.name";
        let (line, _column, reason) = wrong(when);
        assert_eq!(line, 1, "{reason}");
        assert!(reason.contains("U+0000"), "{reason}");
        assert!(read("tool.name == 'a'\t&& true").is_ok());
    }

    #[test]
    fn what_the_grammar_takes_is_read() {
        for ok in [
            "principal.scope == 'admin'",
            "action == \"call\" && 'x' in principal.groups",
            "tool.name.startsWith('gh') || !(a > 1.5e3) ? true : false",
            "a ? b : c ? d : e",
            "[1, 2u, 0x1F, .5, 3.0e-2,][0] == 1",
            "{'a': 1, 'b': [1],}.size() > 0",
            "size(arguments) >= -1 && --1 == 1",
            "r'\\d' + R\"x\" + b'\\xff' + br'x' + '''a\n\"b''' + '\\u00e9\\101'",
            "principal.groups.exists(g, g.startsWith('x')) // a comment",
            "has(arguments.org) && arguments['org'] != null",
        ] {
            read(ok).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
    }

    #[test]
    fn what_it_refuses_is_placed_and_said() {
        assert_eq!(
            wrong("tool.name =="),
            (
                1,
                13,
                "expected a value, found the end of the expression".into()
            )
        );
        let (l, c, why) = wrong("tool.name = 'x'");
        assert_eq!((l, c), (1, 11));
        assert!(why.contains("`==`"), "{why}");
        let (l, c, _) = wrong("a &&\n  (b ||)");
        assert_eq!((l, c), (2, 8));
        let (_, c, why) = wrong("'abc");
        assert_eq!(c, 1);
        assert!(why.contains("does not end"), "{why}");
        assert!(wrong("'\\q'").2.contains("escape"));
        assert!(wrong("a ? b ? c : d : e").2.contains("expected `:`"));
        assert!(wrong("a.B{x: 1}").2.contains("message"));
        assert!(wrong("a.?b").2.contains("optional"));
        assert!(wrong("`a`").2.contains("back-quoted"));
        assert!(wrong("f(a,)").2.contains("expected a value"));
        assert!(wrong("1 2").2.contains("should end"));
        assert!(wrong("-!a").2.contains("cannot follow"));
        assert!(wrong("[,]").2.contains("expected a value"));
        assert_eq!(wrong("é == 1").1, 1);
        // The parser's unescaping would take the inner quote as a string's end.
        assert!(wrong("'''a'b'''").2.contains("three quotes"));
        assert!(wrong("1 + -0x1F").2.contains("hexadecimal"));
        assert!(wrong(r"'\uD800'").2.contains("escape"));
        for n in [
            "1e999",
            "99999999999999999999",
            "0xFFFFFFFFFFFFFFFFF",
            "99999999999999999999u",
        ] {
            assert!(wrong(n).2.contains("out of range"), "{n}");
        }
    }

    /// 10,000 rule texts, valid rules mutated (a character or a token removed, added or
    /// replaced, several times) and token soup: every one is read here and either
    /// refused with a line, a column and a reason, or handed to the parser, which then
    /// parses it (called bare: a panic fails the test) and agrees; and through
    /// [`crate::policy::cel::compile`] none reaches its `catch_unwind`.
    mod property {
        use super::*;
        use crate::policy::cel;
        use proptest::prelude::*;
        use std::sync::atomic::Ordering;

        const SEEDS: &[&str] = &[
            "principal.scope == 'admin' && tool.name.startsWith('github__')",
            "action == 'call' && 'contractors' in principal.groups",
            "tool.annotations.destructiveHint == true ? principal.scope != 'admin' : false",
            "arguments.org != 'acme' || size(arguments.repos) > 3",
            "principal.groups.exists(g, g.endsWith('-ops')) && now > 1700000000",
            "[1, 2.5, 0x1F, 3u, -4][0] + {'a': b'x'}.size() >= -1",
            r#"r'raw\d' + '''multi
line''' + "esc\u00e9\101" == tool.name"#,
            "has(arguments.path) && !arguments.path.contains('..') // comment",
        ];
        const PIECES: &[&str] = &[
            "(", ")", "[", "]", "{", "}", "?", ":", "'", "\"", "\\", "r'", "b'", "'''", ".", ",",
            "&&", "||", "==", "=", "!", "-", "in", "1", "1.", ".5", "0x", "1e", "u", "`", "\n",
            "all(x, ", "has(", "true", "null", "a", " ", "é", "\u{0}",
        ];

        fn mutated() -> impl Strategy<Value = String> {
            let edit = (
                any::<prop::sample::Index>(),
                0u8..3,
                prop::sample::select(PIECES),
            );
            (
                prop::sample::select(SEEDS),
                prop::collection::vec(edit, 1..6),
            )
                .prop_map(|(seed, edits)| {
                    let mut s: Vec<char> = seed.chars().collect();
                    for (at, op, piece) in edits {
                        let i = at.index(s.len() + 1);
                        match op {
                            0 if i < s.len() => {
                                s.remove(i);
                            }
                            1 if i < s.len() => s[i] = piece.chars().next().unwrap_or(' '),
                            _ => {
                                for (k, c) in piece.chars().enumerate() {
                                    s.insert(i + k, c);
                                }
                            }
                        }
                    }
                    s.into_iter().collect()
                })
        }

        fn soup() -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]
            #[test]
            fn every_text_is_read_or_refused_with_its_place_and_never_panics_the_parser(
                when in prop_oneof![4 => mutated(), 1 => soup()]
            ) {
                match read(&when) {
                    Err(e) => {
                        prop_assert!(e.at.line >= 1 && e.at.column >= 1 && !e.reason.is_empty());
                        prop_assert!(e.at.line <= when.split('\n').count(), "{e:?} for {when:?}");
                    }
                    Ok(_) => {
                        let parsed = cel_parser::Parser::new().parse(&when);
                        prop_assert!(parsed.is_ok(), "read here, refused by the parser: {when:?}");
                    }
                }
                let before = cel::PARSER_PANICS.load(Ordering::Relaxed);
                let compiled = cel::on_parse_stack(|| cel::compile(&when).map(|_| ()));
                prop_assert!(compiled.is_some());
                if let Some(Err(r)) = compiled
                    && r.reason.contains("does not parse")
                {
                    prop_assert!(r.column.is_some(), "{r:?}");
                }
                prop_assert_eq!(cel::PARSER_PANICS.load(Ordering::Relaxed), before);
            }
        }
    }
}
