//! The subset of CEL (the Common Expression Language) that the Gateway API CRDs'
//! `x-kubernetes-validations` rules use, evaluated on JSON values as the API server evaluates
//! them: literals, `self`, field selection (`__namespace__` escapes `namespace`), indexing,
//! `!`, `-`, `+`, comparisons, `in`, `&&`/`||` (commutative: an error on one side is absorbed
//! when the other decides), `?:`, `has()`, `size()`, the macros `all`, `exists`,
//! `exists_one` and `filter` (on lists, and on maps over their keys), the string functions
//! `startsWith`, `endsWith`, `contains`, `matches` (RE2, unanchored) and `split`, and
//! `duration()` with its comparisons. Transition rules (`oldSelf`) have no old object to
//! compare with offline and are not evaluated.
//!
//! Expressions are parsed once ([`Expr::parse`]); evaluation is bounded by the input's size
//! (no loops but the macros over the input's own lists).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value as Json;

/// A parsed CEL expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Lit(Val),
    Ident(String),
    Select(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    /// `has(a.b)`.
    Has(Box<Expr>, String),
    /// A global function call.
    Call(String, Vec<Expr>),
    /// A method call on a receiver.
    Method(Box<Expr>, String, Vec<Expr>),
    /// A macro `receiver.name(var, body)`.
    Macro(Box<Expr>, MacroKind, String, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MacroKind {
    All,
    Exists,
    ExistsOne,
    Filter,
}

/// A CEL value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    List(Vec<Val>),
    Map(BTreeMap<String, Val>),
    /// Nanoseconds.
    Duration(i128),
}

impl Val {
    pub(crate) fn from_json(v: &Json) -> Val {
        match v {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Val::Str(s.clone()),
            Json::Array(a) => Val::List(a.iter().map(Val::from_json).collect()),
            Json::Object(m) => Val::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Val::from_json(v)))
                    .collect(),
            ),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Double(_) => "double",
            Val::Str(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "map",
            Val::Duration(_) => "duration",
        }
    }
}

