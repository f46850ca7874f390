//! Calendar arithmetic on epoch milliseconds. No clock here: callers pass `now_ms` in.

pub const DAY_MS: f64 = 86_400_000.0;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The UTC day number of an instant.
pub fn utc_day(now_ms: f64) -> i64 {
    (now_ms / DAY_MS).floor() as i64
}

/// Parses a strict `yyyy-MM-dd` date into a day number, checking the day exists.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Parses a `yyyy-MM-ddTHH:mm:ssZ` instant (the Raw Activity API's job times) into epoch
/// milliseconds. The document shows `Z`; the same vendor's token answer writes
/// `2026-01-01T00:00:00.000000` (fraction, no zone), so a fraction of any length is read and a
/// missing zone, `+00:00` or `+0000` mean UTC. Any other offset is refused, not guessed.
pub fn parse_utc_seconds(s: &str) -> Option<f64> {
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .or_else(|| s.strip_suffix("+00:00"))
        .or_else(|| s.strip_suffix("+0000"))
        .unwrap_or(s);
    let (date, time) = s.split_once('T')?;
    let day = parse_date(date)?;
    let (time, frac) = match time.split_once('.') {
        Some((t, f)) => (t, Some(f)),
        None => (time, None),
    };
    let t = time.as_bytes();
    if t.len() != 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<i64> {
        let (a, b) = (t[i], t[i + 1]);
        (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from((a - b'0') * 10 + (b - b'0')))
    };
    let (h, m, sec) = (two(0)?, two(3)?, two(6)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let ms = match frac {
        None => 0.0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            let digits: String = f.chars().chain("000".chars()).take(3).collect();
            digits.parse::<f64>().ok()?
        }
        Some(_) => return None,
    };
    Some(day as f64 * DAY_MS + ((h * 60 + m) * 60 + sec) as f64 * 1000.0 + ms)
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_reject_impossible_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("2024-02-29").map(format_date).as_deref(),
            Some("2024-02-29")
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "２０２４-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(
            parse_utc_seconds("1970-01-02T01:02:03Z"),
            Some(DAY_MS + 3_723_000.0)
        );
        // Every reading of the job times: zone-less, microseconds, an explicit UTC offset.
        for (text, ms) in [
            ("1970-01-02T01:02:03", 0.0),
            ("1970-01-02T01:02:03.5Z", 500.0),
            ("1970-01-02T01:02:03.123456", 123.0),
            ("1970-01-02T01:02:03+00:00", 0.0),
        ] {
            assert_eq!(
                parse_utc_seconds(text),
                Some(DAY_MS + 3_723_000.0 + ms),
                "{text}"
            );
        }
        for bad in [
            "1970-01-02 01:02:03Z",
            "1970-01-02T01:02:03+02:00",
            "1970-01-02T01:02:03.Z",
            "1970-01-02T01:02:03.12a",
            "1970-01-02T24:00:00Z",
            "1970-01-02T1:02:03Z",
            "1970-02-30T01:02:03Z",
        ] {
            assert_eq!(parse_utc_seconds(bad), None, "{bad}");
        }
        assert_eq!(utc_day(DAY_MS - 1.0), 0);
        assert_eq!(utc_day(DAY_MS), 1);
    }
}
