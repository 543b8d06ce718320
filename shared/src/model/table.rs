//! A CRM export as a table of typed columns: numeric or categorical, detected from the values,
//! with the placeholders exports use for "nothing" (empty, `Select`, `N/A`, ...) read as missing.
//! Nothing here knows any one export's column names.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Values that mean "no value" in CRM exports (compared case-insensitively, trimmed).
const MISSING: &[&str] = &[
    "",
    "select",
    "-- select --",
    "--",
    "-",
    "?",
    "na",
    "n/a",
    "nan",
    "null",
    "nil",
    "#n/a",
];

/// A column with at least this share of numbers is numeric; the other values are then
/// garbage to report, not categories.
const NUMERIC_SHARE: f64 = 0.9;

pub fn is_missing(raw: &str) -> bool {
    let v = raw.trim();
    MISSING.iter().any(|m| v.eq_ignore_ascii_case(m))
}

#[derive(Debug, Clone)]
pub enum Values {
    /// `NaN` where missing.
    Numeric(Vec<f64>),
    /// Index into `levels`, `None` where missing.
    Categorical {
        levels: Vec<String>,
        codes: Vec<Option<u32>>,
    },
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

impl Column {
    pub fn is_numeric(&self) -> bool {
        matches!(self.values, Values::Numeric(_))
    }

    pub fn missing(&self) -> usize {
        match &self.values {
            Values::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
            Values::Categorical { codes, .. } => codes.iter().filter(|c| c.is_none()).count(),
        }
    }
}

/// Which column is the outcome, and which value of it is a win.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    pub column: String,
    /// The value that counts as converted; guessed when there are two values and one is
    /// plainly the positive (`yes`, `true`, `1`, `won`, ...).
    pub positive: Option<String>,
    /// Columns to leave out (known only after the outcome, identifiers, ...).
    pub drop: Vec<String>,
}

/// Features and outcomes, row-aligned.
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<Column>,
    pub target: Vec<bool>,
    pub target_name: String,
    pub positive: String,
    /// Columns read but not used, with why (constant, an identifier, ...).
    pub skipped: Vec<(String, String)>,
    /// Rows left out because their outcome was missing.
    pub rows_without_target: usize,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.target.len()
    }

    pub fn positives(&self) -> usize {
        self.target.iter().filter(|&&t| t).count()
    }
}

/// `;`, tab or `,`: whichever the header line has most of.
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

