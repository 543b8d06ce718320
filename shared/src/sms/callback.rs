//! When a lead who asks for a call wants it: "call me tomorrow at 10", "ring me after 5",
//! "call me Friday afternoon". Read in the lead's own time zone; the words it was read from
//! are the evidence a task shows.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Days, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use regex::Regex;

/// A time a lead asked to be called at.
#[derive(Debug, Clone, PartialEq)]
pub struct AskedTime {
    pub at: DateTime<Utc>,
    /// The words it was read from ("tomorrow at 10").
    pub evidence: String,
}

/// The day words and the times of day a reply may name. A bare number is a time only after
/// `at`, `after`, `around`, `by` or `@`, or with `am`/`pm` or minutes, so a phone number or a
/// count is not read as one.
static WHEN: LazyLock<(Regex, Regex)> = LazyLock::new(|| {
    let day = Regex::new(
        r"(?i)\b(?:(?:on|this|next)\s+)?(today|tonight|tomorrow|tmrw|tmr|monday|mon|tuesday|tues|tue|wednesday|wed|thursday|thurs|thu|friday|fri|saturday|sat|sunday|sun)\b",
    )
    .expect("day pattern");
    let time = Regex::new(
        r"(?i)(?:\b(?:at|after|around|about|by|before)\s+|@\s*)(\d{1,2})(?::([0-5]\d))?\s*(a\.?m\.?|p\.?m\.?)?(?:\W|$)|\b(\d{1,2})(?::([0-5]\d))?\s*(a\.?m\.?|p\.?m\.?)(?:\W|$)|\b(\d{1,2}):([0-5]\d)\b|\b(noon|midday|lunch(?:time)?|morning|afternoon|evening|tonight)\b",
    )
    .expect("time pattern");
    (day, time)
});

