//! VADER sentiment (Hutto & Gilbert 2014), ported from vaderSentiment 3.3.2 with its lexicons
//! (MIT; see `vader/`). `compound` gives the same scores as the Python package's
//! `polarity_scores(text)["compound"]`, except that "but" scales the words before and after it
//! by their position (VADER finds them by value, which misplaces repeated scores).

use std::borrow::Cow;
use std::sync::LazyLock;

use rustc_hash::{FxHashMap as HashMap, FxHashSet};

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];
const BOOSTERS_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

struct Lexicons {
    words: HashMap<&'static str, f64>,
    emoji: HashMap<char, &'static str>,
    boosters: HashMap<&'static str, f64>,
    /// Pre-split: the special cases and the boosters of more than one word.
    specials: Vec<(Vec<&'static str>, f64)>,
    multiword_boosters: Vec<(Vec<&'static str>, f64)>,
}

static LEX: LazyLock<Lexicons> = LazyLock::new(|| {
    let words = include_str!("vader/vader_lexicon.txt")
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?, cols.next()?.parse().ok()?))
        })
        .collect();
    let emoji = include_str!("vader/emoji_utf8_lexicon.txt")
        .lines()
        .filter_map(|l| {
            let (e, desc) = l.split_once('\t')?;
            let mut chars = e.chars();
            let c = chars.next()?;
            chars
                .next()
                .is_none()
                .then_some((c, desc.split('\t').next().unwrap_or(desc)))
        })
        .collect();
    let boosters = BOOSTERS_UP
        .iter()
        .map(|w| (*w, B_INCR))
        .chain(BOOSTERS_DOWN.iter().map(|w| (*w, B_DECR)))
        .collect();
    let multiword_boosters = BOOSTERS_DOWN
        .iter()
        .filter(|w| w.contains(' '))
        .map(|w| (w.split(' ').collect(), B_DECR))
        .collect();
    let specials = SPECIAL_CASES
        .iter()
        .map(|(k, v)| (k.split(' ').collect(), *v))
        .collect();
    Lexicons {
        words,
        emoji,
        boosters,
        specials,
        multiword_boosters,
    }
});

/// Python's `str.isupper()`: at least one cased character and no lower-case one.
fn is_upper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// VADER's tokens: whitespace-split, with leading and trailing ASCII punctuation removed unless
/// that leaves two characters or fewer (so emoticons such as `:)` survive).
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|tok| {
            let stripped = tok.trim_matches(|c: char| c.is_ascii_punctuation());
            if stripped.chars().count() <= 2 {
                tok
            } else {
                stripped
            }
        })
        .collect()
}

static NEGATORS: LazyLock<FxHashSet<&'static str>> =
    LazyLock::new(|| NEGATE.iter().copied().collect());

fn negated(word_lower: &str) -> bool {
    NEGATORS.contains(word_lower)
        || (word_lower.as_bytes().contains(&b'\'') && word_lower.contains("n't"))
}

fn scalar_inc_dec(word: &str, lower: &str, valence: f64, cap_diff: bool) -> f64 {
    let Some(&b) = LEX.boosters.get(lower) else {
        return 0.0;
    };
    let mut scalar = if valence < 0.0 { -b } else { b };
    if cap_diff && is_upper(word) {
        scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
    }
    scalar
}

/// The compound score of a text, -1..1 (0 when nothing in it carries sentiment).
pub fn compound(text: &str) -> f64 {
    compound_opt(text).unwrap_or(0.0)
}

