//! Platform emulation: the headers, formats and size limits a platform's OTLP endpoint
//! insists on, so an exporter configuration can be rehearsed against the sink before it meets
//! the platform. Only the presence and scheme of credentials are checked; their values are
//! never compared, logged or printed.

use hyper::HeaderMap;

/// A platform to emulate (`--profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Braintrust: `Authorization: Bearer`, `x-bt-parent`, 10 MB bodies.
    Braintrust,
    /// LangSmith: `x-api-key` (and optionally `Langsmith-Project`).
    Langsmith,
    /// Langfuse: `Authorization: Basic` (public key : secret key).
    Langfuse,
    /// Phoenix: `Authorization: Bearer`, protobuf only.
    Phoenix,
    /// Honeycomb: `x-honeycomb-team`.
    Honeycomb,
}

/// The names `--profile` takes.
pub const PROFILE_NAMES: &str = "phoenix, langfuse, langsmith, braintrust, honeycomb";
/// The same names, one by one (shell completions), from the one list of platforms.
pub const NAMES: [&str; 5] = super::names(super::PROFILE);

impl Profile {
    /// Every profile, in the order of [`PROFILE_NAMES`].
    pub const ALL: [Profile; 5] =
        [Profile::Phoenix, Profile::Langfuse, Profile::Langsmith, Profile::Braintrust, Profile::Honeycomb];
}

/// Why a profile refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status (401, 400 or 415).
    pub status: u16,
    /// What is missing, naming the header (never its value).
    pub message: String,
}

impl Profile {
    /// Parses a profile name.
    pub fn parse(s: &str) -> Option<Profile> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "braintrust" => Profile::Braintrust,
            "langsmith" => Profile::Langsmith,
            "langfuse" => Profile::Langfuse,
            "phoenix" | "arize-phoenix" => Profile::Phoenix,
            "honeycomb" => Profile::Honeycomb,
            _ => return None,
        })
    }

    /// The name, as `--profile` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Braintrust => "braintrust",
            Profile::Langsmith => "langsmith",
            Profile::Langfuse => "langfuse",
            Profile::Phoenix => "phoenix",
            Profile::Honeycomb => "honeycomb",
        }
    }

    /// The path of the platform's OTLP traces endpoint, under its base URL (the same paths
    /// `crate::platform`'s presets send to), answered besides `/v1/traces` with this profile.
    pub fn path(self) -> &'static str {
        match self {
            Profile::Braintrust | Profile::Langsmith => "/otel/v1/traces",
            Profile::Langfuse => "/api/public/otel/v1/traces",
            Profile::Phoenix | Profile::Honeycomb => "/v1/traces",
        }
    }

    /// The platform's request body limit, if it has one the sink knows.
    pub fn max_body(self) -> Option<usize> {
        match self {
            Profile::Braintrust => Some(10_000_000),
            _ => None,
        }
    }

    /// Checks a request's headers; `json` says whether the body is OTLP/JSON.
    pub fn check(self, h: &HeaderMap, json: bool) -> Result<(), Refusal> {
        let refuse = |status, message: String| Err(Refusal { status, message });
        let name = self.name();
        match self {
            Profile::Braintrust | Profile::Phoenix if !has_scheme(h, "bearer") => {
                refuse(401, format!("{name}: missing header Authorization: Bearer <API key>"))
            }
            Profile::Langfuse if !has_scheme(h, "basic") => {
                refuse(401, format!("{name}: missing header Authorization: Basic <base64 public:secret key>"))
            }
            Profile::Langsmith if !present(h, "x-api-key") => refuse(401, format!("{name}: missing header x-api-key")),
            Profile::Honeycomb if !present(h, "x-honeycomb-team") => {
                refuse(401, format!("{name}: missing header x-honeycomb-team"))
            }
            Profile::Braintrust if !present(h, "x-bt-parent") => refuse(
                400,
                format!(
                    "{name}: missing header x-bt-parent (project_id:<id>, project_name:<name> or experiment_id:<id>)"
                ),
            ),
            Profile::Phoenix if json => {
                refuse(415, format!("{name}: only application/x-protobuf is accepted, not application/json"))
            }
            _ => Ok(()),
        }
    }
}

fn present(h: &HeaderMap, name: &str) -> bool {
    h.get(name).is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
}

/// `Authorization: <scheme> <credentials>` with non-empty credentials.
fn has_scheme(h: &HeaderMap, scheme: &str) -> bool {
    let Some(v) = h.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = v.trim().splitn(2, ' ');
    parts.next().is_some_and(|s| s.eq_ignore_ascii_case(scheme)) && parts.next().is_some_and(|c| !c.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn status(p: Profile, pairs: &[(&'static str, &'static str)], json: bool) -> u16 {
        p.check(&headers(pairs), json).err().map_or(200, |r| r.status)
    }

    #[test]
    fn each_profile_needs_its_headers() {
        use Profile::*;
        let bearer = ("authorization", "Bearer sk-secret");
        assert_eq!(status(Braintrust, &[], false), 401);
        assert_eq!(status(Braintrust, &[("authorization", "Basic abc")], false), 401);
        assert_eq!(status(Braintrust, &[("authorization", "Bearer ")], false), 401);
        assert_eq!(status(Braintrust, &[bearer], false), 400);
        assert_eq!(status(Braintrust, &[bearer, ("x-bt-parent", "project_name:p")], true), 200);
        assert_eq!(status(Langsmith, &[], false), 401);
        assert_eq!(status(Langsmith, &[("x-api-key", "k"), ("langsmith-project", "p")], true), 200);
        assert_eq!(status(Langfuse, &[bearer], false), 401);
        assert_eq!(status(Langfuse, &[("authorization", "basic cGs6c2s=")], false), 200);
        assert_eq!(status(Phoenix, &[], false), 401);
        assert_eq!(status(Phoenix, &[bearer], true), 415);
        assert_eq!(status(Phoenix, &[bearer], false), 200);
        assert_eq!(status(Honeycomb, &[("x-honeycomb-team", "  ")], false), 401);
        assert_eq!(status(Honeycomb, &[("x-honeycomb-team", "k")], false), 200);
    }

    #[test]
    fn messages_name_the_header_never_the_value() {
        let h = headers(&[("authorization", "Bearer sk-very-secret")]);
        let r = Profile::Braintrust.check(&h, false).unwrap_err();
        assert!(r.message.contains("x-bt-parent"), "{}", r.message);
        assert!(!r.message.contains("sk-very-secret"));
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.join(", "), PROFILE_NAMES);
        assert_eq!(NAMES.join(", "), PROFILE_NAMES);
        for name in PROFILE_NAMES.split(", ") {
            assert_eq!(Profile::parse(name).unwrap().name(), name);
        }
        assert_eq!(Profile::parse("datadog"), None);
    }

    #[test]
    fn paths_are_those_the_presets_send_to() {
        let env = crate::platform::env_with_every_key();
        for p in Profile::ALL {
            let url = crate::platform::resolve(p.name(), &env, crate::replay::Protocol::HttpProtobuf).unwrap().endpoint;
            let path = url.splitn(4, '/').nth(3).map(|rest| format!("/{rest}"));
            assert_eq!(path.as_deref(), Some(p.path()), "{url}");
        }
    }
}
