//! Caller data from the phone number: the country (libphonenumber's metadata, through the
//! `phonenumber` crate) and, for North American numbers, the state or province and time zone
//! of the area code, from which the caller's local hour and weekday at call time follow.
//!
//! The area-code table is the North American Numbering Plan's geographic codes as assigned
//! by NANPA. Where an area code spans two time zones it is given the zone most of its
//! subscribers live in (850, the Florida panhandle: Central; 915, El Paso: Mountain).

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::domain::PhoneNumber;

/// Where a caller is: country, and state/province and time zone where the number tells.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerPlace {
    pub country: Option<String>,
    pub state: Option<&'static str>,
    pub tz: Option<Tz>,
}

/// The caller's wall clock at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalTime {
    pub hour: u32,
    pub weekday: Weekday,
}

impl LocalTime {
    /// Monday to Friday, 9:00 to 16:59 local time.
    pub fn business_hours(&self) -> bool {
        !matches!(self.weekday, Weekday::Sat | Weekday::Sun) && (9..17).contains(&self.hour)
    }
}

impl CallerPlace {
    pub fn of(phone: &PhoneNumber) -> Self {
        let country = phone.region();
        let (state, tz) = phone
            .as_str()
            .strip_prefix("+1")
            .and_then(|national| national.get(..3)?.parse::<u16>().ok())
            .and_then(area_code)
            .map_or((None, None), |(s, tz)| (Some(s), Some(tz)));
        Self { country, state, tz }
    }

    pub fn local_time(&self, at: DateTime<Utc>) -> Option<LocalTime> {
        let local = at.with_timezone(&self.tz?);
        Some(LocalTime {
            hour: local.hour(),
            weekday: local.weekday(),
        })
    }
}

/// The state or province and time zone of a North American area code.
pub fn area_code(code: u16) -> Option<(&'static str, Tz)> {
    AREA_CODES
        .iter()
        .find(|(_, _, codes)| codes.contains(&code))
        .map(|(state, tz, _)| (*state, *tz))
}

use chrono_tz::America::Indiana::Indianapolis;
use chrono_tz::America::{
    Anchorage, Boise, Chicago, Denver, Detroit, Edmonton, Halifax, Los_Angeles, Moncton, New_York,
    Phoenix, Puerto_Rico, Regina, St_Johns, St_Thomas, Toronto, Vancouver, Winnipeg,
};
use chrono_tz::Pacific::{Guam, Honolulu, Pago_Pago, Saipan};

