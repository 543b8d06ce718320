//! The rule language: a small, safe expression language over lead features.
//!
//! ```text
//! expr     := or
//! or       := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | compare
//! compare  := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum
//!                 | "in" list | "between" sum "and" sum | "matches" string)?
//! sum      := product (("+" | "-") product)*
//! product  := negate (("*" | "/") negate)*
//! negate   := "-" negate | operand
//! operand  := number | string | true | false | field | list | "(" expr ")"
//! list     := "[" (operand ("," operand)*)? "]"
//! ```
//! Fields are dotted names from the feature catalogue (`intent.pricing`, `calls.count`).
//! Expressions are type-checked when a rule is saved: an unknown field, a comparison of a
//! number with a string, a division by a constant zero or a pattern that does not compile (or
//! would compile to more than [`MAX_PATTERN_BYTES`]) is rejected with its column and reason.
//! Evaluation cannot loop or fail: a missing value, or a division by a field that is zero,
//! has no value, and a comparison with no value is false. Patterns run on the `regex` crate,
//! whose matching time is linear in the text, so no pattern can stall a score.

use std::fmt;

use regex::{Regex, RegexBuilder};

use super::features::{FieldType, Value, field_type, suggest};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// A compiled `matches` pattern (case-insensitive, like every string comparison here).
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Field(&'static str),
    Num(f64),
    Str(String),
    Bool(bool),
    List(Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Matches(Box<Expr>, Pattern),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "{n}"),
            Tok::Str(s) => write!(f, "\"{s}\""),
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Op(s) => write!(f, "`{s}`"),
        }
    }
}

const MAX_LEN: usize = 1000;
const MAX_DEPTH: usize = 32;
/// The most memory one compiled `matches` pattern may take (the `regex` crate's size limit).
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;
/// The longest `matches` pattern, in characters.
const MAX_PATTERN_LEN: usize = 200;

fn err(col: usize, msg: impl fmt::Display) -> Error {
    Error::validation(format!("criteria: at column {col}: {msg}"))
}