/// The compound score, or `None` when no word of the text is in the lexicon.
pub fn compound_opt(text: &str) -> Option<f64> {
    // Emoji become their descriptions ("😀" -> "grinning face").
    let replaced;
    let text = if text
        .chars()
        .any(|c| !c.is_ascii() && LEX.emoji.contains_key(&c))
    {
        let mut out = String::with_capacity(text.len() + 32);
        let mut prev_space = true;
        for c in text.chars() {
            match LEX.emoji.get(&c) {
                Some(desc) => {
                    if !prev_space {
                        out.push(' ');
                    }
                    out.push_str(desc);
                    prev_space = false;
                }
                None => {
                    out.push(c);
                    prev_space = c == ' ';
                }
            }
        }
        replaced = out;
        replaced.trim()
    } else {
        text.trim()
    };

    let ws = words(text);
    let lower: Vec<Cow<str>> = ws
        .iter()
        .map(|w| {
            if w.chars().any(char::is_uppercase) {
                Cow::Owned(w.to_lowercase())
            } else {
                Cow::Borrowed(*w)
            }
        })
        .collect();
    let n = ws.len();
    let upper_count = ws.iter().filter(|w| is_upper(w)).count();
    let cap_diff = upper_count > 0 && upper_count < n;
    // Each word's lexicon valence, looked up once.
    let valences: Vec<Option<f64>> = lower
        .iter()
        .map(|w| LEX.words.get(w.as_ref()).copied())
        .collect();
    let in_lex = |i: usize| valences[i].is_some();

    let mut sentiments = vec![0.0_f64; n];
    let mut any = false;
    for i in 0..n {
        let item = lower[i].as_ref();
        if LEX.boosters.contains_key(item) || (item == "kind" && i + 1 < n && lower[i + 1] == "of")
        {
            continue;
        }
        let Some(base) = valences[i] else { continue };
        any = true;
        let mut valence = base;
        if item == "no" && i + 1 < n && in_lex(i + 1) {
            valence = 0.0;
        }
        if (i > 0 && lower[i - 1] == "no")
            || (i > 1 && lower[i - 2] == "no")
            || (i > 2 && lower[i - 3] == "no" && (lower[i - 1] == "or" || lower[i - 1] == "nor"))
        {
            valence = base * N_SCALAR;
        }
        if cap_diff && is_upper(ws[i]) {
            valence += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        for start in 0..3 {
            if i > start && !in_lex(i - (start + 1)) {
                let j = i - (start + 1);
                let mut s = scalar_inc_dec(ws[j], &lower[j], valence, cap_diff);
                if start == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = negation_check(valence, &lower, start, i);
                if start == 2 {
                    valence = special_idioms(valence, &lower, i);
                }
            }
        }
        valence = least_check(valence, &lower, i, &in_lex);
        sentiments[i] = valence;
    }
    if !any {
        return None;
    }
    if let Some(b) = lower.iter().position(|w| w == "but") {
        for (i, s) in sentiments.iter_mut().enumerate() {
            if i < b {
                *s *= 0.5;
            } else if i > b {
                *s *= 1.5;
            }
        }
    }
    let mut sum: f64 = sentiments.iter().sum();
    let bangs = text.bytes().filter(|b| *b == b'!').count().min(4) as f64 * 0.292;
    let qms = text.bytes().filter(|b| *b == b'?').count();
    let qm = match qms {
        0 | 1 => 0.0,
        2 | 3 => qms as f64 * 0.18,
        _ => 0.96,
    };
    if sum > 0.0 {
        sum += bangs + qm;
    } else if sum < 0.0 {
        sum -= bangs + qm;
    }
    Some((sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0))
}

fn negation_check(valence: f64, w: &[Cow<str>], start: usize, i: usize) -> f64 {
    match start {
        0 if negated(&w[i - 1]) => valence * N_SCALAR,
        1 if w[i - 2] == "never" && (w[i - 1] == "so" || w[i - 1] == "this") => valence * 1.25,
        1 if w[i - 2] == "without" && w[i - 1] == "doubt" => valence,
        1 if negated(&w[i - 2]) => valence * N_SCALAR,
        // VADER's own precedence: `never (so|this)` two back, or `so`/`this` just before.
        2 if (w[i - 3] == "never" && (w[i - 2] == "so" || w[i - 2] == "this"))
            || w[i - 1] == "so"
            || w[i - 1] == "this" =>
        {
            valence * 1.25
        }
        2 if w[i - 3] == "without" && (w[i - 2] == "doubt" || w[i - 1] == "doubt") => valence,
        2 if negated(&w[i - 3]) => valence * N_SCALAR,
        _ => valence,
    }
}

/// Whether the words at `at..` are `phrase`.
fn seq_is(w: &[Cow<str>], at: usize, phrase: &[&str]) -> bool {
    phrase.len() <= w.len().saturating_sub(at)
        && phrase.iter().zip(&w[at..]).all(|(p, x)| *p == x.as_ref())
}

/// The special-case value of the `len` words starting at `at`, if they are a special case.
fn special(w: &[Cow<str>], at: usize, len: usize) -> Option<f64> {
    LEX.specials
        .iter()
        .find(|(k, _)| k.len() == len && seq_is(w, at, k))
        .map(|(_, v)| *v)
}

fn special_idioms(mut valence: f64, w: &[Cow<str>], i: usize) -> f64 {
    // VADER's order: "i-1 i", "i-2 i-1 i", "i-2 i-1", "i-3 i-2 i-1", "i-3 i-2"; first match wins.
    let before = [(i - 1, 2), (i - 2, 3), (i - 2, 2), (i - 3, 3), (i - 3, 2)];
    if let Some(v) = before.iter().find_map(|&(at, len)| special(w, at, len)) {
        valence = v;
    }
    if w.len() - 1 > i
        && let Some(v) = special(w, i, 2)
    {
        valence = v;
    }
    if w.len() - 1 > i + 1
        && let Some(v) = special(w, i, 3)
    {
        valence = v;
    }
    // Two- and three-word boosters ("kind of", "sort of", "just enough") just before the word.
    for (at, len) in [(i - 3, 3), (i - 3, 2), (i - 2, 2)] {
        if let Some((_, b)) = LEX
            .multiword_boosters
            .iter()
            .find(|(k, _)| k.len() == len && seq_is(w, at, k))
        {
            valence += b;
        }
    }
    valence
}

fn least_check(valence: f64, w: &[Cow<str>], i: usize, in_lex: &dyn Fn(usize) -> bool) -> f64 {
    if i > 1 && !in_lex(i - 1) && w[i - 1] == "least" {
        if w[i - 2] != "at" && w[i - 2] != "very" {
            return valence * N_SCALAR;
        }
    } else if i > 0 && !in_lex(i - 1) && w[i - 1] == "least" {
        return valence * N_SCALAR;
    }
    valence
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from vaderSentiment 3.3.2 (`polarity_scores(s)["compound"]`), including
    /// the package's own examples.
    #[test]
    fn matches_the_reference_implementation() {
        let cases = [
            ("VADER is smart, handsome, and funny.", 0.8316),
            ("VADER is smart, handsome, and funny!", 0.8439),
            ("VADER is very smart, handsome, and funny.", 0.8545),
            ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
            (
                "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
                0.9469,
            ),
            ("VADER is not smart, handsome, nor funny.", -0.7424),
            ("The book was good.", 0.4404),
            ("At least it isn't a horrible book.", 0.431),
            ("The book was only kind of good.", 0.3832),
            (
                "The plot was good, but the characters are uncompelling and the dialog is not great.",
                -0.7042,
            ),
            ("Today SUX!", -0.5461),
            ("Today only kinda sux! But I'll get by, lol", 0.5249),
            ("Make sure you :) or :D today!", 0.8633),
            ("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.875),
            ("Not bad at all", 0.431),
            ("The meeting is on Tuesday.", 0.0),
        ];
        for (text, expected) in cases {
            let got = compound(text);
            assert!(
                (got - expected).abs() < 0.0015,
                "{text}: got {got:.4}, VADER gives {expected}"
            );
        }
    }

    #[test]
    fn texts_without_sentiment_have_none() {
        assert_eq!(compound_opt("The meeting is on Tuesday"), None);
        assert_eq!(compound_opt(""), None);
        assert!(compound_opt("good").is_some());
    }
}
