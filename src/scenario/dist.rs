//! [`Dist`]: how a scenario file writes a quantity that varies, and what it can draw.
//!
//! Validation needs two numbers of every distribution: its mean (for the expected trace) and
//! the largest value the sampler in `synth::rng` can actually draw (for the largest trace).
//! Uniform and constant draws are bounded by what is written; a log-normal draw is
//! `median · e^(sigma · z)` with |z| ≤ [`Z_MAX`], which the sampler guarantees.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::limits::Z_MAX;

/// The forms a distribution takes in a file, as error messages state them.
pub const FORMS: &str = "a number, { median = M, sigma = S } or { min = A, max = B }";

/// A distribution of a non-negative quantity.
///
/// In TOML: a plain number (`4.0`), `{ median = 9.0, sigma = 0.3 }` for a log-normal (the
/// usual shape of latencies and text lengths), or `{ min = 1, max = 3 }` for a uniform range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Dist {
    /// Always this value.
    Const(f64),
    /// Log-normal with this median and shape (`sigma` of the underlying normal).
    LogNormal {
        /// The median of the distribution.
        median: f64,
        /// Spread: 0 is a constant, 0.3 is moderate, 1.0 is wide.
        sigma: f64,
    },
    /// Uniform between `min` and `max` (inclusive for integer uses).
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
}

impl Dist {
    /// The distribution's mean (used for static estimates only, never for sampling).
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Dist::Uniform { min, max } => (min + max) / 2.0,
        }
    }

    /// The smallest value the distribution takes (0 for log-normal's open bound).
    pub fn min(&self) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::LogNormal { .. } => 0.0,
            Dist::Uniform { min, .. } => min,
        }
    }

    /// The largest value the sampler draws (a log-normal's at z = [`Z_MAX`]).
    pub fn max(&self) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::LogNormal { median, sigma } => median * (sigma * Z_MAX).exp(),
            Dist::Uniform { max, .. } => max,
        }
    }

    /// The largest integer draw (`TraceRng::sample_count` rounds).
    pub fn count_max(&self) -> f64 {
        self.max().round()
    }

    /// The mean of an integer draw: a uniform range's rounded ends are equally likely.
    pub fn count_mean(&self) -> f64 {
        match *self {
            Dist::Uniform { min, max } => (min.round() + max.round()) / 2.0,
            _ => self.mean(),
        }
    }

    /// Whether every number is finite and the shape is valid: values ≥ 0, median > 0,
    /// sigma ≥ 0, min ≤ max.
    pub(crate) fn check(&self) -> Result<(), String> {
        let ok = match *self {
            Dist::Const(v) => v.is_finite() && v >= 0.0,
            Dist::LogNormal { median, sigma } => {
                median.is_finite() && median > 0.0 && sigma.is_finite() && sigma >= 0.0
            }
            Dist::Uniform { min, max } => min.is_finite() && max.is_finite() && 0.0 <= min && min <= max,
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Dist::Const(_) => "must be a finite number >= 0".to_string(),
            Dist::LogNormal { .. } => "needs a finite median > 0 and a finite sigma >= 0".to_string(),
            Dist::Uniform { .. } => "needs finite 0 <= min <= max".to_string(),
        })
    }
}

/// A number as TOML and error messages write it: plain up to ten million, in exponent form
/// beyond (`1e300`, not three hundred digits).
pub fn num(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e7 { format!("{v:.3e}").replace(".000e", "e") } else { format!("{v}") }
}

/// A count or limit for people: whole numbers below 10¹⁰ with thousands separators
/// (`86,400,000`), others as [`num`] (`5.946e13`).
pub fn amount(v: f64) -> String {
    if v.fract() == 0.0 && (0.0..1e10).contains(&v) { crate::units::thousands(v as u64) } else { num(v) }
}

/// The TOML form: `4`, `{ median = 9, sigma = 0.3 }`, `{ min = 1, max = 3 }`.
impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Dist::Const(v) => write!(f, "{}", num(v)),
            Dist::LogNormal { median, sigma } => write!(f, "{{ median = {}, sigma = {} }}", num(median), num(sigma)),
            Dist::Uniform { min, max } => write!(f, "{{ min = {}, max = {} }}", num(min), num(max)),
        }
    }
}

