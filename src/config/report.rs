//! `report compare` arguments → validated [`Thresholds`]. Percentages are written `10%` or
//! `10`; the rate ratio `0.95` or `95%`. Errors name the flag and quote the value.

use anyhow::{Result, anyhow};

use crate::cli::CompareArgs;
use crate::report::compare::Thresholds;

/// A number with an optional trailing `%`: (the number, whether `%` was written).
fn number(flag: &str, s: &str, expected: &str) -> Result<(f64, bool)> {
    let t = s.trim();
    let (num, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v, percent)),
        _ => Err(anyhow!("{flag} '{s}': expected {expected}")),
    }
}

/// A regression limit: a percentage of BASE, 0 or more.
fn regression(flag: &str, s: &str) -> Result<f64> {
    let (v, _) = number(flag, s, "a percentage such as 10% or 2.5")?;
    if v < 0.0 {
        return Err(anyhow!("{flag} '{s}': must be 0 % or more (0 allows no regression at all)"));
    }
    Ok(v)
}

/// A share in percent, 0 to 100.
fn share(flag: &str, s: &str) -> Result<f64> {
    let (v, _) = number(flag, s, "a percentage between 0 and 100, such as 99.5%")?;
    if !(0.0..=100.0).contains(&v) {
        return Err(anyhow!("{flag} '{s}': expected a percentage between 0 and 100"));
    }
    Ok(v)
}

/// A ratio above 0: `0.95`, or `95%`.
fn ratio(flag: &str, s: &str) -> Result<f64> {
    let (v, percent) = number(flag, s, "a ratio such as 0.95 or 95%")?;
    let v = if percent { v / 100.0 } else { v };
    if v <= 0.0 {
        return Err(anyhow!("{flag} '{s}': must be more than 0"));
    }
    Ok(v)
}

/// Builds the thresholds of `report compare`.
pub fn thresholds(a: &CompareArgs) -> Result<Thresholds> {
    let opt =
        |v: &Option<String>, flag: &str, f: fn(&str, &str) -> Result<f64>| v.as_deref().map(|s| f(flag, s)).transpose();
    Ok(Thresholds {
        max_p50_regression: opt(&a.max_p50_regression, "--max-p50-regression", regression)?,
        max_p99_regression: opt(&a.max_p99_regression, "--max-p99-regression", regression)?,
        min_success: opt(&a.min_success, "--min-success", share)?,
        max_error_rate: opt(&a.max_error_rate, "--max-error-rate", share)?,
        min_rate_ratio: opt(&a.min_rate_ratio, "--min-rate-ratio", ratio)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_ratios_in_either_spelling() {
        assert_eq!(regression("--f", "10%").unwrap(), 10.0);
        assert_eq!(regression("--f", " 2.5 ").unwrap(), 2.5);
        assert_eq!(share("--f", "99.5 %").unwrap(), 99.5);
        assert_eq!(ratio("--f", "0.95").unwrap(), 0.95);
        assert_eq!(ratio("--f", "95%").unwrap(), 0.95);
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        let e = |f: fn(&str, &str) -> Result<f64>, s: &str| f("--max-p99-regression", s).unwrap_err().to_string();
        assert_eq!(e(regression, "ten"), "--max-p99-regression 'ten': expected a percentage such as 10% or 2.5");
        assert!(e(regression, "-5%").starts_with("--max-p99-regression '-5%': must be 0 % or more"));
        assert_eq!(e(share, "101"), "--max-p99-regression '101': expected a percentage between 0 and 100");
        assert_eq!(e(ratio, "0"), "--max-p99-regression '0': must be more than 0");
        assert!(e(regression, "NaN").contains("expected a percentage"));
    }
}