/// The time `text` asks to be called at, read in `tz` on the day of `now`: a named day (the
/// next one of that name; "today", "tomorrow"), a time of day (an hour with or without
/// minutes and am/pm; "noon", "morning" 9:00, "afternoon" 14:00, "evening" 18:00), or both.
/// An hour without am/pm is a working hour: 8 to 11 in the morning, 12 noon, 1 to 7 in the
/// afternoon. A day without a time is 9:00; a time without a day that has passed today is
/// tomorrow's. `None` when it names neither.
pub fn asked_time(text: &str, tz: Tz, now: DateTime<Utc>) -> Option<AskedTime> {
    let (day_pattern, time_pattern) = &*WHEN;
    let day = day_pattern.captures(text);
    let time = time_pattern.captures(text);
    if day.is_none() && time.is_none() {
        return None;
    }
    let local_now = now.with_timezone(&tz);
    let today = local_now.date_naive();
    let day_word = day.as_ref().map(|c| c[1].to_lowercase());
    let clock = time.as_ref().and_then(time_of_day).or_else(|| {
        (day_word.as_deref() == Some("tonight")).then(|| NaiveTime::from_hms_opt(19, 0, 0))?
    });
    let date = match day_word.as_deref() {
        None => {
            let clock = clock?;
            if today.and_time(clock) > local_now.naive_local() {
                today
            } else {
                today.checked_add_days(Days::new(1))?
            }
        }
        Some("today" | "tonight") => today,
        Some("tomorrow" | "tmrw" | "tmr") => today.checked_add_days(Days::new(1))?,
        Some(word) => {
            let weekday = weekday(word)?;
            let ahead = (7 + weekday.num_days_from_monday() as i64
                - today.weekday().num_days_from_monday() as i64
                - 1)
                % 7
                + 1;
            today.checked_add_days(Days::new(ahead as u64))?
        }
    };
    let clock = clock.unwrap_or(NaiveTime::from_hms_opt(9, 0, 0)?);
    let at = tz
        .from_local_datetime(&date.and_time(clock))
        .earliest()?
        .with_timezone(&Utc);
    let mut spans: Vec<(usize, usize)> = [day.as_ref(), time.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|c| c.get(0).map(|m| (m.start(), m.end())))
        .collect();
    spans.sort_unstable();
    let evidence = match spans.as_slice() {
        [(start, end)] => &text[*start..*end],
        [(start, _), (_, end)] => &text[*start..(*end).max(spans[0].1)],
        _ => "",
    };
    Some(AskedTime {
        at,
        evidence: evidence
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_owned(),
    })
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match &word[..3] {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn time_of_day(c: &regex::Captures<'_>) -> Option<NaiveTime> {
    if let Some(word) = c.get(9) {
        let hour = match word.as_str().to_lowercase().as_str() {
            "morning" => 9,
            "afternoon" => 14,
            "evening" => 18,
            "tonight" => 19,
            _ => 12, // noon, midday, lunch
        };
        return NaiveTime::from_hms_opt(hour, 0, 0);
    }
    let (hour, minute, meridiem) =
        [(1, 2, 3), (4, 5, 6), (7, 8, 0)]
            .into_iter()
            .find_map(|(h, m, ampm)| {
                let hour: u32 = c.get(h)?.as_str().parse().ok()?;
                let minute: u32 = c.get(m).map_or(Some(0), |m| m.as_str().parse().ok())?;
                let meridiem = (ampm > 0)
                    .then(|| c.get(ampm))
                    .flatten()
                    .map(|m| m.as_str().to_lowercase().starts_with('p'));
                Some((hour, minute, meridiem))
            })?;
    let hour = match (hour, meridiem) {
        (0 | 13.., Some(_)) => return None,
        (12, Some(false)) => 0,
        (h, Some(true)) if h < 12 => h + 12,
        (h, Some(_)) => h,
        (h @ 13..=23, None) | (h @ 8..=12, None) => h,
        (h @ 1..=7, None) => h + 12,
        _ => return None,
    };
    NaiveTime::from_hms_opt(hour, minute, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHICAGO: Tz = chrono_tz::America::Chicago;

    /// Wednesday 2026-12-02, 15:30 in Chicago.
    fn now() -> DateTime<Utc> {
        "2026-12-02T21:30:00Z".parse().unwrap()
    }

    fn local(text: &str) -> Option<(String, String)> {
        asked_time(text, CHICAGO, now()).map(|a| {
            (
                a.at.with_timezone(&CHICAGO)
                    .format("%a %Y-%m-%d %H:%M")
                    .to_string(),
                a.evidence,
            )
        })
    }

    #[test]
    fn a_day_and_an_hour_are_read_in_the_leads_zone() {
        assert_eq!(
            local("Yes, call me tomorrow at 10"),
            Some(("Thu 2026-12-03 10:00".into(), "tomorrow at 10".into()))
        );
        assert_eq!(
            local("call me friday after 5:30pm please"),
            Some(("Fri 2026-12-04 17:30".into(), "friday after 5:30pm".into()))
        );
        assert_eq!(
            local("Can you call Monday afternoon"),
            Some(("Mon 2026-12-07 14:00".into(), "Monday afternoon".into()))
        );
        // Today's weekday named means next week's.
        assert_eq!(local("call wed at noon").unwrap().0, "Wed 2026-12-09 12:00");
        assert_eq!(local("call me tonight").unwrap().0, "Wed 2026-12-02 19:00");
    }

    #[test]
    fn an_hour_alone_is_a_working_hour_today_or_tomorrow() {
        assert_eq!(local("call me at 4").unwrap().0, "Wed 2026-12-02 16:00");
        assert_eq!(local("ring me around 9").unwrap().0, "Thu 2026-12-03 09:00");
        assert_eq!(local("call me 8am").unwrap().0, "Thu 2026-12-03 08:00");
        assert_eq!(local("call me @ 11:15").unwrap().0, "Thu 2026-12-03 11:15");
        assert_eq!(local("call back 12am").unwrap().0, "Thu 2026-12-03 00:00");
        assert_eq!(local("call me tomorrow").unwrap().0, "Thu 2026-12-03 09:00");
    }

    #[test]
    fn numbers_that_are_not_times_are_not_read_as_times() {
        assert_eq!(local("call me on 512-555-0100"), None);
        assert_eq!(local("please call, we have 3 trucks"), None);
        assert_eq!(local("call me at 13pm"), None);
        assert_eq!(local("call me"), None);
    }
}
