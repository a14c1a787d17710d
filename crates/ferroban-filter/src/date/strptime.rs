//! `%`-directives of date patterns, and turning matched fields into a timestamp.
//!
//! Owns the regex for each directive (`%Y`, `%b`, Fail2ban's stricter `%Ex…` forms …),
//! the time-zone abbreviation table, and the conversion of the captured fields into
//! epoch seconds with Fail2ban's rules for missing year/day (the year that is not after
//! "now", today or yesterday). It does not search lines.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Abbreviation of a zone: one capital letter, or 3 to 5 of them.
pub const TZ_ABBR_RE: &str = "[A-Z](?:[A-Z]{2,4})?";

/// Regex of a directive (without the `%`), or `None` if unknown.
pub fn directive_regex(key: &str, now_year: i16) -> Option<String> {
    let r = match key {
        "%" => "%",
        "a" => "(?P<a>mon|tue|wed|thu|fri|sat|sun)",
        "A" => "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)",
        "b" => "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
        "B" => "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)",
        "c" => r"(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)",
        "d" => r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])",
        "f" => r"(?P<f>[0-9]{1,6})",
        "G" => r"(?P<G>\d\d\d\d)",
        "H" => r"(?P<H>[0-1]?\d|2[0-3])",
        "I" => r"(?P<I>1[0-2]|0[1-9]|[1-9])",
        "j" => r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
        "k" => r" ?(?P<H>[0-2]?\d)",
        "l" => r" ?(?P<I>1?\d)",
        "m" => r"(?P<m>0?[1-9]|1[0-2])",
        "M" => r"(?P<M>[0-5]?\d)",
        "p" => "(?P<p>am|pm)",
        "S" => r"(?P<S>[0-5]?\d|6[0-1])",
        "u" => "(?P<u>[1-7])",
        "U" => r"(?P<U>5[0-3]|[0-4]\d|\d)",
        "V" => r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)",
        "w" => "(?P<w>[0-6])",
        "W" => r"(?P<W>5[0-3]|[0-4]\d|\d)",
        "x" => r"(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)",
        "X" => r"(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)",
        "y" => r"(?P<y>\d\d)",
        "Y" => r"(?P<Y>\d{4})",
        "z" => r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
        "Z" => "(?P<Z>Z|[A-Z]{3,5})",
        "ExH" => r"(?P<H>[0-1]\d|2[0-3])",
        "ExM" => r"(?P<M>[0-5]\d)",
        "ExS" => r"(?P<S>[0-5]\d|6[0-1])",
        "ExY" => return Some(format!(r"(?P<Y>{}\d)", century_regex(now_year))),
        "ExZ" => return Some(format!("(?P<Z>{TZ_ABBR_RE})")),
        "Exd" => r"(?P<d>[1-2]\d|0[1-9]|3[0-1])",
        "Exk" => r" ?(?P<H>[0-1]?\d|2[0-3])",
        "Exl" => r" ?(?P<I>1[0-2]|\d)",
        "Exm" => r"(?P<m>0[1-9]|1[0-2])",
        "Exy" => r"(?P<y>\d{2})",
        "Exz" => return Some(format!(r"(?P<z>(?:{TZ_ABBR_RE})?[+-][01]\d(?::?\d{{2}})?|{TZ_ABBR_RE})")),
        _ => return None,
    };
    Some(r.to_string())
}

/// Display name of a directive in template names (`%d` → `Day`).
pub fn directive_name(key: &str) -> String {
    let base = |k: &str| -> Option<&'static str> {
        Some(match k {
            "a" => "DAY",
            "A" => "DAYNAME",
            "b" => "MON",
            "B" => "MONTH",
            "d" => "Day",
            "H" => "24hour",
            "I" => "12hour",
            "j" => "Yearday",
            "m" => "Month",
            "M" => "Minute",
            "p" => "AMPM",
            "S" => "Second",
            "U" | "W" => "Yearweek",
            "w" => "Weekday",
            "y" => "Year2",
            "Y" => "Year",
            "%" => "%",
            "z" => "Zone offset",
            "f" => "Microseconds",
            "Z" => "Zone name",
            _ => return None,
        })
    };
    if let Some(n) = base(key) {
        return n.to_string();
    }
    if let Some(rest) = key.strip_prefix("Ex") {
        if let Some(n) = base(rest) {
            return format!("Ex{n}");
        }
    }
    format!("%{key}")
}

/// Directives, longest first, as they are looked for after a `%`.
pub const DIRECTIVES: [&str; 40] = [
    "%", "ExZ", "Exz", "Exd", "Exm", "ExH", "Exk", "Exl", "ExM", "ExS", "ExY", "Exy", "d", "f",
    "H", "I", "G", "j", "m", "M", "S", "U", "w", "u", "V", "y", "Y", "z", "A", "a", "B", "b", "p",
    "Z", "W", "c", "x", "X", "k", "l",
];