/// Tokens with their 1-based columns.
fn lex(src: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let col = |i: usize| {
        src[..chars.get(i).map_or(src.len(), |c| c.0)]
            .chars()
            .count()
            + 1
    };
    while i < chars.len() {
        let c = chars[i].1;
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            i += 1;
            while i < chars.len() && (chars[i].1.is_ascii_digit() || chars[i].1 == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().map(|c| c.1).collect();
            let n = text
                .parse::<f64>()
                .map_err(|_| err(col(start), format!("`{text}` is not a number")))?;
            out.push((Tok::Num(n), col(start)));
        } else if c == '"' || c == '\'' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(err(col(start), "this string is never closed")),
                    Some((_, q)) if *q == c => break,
                    Some((_, '\\')) if chars.get(i + 1).is_some() => {
                        s.push(chars[i + 1].1);
                        i += 2;
                        continue;
                    }
                    Some((_, ch)) => s.push(*ch),
                }
                i += 1;
            }
            i += 1;
            out.push((Tok::Str(s), col(start)));
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].1.is_alphanumeric() || matches!(chars[i].1, '_' | '.'))
            {
                i += 1;
            }
            out.push((
                Tok::Ident(chars[start..i].iter().map(|c| c.1).collect()),
                col(start),
            ));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())]
                .iter()
                .map(|c| c.1)
                .collect();
            let op = ["==", "!=", "<=", ">="].into_iter().find(|o| *o == two);
            let op = op.or_else(|| {
                ["<", ">", "(", ")", "[", "]", ",", "+", "-", "*", "/"]
                    .into_iter()
                    .find(|o| o.starts_with(c))
            });
            match op {
                Some(o) => {
                    i += o.len();
                    out.push((Tok::Op(o), col(start)));
                }
                None if c == '=' => return Err(err(col(start), "use `==` to compare")),
                None => return Err(err(col(start), format!("unexpected character `{c}`"))),
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end_col: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |t| t.1)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(w))
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(s)) if *s == o)
    }
    fn expect_op(&mut self, o: &str) -> Result<()> {
        if self.is_op(o) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(
                self.col(),
                format!("expected `{o}`, found {}", self.found()),
            ))
        }
    }
    fn found(&self) -> String {
        self.peek()
            .map_or("the end of the criteria".to_owned(), ToString::to_string)
    }

    fn expr(&mut self) -> Result<(Expr, usize)> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(self.col(), "the expression is nested too deeply"));
        }
        let mut left = self.and()?;
        while self.is_word("or") {
            self.pos += 1;
            let right = self.and()?;
            left = (Expr::Or(Box::new(left.0), Box::new(right.0)), left.1);
        }
        self.depth -= 1;
        Ok(left)
    }
    fn and(&mut self) -> Result<(Expr, usize)> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = (Expr::And(Box::new(left.0), Box::new(right.0)), left.1);
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<(Expr, usize)> {
        if self.is_word("not") {
            let col = self.col();
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(err(col, "the expression is nested too deeply"));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok((Expr::Not(Box::new(inner.0)), col));
        }
        self.compare()
    }
    fn compare(&mut self) -> Result<(Expr, usize)> {
        let left = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => Some(CmpOp::Eq),
            Some(Tok::Op("!=")) => Some(CmpOp::Ne),
            Some(Tok::Op("<")) => Some(CmpOp::Lt),
            Some(Tok::Op("<=")) => Some(CmpOp::Le),
            Some(Tok::Op(">")) => Some(CmpOp::Gt),
            Some(Tok::Op(">=")) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let right = self.sum()?;
            return Ok((Expr::Cmp(op, Box::new(left.0), Box::new(right.0)), left.1));
        }
        if self.is_word("in") {
            self.pos += 1;
            let col = self.col();
            return match self.operand()? {
                (Expr::List(items), _) => Ok((Expr::In(Box::new(left.0), items), left.1)),
                _ => Err(err(col, "`in` takes a list, e.g. [\"CA\", \"TX\"]")),
            };
        }
        if self.is_word("between") {
            self.pos += 1;
            let lo = self.sum()?;
            if !self.is_word("and") {
                return Err(err(
                    self.col(),
                    format!(
                        "expected `and` in `between .. and ..`, found {}",
                        self.found()
                    ),
                ));
            }
            self.pos += 1;
            let hi = self.sum()?;
            return Ok((
                Expr::Between(Box::new(left.0), Box::new(lo.0), Box::new(hi.0)),
                left.1,
            ));
        }
        if self.is_word("matches") {
            self.pos += 1;
            let col = self.col();
            let Some(Tok::Str(src)) = self.peek().cloned() else {
                return Err(err(
                    col,
                    format!(
                        "`matches` takes a pattern in quotes, e.g. \"^(web|ads)\", found {}",
                        self.found()
                    ),
                ));
            };
            self.pos += 1;
            return Ok((Expr::Matches(Box::new(left.0), compile(&src, col)?), left.1));
        }
        Ok(left)
    }
    fn sum(&mut self) -> Result<(Expr, usize)> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("+")) => ArithOp::Add,
                Some(Tok::Op("-")) => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.product()?;
            left = (arith(op, left.0, right.0), left.1);
        }
    }
    fn product(&mut self) -> Result<(Expr, usize)> {
        let mut left = self.negate()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("*")) => ArithOp::Mul,
                Some(Tok::Op("/")) => ArithOp::Div,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.negate()?;
            if op == ArithOp::Div && right.0 == Expr::Num(0.0) {
                return Err(err(right.1, "division by zero"));
            }
            left = (arith(op, left.0, right.0), left.1);
        }
    }
    fn negate(&mut self) -> Result<(Expr, usize)> {
        if !self.is_op("-") {
            return self.operand();
        }
        let col = self.col();
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(col, "the expression is nested too deeply"));
        }
        let inner = self.negate()?;
        self.depth -= 1;
        Ok((
            match inner.0 {
                Expr::Num(n) => Expr::Num(-n),
                e => Expr::Neg(Box::new(e)),
            },
            col,
        ))
    }
    fn operand(&mut self) -> Result<(Expr, usize)> {
        let col = self.col();
        let Some((tok, _)) = self.toks.get(self.pos).cloned() else {
            return Err(err(
                col,
                "the criteria end too soon: expected a value or a field",
            ));
        };
        self.pos += 1;
        let e = match tok {
            Tok::Num(n) => Expr::Num(n),
            Tok::Str(s) => Expr::Str(s),
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Expr::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Expr::Bool(false),
            Tok::Ident(w)
                if ["and", "or", "not", "in", "between", "matches"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                return Err(err(
                    col,
                    format!("expected a value or a field, found `{w}`"),
                ));
            }
            Tok::Ident(w) => match field_type(&w) {
                Some((name, _)) => Expr::Field(name),
                None => {
                    let hint = suggest(&w)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(err(col, format!("unknown field `{w}`{hint}")));
                }
            },
            Tok::Op("(") => {
                let inner = self.expr()?;
                self.expect_op(")")?;
                inner.0
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.is_op("]") {
                    loop {
                        let item_col = self.col();
                        let (item, _) = self.negate()?;
                        if !matches!(item, Expr::Num(_) | Expr::Str(_)) {
                            return Err(err(item_col, "list items are numbers or strings"));
                        }
                        items.push(item);
                        if self.is_op(",") {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                }
                self.expect_op("]")?;
                Expr::List(items)
            }
            other => {
                return Err(err(
                    col,
                    format!("expected a value or a field, found {other}"),
                ));
            }
        };
        Ok((e, col))
    }
}

/// `a op b`, folded to a number when both sides are numbers (so that `2 - 2` is a constant
/// zero a division can be refused for).
fn arith(op: ArithOp, a: Expr, b: Expr) -> Expr {
    if let (Expr::Num(x), Expr::Num(y)) = (&a, &b)
        && let Some(v) = apply(op, *x, *y)
    {
        return Expr::Num(v);
    }
    Expr::Arith(op, Box::new(a), Box::new(b))
}

/// The arithmetic itself; no value for a division by zero or a result that is not finite.
fn apply(op: ArithOp, x: f64, y: f64) -> Option<f64> {
    let v = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div if y == 0.0 => return None,
        ArithOp::Div => x / y,
    };
    v.is_finite().then_some(v)
}

