//! A rule's `when` in CEL, bounded: what it may cost to read, to hold and to evaluate.
//!
//! `cel-parser` recurses once per level of nesting (and its parse tree once per operator
//! of a chain), on the thread that calls it; the interpreter recurses once per level of
//! the tree and has no bound on a comprehension's work. A rule is written by an admin and
//! run by every replica on every call, so it is bounded on each side:
//!
//! - **Before the parser runs**, [`MAX_NESTING`]: brackets and `?:` nest at most that deep
//!   ([`nesting`], a scan that reads string literals as the lexer does). A deeper text is
//!   refused, naming the bound.
//! - **The parser** runs on a thread of its own with [`PARSE_STACK`] bytes of stack, room
//!   for the deepest nesting [`MAX_BRACKETS`] allows whatever the scan made of the
//!   quotes, and for a chain of 2,000 operators (`tests`), so no text reaches the
//!   runtime's stacks.
//! - **The tree**: at most [`MAX_DEPTH`] levels deep (measured without recursion), so
//!   evaluating it on a runtime thread stays shallow.
//! - **Cost at write**: [`estimate`] counts a rule's comprehension steps, every list
//!   taken as [`ASSUMED_ITEMS`] long; more than [`MAX_STEPS`] is refused.
//! - **Cost at evaluation**: each comprehension step is counted ([`tick`], threaded into
//!   every comprehension's loop condition at compile time); past [`MAX_STEPS`] steps or
//!   [`MAX_TIME`] of the evaluating thread's CPU time the evaluation stops and the rule
//!   counts as over its bound ([`Evaluated::OverBudget`]), which denies. CPU time, not
//!   wall time: a thread the scheduler holds off on a busy machine has not spent the
//!   rule's budget, and a call it decides is not denied for the machine's load.

use std::cell::Cell;
use std::time::{Duration, Instant};

use cel_interpreter::objects::Value;
use cel_interpreter::{Context, ExecutionError};
use cel_parser::Expression;
use cel_parser::ast::{CallExpr, Expr, operators};

use super::cel_syntax;

/// The deepest brackets (`(`, `[`, `{`) and conditionals (`?:`) may nest in a `when`.
pub const MAX_NESTING: usize = 32;
/// The most brackets a `when` may open in all, inside string literals too: a bound on
/// the parser's nesting that holds whatever it makes of the text's quotes.
pub const MAX_BRACKETS: usize = 512;
/// The deepest a compiled rule's tree may be.
pub const MAX_DEPTH: usize = 100;
/// How long a list counts as in the estimate made at write.
pub const ASSUMED_ITEMS: u64 = 100;
/// The most comprehension steps one evaluation of a rule may take (and its estimate).
pub const MAX_STEPS: u64 = 50_000;
/// The most CPU time one evaluation of a rule may take.
pub const MAX_TIME: Duration = Duration::from_millis(10);
/// Steps between two readings of the thread's CPU time (a system call; a step is far
/// cheaper), so a rule may overrun [`MAX_TIME`] by as many steps at most.
const CLOCK_EVERY: u64 = 32;
/// The stack of the thread that parses rules.
pub const PARSE_STACK: usize = 256 << 20;
/// The function counting comprehension steps (a name no rule can write).
const TICK: &str = "@metamcp_step";

/// A `when` that cannot be taken: the line within it, the column (when known) and the
/// reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub line: usize,
    pub column: Option<usize>,
    pub reason: String,
}

fn refused(line: usize, reason: String) -> Refused {
    Refused {
        line,
        column: None,
        reason,
    }
}

