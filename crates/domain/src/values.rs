//! Validated values: once constructed through `parse`, they are known good.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a value was refused, phrased for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: &'static str,
}

fn invalid(field: &'static str, reason: &'static str) -> InvalidValue {
    InvalidValue { field, reason }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An email address, trimmed and lower-cased so that lookups are exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().to_lowercase();
        const FIELD: &str = "email";
        if s.is_empty() {
            return Err(invalid(FIELD, "is required"));
        }
        if s.len() > 254 {
            return Err(invalid(FIELD, "is too long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(FIELD, "must not contain spaces"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(invalid(FIELD, "must contain @"));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(invalid(FIELD, "is not an email address"));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid(FIELD, "needs a domain such as example.com"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name shown to people: trimmed, 1 to 100 characters, printable.
fn display_name(raw: &str, field: &'static str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if s.chars().count() > 100 {
        return Err(invalid(field, "is longer than 100 characters"));
    }
    if has_control(s) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(s.to_owned())
}

/// A person's display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        display_name(raw, "name").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A team's display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        display_name(raw, "team name").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A team's URL name: lower-case letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TeamSlug(String);

impl TeamSlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        const FIELD: &str = "team slug";
        if s.len() < 2 || s.len() > 40 {
            return Err(invalid(FIELD, "must be 2 to 40 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                FIELD,
                "may contain only lower-case letters, digits and hyphens",
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(invalid(FIELD, "must not start or end with a hyphen"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A path on this site, safe to redirect to. Browsers read `//host` and
/// `/\host` as another site, and drop tabs and newlines before parsing
/// (`/\t/host` becomes `//host`), so the rule is strict: one leading `/`,
/// no second `/` right after it, no `\` anywhere, printable ASCII only (a
/// URL we hand out is percent-encoded), at most [`LocalPath::MAX_LEN`]
/// bytes. Every redirect target that comes from a request (`next`,
/// `return_to`) goes through this.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalPath(String);

impl LocalPath {
    /// Longer than any page of ours; a cap keeps headers and logs small.
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const FIELD: &str = "path";
        if raw.len() > Self::MAX_LEN {
            return Err(invalid(FIELD, "is too long"));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                FIELD,
                "must not contain spaces or control characters",
            ));
        }
        if !raw.starts_with('/') {
            return Err(invalid(FIELD, "must start with /"));
        }
        // A path we hand out writes a backslash as %5C, and browsers read a
        // raw one as `/`: refusing it anywhere is simpler than reasoning
        // about where it would become `//`.
        if raw.starts_with("//") || raw.contains('\\') {
            return Err(invalid(FIELD, "must be a path on this site"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The home page.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

string_conversions!(EmailAddress, LocalPath, PersonName, TeamName, TeamSlug);

/// What a member may do in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Connects business pages, suggests posts, manages members.
    Admin,
    /// Shares suggested posts to their own accounts.
    Ambassador,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ambassador => "ambassador",
        }
    }
}

impl FromStr for Role {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "ambassador" => Ok(Role::Ambassador),
            _ => Err(invalid("role", "must be admin or ambassador")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_to_lower_case_without_spaces_around() {
        let e = EmailAddress::parse("  Amy@Acme.Example ").unwrap();
        assert_eq!(e.as_str(), "amy@acme.example");
    }

    #[test]
    fn email_without_at_or_domain_is_refused() {
        for bad in [
            "",
            "amy",
            "amy@",
            "@acme.example",
            "amy@acme",
            "a b@acme.example",
            "a@b@c.d",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn slug_accepts_lower_case_and_hyphens_only() {
        assert!(TeamSlug::parse("acme-corp2").is_ok());
        for bad in ["A", "acme corp", "-acme", "acme-", "Acme", "a", "ac_me"] {
            assert!(TeamSlug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_refuse_empty_overlong_and_control_characters() {
        assert!(PersonName::parse("  ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert!(PersonName::parse("Amy\u{0}").is_err());
        assert_eq!(
            PersonName::parse(" Amy Ambassador ").unwrap().as_str(),
            "Amy Ambassador"
        );
        assert!(TeamName::parse("").is_err());
    }

    #[test]
    fn role_round_trips_through_its_text() {
        for role in [Role::Admin, Role::Ambassador] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("owner".parse::<Role>().is_err());
    }

    #[test]
    fn local_path_accepts_paths_on_this_site() {
        for good in [
            "/",
            "/t/acme",
            "/t/acme/members?tab=invites#top",
            "/a/b//c",
            "/x%2Fy",
        ] {
            assert_eq!(LocalPath::parse(good).unwrap().as_str(), good);
        }
        let longest = format!("/{}", "a".repeat(LocalPath::MAX_LEN - 1));
        assert!(LocalPath::parse(&longest).is_ok());
    }

    #[test]
    fn local_path_refuses_every_known_way_off_site() {
        let too_long = format!("/{}", "a".repeat(LocalPath::MAX_LEN));
        for bad in [
            "",
            // also what `/%2F/evil.example` decodes to
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/t/..\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "\t//evil.example",
            " /evil.example",
            "/ /evil.example",
            "https:evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/t/acme\u{0}",
            "/t/\u{3000}/evil.example",
            "/\u{ff0f}evil.example",
            "/t/acme\u{7f}",
            too_long.as_str(),
        ] {
            assert!(LocalPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