/// A number inside a distribution's table; its error says "a number", not "f64".
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// Written by hand so that a mistake names the accepted forms ([`FORMS`]) instead of serde's
/// "data did not match any variant of untagged enum".
impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DistVisitor)
    }
}

struct DistVisitor;

impl<'de> Visitor<'de> for DistVisitor {
    type Value = Dist;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FORMS)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dist, E> {
        Ok(Dist::Const(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dist, E> {
        Ok(Dist::Const(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dist, E> {
        Ok(Dist::Const(v as f64))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dist, A::Error> {
        let (mut median, mut sigma, mut min, mut max) = (None, None, None, None);
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "median" => &mut median,
                "sigma" => &mut sigma,
                "min" => &mut min,
                "max" => &mut max,
                _ => return Err(de::Error::custom(format!("unknown key `{key}`: expected {FORMS}"))),
            };
            *slot = Some(map.next_value::<Num>()?.0);
            keys.push(key);
        }
        match (median, sigma, min, max) {
            (Some(median), Some(sigma), None, None) => Ok(Dist::LogNormal { median, sigma }),
            (None, None, Some(min), Some(max)) => Ok(Dist::Uniform { min, max }),
            _ => Err(de::Error::custom(format!("expected {FORMS}, got {{ {} }}", keys.join(", ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<Dist, String> {
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            d: Dist,
        }
        toml::from_str::<T>(&format!("d = {v}")).map(|t| t.d).map_err(|e| e.message().to_string())
    }

    #[test]
    fn the_three_forms_parse_and_print_back() {
        for (text, want) in [
            ("4", Dist::Const(4.0)),
            ("2.5", Dist::Const(2.5)),
            ("{ median = 9, sigma = 0.3 }", Dist::LogNormal { median: 9.0, sigma: 0.3 }),
            ("{ min = 1, max = 3 }", Dist::Uniform { min: 1.0, max: 3.0 }),
        ] {
            let d = parse(text).unwrap();
            assert_eq!(d, want, "{text}");
            assert_eq!(parse(&d.to_string()).unwrap(), d, "{d} reads back");
        }
        assert_eq!(Dist::Const(1e300).to_string(), "1e300");
        assert_eq!(Dist::Const(1.5e19).to_string(), "1.500e19");
    }

    #[test]
    fn a_bad_form_names_the_accepted_ones_without_serde_internals() {
        for (text, needle) in [
            ("\"x\"", "invalid type: string \"x\""),
            ("{ median = 5 }", "got { median }"),
            ("{ min = 1, sigma = 2 }", "got { min, sigma }"),
            ("{ mean = 5, sigma = 1 }", "unknown key `mean`"),
            ("{ median = \"a\", sigma = 1 }", "expected a number"),
            ("[1, 2]", "invalid type: sequence"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
            if !needle.contains("a number") {
                assert!(e.contains(FORMS), "{text}: {e}");
            }
            assert!(!e.contains("untagged") && !e.contains("variant") && !e.contains("f64"), "{text}: {e}");
        }
    }

    #[test]
    fn max_is_what_the_sampler_can_draw() {
        assert_eq!(Dist::Const(3.0).max(), 3.0);
        assert_eq!(Dist::Uniform { min: 1.0, max: 9.4 }.count_max(), 9.0);
        let ln = Dist::LogNormal { median: 100.0, sigma: 0.5 };
        assert!((ln.max() - 100.0 * (0.5 * Z_MAX).exp()).abs() < 1e-9);
        assert_eq!(Dist::Uniform { min: 0.6, max: 3.0 }.count_mean(), 2.0);
        assert_eq!(Dist::Const(-1.0).check().unwrap_err(), "must be a finite number >= 0");
        assert!(Dist::LogNormal { median: 1.0, sigma: f64::NAN }.check().is_err());
        assert!(Dist::Uniform { min: 3.0, max: 1.0 }.check().is_err());
    }
}
