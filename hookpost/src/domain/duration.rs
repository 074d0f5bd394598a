//! Durations as people write them (`5m`, `250ms`, `6h`), in settings and in JSON.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// A duration that reads and writes as a humantime string (`"5m"`, `"250ms"`), so
/// settings stay readable in API answers and configuration alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses `5m`, `1h 30m`, `250ms`; a bare number is refused because its unit
    /// would be a guess.
    pub fn parse(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|e| {
                format!("`{text}` is not a duration like \"30s\", \"5m\" or \"250ms\": {e}")
            })
    }
}

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HumanDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_down_to_milliseconds_and_writes_them_back() {
        let d = HumanDuration::parse("250ms").unwrap();
        assert_eq!(d.0, Duration::from_millis(250));
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"250ms\"");
        let d: HumanDuration = serde_json::from_str("\"6h\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn refuses_a_bare_number() {
        assert!(HumanDuration::parse("30").is_err());
        assert!(serde_json::from_str::<HumanDuration>("30").is_err());
    }
}
