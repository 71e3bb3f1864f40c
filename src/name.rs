//! Names that come from outside and end up in file names, schema names or queries: workspace
//! names and queue names. They are checked once, here, before anything touches storage.

use std::fmt;

/// The rule of workspace names, as a regular expression (for the API's description).
#[cfg(feature = "web")]
pub(crate) const WORKSPACE_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,62}$";
/// The rule of queue names, as a regular expression.
#[cfg(feature = "web")]
pub(crate) const QUEUE_PATTERN: &str = "^[a-z0-9_-]{1,50}$";
/// The rule of recurring job ids (and lock names), as a regular expression.
#[cfg(feature = "web")]
pub(crate) const RECURRING_ID_PATTERN: &str = "^[A-Za-z0-9_.:-]{1,100}$";

/// A checked workspace name: `^[a-z0-9][a-z0-9_-]{0,62}$`, safe as a file or schema name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceName(String);

/// A name that breaks the rules for its kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name `{name}`: {rule}")]
pub struct InvalidName {
    kind: &'static str,
    name: String,
    rule: &'static str,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

impl WorkspaceName {
    const RULE: &'static str =
        "use 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter or digit";

    /// Checks `name`.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if starts_well && name.len() <= 63 && name.chars().all(is_name_char) {
            Ok(WorkspaceName(name.to_owned()))
        } else {
            Err(InvalidName {
                kind: "workspace",
                name: name.to_owned(),
                rule: Self::RULE,
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The workspace's PostgreSQL schema: its name, unless PostgreSQL reserves it (`public`,
    /// `information_schema`, `pg_*`).
    #[cfg(feature = "postgres")]
    pub(crate) fn schema(&self) -> Result<&str, InvalidName> {
        let reserved =
            ["public", "information_schema"].contains(&self.as_str()) || self.0.starts_with("pg_");
        if reserved {
            Err(InvalidName {
                kind: "workspace",
                name: self.0.clone(),
                rule: "`public`, `information_schema` and `pg_*` are PostgreSQL's own schemas",
            })
        } else {
            Ok(&self.0)
        }
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a queue name: `^[a-z0-9_-]{1,50}$`.
pub(crate) fn check_queue(name: &str) -> Result<(), InvalidName> {
    if (1..=50).contains(&name.len()) && name.chars().all(is_name_char) {
        Ok(())
    } else {
        Err(InvalidName {
            kind: "queue",
            name: name.to_owned(),
            rule: "use 1 to 50 of a-z, 0-9, '_' and '-'",
        })
    }
}

/// Checks a recurring job id: `^[A-Za-z0-9_.:-]{1,100}$`.
pub(crate) fn check_recurring_id(id: &str) -> Result<(), InvalidName> {
    check_id("recurring job", id)
}

/// Checks the name of a distributed lock, by the rule of recurring job ids.
pub(crate) fn check_lock_name(name: &str) -> Result<(), InvalidName> {
    check_id("lock", name)
}

fn check_id(kind: &'static str, id: &str) -> Result<(), InvalidName> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
    if (1..=100).contains(&id.len()) && id.chars().all(allowed) {
        Ok(())
    } else {
        Err(InvalidName {
            kind,
            name: id.to_owned(),
            rule: "use 1 to 100 of A-Z, a-z, 0-9, '_', '.', ':' and '-'",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_that_could_escape_a_directory_are_refused() {
        for bad in [
            "",
            "../x",
            "a/b",
            "A",
            "-a",
            "_a",
            "a.b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(WorkspaceName::new(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["a", "acme", "0", "tenant-42_eu", &"a".repeat(63)] {
            assert_eq!(WorkspaceName::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn postgresql_schema_names_are_kept_for_postgresql() {
        for reserved in ["public", "information_schema", "pg_catalog", "pg_x"] {
            let name = WorkspaceName::new(reserved).unwrap();
            assert!(name.schema().is_err(), "{reserved} was accepted");
        }
        let name = WorkspaceName::new("tenant-42_eu").unwrap();
        assert_eq!(name.schema().unwrap(), "tenant-42_eu");
    }

    #[test]
    fn recurring_ids_follow_the_api_rule() {
        assert!(check_recurring_id("billing:monthly-rent_v2.1").is_ok());
        for bad in ["", "a b", "a/b", &"r".repeat(101)] {
            assert!(check_recurring_id(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn queue_names_follow_the_api_rule() {
        assert!(check_queue("default").is_ok());
        assert!(check_queue("_low-1").is_ok());
        for bad in ["", "Default", "a.b", &"q".repeat(51)] {
            assert!(check_queue(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