/// (state or province, time zone, area codes). A code appears once.
const AREA_CODES: &[(&str, Tz, &[u16])] = &[
    ("AL", Chicago, &[205, 251, 256, 334, 659, 938]),
    ("AK", Anchorage, &[907]),
    ("AZ", Phoenix, &[480, 520, 602, 623, 928]),
    ("AR", Chicago, &[327, 479, 501, 870]),
    (
        "CA",
        Los_Angeles,
        &[
            209, 213, 279, 310, 323, 341, 350, 369, 408, 415, 424, 442, 510, 530, 559, 562, 619,
            626, 628, 650, 657, 661, 669, 707, 714, 738, 747, 760, 805, 818, 820, 831, 837, 840,
            858, 909, 916, 925, 949, 951,
        ],
    ),
    ("CO", Denver, &[303, 719, 720, 970, 983]),
    ("CT", New_York, &[203, 475, 860, 959]),
    ("DE", New_York, &[302]),
    ("DC", New_York, &[202, 771]),
    (
        "FL",
        New_York,
        &[
            239, 305, 321, 324, 352, 386, 407, 561, 645, 656, 689, 727, 728, 754, 772, 786, 813,
            863, 904, 941, 954,
        ],
    ),
    ("FL", Chicago, &[448, 850]),
    (
        "GA",
        New_York,
        &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943],
    ),
    ("HI", Honolulu, &[808]),
    ("ID", Boise, &[208, 986]),
    (
        "IL",
        Chicago,
        &[
            217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 861, 872,
        ],
    ),
    ("IN", Indianapolis, &[260, 317, 463, 574, 765, 812, 930]),
    ("IN", Chicago, &[219]),
    ("IA", Chicago, &[319, 515, 563, 641, 712]),
    ("KS", Chicago, &[316, 620, 785, 913]),
    ("KY", New_York, &[502, 606, 859]),
    ("KY", Chicago, &[270, 364]),
    ("LA", Chicago, &[225, 318, 337, 504, 985]),
    ("ME", New_York, &[207]),
    ("MD", New_York, &[227, 240, 301, 410, 443, 667]),
    (
        "MA",
        New_York,
        &[339, 351, 413, 508, 617, 774, 781, 857, 978],
    ),
    (
        "MI",
        Detroit,
        &[
            231, 248, 269, 313, 517, 586, 616, 679, 734, 810, 906, 947, 989,
        ],
    ),
    ("MN", Chicago, &[218, 320, 507, 612, 651, 763, 952]),
    ("MS", Chicago, &[228, 601, 662, 769]),
    (
        "MO",
        Chicago,
        &[235, 314, 417, 557, 573, 636, 660, 816, 975],
    ),
    ("MT", Denver, &[406]),
    ("NE", Chicago, &[308, 402, 531]),
    ("NV", Los_Angeles, &[702, 725, 775]),
    ("NH", New_York, &[603]),
    (
        "NJ",
        New_York,
        &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973],
    ),
    ("NM", Denver, &[505, 575]),
    (
        "NY",
        New_York,
        &[
            212, 315, 329, 332, 347, 363, 516, 518, 585, 607, 624, 631, 646, 680, 716, 718, 838,
            845, 914, 917, 929, 934,
        ],
    ),
    (
        "NC",
        New_York,
        &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984],
    ),
    ("ND", Chicago, &[701]),
    (
        "OH",
        New_York,
        &[
            216, 220, 234, 283, 326, 330, 380, 419, 436, 440, 513, 567, 614, 740, 937,
        ],
    ),
    ("OK", Chicago, &[405, 539, 572, 580, 918]),
    ("OR", Los_Angeles, &[458, 503, 541, 971]),
    (
        "PA",
        New_York,
        &[
            215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878,
        ],
    ),
    ("RI", New_York, &[401]),
    ("SC", New_York, &[803, 821, 839, 843, 854, 864]),
    ("SD", Chicago, &[605]),
    ("TN", New_York, &[423, 865]),
    ("TN", Chicago, &[615, 629, 731, 901, 931]),
    (
        "TX",
        Chicago,
        &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806,
            817, 830, 832, 903, 936, 940, 945, 956, 972, 979,
        ],
    ),
    ("TX", Denver, &[915]),
    ("UT", Denver, &[385, 435, 801]),
    ("VT", New_York, &[802]),
    (
        "VA",
        New_York,
        &[276, 434, 540, 571, 686, 703, 757, 804, 826, 948],
    ),
    ("WA", Los_Angeles, &[206, 253, 360, 425, 509, 564]),
    ("WV", New_York, &[304, 681]),
    ("WI", Chicago, &[262, 274, 414, 534, 608, 715, 920]),
    ("WY", Denver, &[307]),
    ("PR", Puerto_Rico, &[787, 939]),
    ("VI", St_Thomas, &[340]),
    ("GU", Guam, &[671]),
    ("MP", Saipan, &[670]),
    ("AS", Pago_Pago, &[684]),
    ("AB", Edmonton, &[368, 403, 587, 780, 825]),
    ("BC", Vancouver, &[236, 250, 257, 604, 672, 778]),
    ("MB", Winnipeg, &[204, 431, 584]),
    ("NB", Moncton, &[428, 506]),
    ("NL", St_Johns, &[709, 879]),
    ("NS", Halifax, &[782, 902]),
    (
        "ON",
        Toronto,
        &[
            226, 249, 289, 343, 365, 382, 416, 437, 519, 548, 613, 647, 683, 705, 742, 753, 807,
            905, 942,
        ],
    ),
    (
        "QC",
        Toronto,
        &[263, 354, 367, 418, 438, 450, 468, 514, 579, 581, 819, 873],
    ),
    ("SK", Regina, &[306, 474, 639]),
];

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn each_area_code_is_listed_once() {
        let mut codes: Vec<u16> = AREA_CODES
            .iter()
            .flat_map(|r| r.2.iter().copied())
            .collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n, "an area code is listed twice");
        assert!(codes.iter().all(|c| (200..1000).contains(c)));
    }

    #[test]
    fn numbers_give_their_state_zone_and_local_time() {
        let austin = CallerPlace::of(&PhoneNumber::parse("+15125550147").unwrap());
        assert_eq!(austin.country.as_deref(), Some("US"));
        assert_eq!(austin.state, Some("TX"));
        assert_eq!(austin.tz, Some(Chicago));
        // 15:30 UTC on Monday 2026-11-23 is 9:30 in Austin (CST, UTC-6): business hours.
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 15, 30, 0).unwrap();
        let local = austin.local_time(at).unwrap();
        assert_eq!((local.hour, local.weekday), (9, Weekday::Mon));
        assert!(local.business_hours());
        // ... and 6:30 in Los Angeles, before the working day.
        let la = CallerPlace::of(&PhoneNumber::parse("+13105550100").unwrap());
        assert_eq!(la.state, Some("CA"));
        assert!(!la.local_time(at).unwrap().business_hours());
        // Summer time: 15:30 UTC on 2026-07-01 is 11:30 in New York (EDT, UTC-4).
        let ny = CallerPlace::of(&PhoneNumber::parse("+12125550100").unwrap());
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 15, 30, 0).unwrap();
        assert_eq!(ny.local_time(summer).unwrap().hour, 11);
        let toronto = CallerPlace::of(&PhoneNumber::parse("+14165550100").unwrap());
        assert_eq!(
            (toronto.country.as_deref(), toronto.state),
            (Some("CA"), Some("ON"))
        );
        // Outside North America: the country only.
        let london = CallerPlace::of(&PhoneNumber::parse("+442079460000").unwrap());
        assert_eq!(london.country.as_deref(), Some("GB"));
        assert_eq!((london.state, london.local_time(at)), (None, None));
    }
}