fn compile(src: &str, col: usize) -> Result<Pattern> {
    if src.chars().count() > MAX_PATTERN_LEN {
        return Err(err(
            col,
            format!("the pattern is longer than {MAX_PATTERN_LEN} characters"),
        ));
    }
    RegexBuilder::new(src)
        .case_insensitive(true)
        .size_limit(MAX_PATTERN_BYTES)
        .dfa_size_limit(MAX_PATTERN_BYTES)
        .nest_limit(MAX_DEPTH as u32)
        .build()
        .map(Pattern)
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => err(
                col,
                format!(
                    "the pattern is too large: it compiles to more than {} KiB; \
                     use fewer repetitions or alternatives",
                    MAX_PATTERN_BYTES / 1024
                ),
            ),
            other => err(
                col,
                format!(
                    "the pattern does not compile: {}",
                    other.to_string().lines().last().unwrap_or_default().trim()
                ),
            ),
        })
}

/// Parse and type-check criteria. The result is a boolean expression.
pub fn parse(src: &str) -> Result<Expr> {
    if src.trim().is_empty() {
        return Err(Error::validation(
            "criteria: empty; write a condition such as `intent.pricing`",
        ));
    }
    if src.len() > MAX_LEN {
        return Err(Error::validation(format!(
            "criteria: longer than {MAX_LEN} characters"
        )));
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end_col: src.chars().count() + 1,
        depth: 0,
    };
    let (e, col) = p.expr()?;
    if p.pos < p.toks.len() {
        return Err(err(
            p.col(),
            format!("expected `and`, `or` or the end, found {}", p.found()),
        ));
    }
    match type_of(&e)? {
        FieldType::Bool => Ok(e),
        t => Err(err(
            col,
            format!(
                "the criteria must be true or false, but this is a {}",
                t.name()
            ),
        )),
    }
}