/// Centuries-and-decade prefix accepted by `%ExY`: the decades from 2000 up to a few
/// years after now (Fail2ban accepts no year far in the future or before 2000).
fn century_regex(now_year: i16) -> String {
    let mut set: Vec<String> = Vec::new();
    let mut add = |y: i32| {
        let s = y.to_string();
        let p = s[..3.min(s.len())].to_string();
        if !set.contains(&p) {
            set.push(p);
        }
    };
    let now = i32::from(now_year);
    add(now - 1);
    add(now + 3);
    let mut y = 2001 - 1;
    while y <= now {
        add(y);
        y += 3;
    }
    set.sort();
    group_prefixes(&set)
}

/// Compact alternation of equal-length strings by common prefix (`200|201` → `20[01]`).
fn group_prefixes(set: &[String]) -> String {
    if set.len() <= 1 {
        return set.concat();
    }
    let common = |take: fn(&str) -> &str| -> Option<String> {
        let first = take(&set[0]);
        set.iter()
            .all(|s| take(s) == first)
            .then(|| first.to_string())
    };
    let prefix = common(|s| &s[..s.len().saturating_sub(1)])
        .filter(|c| !c.is_empty())
        .or_else(|| common(|s| &s[..1.min(s.len())]).filter(|c| !c.is_empty()));
    if let Some(c) = prefix {
        let rest: Vec<String> = set.iter().map(|s| s[c.len()..].to_string()).collect();
        return format!("{c}{}", group_prefixes(&rest));
    }
    if set[0].chars().count() > 1 {
        format!("(?:{})", set.join("|"))
    } else {
        format!("[{}]", set.concat())
    }
}

