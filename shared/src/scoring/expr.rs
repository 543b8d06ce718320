//! The rule language: a small, safe expression language over lead features.
//!
//! ```text
//! expr     := or
//! or       := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | compare
//! compare  := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand
//!                     | "in" list | "between" operand "and" operand)?
//! operand  := number | string | true | false | field | list | "(" expr ")"
//! list     := "[" (operand ("," operand)*)? "]"
//! ```
//! Fields are dotted names from the feature catalogue (`intent.pricing`, `calls.count`).
//! Expressions are type-checked when a rule is saved: an unknown field or a comparison of a
//! number with a string is rejected with its column. Evaluation cannot loop or fail: a missing
//! value makes a comparison false.

use std::fmt;

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
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|n| n.1.is_ascii_digit()))
        {
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
                ["<", ">", "(", ")", "[", "]", ","]
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
        let left = self.operand()?;
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
            let right = self.operand()?;
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
            let lo = self.operand()?;
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
            let hi = self.operand()?;
            return Ok((
                Expr::Between(Box::new(left.0), Box::new(lo.0), Box::new(hi.0)),
                left.1,
            ));
        }
        Ok(left)
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
                if ["and", "or", "not", "in", "between"]
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
                        let (item, _) = self.operand()?;
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
            Expr::Not(x) => walk(x, out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
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
    }

    #[test]
    fn fields_are_listed_once_in_order() {
        let e = parse("calls.count >= 2 and (intent.pricing or calls.count > 5)").unwrap();
        assert_eq!(fields(&e), ["calls.count", "intent.pricing"]);
    }
}
