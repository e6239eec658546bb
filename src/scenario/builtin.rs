//! The built-in scenarios: TOML files in `src/scenario/builtin/`, embedded at compile time.
//!
//! They use exactly the format users write, so `traceblast scenarios show NAME` prints a file
//! that `--scenarios` accepts back after editing.

/// Names of the built-in scenarios, in id order.
pub const BUILTIN: [&str; 4] = ["simple_query", "single_service_search", "delegated_booking", "multi_service_complex"];

/// (name, TOML text) of every built-in scenario, in id order.
pub fn builtin_sources() -> [(&'static str, &'static str); 4] {
    [
        ("simple_query", include_str!("builtin/simple_query.toml")),
        ("single_service_search", include_str!("builtin/single_service_search.toml")),
        ("delegated_booking", include_str!("builtin/delegated_booking.toml")),
        ("multi_service_complex", include_str!("builtin/multi_service_complex.toml")),
    ]
}