/// Read a CSV export (delimiter detected, first line the header).
pub fn read_csv(bytes: &[u8], spec: &TargetSpec) -> Result<Table> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::validation(format!("the file is not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::validation(format!("the header line: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(Error::validation("the file is empty: no header line"));
    }
    let mut seen = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if let Some(first) = seen.insert(h.as_str(), i) {
            return Err(Error::validation(format!(
                "columns {} and {} are both named `{h}`",
                first + 1,
                i + 1
            )));
        }
    }
    let target_at = *seen.get(spec.column.as_str()).ok_or_else(|| {
        Error::validation(format!(
            "there is no column `{}`; the columns are: {}",
            spec.column,
            headers.join(", ")
        ))
    })?;
    for d in &spec.drop {
        if !seen.contains_key(d.as_str()) {
            return Err(Error::validation(format!(
                "--drop {d}: there is no column `{d}`; the columns are: {}",
                headers.join(", ")
            )));
        }
    }

    let mut cells: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(n + 2, |p| p.line() as usize);
            Error::validation(format!("line {line}: {}", csv_problem(&e)))
        })?;
        for (column, value) in cells.iter_mut().zip(record.iter()) {
            column.push(value.to_owned());
        }
    }
    let total = cells[target_at].len();
    if total == 0 {
        return Err(Error::validation(
            "the file has a header but no rows; training needs past leads with outcomes",
        ));
    }

    // Outcomes: rows without one are left out.
    let outcome = &cells[target_at];
    let keep: Vec<usize> = (0..total).filter(|&r| !is_missing(&outcome[r])).collect();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for &r in &keep {
        let v = outcome[r].trim();
        match counts.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(v)) {
            Some((_, c)) => *c += 1,
            None => counts.push((v.to_owned(), 1)),
        }
    }
    let listed = || {
        counts
            .iter()
            .map(|(k, c)| format!("`{k}` ({c})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if counts.is_empty() {
        return Err(Error::validation(format!(
            "the target column `{}` is empty in every row",
            spec.column
        )));
    }
    if counts.len() == 1 {
        return Err(Error::validation(format!(
            "the target `{}` has only one outcome ({}); training needs leads that converted and \
             leads that did not",
            spec.column,
            listed()
        )));
    }
    let positive = match &spec.positive {
        Some(p) => counts
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(p.trim()))
            .map(|(k, _)| k.clone())
            .ok_or_else(|| {
                Error::validation(format!(
                    "--positive {p}: `{}` never has that value; its values are {}",
                    spec.column,
                    listed()
                ))
            })?,
        None => guess_positive(&counts).ok_or_else(|| {
            Error::validation(format!(
                "name the value of `{}` that means converted with --positive; its values are {}",
                spec.column,
                listed()
            ))
        })?,
    };
    let target: Vec<bool> = keep
        .iter()
        .map(|&r| outcome[r].trim().eq_ignore_ascii_case(&positive))
        .collect();
    let positives = target.iter().filter(|&&t| t).count();
    if positives == 0 || positives == target.len() {
        return Err(Error::validation(format!(
            "the target `{}` has only one outcome ({}); training needs leads that converted and \
             leads that did not",
            spec.column,
            listed()
        )));
    }

    let mut columns = Vec::new();
    let mut skipped = Vec::new();
    for (i, name) in headers.iter().enumerate() {
        if i == target_at || spec.drop.contains(name) {
            continue;
        }
        let raw: Vec<&str> = keep.iter().map(|&r| cells[i][r].as_str()).collect();
        match column(name, &raw)? {
            Ok(c) => columns.push(c),
            Err(why) => skipped.push((name.clone(), why)),
        }
    }
    if columns.is_empty() {
        return Err(Error::validation(
            "no column is usable as a feature (each is constant, empty or an identifier)",
        ));
    }
    Ok(Table {
        columns,
        target,
        target_name: spec.column.clone(),
        positive,
        skipped,
        rows_without_target: total - keep.len(),
    })
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
        _ => e.to_string(),
    }
}

fn guess_positive(counts: &[(String, usize)]) -> Option<String> {
    const POSITIVE: &[&str] = &[
        "yes",
        "y",
        "true",
        "1",
        "won",
        "closed won",
        "converted",
        "positive",
        "success",
    ];
    if counts.len() != 2 {
        return None;
    }
    let hits: Vec<&String> = counts
        .iter()
        .map(|(k, _)| k)
        .filter(|k| POSITIVE.iter().any(|p| k.eq_ignore_ascii_case(p)))
        .collect();
    (hits.len() == 1).then(|| hits[0].clone())
}

/// Type one column; `Ok(Err(why))` when it is not worth using, `Err` when it is numeric with
/// garbage in it.
fn column(name: &str, raw: &[&str]) -> Result<std::result::Result<Column, String>> {
    let present: Vec<(usize, &str)> = raw
        .iter()
        .enumerate()
        .filter(|(_, v)| !is_missing(v))
        .map(|(i, v)| (i, v.trim()))
        .collect();
    if present.is_empty() {
        return Ok(Err("empty".into()));
    }
    let numbers: Vec<Option<f64>> = present.iter().map(|(_, v)| parse_number(v)).collect();
    let numeric = numbers.iter().filter(|n| n.is_some()).count();
    if numeric == present.len() {
        let mut values = vec![f64::NAN; raw.len()];
        for ((i, _), n) in present.iter().zip(&numbers) {
            values[*i] = n.unwrap();
        }
        let first = values.iter().copied().find(|v| !v.is_nan());
        if values.iter().all(|v| v.is_nan() || Some(*v) == first) && present.len() == raw.len() {
            return Ok(Err("the same value in every row".into()));
        }
        return Ok(Ok(Column {
            name: name.to_owned(),
            values: Values::Numeric(values),
        }));
    }
    if numeric as f64 >= NUMERIC_SHARE * present.len() as f64 {
        let (row, bad) = present
            .iter()
            .zip(&numbers)
            .find(|(_, n)| n.is_none())
            .map(|((i, v), _)| (*i, *v))
            .unwrap();
        return Err(Error::validation(format!(
            "column `{name}`: `{bad}` (row {}) is not a number, though {:.1}% of the column are \
             numbers; fix those rows or leave the column out with --drop {name}",
            row + 1,
            100.0 * numeric as f64 / present.len() as f64
        )));
    }
    let mut levels: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut codes = vec![None; raw.len()];
    for (i, v) in &present {
        let key = v.to_lowercase();
        let code = *index.entry(key).or_insert_with(|| {
            levels.push((*v).to_owned());
            (levels.len() - 1) as u32
        });
        codes[*i] = Some(code);
    }
    if levels.len() == 1 && present.len() == raw.len() {
        return Ok(Err("the same value in every row".into()));
    }
    if levels.len() > 100 && levels.len() * 2 > present.len() {
        return Ok(Err(format!(
            "an identifier or free text ({} different values in {} rows)",
            levels.len(),
            present.len()
        )));
    }
    Ok(Ok(Column {
        name: name.to_owned(),
        values: Values::Categorical { levels, codes },
    }))
}