type EvalResult = Result<Val, String>;

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Int(i64),
    Str(String),
    Sym(&'static str),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    const SYMS: [&str; 22] = [
        "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "?", ":", ".", ",", "(", ")", "[", "]",
        "+", "-", "{", "}", "*",
    ];
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // Raw and triple-quoted strings.
        let raw = (c == b'r' || c == b'R') && matches!(b.get(i + 1), Some(b'"' | b'\''));
        if raw || c == b'"' || c == b'\'' {
            let start = if raw { i + 1 } else { i };
            let q = b[start];
            let triple = b.get(start + 1) == Some(&q) && b.get(start + 2) == Some(&q);
            let body_start = if triple { start + 3 } else { start + 1 };
            let mut j = body_start;
            let mut text = String::new();
            loop {
                let Some(&d) = b.get(j) else {
                    return Err("unterminated string literal".into());
                };
                if triple {
                    if d == q && b.get(j + 1) == Some(&q) && b.get(j + 2) == Some(&q) {
                        j += 3;
                        break;
                    }
                } else if d == q {
                    j += 1;
                    break;
                }
                if d == b'\\' && !raw {
                    let e = *b.get(j + 1).ok_or("unterminated escape")?;
                    text.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'\\' => '\\',
                        b'\'' => '\'',
                        b'"' => '"',
                        b'`' => '`',
                        b'?' => '?',
                        _ => return Err(format!("unsupported escape \\{}", e as char)),
                    });
                    j += 2;
                    continue;
                }
                // Copy one UTF-8 character.
                let ch = src[j..].chars().next().ok_or("bad string")?;
                text.push(ch);
                j += ch.len_utf8();
            }
            out.push(Tok::Str(text));
            i = j;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let n = src[i..j].parse().map_err(|_| "integer out of range")?;
            out.push(Tok::Int(n));
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            out.push(Tok::Ident(src[i..j].to_owned()));
            i = j;
            continue;
        }
        let sym = SYMS
            .iter()
            .find(|s| src[i..].starts_with(**s))
            .ok_or_else(|| format!("unexpected character {:?}", c as char))?;
        out.push(Tok::Sym(sym));
        i += sym.len();
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl Expr {
    /// Parses an expression.
    pub(crate) fn parse(src: &str) -> Result<Expr, String> {
        let mut p = Parser {
            toks: lex(src)?,
            pos: 0,
            depth: 0,
        };
        let e = p.expr()?;
        if p.pos != p.toks.len() {
            return Err(format!("unexpected token {:?}", p.toks[p.pos]));
        }
        Ok(e)
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: &str) -> Result<(), String> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(format!("expected {sym:?} at token {}", self.pos))
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let c = self.or()?;
        let out = if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            Expr::Cond(Box::new(c), Box::new(a), Box::new(b))
        } else {
            c
        };
        self.depth -= 1;
        Ok(out)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.rel()?;
        while self.eat("&&") {
            let r = self.rel()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn rel(&mut self) -> Result<Expr, String> {
        let mut l = self.add()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Sym("==")) => Op::Eq,
                Some(Tok::Sym("!=")) => Op::Ne,
                Some(Tok::Sym("<")) => Op::Lt,
                Some(Tok::Sym("<=")) => Op::Le,
                Some(Tok::Sym(">")) => Op::Gt,
                Some(Tok::Sym(">=")) => Op::Ge,
                Some(Tok::Ident(s)) if s == "in" => Op::In,
                _ => return Ok(l),
            };
            self.pos += 1;
            let r = self.add()?;
            l = Expr::Binary(op, Box::new(l), Box::new(r));
        }
    }

    fn add(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat("+") {
                Op::Add
            } else if self.eat("-") {
                Op::Sub
            } else {
                return Ok(l);
            };
            let r = self.unary()?;
            l = Expr::Binary(op, Box::new(l), Box::new(r));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.member()
    }

    fn args(&mut self) -> Result<Vec<Expr>, String> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn member(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return Err("expected a name after '.'".into());
                };
                self.pos += 1;
                if self.eat("(") {
                    let kind = match name.as_str() {
                        "all" => Some(MacroKind::All),
                        "exists" => Some(MacroKind::Exists),
                        "exists_one" => Some(MacroKind::ExistsOne),
                        "filter" => Some(MacroKind::Filter),
                        _ => None,
                    };
                    let mut args = self.args()?;
                    e = match kind {
                        Some(k) => {
                            if args.len() != 2 {
                                return Err(format!("{name}() takes a variable and a predicate"));
                            }
                            let body = args.pop().unwrap_or(Expr::Lit(Val::Null));
                            let Some(Expr::Ident(var)) = args.pop() else {
                                return Err(format!("{name}() needs a variable name"));
                            };
                            Expr::Macro(Box::new(e), k, var, Box::new(body))
                        }
                        None => Expr::Method(Box::new(e), name, args),
                    };
                } else {
                    e = Expr::Select(Box::new(e), unescape_field(&name));
                }
            } else if self.eat("[") {
                let i = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(i));
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(t) = self.peek().cloned() else {
            return Err("unexpected end of expression".into());
        };
        self.pos += 1;
        match t {
            Tok::Int(n) => Ok(Expr::Lit(Val::Int(n))),
            Tok::Str(s) => Ok(Expr::Lit(Val::Str(s))),
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Expr::Lit(Val::Bool(true))),
                "false" => Ok(Expr::Lit(Val::Bool(false))),
                "null" => Ok(Expr::Lit(Val::Null)),
                _ if self.eat("(") => {
                    let mut args = self.args()?;
                    if name == "has" {
                        match (args.len(), args.pop()) {
                            (1, Some(Expr::Select(base, field))) => Ok(Expr::Has(base, field)),
                            _ => Err("has() takes one field selection".into()),
                        }
                    } else {
                        Ok(Expr::Call(name, args))
                    }
                }
                _ => Ok(Expr::Ident(name)),
            },
            Tok::Sym(s) => Err(format!("unexpected {s:?}")),
        }
    }
}

