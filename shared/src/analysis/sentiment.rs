//! Compact VADER-style sentiment: word valences on VADER's -4..4 scale, intensifiers, negation
//! (VADER's 0.74 flip), "but" shifting weight to what follows, capitals and exclamation marks,
//! normalised to -1..1 with VADER's alpha = 15.

use super::text::{is_negator, tokens};

/// Valences, mostly VADER's own figures for these words (MIT, Hutto & Gilbert 2014).
const LEXICON: &[(&str, f64)] = &[
    ("amazing", 2.8),
    ("appreciate", 2.0),
    ("awesome", 3.1),
    ("awful", -2.0),
    ("bad", -2.5),
    ("best", 3.2),
    ("better", 1.9),
    ("brilliant", 2.8),
    ("broken", -1.4),
    ("busy", -0.3),
    ("cancel", -1.0),
    ("charged", -0.5),
    ("cheap", -0.3),
    ("complain", -1.9),
    ("complaint", -1.7),
    ("confused", -1.3),
    ("cool", 1.3),
    ("damaged", -1.9),
    ("delay", -1.3),
    ("delayed", -1.3),
    ("disappointed", -1.9),
    ("disappointing", -2.2),
    ("easy", 1.9),
    ("excellent", 2.7),
    ("excited", 2.1),
    ("exciting", 2.2),
    ("expensive", -0.9),
    ("fail", -2.2),
    ("failed", -2.3),
    ("fantastic", 2.6),
    ("fine", 0.8),
    ("fix", 0.7),
    ("frustrated", -2.4),
    ("frustrating", -1.9),
    ("glad", 2.0),
    ("good", 1.9),
    ("great", 3.1),
    ("happy", 2.7),
    ("hate", -2.7),
    ("help", 1.7),
    ("helpful", 1.8),
    ("hope", 1.9),
    ("horrible", -2.5),
    ("impressed", 2.2),
    ("interested", 1.7),
    ("interesting", 1.7),
    ("issue", -0.6),
    ("kind", 2.4),
    ("leak", -1.3),
    ("leaking", -1.4),
    ("like", 1.5),
    ("love", 3.2),
    ("lovely", 2.8),
    ("mad", -2.2),
    ("mess", -1.5),
    ("nice", 1.8),
    ("perfect", 2.7),
    ("pleased", 2.4),
    ("pleasure", 2.7),
    ("poor", -2.1),
    ("problem", -1.7),
    ("problems", -1.7),
    ("recommend", 1.5),
    ("recommended", 1.8),
    ("refund", -0.5),
    ("relief", 2.1),
    ("ridiculous", -2.1),
    ("rude", -2.0),
    ("sad", -2.1),
    ("scam", -2.5),
    ("sorry", -0.3),
    ("spam", -1.5),
    ("stop", -1.2),
    ("stuck", -1.4),
    ("sure", 1.3),
    ("terrible", -2.1),
    ("thank", 1.5),
    ("thanks", 1.9),
    ("trouble", -1.7),
    ("unfortunately", -1.5),
    ("unhappy", -1.8),
    ("upset", -1.6),
    ("useless", -1.8),
    ("waste", -1.8),
    ("wasted", -2.2),
    ("welcome", 2.0),
    ("wonderful", 2.7),
    ("worried", -1.2),
    ("worry", -1.9),
    ("worse", -2.1),
    ("worst", -3.1),
    ("wow", 2.8),
    ("wrong", -2.1),
    ("yes", 1.7),
];

const INTENSIFIERS: &[&str] = &[
    "very",
    "really",
    "so",
    "extremely",
    "absolutely",
    "totally",
    "super",
    "incredibly",
    "completely",
    "too",
];
const DAMPENERS: &[&str] = &["kind", "somewhat", "slightly", "barely", "sort", "little"];

const BOOST: f64 = 0.293;
const NEGATE: f64 = -0.74;
const ALPHA: f64 = 15.0;

fn valence(word: &str) -> Option<f64> {
    LEXICON
        .binary_search_by(|(w, _)| w.cmp(&word))
        .ok()
        .map(|i| LEXICON[i].1)
}

/// The compound score -1..1 of a piece of text, 0 where nothing in it carries sentiment.
pub fn compound(text: &str) -> f64 {
    score_tokens(&tokens(text), text).unwrap_or(0.0)
}

/// The compound score of one sentence, or `None` when no word in it carries sentiment.
pub(crate) fn score_tokens(tokens: &[String], raw: &str) -> Option<f64> {
    let shouting = raw.chars().any(char::is_lowercase) && raw.chars().any(char::is_uppercase);
    // Words written in capitals, in a sentence that is not all capitals, are emphasised.
    let shouted: Vec<&str> = raw
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() > 1 && w.chars().all(char::is_uppercase))
        .collect();
    let but = tokens.iter().position(|t| t == "but");
    let mut sum = 0.0;
    let mut any = false;
    for (i, t) in tokens.iter().enumerate() {
        // "kind" as in "kind of" is a dampener, not kindness.
        if t == "kind" && tokens.get(i + 1).is_some_and(|n| n == "of") {
            continue;
        }
        let Some(mut v) = valence(t) else { continue };
        any = true;
        for back in 1..=3 {
            let Some(prev) = i.checked_sub(back).map(|j| tokens[j].as_str()) else {
                break;
            };
            let scale = [1.0, 0.95, 0.9][back - 1];
            if INTENSIFIERS.contains(&prev) {
                v += v.signum() * BOOST * scale;
            } else if DAMPENERS.contains(&prev) {
                v -= v.signum() * BOOST * scale;
            }
            if is_negator(prev) {
                v *= NEGATE;
            }
        }
        if shouting && shouted.iter().any(|w| w.eq_ignore_ascii_case(t)) {
            v += v.signum() * 0.733;
        }
        match but {
            Some(b) if i < b => v *= 0.5,
            Some(b) if i > b => v *= 1.5,
            _ => {}
        }
        sum += v;
    }
    if !any {
        return None;
    }
    let bangs = raw.matches('!').count().min(4) as f64 * 0.292;
    if sum != 0.0 {
        sum += sum.signum() * bangs;
    }
    Some(sum / (sum * sum + ALPHA).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_is_sorted_for_binary_search() {
        assert!(
            LEXICON.windows(2).all(|w| w[0].0 < w[1].0),
            "LEXICON must stay sorted"
        );
    }

    #[test]
    fn negation_intensity_contrast_and_emphasis() {
        assert!(compound("This is good") > 0.3);
        assert!(compound("This is not good") < 0.0);
        assert!(compound("This is very good") > compound("This is good"));
        assert!(compound("This is GOOD") > compound("This is good"));
        assert!(compound("This is good!!!") > compound("This is good"));
        // "but" shifts the weight to what follows.
        assert!(compound("The price is great but the service is terrible") < 0.0);
        assert_eq!(compound("The meeting is on Tuesday"), 0.0);
    }
}