fn type_of(e: &Expr) -> Result<FieldType> {
    let mismatch = |what: &str, a: FieldType, b: FieldType| {
        Error::validation(format!(
            "criteria: {what} compares a {} with a {}",
            a.name(),
            b.name()
        ))
    };
    Ok(match e {
        Expr::Field(f) => field_type(f).expect("fields are checked when parsed").1,
        Expr::Num(_) => FieldType::Num,
        Expr::Str(_) => FieldType::Str,
        Expr::Bool(_) => FieldType::Bool,
        Expr::List(_) => FieldType::List,
        Expr::Not(x) => {
            require_bool(x, "`not`")?;
            FieldType::Bool
        }
        Expr::And(a, b) | Expr::Or(a, b) => {
            require_bool(a, "`and`/`or`")?;
            require_bool(b, "`and`/`or`")?;
            FieldType::Bool
        }
        Expr::Cmp(op, a, b) => {
            let (ta, tb) = (type_of(a)?, type_of(b)?);
            if ta != tb {
                return Err(mismatch(&format!("`{}`", describe(a)), ta, tb));
            }
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) && ta != FieldType::Num {
                return Err(Error::validation(format!(
                    "criteria: `<`, `<=`, `>` and `>=` compare numbers, and `{}` is a {}",
                    describe(a),
                    ta.name()
                )));
            }
            FieldType::Bool
        }
        Expr::In(x, items) => {
            let t = type_of(x)?;
            for item in items {
                let ti = type_of(item)?;
                if ti != t {
                    return Err(mismatch(&format!("`{} in [..]`", describe(x)), t, ti));
                }
            }
            FieldType::Bool
        }
        Expr::Arith(_, a, b) => {
            for part in [a, b] {
                if type_of(part)? != FieldType::Num {
                    return Err(Error::validation(format!(
                        "criteria: arithmetic takes numbers, and `{}` is not one",
                        describe(part)
                    )));
                }
            }
            FieldType::Num
        }
        Expr::Neg(x) => {
            if type_of(x)? != FieldType::Num {
                return Err(Error::validation(format!(
                    "criteria: `-` takes a number, and `{}` is not one",
                    describe(x)
                )));
            }
            FieldType::Num
        }
        Expr::Matches(x, _) => {
            if type_of(x)? != FieldType::Str {
                return Err(Error::validation(format!(
                    "criteria: `matches` tests text, and `{}` is not text",
                    describe(x)
                )));
            }
            FieldType::Bool
        }
        Expr::Between(x, lo, hi) => {
            for part in [x, lo, hi] {
                if type_of(part)? != FieldType::Num {
                    return Err(Error::validation(format!(
                        "criteria: `between` takes numbers, and `{}` is not one",
                        describe(part)
                    )));
                }
            }
            FieldType::Bool
        }
    })
}

fn require_bool(e: &Expr, ctx: &str) -> Result<()> {
    match type_of(e)? {
        FieldType::Bool => Ok(()),
        t => Err(Error::validation(format!(
            "criteria: {ctx} needs a true/false condition, but `{}` is a {}",
            describe(e),
            t.name()
        ))),
    }
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Field(f) => (*f).to_owned(),
        Expr::Num(n) => n.to_string(),
        Expr::Str(s) => format!("\"{s}\""),
        Expr::Bool(b) => b.to_string(),
        _ => "this part".to_owned(),
    }
}