/// Offset in minutes of a zone abbreviation (military letters and common names).
pub fn abbreviation_offset(abbr: &str) -> Option<i32> {
    const TABLE: &[(f32, &str)] = &[
        (-12.0, "Y"),
        (-11.0, "X NUT SST"),
        (-10.0, "W CKT HAST HST TAHT TKT"),
        (-9.0, "V AKST GAMT GIT HADT HNY"),
        (-8.0, "U AKDT CIST HAY HNP PST PT"),
        (-7.0, "T HAP HNR MST PDT"),
        (-6.0, "S CST EAST GALT HAR HNC MDT"),
        (-5.0, "R CDT COT EASST ECT EST ET HAC HNE PET"),
        (-4.0, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"),
        (
            -3.0,
            "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT",
        ),
        (-2.0, "O BRST FNT PMDT UYST WGST"),
        (-1.0, "N AZOT CVT EGT"),
        (0.0, "Z EGST GMT UTC WET WT"),
        (1.0, "A CET DFT WAT WEDT WEST"),
        (2.0, "B CAT CEDT CEST EET SAST WAST"),
        (3.0, "C EAT EEDT EEST IDT MSK"),
        (4.0, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"),
        (
            5.0,
            "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT",
        ),
        (6.0, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"),
        (7.0, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"),
        (
            8.0,
            "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST",
        ),
        (9.0, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"),
        (10.0, "K AEST ChST PGT VLAT YAKST YAPT"),
        (11.0, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"),
        (
            12.0,
            "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT",
        ),
        (13.0, "FJST NZDT"),
        (11.5, "NFT"),
        (10.5, "ACDT LHST"),
        (9.5, "ACST"),
        (6.5, "CCT MMT"),
        (5.75, "NPT"),
        (5.5, "SLT"),
        (4.5, "AFT IRDT"),
        (3.5, "IRST"),
        (-2.5, "HAT NDT"),
        (-3.5, "HNT NST NT"),
        (-4.5, "HLV VET"),
        (-9.5, "MART MIT"),
    ];
    if abbr.is_empty() {
        return Some(0);
    }
    TABLE
        .iter()
        .find(|(_, names)| names.split(' ').any(|n| n == abbr))
        .map(|(h, _)| (h * 60.0) as i32)
}

/// Parse a zone like `UTC`, `+0200`, `CET+01:00`, `-05` into minutes east of UTC.
pub fn zone_offset(zone: &str) -> Option<i32> {
    let split = zone.find(['+', '-']).unwrap_or(zone.len());
    let (abbr, off) = zone.split_at(split);
    let valid_abbr = abbr.is_empty()
        || (abbr.chars().all(|c| c.is_ascii_uppercase())
            && (abbr.len() == 1 || (3..=5).contains(&abbr.len())));
    if !valid_abbr {
        return None;
    }
    let base = abbreviation_offset(abbr)?;
    if off.is_empty() {
        return Some(base);
    }
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits = &off[1..];
    let (h, m) = match digits.len() {
        2 => (digits, "0"),
        4 => (&digits[..2], &digits[2..]),
        5 if digits.as_bytes()[2] == b':' => (&digits[..2], &digits[3..]),
        _ => return None,
    };
    if !h.starts_with(['0', '1']) {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    Some(base + sign * (h * 60 + m))
}

/// Fields captured by a date template.
#[derive(Debug, Default, Clone)]
pub struct Fields<'a> {
    pub values: Vec<(&'a str, &'a str)>,
}

const MONTHS_LONG: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Turn captured fields into epoch seconds, as Fail2ban does: missing year → the
/// current one, or the previous one if that puts the date more than a day after now;
/// missing day → today, or yesterday if after now. `default_tz` (minutes) applies when
/// the line has no zone; otherwise local time (`tz`) is used.
pub fn fields_to_epoch(
    fields: &Fields,
    now: i64,
    tz: &TimeZone,
    default_tz: Option<i32>,
) -> Option<f64> {
    let mut year: Option<i32> = None;
    let mut month: Option<i32> = None;
    let mut day: Option<i32> = None;
    let (mut hour, mut minute, mut second) = (0i32, 0i32, 0i32);
    let mut tzoffset: Option<i32> = None;
    let mut julian: Option<i32> = None;
    let mut week_of_year: Option<(i32, bool)> = None;
    let mut weekday: Option<i32> = None;
    let ampm = fields
        .values
        .iter()
        .find(|(k, _)| *k == "p")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    for &(key, val) in &fields.values {
        let num = || val.trim().parse::<i32>().ok();
        match key {
            "y" => {
                let y = num()?;
                year = Some(if y <= 2000 { y + 2000 } else { y });
            }
            "Y" => year = Some(num()?),
            "m" => month = Some(num()?),
            "B" => {
                month = Some(MONTHS_LONG.iter().position(|m| *m == val.to_lowercase())? as i32 + 1)
            }
            "b" => {
                let v = val.to_lowercase();
                month = Some(MONTHS_LONG.iter().position(|m| m[..3] == v)? as i32 + 1)
            }
            "d" => day = Some(num()?),
            "H" => hour = num()?,
            "I" => {
                hour = num()?;
                if ampm.is_empty() || ampm == "am" {
                    if hour == 12 {
                        hour = 0;
                    }
                } else if ampm == "pm" && hour != 12 {
                    hour += 12;
                }
            }
            "M" => minute = num()?,
            "S" => second = num()?,
            "A" => weekday = Some(WEEKDAYS.iter().position(|w| *w == val.to_lowercase())? as i32),
            "a" => {
                let v = val.to_lowercase();
                weekday = Some(WEEKDAYS.iter().position(|w| w[..3] == v)? as i32)
            }
            "w" => {
                let w = num()? - 1;
                weekday = Some(if w < 0 { 6 } else { w });
            }
            "j" => julian = Some(num()?),
            "U" => week_of_year = Some((num()?, false)),
            "W" => week_of_year = Some((num()?, true)),
            "z" | "Z" => {
                tzoffset = Some(if matches!(val, "Z" | "UTC" | "GMT") {
                    0
                } else {
                    zone_offset(val)?
                });
            }
            _ => {}
        }
    }
    let now_local = jiff::Timestamp::from_second(now)
        .ok()?
        .to_zoned(tz.clone())
        .datetime();
    let assume_year = year.is_none();
    let year = year.unwrap_or(i32::from(now_local.year()));
    let (mut month, mut day) = (month, day);
    if month.is_none() || day.is_none() {
        if julian.is_none() {
            if let (Some((week, monday_first)), Some(wd)) = (week_of_year, weekday) {
                julian = Some(julian_from_week(year, week, wd, monday_first)?);
            }
        }
        if let Some(j) = julian {
            let d = Date::new(year as i16, 1, 1)
                .ok()?
                .checked_add(jiff::Span::new().days(i64::from(j - 1)))
                .ok()?;
            month = Some(i32::from(d.month()));
            day = Some(i32::from(d.day()));
        }
    }
    let assume_today = month.is_none() && day.is_none();
    let month = month.unwrap_or(i32::from(now_local.month()));
    let day = day.unwrap_or(i32::from(now_local.day()));
    let mut dt = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        // Python's datetime rejects second 60/61 the same way.
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    let tzoffset = tzoffset.or(default_tz);
    if let Some(off) = tzoffset {
        dt = dt
            .checked_sub(jiff::Span::new().minutes(i64::from(off)))
            .ok()?;
    }
    // Fail2ban compares these naive times with local "now" even when they are UTC.
    if assume_today && dt > now_local {
        dt = dt.checked_sub(jiff::Span::new().days(1)).ok()?;
    }
    if assume_year && dt > now_local.checked_add(jiff::Span::new().days(1)).ok()? {
        dt = DateTime::new(
            i16::try_from(year - 1).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
            dt.hour(),
            dt.minute(),
            dt.second(),
            0,
        )
        .ok()?;
    }
    let ts = match tzoffset {
        Some(_) => dt.to_zoned(TimeZone::UTC).ok()?.timestamp(),
        None => dt.to_zoned(tz.clone()).ok()?.timestamp(),
    };
    Some(ts.as_second() as f64)
}

/// Whether every time `fields` can take by changing only its minute and second (where
/// it has them) is its own time plus the difference: then a date that differs from
/// a read one only there is read by adding that difference (see the detector's
/// `DateRead::step`).
///
/// Why that is exact: within one hour of one day, [`fields_to_epoch`] is the local
/// time minus the zone's offset, moved back a day or a year when it lies after `now`.
/// Those moves are decided by comparing the local time with a threshold, the same
/// decision all over the hour unless the first and the last second of the hour are
/// read differently, which the difference between their times shows. The offset is
/// the date's own zone or `logtimezone` (fixed), or a fixed local zone, or a local zone
/// with no transition within two days of the hour: then each local time of the hour
/// has exactly one reading, at that one offset (offsets differ by less than two days).
/// (One transition within the hour shows in the difference too; the zone is checked
/// all the same, as the difference cannot rule out two whose changes cancel.)
pub fn clock_is_linear(fields: &Fields, tz: &TimeZone, now: i64, default_tz: Option<i32>) -> bool {
    let has = |key: &str| fields.values.iter().any(|(k, _)| *k == key);
    let at = |clock: &'static str| Fields {
        values: (fields.values.iter())
            .map(|&(k, v)| (k, if matches!(k, "M" | "S") { clock } else { v }))
            .collect(),
    };
    let span = if has("S") { 59.0 } else { 0.0 } + if has("M") { 59.0 * 60.0 } else { 0.0 };
    let first = fields_to_epoch(&at("00"), now, tz, default_tz);
    let last = fields_to_epoch(&at("59"), now, tz, default_tz);
    let (Some(first), Some(last)) = (first, last) else {
        return false;
    };
    if last - first != span {
        return false;
    }
    let fixed_offset = has("z") || has("Z") || default_tz.is_some() || tz.to_fixed_offset().is_ok();
    fixed_offset || no_transition_near(tz, first as i64, last as i64)
}

/// No transition of `tz` within two days of `first..=last` (epoch seconds).
fn no_transition_near(tz: &TimeZone, first: i64, last: i64) -> bool {
    const TWO_DAYS: i64 = 2 * 86_400;
    let Ok(from) = jiff::Timestamp::from_second(first - TWO_DAYS) else {
        return false;
    };
    tz.following(from)
        .next()
        .is_none_or(|t| t.timestamp().as_second() > last + TWO_DAYS)
}

/// Day of the year from a week number and weekday (Python's `_calc_julian_from_U_or_W`).
fn julian_from_week(year: i32, week: i32, weekday: i32, monday_first: bool) -> Option<i32> {
    let first = Date::new(i16::try_from(year).ok()?, 1, 1).ok()?;
    let first_weekday = i32::from(first.weekday().to_monday_zero_offset());
    let (first_weekday, weekday) = if monday_first {
        (first_weekday, weekday)
    } else {
        ((first_weekday + 1) % 7, (weekday + 1) % 7)
    };
    let week_0_length = (7 - first_weekday) % 7;
    Some(if week == 0 {
        1 + weekday - first_weekday
    } else {
        1 + week_0_length + 7 * (week - 1) + weekday
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn century() {
        assert_eq!(century_regex(2026), "20[012]");
        assert_eq!(century_regex(2005), "200");
        assert_eq!(century_regex(2031), "20[0123]");
    }

    #[test]
    fn zones() {
        assert_eq!(zone_offset("+0200"), Some(120));
        assert_eq!(zone_offset("-05:30"), Some(-330));
        assert_eq!(zone_offset("CET"), Some(60));
        assert_eq!(zone_offset("CET+01"), Some(120));
        assert_eq!(zone_offset("UTC"), Some(0));
        assert_eq!(zone_offset("Europe/Paris"), None);
    }

    #[test]
    fn year_is_not_after_now() {
        let tz = TimeZone::UTC;
        // now: 2005-08-14 10:00:00 UTC
        let now = 1124013600;
        let f = Fields {
            values: vec![
                ("b", "Dec"),
                ("d", "31"),
                ("H", "23"),
                ("M", "59"),
                ("S", "59"),
            ],
        };
        let t = fields_to_epoch(&f, now, &tz, None).unwrap();
        assert_eq!(t, 1104537599.0); // 2004-12-31 23:59:59
        let f = Fields {
            values: vec![("Y", "2005"), ("m", "02"), ("d", "30")],
        };
        assert_eq!(fields_to_epoch(&f, now, &tz, None), None);
    }
}
