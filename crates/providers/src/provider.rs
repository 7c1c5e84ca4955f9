//! The four providers Apostle talks to, by the names used in configuration, URLs and rows.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    LinkedIn,
    X,
    Facebook,
    Instagram,
}

/// A provider name that is none of `linkedin`, `x`, `facebook`, `instagram`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: linkedin, x, facebook or instagram")]
pub struct UnknownProvider(pub String);

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::LinkedIn,
        Provider::X,
        Provider::Facebook,
        Provider::Instagram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::LinkedIn => "linkedin",
            Provider::X => "x",
            Provider::Facebook => "facebook",
            Provider::Instagram => "instagram",
        }
    }

    pub fn parse(name: &str) -> Result<Provider, UnknownProvider> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| UnknownProvider(name.to_owned()))
    }

    /// The name people know it by, for emails and pages.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::LinkedIn => "LinkedIn",
            Provider::X => "X",
            Provider::Facebook => "Facebook",
            Provider::Instagram => "Instagram",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Provider::parse(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_parses_back_from_its_name() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Ok(provider));
        }
        assert!(Provider::parse("LinkedIn").is_err());
        assert!(Provider::parse("twitter").is_err());
    }
}