/// The fields an expression reads, in order of appearance.
pub fn fields(e: &Expr) -> Vec<&'static str> {
    fn walk(e: &Expr, out: &mut Vec<&'static str>) {
        match e {
            Expr::Field(f) if !out.contains(f) => out.push(f),
            Expr::Not(x) | Expr::Neg(x) | Expr::Matches(x, _) => walk(x, out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::Arith(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::In(x, _) => walk(x, out),
            Expr::Between(x, a, b) => {
                walk(x, out);
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(e, &mut out);
    out
}

/// Evaluate against feature values. A comparison with a missing value is false.
pub fn eval(e: &Expr, get: &dyn Fn(&str) -> Option<Value>) -> bool {
    truthy(&value(e, get))
}

fn truthy(v: &Option<Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

fn value(e: &Expr, get: &dyn Fn(&str) -> Option<Value>) -> Option<Value> {
    Some(match e {
        Expr::Field(f) => return get(f),
        Expr::Num(n) => Value::Num(*n),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Bool(b) => Value::Bool(*b),
        Expr::List(_) => return None,
        Expr::Not(x) => Value::Bool(!truthy(&value(x, get))),
        Expr::And(a, b) => Value::Bool(truthy(&value(a, get)) && truthy(&value(b, get))),
        Expr::Or(a, b) => Value::Bool(truthy(&value(a, get)) || truthy(&value(b, get))),
        Expr::Cmp(op, a, b) => {
            let (a, b) = (value(a, get)?, value(b, get)?);
            let ord = match (&a, &b) {
                (Value::Num(x), Value::Num(y)) => x.partial_cmp(y)?,
                (Value::Str(x), Value::Str(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
                (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                _ => return None,
            };
            use std::cmp::Ordering::*;
            Value::Bool(match op {
                CmpOp::Eq => ord == Equal,
                CmpOp::Ne => ord != Equal,
                CmpOp::Lt => ord == Less,
                CmpOp::Le => ord != Greater,
                CmpOp::Gt => ord == Greater,
                CmpOp::Ge => ord != Less,
            })
        }
        Expr::In(x, items) => {
            let v = value(x, get)?;
            Value::Bool(items.iter().any(|i| match (&v, i) {
                (Value::Num(a), Expr::Num(b)) => a == b,
                (Value::Str(a), Expr::Str(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }))
        }
        Expr::Arith(op, a, b) => match (value(a, get)?, value(b, get)?) {
            (Value::Num(x), Value::Num(y)) => Value::Num(apply(*op, x, y)?),
            _ => return None,
        },
        Expr::Neg(x) => match value(x, get)? {
            Value::Num(n) => Value::Num(-n),
            _ => return None,
        },
        Expr::Matches(x, pattern) => match value(x, get)? {
            Value::Str(s) => Value::Bool(pattern.0.is_match(&s)),
            _ => return None,
        },
        Expr::Between(x, lo, hi) => match (value(x, get)?, value(lo, get)?, value(hi, get)?) {
            (Value::Num(v), Value::Num(l), Value::Num(h)) => Value::Bool(l <= v && v <= h),
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(f: &str) -> Option<Value> {
        match f {
            "intent.pricing" => Some(Value::Bool(true)),
            "intent.meeting" => Some(Value::Bool(false)),
            "sentiment.customer" => Some(Value::Num(0.5)),
            "calls.count" => Some(Value::Num(3.0)),
            "calls.inbound" => Some(Value::Num(0.0)),
            "caller.country" => Some(Value::Str("US".into())),
            _ => None,
        }
    }

    fn holds(src: &str) -> bool {
        eval(&parse(src).unwrap_or_else(|e| panic!("{src}: {e}")), &get)
    }

    #[test]
    fn every_operator_evaluates() {
        assert!(holds("intent.pricing"));
        assert!(!holds("intent.meeting"));
        assert!(holds("not intent.meeting"));
        assert!(holds("intent.pricing and sentiment.customer >= 0.3"));
        assert!(!holds("intent.pricing and sentiment.customer > 0.5"));
        assert!(holds("intent.meeting or calls.count == 3"));
        assert!(holds(
            "calls.count != 2 and calls.count < 4 and calls.count <= 3 and calls.count > -1"
        ));
        assert!(holds("caller.country in [\"CA\", \"us\"]"));
        assert!(!holds("caller.country in ['GB']"));
        assert!(holds("calls.count between 2 and 3"));
        assert!(holds(
            "(intent.meeting or intent.pricing) and not (calls.count < 2)"
        ));
        assert!(holds("caller.country == 'us'"));
        assert!(holds("calls.count + 1 >= 4 and calls.count - 4 == -1"));
        assert!(holds(
            "1 + 2 * 3 == 7 and (1 + 2) * 3 == 9 and 7 - 2 - 1 == 4"
        ));
        assert!(holds("calls.count / 2 == 1.5 and calls.count * -2 < -5"));
        assert!(holds("-sentiment.customer == -0.5 and - -calls.count == 3"));
        assert!(holds("calls.count between 1 + 1 and 2 * 2"));
        assert!(holds("calls.count in [-1, 3]"));
        assert!(holds("caller.country matches \"^u\""));
        assert!(holds(
            "caller.country matches 'S$' and not caller.country matches '^(ca|mx)$'"
        ));
    }

    #[test]
    fn a_division_by_a_field_that_is_zero_has_no_value() {
        // calls.inbound is 0 in `get`: no value, so neither comparison holds
        assert!(!holds("calls.count / calls.inbound > 1"));
        assert!(!holds("calls.count / calls.inbound <= 1"));
        assert!(holds("not calls.count / calls.inbound > 1"));
        assert!(!holds("lead.source matches '.*'"));
    }

    #[test]
    fn missing_values_make_comparisons_false() {
        // lead.source has no value in `get`
        assert!(!holds("lead.source == \"web\""));
        assert!(!holds("lead.source != \"web\""));
        assert!(holds("not lead.source == \"web\""));
    }

    #[test]
    fn errors_name_the_column_and_the_reason() {
        let e = |src: &str| parse(src).unwrap_err().to_string();
        assert_eq!(
            e("intent.pricng"),
            "criteria: at column 1: unknown field `intent.pricng` (did you mean `intent.pricing`?)"
        );
        assert!(
            e("calls.count >= ").contains("column 16"),
            "{}",
            e("calls.count >= ")
        );
        assert!(e("calls.count = 2").contains("column 13: use `==`"));
        assert!(e("intent.pricing and").contains("end too soon"));
        assert!(e("(intent.pricing").contains("expected `)`"));
        assert!(e("calls.count").contains("must be true or false"));
        assert!(e("calls.count >= \"two\"").contains("compares a number with a string"));
        assert!(e("caller.country > 3").contains("compares a string with a number"));
        assert!(e("calls.count in 3").contains("takes a list"));
        assert!(e("calls.count between 1 or 2").contains("expected `and`"));
        assert!(e("'open").contains("never closed"));
        assert!(e("").contains("empty"));
        assert!(e(&"not ".repeat(100)).contains("nested too deeply"));
        assert!(e(&"(".repeat(100)).contains("nested too deeply"));
        assert!(e("intent.pricing intent.meeting").contains("expected `and`, `or` or the end"));
        assert_eq!(
            e("calls.count / 0 > 1"),
            "criteria: at column 15: division by zero"
        );
        assert!(e("calls.count / (2 - 2) > 1").contains("column 15: division by zero"));
        assert!(e("intent.pricing + 1 > 2").contains("arithmetic takes numbers"));
        assert!(e("-caller.country == 'x'").contains("`-` takes a number"));
        assert!(e("caller.country matches 3").contains("column 24: `matches` takes a pattern"));
        assert!(e("calls.count matches 'x'").contains("`matches` tests text"));
        assert!(
            e("caller.country matches '(ab'").contains("column 24: the pattern does not compile")
        );
        let huge = e("caller.country matches '\\w{100}{100}'");
        assert!(
            huge.contains("column 24: the pattern is too large"),
            "{huge}"
        );
        assert!(
            e(&format!("caller.country matches '{}'", "a".repeat(201))).contains("longer than 200")
        );
        assert!(e(&"-".repeat(100)).contains("nested too deeply"));
    }

    #[test]
    fn fields_are_listed_once_in_order() {
        let e = parse("calls.count >= 2 and (intent.pricing or calls.count > 5)").unwrap();
        assert_eq!(fields(&e), ["calls.count", "intent.pricing"]);
    }
}
