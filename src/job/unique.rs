//! [`Unique`]: at most one job per key in a scope. The storage's unique index decides, so
//! concurrent enqueues of one key on any number of servers create one job; the others are
//! answered with the job that holds the key ([`Enqueued::duplicate`](crate::Enqueued)).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest explicit unique key, in characters.
pub const MAX_UNIQUE_KEY_CHARS: usize = 200;

/// How a job is unique: its key, and for how long the key is held.
///
/// ```
/// use std::time::Duration;
/// use stoker::{NewJob, Unique, UniqueScope};
///
/// // One report per customer waiting or running at a time.
/// let job = NewJob::new("report", serde_json::json!({"customer": 42}))
///     .unique(Unique::by_args());
/// // At most one digest per customer an hour, whatever became of the last one.
/// let digest = NewJob::new("digest", serde_json::json!({}))
///     .unique(Unique::by_key("digest-42").scope(UniqueScope::Period(Duration::from_secs(3600))));
/// ```
///
/// Over HTTP and in storage it reads and writes as `{"key"?: string, "scope"?: "queued" |
/// "active" | "period", "period_seconds"?: n}`: no key means by the arguments, `scope`
/// defaults to `active`, and `period_seconds` goes with `period` and only with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UniqueWire", into = "UniqueWire")]
pub struct Unique {
    pub(crate) key: Option<String>,
    pub(crate) scope: UniqueScope,
}

/// Which jobs with the same key make a new one a duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UniqueScope {
    /// A job that waits: `scheduled`, `enqueued` or `awaiting`. Once it starts, a new job with
    /// the key may be enqueued.
    Queued,
    /// A job that waits or runs (retries included), until it succeeds, fails or is deleted.
    Active,
    /// Any job created within the period before, whatever its state.
    Period(Duration),
}

impl Unique {
    /// Unique by the job's type and the canonical form of its arguments (object keys sorted),
    /// in scope [`UniqueScope::Active`].
    pub fn by_args() -> Self {
        Unique {
            key: None,
            scope: UniqueScope::Active,
        }
    }

    /// Unique by `key` (1 to 200 characters, checked when the job is enqueued), in scope
    /// [`UniqueScope::Active`].
    pub fn by_key(key: impl Into<String>) -> Self {
        Unique {
            key: Some(key.into()),
            scope: UniqueScope::Active,
        }
    }

    /// Holds the key in `scope` instead.
    pub fn scope(mut self, scope: UniqueScope) -> Self {
        self.scope = scope;
        self
    }
}

impl UniqueScope {
    /// The scope's name as stored and as the HTTP API spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UniqueScope::Queued => "queued",
            UniqueScope::Active => "active",
            UniqueScope::Period(_) => "period",
        }
    }
}

/// The schema of [`Unique`] is its JSON's.
#[cfg(feature = "web")]
impl utoipa::PartialSchema for Unique {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <UniqueWire as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "web")]
impl utoipa::ToSchema for Unique {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <UniqueWire as utoipa::ToSchema>::schemas(schemas);
    }
}

/// [`Unique`] as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct UniqueWire {
    /// The key (1..200 characters); without it, the type and the canonical arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// `queued`, `active` (the default) or `period`.
    #[serde(default)]
    scope: UniqueScopeName,
    /// The period of scope `period`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    period_seconds: Option<u64>,
}

/// A scope's name in [`UniqueWire`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "web", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
enum UniqueScopeName {
    Queued,
    #[default]
    Active,
    Period,
}

impl TryFrom<UniqueWire> for Unique {
    type Error = String;

    fn try_from(wire: UniqueWire) -> Result<Self, String> {
        let scope = match (wire.scope, wire.period_seconds) {
            (UniqueScopeName::Period, Some(seconds)) => {
                UniqueScope::Period(Duration::from_secs(seconds))
            }
            (UniqueScopeName::Period, None) => {
                return Err("scope `period` needs `period_seconds`".into());
            }
            (_, Some(_)) => return Err("`period_seconds` goes with scope `period` only".into()),
            (UniqueScopeName::Queued, None) => UniqueScope::Queued,
            (UniqueScopeName::Active, None) => UniqueScope::Active,
        };
        Ok(Unique {
            key: wire.key,
            scope,
        })
    }
}

impl From<Unique> for UniqueWire {
    fn from(unique: Unique) -> Self {
        let (scope, period_seconds) = match unique.scope {
            UniqueScope::Queued => (UniqueScopeName::Queued, None),
            UniqueScope::Active => (UniqueScopeName::Active, None),
            UniqueScope::Period(period) => (UniqueScopeName::Period, Some(period.as_secs())),
        };
        UniqueWire {
            key: unique.key,
            scope,
            period_seconds,
        }
    }
}

/// The key of a job of `job_type` with arguments `args` that names none: the type and a
/// SHA-256 of the arguments' canonical form, short enough for any index whatever the size of
/// the arguments.
pub(crate) fn key_of_args(job_type: &str, args: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(args, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{job_type}:{hex}")
}

/// `value` as JSON with every object's keys in sorted order and no spaces.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (n, (key, value)) in entries.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arguments_that_differ_only_in_key_order_or_spacing_share_a_key() {
        let a = key_of_args("report", &json!({"b": [1, {"y": 2, "x": 1}], "a": "z"}));
        let parsed: serde_json::Value =
            serde_json::from_str(r#"{ "a" : "z", "b" : [1, {"x": 1, "y": 2}] }"#).unwrap();
        assert_eq!(a, key_of_args("report", &parsed));
        assert!(a.starts_with("report:"), "{a}");
    }

    #[test]
    fn json_without_a_period_for_scope_period_or_with_one_for_another_scope_is_refused() {
        let parse = |text| serde_json::from_str::<Unique>(text).map_err(|e| e.to_string());
        assert_eq!(parse("{}").unwrap(), Unique::by_args());
        let hourly = Unique::by_key("k").scope(UniqueScope::Period(Duration::from_secs(3600)));
        let text = r#"{"key":"k","scope":"period","period_seconds":3600}"#;
        assert_eq!(parse(text).unwrap(), hourly);
        assert_eq!(serde_json::to_string(&hourly).unwrap(), text);
        assert!(
            parse(r#"{"scope":"period"}"#)
                .unwrap_err()
                .contains("period_seconds")
        );
        let stray = parse(r#"{"scope":"queued","period_seconds":5}"#).unwrap_err();
        assert!(stray.contains("scope `period` only"), "{stray}");
        assert!(parse(r#"{"scope":"forever"}"#).is_err());
    }

    #[test]
    fn another_type_or_other_values_make_another_key() {
        let args = json!({"customer": 42});
        let key = key_of_args("report", &args);
        assert_ne!(key, key_of_args("digest", &args));
        assert_ne!(key, key_of_args("report", &json!({"customer": 43})));
        assert_ne!(key, key_of_args("report", &json!({"customer": "42"})));
    }
}
