//! The run's options in words, for pages and text meant for people. The JSON keeps its keys
//! (`max_in_flight`, `http2`); a key this version does not know (a newer report) is shown as
//! it is rather than hidden.

/// `(key, label)` of every option `replay` records, in the order they read best.
const LABELS: [(&str, &str); 17] = [
    ("protocol", "protocol"),
    ("rate", "target rate (requests/s)"),
    ("ramp_up", "ramp-up"),
    ("stages", "load stages (duration:requests/s)"),
    ("arrivals", "arrivals"),
    ("stop", "stops after"),
    ("max_in_flight", "most in flight"),
    ("connections", "connections"),
    ("threads", "sender threads"),
    ("timeout", "request timeout"),
    ("retries", "retries per request"),
    ("compression", "compression"),
    ("batch", "records per request"),
    ("http2", "HTTP/2"),
    ("rewrite", "times shifted and IDs remapped"),
    ("shard", "shard (this machine / machines)"),
    ("pacer_priority", "pacer thread priority"),
];

/// The label of option `key`, or the key itself when this version does not know it.
pub fn option_label(key: &str) -> &str {
    LABELS.iter().find(|(k, _)| *k == key).map_or(key, |(_, l)| l)
}

/// An option's value for people: `true` / `false` as yes / no; anything else as recorded.
pub fn option_value(value: &str) -> &str {
    match value {
        "true" => "yes",
        "false" => "no",
        other => other,
    }
}

/// `(label, value)` of `options`: known keys first in [`LABELS`] order, then unknown ones by key.
pub fn options_in_words(options: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    let rank = |k: &str| LABELS.iter().position(|(key, _)| *key == k).unwrap_or(LABELS.len());
    let mut keys: Vec<&String> = options.keys().collect();
    keys.sort_by_key(|k| rank(k));
    keys.into_iter().map(|k| (option_label(k).to_string(), option_value(&options[k]).to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_as_words_and_unknown_keys_stay_as_they_are() {
        let options = [
            ("http2", "true"),
            ("max_in_flight", "256"),
            ("rewrite", "false"),
            ("threads", "4"),
            ("batch", "8"),
            ("some_new_knob", "on"),
            ("rate", "max"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let rows = options_in_words(&options);
        let rows: Vec<(&str, &str)> = rows.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            rows,
            [
                ("target rate (requests/s)", "max"),
                ("most in flight", "256"),
                ("sender threads", "4"),
                ("records per request", "8"),
                ("HTTP/2", "yes"),
                ("times shifted and IDs remapped", "no"),
                ("some_new_knob", "on"),
            ]
        );
        for (key, label) in LABELS {
            assert!(!label.contains('_'), "{key}: the label is a word, not a key");
        }
    }
}
