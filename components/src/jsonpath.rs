//! JSONPath (RFC 9535) queries: our own small parser and evaluator, bounded
//! for user-supplied paths (`limits.rs`). A path is refused before parsing
//! when it is longer than [`MAX_JSONPATH_LEN`] or nests `[`/`(` deeper than
//! [`MAX_JSONPATH_DEPTH`] (so the recursive-descent parser and the
//! evaluator's recursion over the path are bounded); evaluation spends fuel
//! on every node visited, expression evaluated and value copied, and stops
//! with an error when the budget is gone. Documents are walked with an
//! explicit stack, never by recursion.
//!
//! Supported: `$`, `@`, `.name`, `['name']`/`["name"]`, `*`, `[n]`,
//! `[start:end:step]`, `..`, `[?filter]` with `==`, `!=`, `<`, `<=`, `>`,
//! `>=`, `&&`, `||`, `!`, parentheses, existence tests, and the functions
//! `length`, `count` and `value`. `match` and `search` (regular
//! expressions) are refused.

use std::borrow::Cow;

use serde_json::Value;

use crate::limits::{Fuel, JSONPATH_FUEL, LimitError, MAX_JSONPATH_DEPTH, MAX_JSONPATH_LEN};

/// A compiled query.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    query: Query,
}

#[derive(Debug, Clone, PartialEq)]
struct Query {
    /// `@` (the current node) rather than `$`.
    relative: bool,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    descendant: bool,
    selectors: Vec<Selector>,
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>, i64),
    Filter(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Exists(Query),
    Compare(Comparable, CmpOp, Comparable),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Comparable {
    Literal(Value),
    /// A singular query (names and indexes only).
    Query(Query),
    Function(Function),
}

#[derive(Debug, Clone, PartialEq)]
enum Function {
    /// `length(value)`: of a string (characters), array or object.
    Length(Box<Comparable>),
    /// `count(nodes)`.
    Count(Query),
    /// `value(nodes)`: the only node's value.
    Value(Query),
}

// ---------------------------------------------------------------- parsing

/// Parses a path, refusing it first if it is too long or nests too deeply.
pub fn compile(path: &str) -> Result<JsonPath, String> {
    let shown = || {
        let mut s: String = path.chars().take(80).collect();
        if s.len() < path.len() {
            s.push('…');
        }
        s
    };
    let pre = crate::limits::check_len("JSONPath", path, MAX_JSONPATH_LEN).and_then(|_| {
        crate::limits::check_brackets("JSONPath", path, b"[(", b"])", true, MAX_JSONPATH_DEPTH)
    });
    if let Err(e) = pre {
        return Err(format!("invalid JSONPath {:?}: {e}", shown()));
    }
    let mut p = Parser {
        s: path.trim(),
        i: 0,
        depth: 0,
    };
    let q = p
        .query_root()
        .map_err(|e| format!("invalid JSONPath {:?}: {e} (at {})", shown(), p.i))?;
    Ok(JsonPath { query: q })
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
    /// Nesting of brackets and parentheses: checked against the limit even
    /// though the pre-scan already did, so recursion is bounded here too.
    depth: usize,
}

type PResult<T> = Result<T, String>;

fn is_name_first(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (c as u32) >= 0x80
}

fn is_name_char(c: char) -> bool {
    is_name_first(c) || c.is_ascii_digit()
}

/// Largest integer I-JSON can exchange exactly (RFC 9535 §2.1).
const MAX_SAFE: i64 = (1 << 53) - 1;

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &str) -> PResult<()> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(c) => format!("expected {t:?}, found {c:?}"),
                None => format!("expected {t:?}, found the end"),
            })
        }
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            if matches!(c, ' ' | '\t' | '\n' | '\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_JSONPATH_DEPTH {
            return Err(format!("nests more than {MAX_JSONPATH_DEPTH} levels"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn query_root(&mut self) -> PResult<Query> {
        if !self.eat("$") {
            return Err("a JSONPath starts with \"$\"".into());
        }
        let q = self.segments(false)?;
        if self.i < self.s.len() {
            return Err(format!("unexpected {:?}", self.peek().unwrap_or(' ')));
        }
        Ok(q)
    }

    /// Segments after `$` or `@`. Whitespace may precede a segment, so it
    /// is only consumed when a segment follows.
    fn segments(&mut self, relative: bool) -> PResult<Query> {
        let mut segments = Vec::new();
        loop {
            let save = self.i;
            self.ws();
            if self.eat("..") {
                let selectors = if self.peek() == Some('[') {
                    self.bracketed()?
                } else if self.eat("*") {
                    vec![Selector::Wildcard]
                } else {
                    vec![Selector::Name(self.shorthand()?)]
                };
                segments.push(Segment {
                    descendant: true,
                    selectors,
                });
            } else if self.eat(".") {
                let sel = if self.eat("*") {
                    Selector::Wildcard
                } else {
                    Selector::Name(self.shorthand()?)
                };
                segments.push(Segment {
                    descendant: false,
                    selectors: vec![sel],
                });
            } else if self.peek() == Some('[') {
                segments.push(Segment {
                    descendant: false,
                    selectors: self.bracketed()?,
                });
            } else {
                self.i = save;
                return Ok(Query { relative, segments });
            }
        }
    }

    fn shorthand(&mut self) -> PResult<String> {
        let start = self.i;
        match self.peek() {
            Some(c) if is_name_first(c) => self.i += c.len_utf8(),
            Some(c) => return Err(format!("{c:?} cannot start a member name")),
            None => return Err("a member name is missing".into()),
        }
        while let Some(c) = self.peek() {
            if !is_name_char(c) {
                break;
            }
            self.i += c.len_utf8();
        }
        Ok(self.s[start..self.i].to_string())
    }

    fn bracketed(&mut self) -> PResult<Vec<Selector>> {
        self.expect("[")?;
        self.enter()?;
        let mut out = Vec::new();
        loop {
            self.ws();
            out.push(self.selector()?);
            self.ws();
            if self.eat("]") {
                break;
            }
            self.expect(",")?;
        }
        self.leave();
        Ok(out)
    }

    fn selector(&mut self) -> PResult<Selector> {
        match self.peek() {
            Some('\'' | '"') => Ok(Selector::Name(self.string()?)),
            Some('*') => {
                self.i += 1;
                Ok(Selector::Wildcard)
            }
            Some('?') => {
                self.i += 1;
                self.ws();
                Ok(Selector::Filter(Box::new(self.logical()?)))
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => {
                let start = if c == ':' { None } else { Some(self.int()?) };
                self.ws();
                if !self.eat(":") {
                    return Ok(Selector::Index(start.unwrap_or(0)));
                }
                self.ws();
                let end = self.opt_int()?;
                self.ws();
                let step = if self.eat(":") {
                    self.ws();
                    self.opt_int()?.unwrap_or(1)
                } else {
                    1
                };
                Ok(Selector::Slice(start, end, step))
            }
            Some(c) => Err(format!("{c:?} does not start a selector")),
            None => Err("a selector is missing".into()),
        }
    }

    fn opt_int(&mut self) -> PResult<Option<i64>> {
        match self.peek() {
            Some(c) if c == '-' || c.is_ascii_digit() => Ok(Some(self.int()?)),
            _ => Ok(None),
        }
    }

    fn int(&mut self) -> PResult<i64> {
        let start = self.i;
        self.eat("-");
        let digits = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let text = &self.s[start..self.i];
        let d = &self.s[digits..self.i];
        if d.is_empty() || (d.len() > 1 && d.starts_with('0')) || text == "-0" {
            return Err(format!("{text:?} is not an integer"));
        }
        match text.parse::<i64>() {
            Ok(n) if (-MAX_SAFE..=MAX_SAFE).contains(&n) => Ok(n),
            _ => Err(format!("{text:?} is out of range")),
        }
    }

    fn string(&mut self) -> PResult<String> {
        let q = self.peek().ok_or("a string is missing")?;
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or("a string is not closed")?;
            self.i += c.len_utf8();
            match c {
                c if c == q => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or("a string is not closed")?;
                    self.i += e.len_utf8();
                    match e {
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '/' => out.push('/'),
                        '\\' => out.push('\\'),
                        '\'' | '"' if e == q => out.push(e),
                        'u' => out.push(self.unicode()?),
                        e => return Err(format!("invalid escape \\{e}")),
                    }
                }
                c if (c as u32) < 0x20 => return Err("a control character in a string".into()),
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> PResult<u32> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or("a \\u escape is cut")?;
        let v = u32::from_str_radix(h, 16).map_err(|_| format!("invalid \\u{h}"))?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid \\u{h}"));
        }
        self.i += 4;
        Ok(v)
    }

    fn unicode(&mut self) -> PResult<char> {
        let hi = self.hex4()?;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            if !self.eat("\\u") {
                return Err("a lone surrogate in a \\u escape".into());
            }
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err("a lone surrogate in a \\u escape".into());
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(cp).ok_or_else(|| "a lone surrogate in a \\u escape".into())
    }

    fn logical(&mut self) -> PResult<Expr> {
        self.chain("||", Self::and, Expr::Or)
    }

    fn and(&mut self) -> PResult<Expr> {
        self.chain("&&", Self::basic, Expr::And)
    }

    /// `next (op next)*`: one operand alone, or all of them under `wrap`.
    fn chain(
        &mut self,
        op: &str,
        next: fn(&mut Self) -> PResult<Expr>,
        wrap: fn(Vec<Expr>) -> Expr,
    ) -> PResult<Expr> {
        let mut operands = vec![next(self)?];
        loop {
            let save = self.i;
            self.ws();
            if self.eat(op) {
                self.ws();
                operands.push(next(self)?);
            } else {
                self.i = save;
                break;
            }
        }
        Ok(if operands.len() == 1 {
            operands.pop().expect("one")
        } else {
            wrap(operands)
        })
    }

    fn basic(&mut self) -> PResult<Expr> {
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.i += 1;
            self.ws();
            let inner = if self.peek() == Some('(') {
                self.paren()?
            } else {
                self.test()?
            };
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some('(') {
            return self.paren();
        }
        let left = self.comparable()?;
        let save = self.i;
        self.ws();
        let op = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ]
        .into_iter()
        .find(|(t, _)| self.rest().starts_with(t));
        let Some((t, op)) = op else {
            self.i = save;
            // No comparison: an existence test of a query.
            return match left {
                Comparable::Query(q) => Ok(Expr::Exists(q)),
                Comparable::Literal(_) => Err("a literal alone is not a test".into()),
                Comparable::Function(_) => {
                    Err("length(), count() and value() must be compared".into())
                }
            };
        };
        self.i += t.len();
        self.ws();
        let right = self.comparable()?;
        for side in [&left, &right] {
            if let Comparable::Query(q) = side
                && !q.singular()
            {
                return Err(
                    "a compared query must select one node (names and indexes only)".into(),
                );
            }
        }
        Ok(Expr::Compare(left, op, right))
    }

    fn paren(&mut self) -> PResult<Expr> {
        self.expect("(")?;
        self.enter()?;
        self.ws();
        let e = self.logical()?;
        self.ws();
        self.expect(")")?;
        self.leave();
        Ok(e)
    }

    /// An existence test (a query; functions need a comparison).
    fn test(&mut self) -> PResult<Expr> {
        match self.comparable()? {
            Comparable::Query(q) => Ok(Expr::Exists(q)),
            _ => Err("\"!\" applies to a query or a parenthesised expression".into()),
        }
    }

    fn filter_query(&mut self) -> PResult<Option<Query>> {
        if self.eat("@") {
            Ok(Some(self.segments(true)?))
        } else if self.eat("$") {
            Ok(Some(self.segments(false)?))
        } else {
            Ok(None)
        }
    }

    /// A literal, a query or a function call. Queries are kept whole (not
    /// yet checked for being singular).
    fn comparable(&mut self) -> PResult<Comparable> {
        if let Some(q) = self.filter_query()? {
            return Ok(Comparable::Query(q));
        }
        match self.peek() {
            Some('\'' | '"') => return Ok(Comparable::Literal(Value::String(self.string()?))),
            Some(c) if c == '-' || c.is_ascii_digit() => return self.number(),
            _ => {}
        }
        for (word, v) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if self.rest().starts_with(word)
                && !self.rest()[word.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                self.i += word.len();
                return Ok(Comparable::Literal(v));
            }
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            self.i += 1;
        }
        let name = &self.s[start..self.i];
        if name.is_empty() || self.peek() != Some('(') {
            self.i = start;
            return Err(match self.peek() {
                Some(c) => format!("{c:?} does not start an expression"),
                None => "an expression is missing".into(),
            });
        }
        self.expect("(")?;
        self.enter()?;
        self.ws();
        let f = match name {
            "length" => {
                let arg = self.comparable()?;
                if let Comparable::Query(q) = &arg
                    && !q.singular()
                {
                    return Err("length() takes a value: a query selecting one node".into());
                }
                Function::Length(Box::new(arg))
            }
            "count" | "value" => {
                let q = self
                    .filter_query()?
                    .ok_or_else(|| format!("{name}() takes a query"))?;
                if name == "count" {
                    Function::Count(q)
                } else {
                    Function::Value(q)
                }
            }
            "match" | "search" => {
                return Err(format!(
                    "the function {name}() (regular expressions) is not supported"
                ));
            }
            other => return Err(format!("unknown function {other}()")),
        };
        self.ws();
        self.expect(")")?;
        self.leave();
        Ok(Comparable::Function(f))
    }

    fn number(&mut self) -> PResult<Comparable> {
        let start = self.i;
        self.eat("-");
        let int_start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let int = &self.s[int_start..self.i];
        if int.is_empty() || (int.len() > 1 && int.starts_with('0')) {
            return Err(format!("{:?} is not a number", &self.s[start..self.i]));
        }
        if self.rest().starts_with('.') {
            self.i += 1;
            let f = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            if f == self.i {
                return Err("a number's fraction has no digits".into());
            }
        }
        if self.rest().starts_with(['e', 'E']) {
            self.i += 1;
            if !self.eat("-") {
                self.eat("+");
            }
            let e = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            if e == self.i {
                return Err("a number's exponent has no digits".into());
            }
        }
        let text = &self.s[start..self.i];
        let v: Value = serde_json::from_str(text)
            .ok()
            .filter(Value::is_number)
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .ok_or_else(|| format!("{text:?} is not a number"))?;
        Ok(Comparable::Literal(v))
    }
}

