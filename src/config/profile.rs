//! `replay`'s load profile: `--stages` and `--arrivals` (the rate itself is `--rate`, parsed
//! with the other replay flags).

use crate::replay::schedule::{Arrivals, Stage};
use crate::replay::{Rate, RateIn};

/// Most `--stages` entries.
pub const MAX_STAGES: usize = 1000;

/// Parsed `--stages`: the stages, and the entries given in other units than requests/s.
pub type Stages = (Vec<Stage>, Vec<(usize, RateIn)>);

/// `--stages 30s:100,2m:500,30s:0`: each entry is how long and the rate to reach by its end
/// (requests/s, or spans, traces or bytes a second as `--rate` takes them; 0 allowed). Returns
/// the stages (a unit's entries hold a placeholder target) and the entries in other units, to
/// convert with the corpus's sizes. Errors name the entry.
pub fn parse_stages(v: &str, max_total: std::time::Duration) -> Result<Stages, String> {
    let entries: Vec<&str> = v.split(',').map(str::trim).collect();
    if entries.len() > MAX_STAGES {
        return Err(format!("{} stages; at most {MAX_STAGES}", entries.len()));
    }
    let (mut stages, mut units, mut total) = (Vec::new(), Vec::new(), std::time::Duration::ZERO);
    for (i, e) in entries.iter().enumerate() {
        let at = |why: String| format!("stage {} '{e}': {why}", i + 1);
        let (d, r) = e.split_once(':').ok_or_else(|| at("expected DURATION:RATE (30s:100, 2m:2000spans/s)".into()))?;
        let duration = crate::units::parse_duration(d.trim(), max_total).map_err(at)?;
        let target = match r.trim() {
            z if z.parse::<f64>() == Ok(0.0) => 0.0,
            r if r.eq_ignore_ascii_case("max") => return Err(at("a stage's rate is a number, not max".into())),
            r => match super::replay::parse_rate(r).map_err(at)? {
                (_, Some(unit)) => {
                    units.push((i, unit));
                    0.0
                }
                (Rate::PerSec(r), None) => r,
                (Rate::Max, None) => unreachable!("max is refused above"),
            },
        };
        total += duration;
        stages.push(Stage { duration, target });
    }
    if total.is_zero() {
        return Err("the stages last 0 s".into());
    }
    if total > max_total {
        return Err(format!("the stages last {}, more than the maximum, {}", fmt(total), fmt(max_total)));
    }
    if units.is_empty() && stages.iter().all(|s| s.target == 0.0) {
        return Err("every stage's rate is 0: nothing would be sent".into());
    }
    Ok((stages, units))
}

fn fmt(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `--arrivals uniform|poisson`, with `--seed` for Poisson's gaps.
pub fn parse_arrivals(v: &str, seed: u64) -> Result<Arrivals, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "uniform" => Ok(Arrivals::Uniform),
        "poisson" => Ok(Arrivals::Poisson { seed }),
        _ => Err("expected uniform or poisson".into()),
    }
}

/// The stages as `--stages` takes them (in requests/s once converted): `30s:100,2m:500`.
pub fn stages_text(stages: &[Stage]) -> String {
    stages
        .iter()
        .map(|s| format!("{}:{}", fmt(s.duration), crate::units::trim_rate(s.target)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DAY: Duration = crate::units::DAY;

    #[test]
    fn parses_k6_style_stages() {
        let (s, units) = parse_stages("30s:100, 2m:500,30s:0", DAY).unwrap();
        assert_eq!(
            s,
            [
                Stage { duration: Duration::from_secs(30), target: 100.0 },
                Stage { duration: Duration::from_secs(120), target: 500.0 },
                Stage { duration: Duration::from_secs(30), target: 0.0 },
            ]
        );
        assert!(units.is_empty());
        assert_eq!(stages_text(&s), "30s:100,2m:500,30s:0");
        let (_, units) = parse_stages("10s:2000spans/s,10s:5MB/s", DAY).unwrap();
        assert_eq!(
            units.iter().map(|u| (u.0, u.1.given.as_str())).collect::<Vec<_>>(),
            [(0, "2000spans/s"), (1, "5MB/s")]
        );
    }

    #[test]
    fn errors_name_the_stage() {
        for (bad, want) in [
            ("30s", "stage 1 '30s': expected DURATION:RATE"),
            ("30s:100,soon:5", "stage 2 'soon:5': 'soon' is not a duration"),
            ("30s:100,1m:max", "stage 2 '1m:max': a stage's rate is a number, not max"),
            ("30s:-5", "stage 1 '30s:-5': must be a number"),
            ("30s:1e9", "stage 1 '30s:1e9': must be a number"),
            ("10s:0,5s:0", "every stage's rate is 0"),
            ("0s:10", "the stages last 0 s"),
            ("20h:10,20h:10", "the stages last 1day 16h, more than the maximum, 1day"),
            ("1s:1,", "stage 2 '': expected DURATION:RATE"),
        ] {
            let e = parse_stages(bad, DAY).unwrap_err();
            assert!(e.starts_with(want), "{bad}: {e}");
        }
        let many = vec!["1s:1"; MAX_STAGES + 1].join(",");
        assert_eq!(parse_stages(&many, DAY).unwrap_err(), "1001 stages; at most 1000");
    }

    #[test]
    fn arrivals() {
        assert_eq!(parse_arrivals("Poisson", 9), Ok(Arrivals::Poisson { seed: 9 }));
        assert_eq!(parse_arrivals("uniform", 9), Ok(Arrivals::Uniform));
        assert!(parse_arrivals("bursty", 9).is_err());
    }
}
