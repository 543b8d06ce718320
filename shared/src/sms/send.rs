//! Whether a text may go to a lead now, by the law and the tenant's rules, before anything is
//! sent: never to a lead who opted out (TCPA; a STOP is final until the lead texts START),
//! only to one who opted in when the tenant requires consent, and only inside the hours of the
//! lead's own day the tenant allows (8:00 to 21:00 by default, the TCPA's quiet hours; a
//! stricter window by state). The lead's time zone is its area code's (`scoring::caller`);
//! a number whose zone is unknown is held to the window in every zone of the continental US,
//! so a text never lands in anyone's quiet hours by a wrong guess.

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::domain::{SendWindow, SmsEngagement, TextingRules};
use crate::scoring::caller::CallerPlace;

/// Why a text may not go now.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The lead opted out: never texted again.
    OptedOut,
    /// The tenant requires consent and the lead never gave it.
    NoConsent,
    /// Outside the allowed hours of the lead's day; it may go at `next`.
    QuietHours { next: DateTime<Utc>, zone: String },
}

impl Refusal {
    /// The problem type's last word (`urn:leadscore:problem:<slug>`).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::OptedOut => "opted-out",
            Self::NoConsent => "no-consent",
            Self::QuietHours { .. } => "quiet-hours",
        }
    }

    /// Why, in a sentence for the API's problem.
    pub fn explain(&self, window: SendWindow) -> String {
        match self {
            Self::OptedOut => "the lead opted out of texts; an opted-out lead is never texted \
                               (TCPA) until it texts START"
                .to_owned(),
            Self::NoConsent => "the tenant requires consent before texting \
                                (settings.texting.require_consent), and the lead has not opted in"
                .to_owned(),
            Self::QuietHours { next, zone } => format!(
                "texts go only from {}:00 to {}:00 of the lead's day ({zone}); the next allowed \
                 minute is {}",
                window.start_hour,
                window.end_hour,
                next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// The zones a number of unknown place is held to: a text allowed in all of them is allowed
/// wherever in the continental US the lead is.
const UNKNOWN_PLACE_ZONES: [Tz; 4] = [
    chrono_tz::America::New_York,
    chrono_tz::America::Chicago,
    chrono_tz::America::Denver,
    chrono_tz::America::Los_Angeles,
];

/// Whether a text may go to a lead with this engagement and place at `now`.
pub fn judge(
    engagement: Option<&SmsEngagement>,
    place: &CallerPlace,
    rules: &TextingRules,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let opted_in = engagement.is_some_and(|e| e.opted_in);
    if engagement.is_some_and(|e| e.opted_out) {
        return Err(Refusal::OptedOut);
    }
    if rules.require_consent && !opted_in {
        return Err(Refusal::NoConsent);
    }
    let window = rules.window_in(place.state);
    let zones: Vec<Tz> = match place.tz {
        Some(tz) => vec![tz],
        None => UNKNOWN_PLACE_ZONES.to_vec(),
    };
    if zones
        .iter()
        .all(|tz| inside(window, now.with_timezone(tz).hour()))
    {
        return Ok(());
    }
    let zone = match place.tz {
        Some(tz) => tz.name().to_owned(),
        None => "time zone unknown: held to every continental US zone".to_owned(),
    };
    Err(Refusal::QuietHours {
        next: next_allowed(window, &zones, now),
        zone,
    })
}

fn inside(w: SendWindow, hour: u32) -> bool {
    (w.start_hour..w.end_hour).contains(&hour)
}

/// The first whole minute from `now` at which the window is open in every zone: the next
/// window start in each zone that is outside, checked against the others (at most two days
/// ahead: each zone's window opens every day). `None` cannot happen for a window that is open
/// in all zones at once some hour of the day; otherwise the latest start is taken.
fn next_allowed(w: SendWindow, zones: &[Tz], now: DateTime<Utc>) -> DateTime<Utc> {
    let mut candidates: Vec<DateTime<Utc>> = Vec::new();
    for tz in zones {
        let local = now.with_timezone(tz);
        for days in 0..=2 {
            let day = local.date_naive() + Duration::days(days);
            if let Some(start) = tz
                .from_local_datetime(&day.and_hms_opt(w.start_hour, 0, 0).unwrap_or_default())
                .earliest()
            {
                let start = start.with_timezone(&Utc);
                if start > now {
                    candidates.push(start);
                }
            }
        }
    }
    candidates.sort();
    candidates
        .into_iter()
        .find(|t| zones.iter().all(|tz| inside(w, t.with_timezone(tz).hour())))
        .unwrap_or(now + Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    fn place(number: &str) -> CallerPlace {
        CallerPlace::of(&PhoneNumber::parse_with_region(number, None).unwrap())
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn engagement(opted_in: bool, opted_out: bool) -> SmsEngagement {
        SmsEngagement {
            opted_in,
            opted_out,
            ..SmsEngagement::default()
        }
    }

    #[test]
    fn an_opted_out_lead_is_never_texted_whatever_the_rules_say() {
        let rules = TextingRules::default();
        let noon_ny = at("2026-12-02T17:00:00Z");
        let austin = place("+15125550100");
        assert_eq!(
            judge(Some(&engagement(true, true)), &austin, &rules, noon_ny),
            Err(Refusal::OptedOut)
        );
        assert_eq!(judge(None, &austin, &rules, noon_ny), Ok(()));
        let strict = TextingRules {
            require_consent: true,
            ..rules
        };
        assert_eq!(
            judge(Some(&engagement(false, false)), &austin, &strict, noon_ny),
            Err(Refusal::NoConsent)
        );
        assert_eq!(
            judge(None, &austin, &strict, noon_ny),
            Err(Refusal::NoConsent)
        );
        assert_eq!(
            judge(Some(&engagement(true, false)), &austin, &strict, noon_ny),
            Ok(())
        );
    }

    #[test]
    fn quiet_hours_are_the_leads_own_and_name_the_next_allowed_minute() {
        let rules = TextingRules::default();
        // 22:30 in Austin (Central, UTC-6 in December): the next minute is 8:00 there.
        let late = at("2026-12-03T04:30:00Z");
        let refusal = judge(None, &place("+15125550100"), &rules, late).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::QuietHours {
                next: at("2026-12-03T14:00:00Z"),
                zone: "America/Chicago".to_owned()
            }
        );
        assert!(
            refusal
                .explain(rules.window)
                .contains("2026-12-03T14:00:00Z")
        );
        // The same instant is 20:30 in San Francisco: allowed.
        assert_eq!(judge(None, &place("+14155550134"), &rules, late), Ok(()));
        // 7:59 is quiet, 8:00 is not; 20:59 is allowed, 21:00 is not.
        let sf = place("+14155550134");
        assert!(judge(None, &sf, &rules, at("2026-12-02T15:59:00Z")).is_err());
        assert!(judge(None, &sf, &rules, at("2026-12-02T16:00:00Z")).is_ok());
        assert!(judge(None, &sf, &rules, at("2026-12-03T04:59:00Z")).is_ok());
        assert!(judge(None, &sf, &rules, at("2026-12-03T05:00:00Z")).is_err());
    }

    #[test]
    fn a_state_window_replaces_the_default_for_leads_there() {
        let rules = TextingRules {
            state_windows: [(
                "FL".to_owned(),
                SendWindow {
                    start_hour: 8,
                    end_hour: 20,
                },
            )]
            .into(),
            ..TextingRules::default()
        };
        // 20:30 in Miami (Eastern): quiet under Florida's window, fine under the default.
        let evening = at("2026-12-03T01:30:00Z");
        let miami = place("+13055550100");
        assert!(matches!(
            judge(None, &miami, &rules, evening),
            Err(Refusal::QuietHours { .. })
        ));
        assert_eq!(judge(None, &place("+12125550100"), &rules, evening), Ok(()));
    }

    #[test]
    fn a_number_of_unknown_place_waits_for_the_window_in_every_zone() {
        let rules = TextingRules::default();
        let london = place("+442071838750");
        // 9:00 Eastern is 6:00 Pacific: not yet.
        let refusal = judge(None, &london, &rules, at("2026-12-02T14:00:00Z")).unwrap_err();
        let Refusal::QuietHours { next, .. } = refusal else {
            panic!("{refusal:?}")
        };
        assert_eq!(next, at("2026-12-02T16:00:00Z"), "8:00 Pacific");
        // Noon Pacific is 15:00 Eastern: inside everywhere.
        assert_eq!(
            judge(None, &london, &rules, at("2026-12-02T20:00:00Z")),
            Ok(())
        );
    }

    #[test]
    fn windows_are_checked_when_saved() {
        let bad = |rules: TextingRules| rules.validate().unwrap_err().to_string();
        let r = TextingRules {
            window: SendWindow {
                start_hour: 21,
                end_hour: 8,
            },
            ..TextingRules::default()
        };
        assert!(bad(r).contains("texting.window"));
        let r = TextingRules {
            from: Some("my number".to_owned()),
            ..TextingRules::default()
        };
        assert!(bad(r).contains("texting.from"));
        let r = TextingRules {
            state_windows: [("Florida".to_owned(), SendWindow::default())].into(),
            ..TextingRules::default()
        };
        assert!(bad(r).contains("`Florida`"));
        let ok = TextingRules {
            from: Some("MG0123456789abcdef0123456789abcdef".to_owned()),
            ..TextingRules::default()
        };
        assert!(ok.validate().is_ok());
    }
}