/// CEL's escaping of field names that are reserved words: `__namespace__` is `namespace`.
fn unescape_field(name: &str) -> String {
    match name.strip_prefix("__").and_then(|n| n.strip_suffix("__")) {
        Some(inner) if !inner.is_empty() && !inner.contains("__") => inner.to_owned(),
        _ => name.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation

/// Variables in scope: `self` and the macros' bound variables.
#[derive(Debug)]
pub(crate) struct Env<'a> {
    vars: Vec<(&'a str, Val)>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(self_value: Val) -> Self {
        Env {
            vars: vec![("self", self_value)],
        }
    }

    fn get(&self, name: &str) -> Option<&Val> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

impl Expr {
    /// Whether the expression mentions `oldSelf` (a transition rule).
    pub(crate) fn is_transition_rule(&self) -> bool {
        match self {
            Expr::Ident(n) => n == "oldSelf",
            Expr::Lit(_) => false,
            Expr::Select(e, _) | Expr::Not(e) | Expr::Neg(e) | Expr::Has(e, _) => {
                e.is_transition_rule()
            }
            Expr::Index(a, b) | Expr::Binary(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.is_transition_rule() || b.is_transition_rule()
            }
            Expr::Macro(a, _, _, b) => a.is_transition_rule() || b.is_transition_rule(),
            Expr::Cond(a, b, c) => {
                a.is_transition_rule() || b.is_transition_rule() || c.is_transition_rule()
            }
            Expr::List(items) | Expr::Call(_, items) => items.iter().any(Expr::is_transition_rule),
            Expr::Method(r, _, items) => {
                r.is_transition_rule() || items.iter().any(Expr::is_transition_rule)
            }
        }
    }

    /// Evaluates the expression.
    pub(crate) fn eval<'e>(&'e self, env: &mut Env<'e>) -> EvalResult {
        match self {
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Ident(n) => env
                .get(n)
                .cloned()
                .ok_or_else(|| format!("undeclared reference to '{n}'")),
            Expr::Select(base, field) => match base.eval(env)? {
                Val::Map(m) => m
                    .get(field)
                    .cloned()
                    .ok_or_else(|| format!("no such key: {field}")),
                other => Err(format!("no field {field} on a {}", other.type_name())),
            },
            Expr::Has(base, field) => match base.eval(env)? {
                Val::Map(m) => Ok(Val::Bool(m.contains_key(field))),
                other => Err(format!("has() on a {}", other.type_name())),
            },
            Expr::Index(base, index) => {
                let b = base.eval(env)?;
                let i = index.eval(env)?;
                match (b, i) {
                    (Val::List(l), Val::Int(i)) => usize::try_from(i)
                        .ok()
                        .and_then(|i| l.get(i).cloned())
                        .ok_or_else(|| format!("index out of range: {i}")),
                    (Val::Map(m), Val::Str(k)) => m
                        .get(&k)
                        .cloned()
                        .ok_or_else(|| format!("no such key: {k}")),
                    (b, i) => Err(format!(
                        "cannot index a {} with a {}",
                        b.type_name(),
                        i.type_name()
                    )),
                }
            }
            Expr::Not(e) => match e.eval(env)? {
                Val::Bool(b) => Ok(Val::Bool(!b)),
                v => Err(format!("! on a {}", v.type_name())),
            },
            Expr::Neg(e) => match e.eval(env)? {
                Val::Int(i) => i.checked_neg().map(Val::Int).ok_or("overflow".into()),
                v => Err(format!("- on a {}", v.type_name())),
            },
            Expr::And(a, b) => {
                let l = a.eval(env).and_then(as_bool);
                if l == Ok(false) {
                    return Ok(Val::Bool(false));
                }
                let r = b.eval(env).and_then(as_bool);
                match (l, r) {
                    (_, Ok(false)) => Ok(Val::Bool(false)),
                    (Ok(true), Ok(true)) => Ok(Val::Bool(true)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                    _ => Ok(Val::Bool(false)),
                }
            }
            Expr::Or(a, b) => {
                let l = a.eval(env).and_then(as_bool);
                if l == Ok(true) {
                    return Ok(Val::Bool(true));
                }
                let r = b.eval(env).and_then(as_bool);
                match (l, r) {
                    (_, Ok(true)) => Ok(Val::Bool(true)),
                    (Ok(false), Ok(false)) => Ok(Val::Bool(false)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                    _ => Ok(Val::Bool(false)),
                }
            }
            Expr::Cond(c, a, b) => {
                if as_bool(c.eval(env)?)? {
                    a.eval(env)
                } else {
                    b.eval(env)
                }
            }
            Expr::List(items) => Ok(Val::List(
                items
                    .iter()
                    .map(|e| e.eval(env))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Binary(op, a, b) => binary(*op, a.eval(env)?, b.eval(env)?),
            Expr::Call(name, args) => {
                let vals: Vec<Val> = args.iter().map(|e| e.eval(env)).collect::<Result<_, _>>()?;
                match (name.as_str(), vals.as_slice()) {
                    ("size", [v]) => size(v),
                    ("duration", [Val::Str(s)]) => parse_go_duration(s).map(Val::Duration),
                    ("int", [Val::Int(i)]) => Ok(Val::Int(*i)),
                    ("string", [Val::Str(s)]) => Ok(Val::Str(s.clone())),
                    _ => Err(format!("unsupported function {name}/{}", vals.len())),
                }
            }
            Expr::Method(recv, name, args) => {
                let r = recv.eval(env)?;
                let vals: Vec<Val> = args.iter().map(|e| e.eval(env)).collect::<Result<_, _>>()?;
                method(&r, name, &vals)
            }
            Expr::Macro(recv, kind, var, body) => {
                let items: Vec<Val> = match recv.eval(env)? {
                    Val::List(l) => l,
                    Val::Map(m) => m.into_keys().map(Val::Str).collect(),
                    v => return Err(format!("{kind:?} on a {}", v.type_name())),
                };
                let mut count = 0usize;
                let mut kept = Vec::new();
                let mut error = None;
                for item in items {
                    env.vars.push((var.as_str(), item.clone()));
                    let r = body.eval(env).and_then(as_bool);
                    env.vars.pop();
                    match (kind, r) {
                        (MacroKind::All, Ok(false)) => return Ok(Val::Bool(false)),
                        (MacroKind::Exists, Ok(true)) => return Ok(Val::Bool(true)),
                        (MacroKind::ExistsOne | MacroKind::Filter, Ok(true)) => {
                            count += 1;
                            kept.push(item);
                        }
                        (MacroKind::ExistsOne | MacroKind::Filter, Err(e)) => return Err(e),
                        (_, Err(e)) => error = Some(e),
                        _ => {}
                    }
                }
                if let Some(e) = error {
                    return Err(e);
                }
                Ok(match kind {
                    MacroKind::All => Val::Bool(true),
                    MacroKind::Exists => Val::Bool(false),
                    MacroKind::ExistsOne => Val::Bool(count == 1),
                    MacroKind::Filter => Val::List(kept),
                })
            }
        }
    }
}

fn as_bool(v: Val) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(b),
        v => Err(format!("expected a bool, got a {}", v.type_name())),
    }
}

fn size(v: &Val) -> EvalResult {
    let n = match v {
        Val::Str(s) => s.chars().count(),
        Val::List(l) => l.len(),
        Val::Map(m) => m.len(),
        v => return Err(format!("size() of a {}", v.type_name())),
    };
    Ok(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn method(recv: &Val, name: &str, args: &[Val]) -> EvalResult {
    match (recv, name, args) {
        (v, "size", []) => size(v),
        (Val::Str(s), "startsWith", [Val::Str(p)]) => Ok(Val::Bool(s.starts_with(p.as_str()))),
        (Val::Str(s), "endsWith", [Val::Str(p)]) => Ok(Val::Bool(s.ends_with(p.as_str()))),
        (Val::Str(s), "contains", [Val::Str(p)]) => Ok(Val::Bool(s.contains(p.as_str()))),
        (Val::Str(s), "matches", [Val::Str(re)]) => {
            let re = regex::RegexBuilder::new(re)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("invalid regex: {e}"))?;
            Ok(Val::Bool(re.is_match(s)))
        }
        (Val::Str(s), "split", [Val::Str(sep)]) => Ok(Val::List(
            s.split(sep.as_str())
                .map(|p| Val::Str(p.to_owned()))
                .collect(),
        )),
        (r, m, a) => Err(format!(
            "unsupported method {}.{m}/{}",
            r.type_name(),
            a.len()
        )),
    }
}

fn binary(op: Op, a: Val, b: Val) -> EvalResult {
    match op {
        Op::Eq => Ok(Val::Bool(equal(&a, &b))),
        Op::Ne => Ok(Val::Bool(!equal(&a, &b))),
        Op::In => match b {
            Val::List(l) => Ok(Val::Bool(l.iter().any(|x| equal(x, &a)))),
            Val::Map(m) => match a {
                Val::Str(k) => Ok(Val::Bool(m.contains_key(&k))),
                _ => Ok(Val::Bool(false)),
            },
            v => Err(format!("'in' on a {}", v.type_name())),
        },
        Op::Add => match (a, b) {
            (Val::Int(x), Val::Int(y)) => x.checked_add(y).map(Val::Int).ok_or("overflow".into()),
            (Val::Str(x), Val::Str(y)) => Ok(Val::Str(x + &y)),
            (Val::List(mut x), Val::List(y)) => {
                x.extend(y);
                Ok(Val::List(x))
            }
            (x, y) => Err(format!("{} + {}", x.type_name(), y.type_name())),
        },
        Op::Sub => match (a, b) {
            (Val::Int(x), Val::Int(y)) => x.checked_sub(y).map(Val::Int).ok_or("overflow".into()),
            (x, y) => Err(format!("{} - {}", x.type_name(), y.type_name())),
        },
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (&a, &b) {
                (Val::Int(x), Val::Int(y)) => x.cmp(y),
                (Val::Str(x), Val::Str(y)) => x.cmp(y),
                (Val::Duration(x), Val::Duration(y)) => x.cmp(y),
                (Val::Double(x), Val::Double(y)) => x.partial_cmp(y).ok_or("NaN comparison")?,
                _ => {
                    return Err(format!(
                        "cannot compare a {} with a {}",
                        a.type_name(),
                        b.type_name()
                    ));
                }
            };
            Ok(Val::Bool(match op {
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Int(x), Val::Double(y)) | (Val::Double(y), Val::Int(x)) => (*x as f64) == *y,
        _ => a == b,
    }
}

/// Go's `time.ParseDuration` (CEL's `duration()`): a sequence of decimal numbers with units
/// `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, optionally signed; `0` alone is zero.
fn parse_go_duration(s: &str) -> Result<i128, String> {
    let err = || format!("invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += n * unit;
        rest = &rest[unit_end..];
    }
    let nanos = total as i128;
    Ok(if neg { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(rule: &str, json: &str) -> Result<bool, String> {
        let e = Expr::parse(rule)?;
        let v = Val::from_json(&serde_json::from_str(json).map_err(|e| e.to_string())?);
        let mut env = Env::new(v);
        as_bool(e.eval(&mut env)?)
    }

    /// The constructs of the Gateway API rules evaluate as CEL defines them.
    #[test]
    fn cel_constructs() {
        assert_eq!(eval("self.a == 1 && has(self.a)", r#"{"a":1}"#), Ok(true));
        assert_eq!(eval("!has(self.b) || self.b > 2", r#"{"a":1}"#), Ok(true));
        assert_eq!(eval("self.all(x, x > 0)", "[1,2,3]"), Ok(true));
        assert_eq!(eval("self.exists_one(x, x == 2)", "[1,2,2]"), Ok(false));
        assert_eq!(
            eval("self.filter(x, x > 1).size() == 2", "[1,2,3]"),
            Ok(true)
        );
        assert_eq!(
            eval("'*' in self && self.size() > 1", r#"["*","a"]"#),
            Ok(true)
        );
        assert_eq!(eval(r#"self.matches(r"""^a+$""")"#, r#""aaa""#), Ok(true));
        assert_eq!(
            eval(
                r#"self.all(k, k.split("/")[0].size() < 3)"#,
                r#"{"ab/c":"x"}"#
            ),
            Ok(true)
        );
        assert_eq!(
            eval(
                "duration(self.a) > duration(self.b)",
                r#"{"a":"1m","b":"59s"}"#
            ),
            Ok(true)
        );
        assert_eq!(
            eval("self.__namespace__ == 'x'", r#"{"namespace":"x"}"#),
            Ok(true)
        );
        assert_eq!(
            eval("(self.size() > 1 ? self[1] : 0) + 1 <= 3", "[5,2]"),
            Ok(true)
        );
        // An error on one side of || is absorbed when the other side is true.
        assert_eq!(eval("self.missing == 1 || true", "{}"), Ok(true));
        assert!(eval("self.missing == 1", "{}").is_err());
        assert!(Expr::parse("self.x ==").is_err());
    }

    /// Transition rules are recognized, so that they are skipped offline.
    #[test]
    fn transition_rules_are_recognized() {
        assert!(Expr::parse("self == oldSelf").unwrap().is_transition_rule());
        assert!(!Expr::parse("self == 'a'").unwrap().is_transition_rule());
    }
}