/// How often the parser panicked on a text [`cel_syntax::read`] took (0 unless the two
/// disagree: the property test holds it at 0).
pub static PARSER_PANICS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `when` read ([`cel_syntax`]), parsed and checked against the bounds (to be
/// [`instrument`]ed for [`execute`] once the caller has read its references), with the
/// tree read (for [`super::vocabulary::check`]). Call it on a thread with
/// [`PARSE_STACK`] bytes of stack ([`on_parse_stack`]).
pub fn compile(when: &str) -> Result<(Expression, cel_syntax::Ast), Refused> {
    let brackets = when
        .bytes()
        .filter(|b| matches!(b, b'(' | b'[' | b'{'))
        .count();
    if brackets > MAX_BRACKETS {
        return Err(refused(
            1,
            format!(
                "{brackets} brackets; at most {MAX_BRACKETS} are taken (split the rule into \
                 several rules)"
            ),
        ));
    }
    let deepest = nesting(when);
    if deepest > MAX_NESTING {
        return Err(refused(
            1,
            format!(
                "brackets and ?: nest {deepest} deep; at most {MAX_NESTING} levels are taken \
                 (write the rule flatter, or split it into several rules)"
            ),
        ));
    }
    // Read first ([`cel_syntax`]): the parser walks the tree it recovered from a broken
    // text and panics there, so a broken text never reaches it.
    let ast = cel_syntax::read(when).map_err(|e| Refused {
        line: e.at.line,
        column: Some(e.at.column),
        reason: format!("CEL does not parse at column {}: {}", e.at.column, e.reason),
    })?;
    let parsed = std::panic::catch_unwind(|| cel_parser::Parser::new().parse(when));
    let expr = match parsed {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            let first = e.errors.first();
            let line = first.map_or(1, |e| usize::try_from(e.pos.0).unwrap_or(1).max(1));
            let msg = first.map_or_else(|| e.to_string(), |e| e.msg.clone());
            return Err(refused(line, format!("CEL does not parse: {msg}")));
        }
        Err(_) => {
            // A text the syntax check took and the parser did not: a gap in the check.
            PARSER_PANICS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(
                when,
                "the CEL parser panicked on a text the syntax check took"
            );
            return Err(refused(
                1,
                "CEL does not parse (the parser failed on this text; simplify it)".into(),
            ));
        }
    };
    let d = depth(&expr);
    if d > MAX_DEPTH {
        return Err(refused(
            1,
            format!(
                "the expression is {d} levels deep (a chain of operators counts one level \
                 each); at most {MAX_DEPTH}"
            ),
        ));
    }
    let steps = estimate(&expr);
    if steps > MAX_STEPS {
        return Err(refused(
            1,
            format!(
                "its cost is estimated at {steps} comprehension steps (each list counted as \
                 {ASSUMED_ITEMS} items); at most {MAX_STEPS}: nest fewer comprehensions \
                 (all, exists, exists_one, map, filter)"
            ),
        ));
    }
    Ok((expr, ast))
}

/// Runs `f` on a thread with [`PARSE_STACK`] bytes of stack (what [`compile`] needs);
/// `None` when no such thread could be started.
pub fn on_parse_stack<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("metamcp-cel".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(s, f)
            .ok()?
            .join()
            .ok()
    })
}

/// How deep brackets and conditionals nest in `when`, as the lexer reads it: what is
/// inside a string or bytes literal (`'…'`, `"…"`, `'''…'''`, `"""…"""`, raw with
/// `r`/`R`) does not count, a `?` counts one level for the rest of the text (a
/// conditional's branches nest in the parser), and a closing bracket with none open
/// counts nothing.
pub fn nesting(when: &str) -> usize {
    let b = when.as_bytes();
    let (mut open, mut conditionals, mut deepest) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                let raw = raw_prefix(b, i);
                let triple = b.get(i..i + 3) == Some(&[q, q, q][..]);
                // An unterminated quote is skipped by the lexer, which reads on past it:
                // so does this scan.
                if let Some(end) = string_end(b, i, q, raw, triple) {
                    i = end;
                    continue;
                }
            }
            b'(' | b'[' | b'{' => open += 1,
            b')' | b']' | b'}' => open = open.saturating_sub(1),
            b'?' => conditionals += 1,
            _ => {}
        }
        deepest = deepest.max(open + conditionals);
        i += 1;
    }
    deepest
}

/// Whether the quote at `at` opens a raw string: `r` or `R` before it starts a token
/// (`r'…'`, `br'…'`), not the end of an identifier (`expr'…'` is a name, then a string).
fn raw_prefix(b: &[u8], at: usize) -> bool {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let starts_token = |i: usize| i == 0 || !ident(b[i - 1]);
    match at.checked_sub(1).map(|i| (i, b[i])) {
        Some((i, b'r' | b'R')) => {
            starts_token(i) || (i > 0 && matches!(b[i - 1], b'b' | b'B') && starts_token(i - 1))
        }
        _ => false,
    }
}