/// A number as exports write them: `1234`, `-0.5`, `1e3`, `1,234` (thousands), `45%`, `$12`.
fn parse_number(v: &str) -> Option<f64> {
    let v = v.trim();
    let v = v.strip_prefix('$').unwrap_or(v);
    let v = v.strip_suffix('%').unwrap_or(v);
    let plain: String = if v.contains(',') && !v.contains('.') && thousands(v) {
        v.replace(',', "")
    } else {
        v.to_owned()
    };
    let n: f64 = plain.parse().ok()?;
    n.is_finite().then_some(n)
}

fn thousands(v: &str) -> bool {
    let digits = v.trim_start_matches('-');
    let mut groups = digits.split(',');
    let first = groups.next().unwrap_or_default();
    (1..=3).contains(&first.len())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: &str) -> TargetSpec {
        TargetSpec {
            column: target.into(),
            ..TargetSpec::default()
        }
    }

    #[test]
    fn types_columns_and_reads_placeholders_as_missing() {
        let csv =
            "age;job;budget;won\n30;\"admin.\";1,200;yes\n41;Select;;no\n;blue-collar;$300;NO\n";
        let t = read_csv(csv.as_bytes(), &spec("won")).unwrap();
        assert_eq!(t.target, [true, false, false]);
        assert_eq!(t.positive, "yes");
        let age = &t.columns[0];
        assert!(age.is_numeric());
        assert_eq!(age.missing(), 1);
        let Values::Categorical { levels, codes } = &t.columns[1].values else {
            panic!("job is categorical")
        };
        assert_eq!(levels, &["admin.", "blue-collar"]);
        assert_eq!(codes, &[Some(0), None, Some(1)]);
        let Values::Numeric(budget) = &t.columns[2].values else {
            panic!("budget is numeric")
        };
        assert_eq!(budget[0], 1200.0);
        assert!(budget[1].is_nan());
        assert_eq!(budget[2], 300.0);
    }

    #[test]
    fn bad_exports_are_refused_with_the_reason() {
        let err = |csv: &str, s: TargetSpec| read_csv(csv.as_bytes(), &s).unwrap_err().to_string();
        assert!(err("a,b\n1,2\n", spec("y")).contains("there is no column `y`"));
        assert!(err("a,y\n", spec("y")).contains("no rows"));
        assert!(err("a,y\n1,no\n2,no\n", spec("y")).contains("only one outcome"));
        assert!(err("a,y\n1,won\n2,lost\n3,open\n", spec("y")).contains("--positive"));
        let garbage = (0..30)
            .map(|i| format!("{i},{}\n", if i % 2 == 0 { "yes" } else { "no" }))
            .collect::<String>()
            + "oops,no\n";
        assert!(
            err(&format!("n,y\n{garbage}"), spec("y")).contains("`oops` (row 31) is not a number")
        );
        assert!(
            err("a,y\n1,yes\n2\n", spec("y")).contains("line 3: 1 fields where the header has 2")
        );
        let mut drop = spec("y");
        drop.drop = vec!["nope".into()];
        assert!(err("a,y\n1,yes\n2,no\n", drop).contains("--drop nope"));
        let mut positive = spec("y");
        positive.positive = Some("maybe".into());
        assert!(err("a,y\n1,yes\n2,no\n", positive).contains("never has that value"));
    }
}