impl Query {
    /// Names and indexes only, one per segment, no descendants.
    fn singular(&self) -> bool {
        self.segments.iter().all(|s| {
            !s.descendant
                && matches!(
                    s.selectors.as_slice(),
                    [Selector::Name(_) | Selector::Index(_)]
                )
        })
    }
}

// ------------------------------------------------------------- evaluating

struct Eval<'a, 'f> {
    root: &'a Value,
    fuel: &'f mut Fuel,
}

type EResult<T> = Result<T, LimitError>;

fn children(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::Array(a) => Box::new(a.iter()),
        Value::Object(o) => Box::new(o.values()),
        _ => Box::new(std::iter::empty()),
    }
}

/// RFC 9535 §2.3.4.2.2: the indexes a slice selects, in order.
fn slice_indexes(len: i64, start: Option<i64>, end: Option<i64>, step: i64) -> Vec<usize> {
    let norm = |i: i64| if i >= 0 { i } else { len + i };
    let mut out = Vec::new();
    if step == 0 {
        return out;
    }
    if step > 0 {
        let lo = norm(start.unwrap_or(0)).clamp(0, len);
        let hi = norm(end.unwrap_or(len)).clamp(0, len);
        let mut i = lo;
        while i < hi {
            out.push(i as usize);
            i += step;
        }
    } else {
        let hi = norm(start.unwrap_or(len - 1)).clamp(-1, len - 1);
        let lo = norm(end.unwrap_or(-len - 1)).clamp(-1, len - 1);
        let mut i = hi;
        while lo < i {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

impl<'a> Eval<'a, '_> {
    fn query(&mut self, q: &Query, current: &'a Value) -> EResult<Vec<&'a Value>> {
        let mut nodes = vec![if q.relative { current } else { self.root }];
        for seg in &q.segments {
            let mut next = Vec::new();
            for node in nodes {
                if seg.descendant {
                    // The node and its descendants, in document order.
                    let mut stack = vec![node];
                    while let Some(n) = stack.pop() {
                        self.fuel.spend(1)?;
                        self.select(&seg.selectors, n, &mut next)?;
                        let before = stack.len();
                        stack.extend(children(n));
                        stack[before..].reverse();
                    }
                } else {
                    self.select(&seg.selectors, node, &mut next)?;
                }
            }
            nodes = next;
        }
        Ok(nodes)
    }

    fn select(
        &mut self,
        selectors: &[Selector],
        node: &'a Value,
        out: &mut Vec<&'a Value>,
    ) -> EResult<()> {
        for sel in selectors {
            self.fuel.spend(1)?;
            match (sel, node) {
                (Selector::Name(n), Value::Object(o)) => out.extend(o.get(n)),
                (Selector::Wildcard, _) => {
                    for c in children(node) {
                        self.fuel.spend(1)?;
                        out.push(c);
                    }
                }
                (Selector::Index(i), Value::Array(a)) => {
                    let i = if *i < 0 { a.len() as i64 + i } else { *i };
                    if i >= 0 {
                        out.extend(a.get(i as usize));
                    }
                }
                (Selector::Slice(s, e, st), Value::Array(a)) => {
                    // At most one index per element: fuel for each.
                    for i in slice_indexes(a.len() as i64, *s, *e, *st) {
                        self.fuel.spend(1)?;
                        out.push(&a[i]);
                    }
                }
                (Selector::Filter(f), _) => {
                    for c in children(node) {
                        self.fuel.spend(1)?;
                        if self.test(f, c)? {
                            out.push(c);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn test(&mut self, e: &Expr, current: &'a Value) -> EResult<bool> {
        self.fuel.spend(1)?;
        Ok(match e {
            Expr::Or(es) => {
                for e in es {
                    if self.test(e, current)? {
                        return Ok(true);
                    }
                }
                false
            }
            Expr::And(es) => {
                for e in es {
                    if !self.test(e, current)? {
                        return Ok(false);
                    }
                }
                true
            }
            Expr::Not(e) => !self.test(e, current)?,
            Expr::Exists(q) => !self.query(q, current)?.is_empty(),
            Expr::Compare(l, op, r) => {
                let l = self.value(l, current)?;
                let r = self.value(r, current)?;
                self.compare(l.as_deref(), *op, r.as_deref())?
            }
        })
    }

    /// A comparable's value; `None` is "Nothing" (an empty node list).
    fn value<'b>(
        &mut self,
        c: &'b Comparable,
        current: &'a Value,
    ) -> EResult<Option<Cow<'b, Value>>>
    where
        'a: 'b,
    {
        Ok(match c {
            Comparable::Literal(v) => Some(Cow::Borrowed(v)),
            Comparable::Query(q) => self.query(q, current)?.first().map(|v| Cow::Borrowed(*v)),
            Comparable::Function(Function::Length(arg)) => {
                match self.value(arg, current)?.as_deref() {
                    Some(Value::String(s)) => Some(Cow::Owned(s.chars().count().into())),
                    Some(Value::Array(a)) => Some(Cow::Owned(a.len().into())),
                    Some(Value::Object(o)) => Some(Cow::Owned(o.len().into())),
                    _ => None,
                }
            }
            Comparable::Function(Function::Count(q)) => {
                Some(Cow::Owned(self.query(q, current)?.len().into()))
            }
            Comparable::Function(Function::Value(q)) => match self.query(q, current)?.as_slice() {
                [one] => Some(Cow::Borrowed(*one)),
                _ => None,
            },
        })
    }

    fn compare(&mut self, l: Option<&Value>, op: CmpOp, r: Option<&Value>) -> EResult<bool> {
        Ok(match op {
            CmpOp::Eq => self.equal(l, r)?,
            CmpOp::Ne => !self.equal(l, r)?,
            CmpOp::Lt => less(l, r),
            CmpOp::Gt => less(r, l),
            CmpOp::Le => less(l, r) || self.equal(l, r)?,
            CmpOp::Ge => less(r, l) || self.equal(l, r)?,
        })
    }

    /// Deep equality, spending fuel on every value compared.
    fn equal(&mut self, l: Option<&Value>, r: Option<&Value>) -> EResult<bool> {
        let (l, r) = match (l, r) {
            (None, None) => return Ok(true),
            (Some(l), Some(r)) => (l, r),
            _ => return Ok(false),
        };
        let mut stack = vec![(l, r)];
        while let Some((a, b)) = stack.pop() {
            self.fuel.spend(1)?;
            let same = match (a, b) {
                (Value::Number(x), Value::Number(y)) => num_eq(x, y),
                (Value::Array(x), Value::Array(y)) => {
                    if x.len() != y.len() {
                        false
                    } else {
                        stack.extend(x.iter().zip(y));
                        true
                    }
                }
                (Value::Object(x), Value::Object(y)) => {
                    if x.len() != y.len() {
                        false
                    } else {
                        let mut ok = true;
                        for (k, v) in x {
                            match y.get(k) {
                                Some(w) => stack.push((v, w)),
                                None => {
                                    ok = false;
                                    break;
                                }
                            }
                        }
                        ok
                    }
                }
                (a, b) => a == b,
            };
            if !same {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn num_eq(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => a == b,
        _ => match (x.as_u64(), y.as_u64()) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        },
    }
}

fn less(l: Option<&Value>, r: Option<&Value>) -> bool {
    match (l, r) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x < y,
            _ => a.as_f64() < b.as_f64(),
        },
        (Some(Value::String(a)), Some(Value::String(b))) => a.chars().lt(b.chars()),
        _ => false,
    }
}

/// Copies a selected value, spending fuel on each of its nodes, so what an
/// evaluation returns is bounded by the budget too.
fn copy(v: &Value, fuel: &mut Fuel) -> Result<Value, LimitError> {
    let mut stack = vec![v];
    while let Some(n) = stack.pop() {
        fuel.spend(1)?;
        stack.extend(children(n));
    }
    Ok(v.clone())
}

impl JsonPath {
    /// The nodes this path selects in `v`, spending from `fuel`.
    pub fn query<'a>(&self, v: &'a Value, fuel: &mut Fuel) -> Result<Vec<&'a Value>, LimitError> {
        let mut e = Eval { root: v, fuel };
        e.query(&self.query, v)
    }

    /// The first node selected, copied.
    pub fn first_with(&self, v: &Value, fuel: &mut Fuel) -> Result<Option<Value>, LimitError> {
        match self.query(v, fuel)?.first() {
            Some(n) => copy(n, fuel).map(Some),
            None => Ok(None),
        }
    }

    /// Every node selected, copied; one array selected yields its elements.
    pub fn all_with(&self, v: &Value, fuel: &mut Fuel) -> Result<Vec<Value>, LimitError> {
        let nodes = self.query(v, fuel)?;
        match nodes.as_slice() {
            [Value::Array(a)] => a.iter().map(|n| copy(n, fuel)).collect(),
            _ => nodes.into_iter().map(|n| copy(n, fuel)).collect(),
        }
    }
}

/// The first node a path selects, if any.
pub fn first(path: &str, v: &Value) -> Result<Option<Value>, String> {
    let mut fuel = Fuel::new("JSONPath", JSONPATH_FUEL);
    compile(path)?
        .first_with(v, &mut fuel)
        .map_err(|e| format!("JSONPath {path:?}: {e}"))
}

/// Every node a path selects; a path that selects one array yields its
/// elements, so `$.items` and `$.items[*]` mean the same list.
pub fn all(path: &str, v: &Value) -> Result<Vec<Value>, String> {
    let mut fuel = Fuel::new("JSONPath", JSONPATH_FUEL);
    compile(path)?
        .all_with(v, &mut fuel)
        .map_err(|e| format!("JSONPath {path:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    #[test]
    fn first_and_all() {
        let v = json!({"a": {"items": [{"id": 1}, {"id": 2}]}, "next": ""});
        assert_eq!(first("$.a.items[1].id", &v).unwrap(), Some(json!(2)));
        assert_eq!(first("$.missing", &v).unwrap(), None);
        assert_eq!(all("$.a.items", &v).unwrap().len(), 2);
        assert_eq!(
            all("$.a.items[*].id", &v).unwrap(),
            vec![json!(1), json!(2)]
        );
        assert!(compile("$.a[").is_err());
    }

    fn q(path: &str, v: &Value) -> Vec<Value> {
        let mut fuel = Fuel::new("JSONPath", JSONPATH_FUEL);
        compile(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .query(v, &mut fuel)
            .unwrap()
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn rfc_9535_core() {
        let v = json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                    {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
                    {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR", "isbn": "0-395", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 399}
            },
            "o": {"j j": {"k.k": 3}}, "a": [3, 5, 1, 2, 4, 6], "e": []
        });
        assert_eq!(q("$.store.book[*].author", &v).len(), 4);
        assert_eq!(q("$..author", &v).len(), 4);
        assert_eq!(q("$.store.*", &v).len(), 2);
        assert_eq!(q("$.store..price", &v).len(), 5);
        assert_eq!(q("$..book[2].title", &v), vec![json!("Moby Dick")]);
        assert_eq!(q("$..book[-1].title", &v), vec![json!("LOTR")]);
        assert_eq!(q("$..book[0,1].price", &v), vec![json!(8.95), json!(12.99)]);
        assert_eq!(q("$..book[:2]", &v).len(), 2);
        assert_eq!(q("$..book[?@.isbn].title", &v).len(), 2);
        assert_eq!(
            q("$..book[?(@.price<10)].title", &v),
            vec![json!("Sayings"), json!("Moby Dick")]
        );
        assert_eq!(q("$['o']['j j'][\"k.k\"]", &v), vec![json!(3)]);
        assert_eq!(q("$.a[1:5:2]", &v), vec![json!(5), json!(2)]);
        assert_eq!(q("$.a[5:1:-2]", &v), vec![json!(6), json!(2)]);
        assert_eq!(q("$.a[::-1]", &v)[0], json!(6));
        assert_eq!(q("$.a[?@>3]", &v), vec![json!(5), json!(4), json!(6)]);
        assert_eq!(q("$.a[?@>1 && @<4]", &v), vec![json!(3), json!(2)]);
        assert_eq!(q("$.a[?@==1 || @==6]", &v), vec![json!(1), json!(6)]);
        assert_eq!(q("$.a[?!(@<5)]", &v), vec![json!(5), json!(6)]);
        assert_eq!(q("$.store.book[?!@.isbn]", &v).len(), 2);
        assert_eq!(
            q(
                "$.store.book[?@.category=='fiction' && @.price > 20].title",
                &v
            ),
            vec![json!("LOTR")]
        );
        assert_eq!(
            q("$..book[?length(@.title) == 4].title", &v),
            vec![json!("LOTR")]
        );
        assert_eq!(q("$[?count(@.*) == 2]", &v).len(), 1);
        assert_eq!(q("$.store[?value(@..color) == 'red']", &v).len(), 1);
        assert_eq!(q("$[?@ == $.e]", &v), vec![json!([])]);
        assert_eq!(q("$.store.book[?@.price == 8.95].title", &v).len(), 1);
        assert_eq!(q("$.a[?@ == 1.0]", &v), vec![json!(1)]);
        assert_eq!(q("$", &v).len(), 1);
        assert_eq!(q("$.nope[0]", &v).len(), 0);
        // One array selected: `all` yields its elements.
        assert_eq!(all("$.a", &v).unwrap().len(), 6);
        assert_eq!(all("$.store.book", &v).unwrap().len(), 4);
        assert_eq!(
            all("$[*]", &json!([1, 2])).unwrap(),
            vec![json!(1), json!(2)]
        );
    }

    #[test]
    fn bad_paths_are_refused_clearly() {
        for (p, needle) in [
            ("a.b", "starts with"),
            ("$.", "member name"),
            ("$[01]", "not an integer"),
            ("$[?@.a =~ 'x']", "expected"),
            ("$[?match(@.a, 'x')]", "not supported"),
            ("$[?search(@.a, 'x')]", "not supported"),
            ("$[?nope(@)]", "unknown function"),
            ("$[?@..a == 1]", "select one node"),
            ("$[?length(@.a)]", "must be compared"),
            ("$['a", "not closed"),
            ("$[?(@.a]", "expected"),
            ("$.a b", "unexpected"),
        ] {
            let e = compile(p).unwrap_err();
            assert!(e.contains(needle), "{p}: {e}");
        }
    }

    #[test]
    fn over_long_paths_are_refused() {
        let long = format!("$.{}", "a".repeat(MAX_JSONPATH_LEN));
        let e = compile(&long).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        assert!(e.len() < 300, "the error does not echo the whole path");
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        // 30,000 nested parentheses: a stack overflow for a naive parser.
        let deep = format!("$[?{}@.a{}]", "(".repeat(30_000), ")".repeat(30_000));
        let e = compile(&deep).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        // Within the length limit, the depth limit refuses it.
        let deep = format!("$[?{}@.a{}]", "(".repeat(200), ")".repeat(200));
        let e = compile(&deep).unwrap_err();
        assert!(e.contains("nests too deeply"), "{e}");
        let brackets = format!("${}", "[?@".repeat(100));
        assert!(compile(&brackets).unwrap_err().contains("nests too deeply"));
        // Just inside the limit still parses.
        let ok = format!(
            "$[?{}@.a == 1{}]",
            "(".repeat(MAX_JSONPATH_DEPTH - 1),
            ")".repeat(MAX_JSONPATH_DEPTH - 1)
        );
        compile(&ok).unwrap();
    }

    #[test]
    fn descendant_filter_bombs_run_out_of_fuel_quickly() {
        // 121 bytes: sixty nested arrays.
        let text = format!("{}1{}", "[".repeat(60), "]".repeat(60));
        assert_eq!(text.len(), 121);
        let doc: Value = serde_json::from_str(&text).unwrap();
        let bomb = "$..[?(@..[?(@..[?(@..[?(@..[?(@..[?(@..*)])])])])])]";
        assert!(bomb.len() <= 64);
        let t = Instant::now();
        let e = all(bomb, &doc).unwrap_err();
        assert!(e.contains("work budget"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn copying_results_spends_fuel_too() {
        // `$..*` of a deep document selects every subtree: the copies are
        // bounded by the budget.
        let mut v = json!(1);
        for _ in 0..100 {
            v = json!([v, v]);
            if v.to_string().len() > 100_000 {
                break;
            }
        }
        let mut fuel = Fuel::new("JSONPath", 10_000);
        let e = compile("$..*").unwrap().all_with(&v, &mut fuel);
        assert!(e.is_err());
    }
}