/// Where the string literal opening at `at` ends (just past its closing quote); `None`
/// when it does not.
fn string_end(b: &[u8], at: usize, q: u8, raw: bool, triple: bool) -> Option<usize> {
    let mut i = at + if triple { 3 } else { 1 };
    while i < b.len() {
        if b[i] == b'\\' && !raw {
            i += 2;
            continue;
        }
        if triple {
            if b.get(i..i + 3) == Some(&[q, q, q][..]) {
                return Some(i + 3);
            }
        } else if b[i] == q {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// The children of a node.
fn children(e: &Expression) -> Vec<&Expression> {
    match &e.expr {
        Expr::Call(c) => c.target.as_deref().into_iter().chain(&c.args).collect(),
        Expr::Comprehension(c) => vec![
            &*c.iter_range,
            &*c.accu_init,
            &*c.loop_cond,
            &*c.loop_step,
            &*c.result,
        ],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m.entries.iter().flat_map(entry).collect(),
        Expr::Struct(s) => s.entries.iter().flat_map(entry).collect(),
        Expr::Select(s) => vec![&*s.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

fn entry(e: &cel_parser::ast::IdedEntryExpr) -> Vec<&Expression> {
    match &e.expr {
        cel_parser::ast::EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
        cel_parser::ast::EntryExpr::StructField(f) => vec![&f.value],
    }
}

/// How many levels deep `e` is (without recursion: any tree the parser gave is measured).
pub fn depth(e: &Expression) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        stack.extend(children(e).into_iter().map(|c| (c, d + 1)));
    }
    deepest
}

/// The comprehension steps `e` takes when every list it goes through has
/// [`ASSUMED_ITEMS`] items (recursive: call it on a tree of at most [`MAX_DEPTH`]).
pub fn estimate(e: &Expression) -> u64 {
    match &e.expr {
        Expr::Comprehension(c) => {
            let once = [&c.iter_range, &c.accu_init, &c.result]
                .into_iter()
                .fold(0u64, |s, x| s.saturating_add(estimate(x)));
            let each = 1u64
                .saturating_add(estimate(&c.loop_cond))
                .saturating_add(estimate(&c.loop_step));
            once.saturating_add(ASSUMED_ITEMS.saturating_mul(each))
        }
        _ => children(e)
            .into_iter()
            .fold(0, |s, c| s.saturating_add(estimate(c))),
    }
}

/// `e` with [`TICK`] in every comprehension's loop condition (`cond && tick()`): each
/// step is counted before it runs.
pub fn instrument(e: &mut Expression) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        if let Expr::Comprehension(c) = &mut e.expr {
            let cond = std::mem::take(&mut *c.loop_cond);
            *c.loop_cond = Expression {
                id: cond.id,
                expr: Expr::Call(CallExpr {
                    func_name: operators::LOGICAL_AND.into(),
                    target: None,
                    args: vec![
                        cond,
                        Expression {
                            id: 0,
                            expr: Expr::Call(CallExpr {
                                func_name: TICK.into(),
                                target: None,
                                args: Vec::new(),
                            }),
                        },
                    ],
                }),
            };
        }
        push_children_mut(e, &mut stack);
    }
}

/// Pushes `e`'s subexpressions on `stack`: the walk of [`instrument`] and [`probe`].
fn push_children_mut<'a>(e: &'a mut Expression, stack: &mut Vec<&'a mut Expression>) {
    match &mut e.expr {
        Expr::Call(c) => {
            stack.extend(c.target.as_deref_mut());
            stack.extend(c.args.iter_mut());
        }
        Expr::Comprehension(c) => stack.extend([
            &mut *c.iter_range,
            &mut *c.accu_init,
            &mut *c.loop_cond,
            &mut *c.loop_step,
            &mut *c.result,
        ]),
        Expr::List(l) => stack.extend(l.elements.iter_mut()),
        Expr::Map(m) => stack.extend(m.entries.iter_mut().flat_map(entry_mut)),
        Expr::Struct(s) => stack.extend(s.entries.iter_mut().flat_map(entry_mut)),
        Expr::Select(s) => stack.push(&mut s.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entry_mut(e: &mut cel_parser::ast::IdedEntryExpr) -> Vec<&mut Expression> {
    match &mut e.expr {
        cel_parser::ast::EntryExpr::MapEntry(m) => vec![&mut m.key, &mut m.value],
        cel_parser::ast::EntryExpr::StructField(f) => vec![&mut f.value],
    }
}

/// What one evaluation's steps may still take.
#[derive(Clone, Copy)]
struct Budget {
    steps: u64,
    /// Steps taken, to read the clock every [`CLOCK_EVERY`].
    taken: u64,
    /// The clock at the first step (a rule without comprehensions takes none, and its
    /// evaluation is bounded by its tree: it reads no clock).
    started: Option<Spent>,
    time: Duration,
    /// Which bound stopped it.
    over: Option<&'static str>,
}

/// Where an evaluation's time is read from: the thread's CPU clock, or the wall clock
/// where that cannot be read.
#[derive(Clone, Copy)]
enum Spent {
    Cpu(Duration),
    Wall(Instant),
}

impl Spent {
    fn now() -> Spent {
        thread_cpu_time().map_or_else(|| Spent::Wall(Instant::now()), Spent::Cpu)
    }

    /// The time spent since `self`, on the same clock.
    fn since(self) -> Duration {
        match self {
            Spent::Cpu(at) => {
                thread_cpu_time().map_or(Duration::ZERO, |now| now.saturating_sub(at))
            }
            Spent::Wall(at) => at.elapsed(),
        }
    }
}

/// The CPU time the calling thread has run.
#[allow(unsafe_code)] // clock_gettime into a local timespec
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a clock id the kernel knows and a timespec the call fills in.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

thread_local! {
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// One comprehension step: `true` while the evaluation is within its bounds.
fn tick() -> Result<Value, ExecutionError> {
    BUDGET.with(|b| {
        let Some(mut budget) = b.get() else {
            return Ok(Value::Bool(true));
        };
        let started = *budget.started.get_or_insert_with(Spent::now);
        budget.taken += 1;
        budget.over = if budget.steps == 0 {
            Some("steps")
        } else if budget.taken % CLOCK_EVERY == 0 && started.since() >= budget.time {
            Some("time")
        } else {
            None
        };
        budget.steps = budget.steps.saturating_sub(1);
        b.set(Some(budget));
        match budget.over {
            None => Ok(Value::Bool(true)),
            Some(bound) => Err(ExecutionError::function_error(
                TICK,
                format!("over the rule's bound of {bound}"),
            )),
        }
    })
}

/// The root context rules are evaluated in: CEL's functions, [`TICK`] and [`READ`].
pub fn root() -> Context<'static> {
    let mut c = Context::default();
    c.add_function(TICK, tick);
    c.add_function(READ, read_arguments);
    c
}

/// The function a probed rule reads `arguments` through (a name no rule can write).
const READ: &str = "@metamcp_arguments";

thread_local! {
    /// Set when a probed evaluation reads `arguments`.
    static READS: Cell<bool> = const { Cell::new(false) };
}

/// `arguments`, read by a probed rule: noted, then given as the variable holds it.
fn read_arguments(ftx: &cel_interpreter::FunctionContext) -> Result<Value, ExecutionError> {
    READS.with(|r| r.set(true));
    ftx.ptx.get_variable("arguments")
}

/// `e` (compiled and [`instrument`]ed) with every reading of `arguments` made through
/// [`READ`], so that [`execute_probed`] can tell whether an evaluation read them: on
/// the path CEL took (`tool.name == 'x' && arguments.org …` on another tool never does;
/// `has(arguments.path) && …` always does, whatever it gives).
pub fn probe(e: &Expression) -> Expression {
    let mut probed = e.clone();
    let mut stack = vec![&mut probed];
    while let Some(e) = stack.pop() {
        if matches!(&e.expr, Expr::Ident(v) if v == "arguments") {
            e.expr = Expr::Call(CallExpr {
                func_name: READ.into(),
                target: None,
                args: Vec::new(),
            });
            continue;
        }
        push_children_mut(e, &mut stack);
    }
    probed
}

/// Evaluates a [`probe`]d rule as [`execute`] does, and says whether it read `arguments`.
pub fn execute_probed(e: &Expression, ctx: &Context<'_>) -> (Evaluated, bool) {
    READS.with(|r| r.set(false));
    let evaluated = execute(e, ctx);
    (evaluated, READS.with(|r| r.replace(false)))
}

/// What one evaluation gave.
#[derive(Debug, PartialEq)]
pub enum Evaluated {
    Value(Value),
    /// An error (a missing key, a type mismatch), or a panic of the interpreter: what
    /// went wrong.
    Failed(String),
    /// Stopped at a bound: `"steps"` or `"time"`.
    OverBudget(&'static str),
}

/// Evaluates `e` (compiled by [`compile`], [`instrument`]ed) in `ctx`, within
/// [`MAX_STEPS`] steps and [`MAX_TIME`].
pub fn execute(e: &Expression, ctx: &Context<'_>) -> Evaluated {
    execute_within(e, ctx, MAX_STEPS, MAX_TIME)
}

fn execute_within(e: &Expression, ctx: &Context<'_>, steps: u64, time: Duration) -> Evaluated {
    BUDGET.with(|b| {
        b.set(Some(Budget {
            steps,
            taken: 0,
            started: None,
            time,
            over: None,
        }))
    });
    // The interpreter panics on some values it does not support (a comprehension over a
    // string): a panic is a failed evaluation.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.resolve(e)));
    let over = BUDGET.with(|b| b.take()).and_then(|b| b.over);
    match (over, run) {
        (Some(bound), _) => Evaluated::OverBudget(bound),
        (None, Ok(Ok(v))) => Evaluated::Value(v),
        (None, Ok(Err(e))) => Evaluated::Failed(failure(&e)),
        (None, Err(_)) => {
            Evaluated::Failed("the interpreter cannot evaluate it on these values".into())
        }
    }
}

/// An evaluation error in a sentence ("no such key `org`").
fn failure(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key `{k}`"),
        ExecutionError::UndeclaredReference(r) => format!("no such name `{r}`"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(when: &str) -> Result<Expression, Refused> {
        on_parse_stack(|| {
            compile(when).map(|(mut e, _)| {
                instrument(&mut e);
                e
            })
        })
        .expect("a parsing thread")
    }

    fn list(n: usize) -> String {
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("[{}]", items.join(","))
    }

    #[test]
    fn nesting_reads_strings_as_the_lexer_does() {
        assert_eq!(nesting("a"), 0);
        assert_eq!(nesting("((a))"), 2);
        assert_eq!(nesting("[{(1)}]"), 3);
        assert_eq!(nesting("'((((' + \"[[[\" + a"), 0);
        assert_eq!(nesting(r"'\'((' + (a)"), 1);
        assert_eq!(nesting(r"r'\' + (a)"), 1, "a raw string has no escapes");
        assert_eq!(nesting(r"br'\' + (a)"), 1);
        assert_eq!(
            nesting(r"expr'\'' + (a)"),
            1,
            "a name ending in r is no raw prefix"
        );
        assert_eq!(nesting("'''a'b((''' + (a)"), 1);
        assert_eq!(nesting("a ? b : c ? d : e"), 2);
        assert_eq!(
            nesting("))((a"),
            2,
            "a closing bracket with none open counts nothing"
        );
        assert_eq!(
            nesting("'unterminated (((("),
            4,
            "the lexer reads on past it"
        );
    }

    #[test]
    fn deep_texts_are_refused_before_the_parser_with_the_bound() {
        // The issue's text: 300 nested parentheses (604 bytes) overflowed a runtime
        // thread's stack in the parser.
        let deep = format!("{}true{}", "(".repeat(300), ")".repeat(300));
        let why = compiled(&deep).expect_err("refused").reason;
        assert!(why.contains(&format!("at most {MAX_NESTING}")), "{why}");
        let ok = format!("{}true{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        compiled(&ok).expect("within the bound");
        let ternaries = "a ? b : ".repeat(40) + "c";
        assert!(compiled(&ternaries).is_err());
    }

    #[test]
    fn a_text_the_scan_would_misread_still_parses_on_the_parsing_thread() {
        // Whatever the scan makes of quotes, the parser has the stack for the deepest
        // nesting the bound on brackets leaves (a debug build: ~30-130 KB a level).
        let n = MAX_BRACKETS;
        for prefix in ["", "expr'\\'' + ", "'unterminated ", "r'\\' + "] {
            let deep = format!("{prefix}{}1{}", "(".repeat(n), ")".repeat(n));
            // The parser panics on some of them (caught): what matters is that the thread
            // came back.
            let parsed = on_parse_stack(|| {
                std::panic::catch_unwind(|| cel_parser::Parser::new().parse(&deep).is_ok())
            });
            assert!(parsed.is_some(), "{prefix}");
            assert!(compiled(&deep).is_err(), "{prefix}");
        }
    }

    #[test]
    fn long_chains_parse_on_the_parsing_thread_and_are_refused_by_depth() {
        // 4,000 bytes of a left-recursive chain: a tree 2,000 levels deep.
        for chain in [
            format!("1{}", " +1".repeat(1300)),
            format!("a{}", ".b".repeat(2000)),
            format!("a{}", "[0]".repeat(1300)),
            format!("{}true", "!".repeat(4000)),
            format!("{}1", "-".repeat(4000)),
            format!("a{}", " || a".repeat(800)),
        ] {
            match compiled(&chain) {
                Ok(e) => assert!(depth(&e) <= MAX_DEPTH + 1, "{}", &chain[..20]),
                Err(Refused { reason: why, .. }) => assert!(
                    ["deep", "parse", "brackets"]
                        .iter()
                        .any(|w| why.contains(w)),
                    "{why}"
                ),
            }
        }
    }

    #[test]
    fn the_estimate_refuses_nested_comprehensions_at_write() {
        let l = list(50);
        // The issue's rule: four nested .all() over 50-element lists, 3.4 s per call.
        let four = format!("{l}.all(a, {l}.all(b, {l}.all(c, {l}.all(d, a + b + c + d >= 0))))");
        let why = compiled(&four).expect_err("refused").reason;
        assert!(
            why.contains("estimated") && why.contains("at most"),
            "{why}"
        );
        let two = format!("{l}.all(a, {l}.exists(b, a == b))");
        compiled(&two).expect("two levels are within the estimate");
        assert!(estimate(&compiled("principal.name == 'x'").expect("compiles")) == 0);
    }

    /// The time bound is the thread's CPU time: a thread held off (here, asleep) has
    /// spent none of it, and one that works spends it.
    #[test]
    fn the_time_bound_counts_the_threads_cpu_not_the_wall_clock() {
        let started = Spent::now();
        assert!(matches!(started, Spent::Cpu(_)), "the CPU clock is read");
        std::thread::sleep(Duration::from_millis(50));
        assert!(started.since() < MAX_TIME, "{:?}", started.since());
        let wall = Instant::now();
        let mut spun = 0u64;
        while started.since() < 2 * MAX_TIME {
            spun = std::hint::black_box(spun.wrapping_add(1));
            assert!(
                wall.elapsed() < Duration::from_secs(20),
                "the CPU clock moves"
            );
        }
    }

    #[test]
    fn evaluation_stops_at_its_bounds_and_says_which() {
        let ctx = root();
        let mut scope = ctx.new_inner_scope();
        let big: Vec<Value> = (0..400).map(Value::Int).collect();
        scope.add_variable_from_value("l", Value::List(std::sync::Arc::new(big)));
        // Within the estimate (two levels), but the lists are larger than assumed:
        // 400 × 400 steps.
        let e = compiled("l.all(a, l.all(b, a + b >= 0))").expect("compiles");
        assert_eq!(
            execute_within(&e, &scope, MAX_STEPS, Duration::from_secs(600)),
            Evaluated::OverBudget("steps")
        );
        assert!(matches!(execute(&e, &scope), Evaluated::OverBudget(_)));
        let started = Instant::now();
        assert_eq!(
            execute_within(&e, &scope, u64::MAX, Duration::from_millis(20)),
            Evaluated::OverBudget("time")
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // What follows is decided by the steps alone: a wall-clock bound of
        // milliseconds is missed by a test thread the scheduler holds off on a busy
        // machine (CI's two cores, under the integration suite beside it).
        let within =
            |e: &Expression| execute_within(e, &scope, MAX_STEPS, Duration::from_secs(600));
        let small = compiled("l.exists(a, a == 3)").expect("compiles");
        assert_eq!(within(&small), Evaluated::Value(Value::Bool(true)));
        let fails = compiled("l.all(a, a.x == 1)").expect("compiles");
        assert!(matches!(within(&fails), Evaluated::Failed(_)));
        // The interpreter panics on a comprehension over a string: a failure, no more.
        let panics = compiled("'abc'.all(c, true)").expect("compiles");
        assert!(matches!(within(&panics), Evaluated::Failed(_)));
        // The bound is per evaluation: after one over it, the next starts afresh.
        assert_eq!(within(&e), Evaluated::OverBudget("steps"));
        assert_eq!(within(&small), Evaluated::Value(Value::Bool(true)));
    }
}
