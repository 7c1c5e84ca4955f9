//! Why a connection broke (design.md §2), with the plain words its owner's email uses.

use std::fmt;

use crate::Provider;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakReason {
    TokenExpired,
    TokenRevoked,
    PasswordChanged,
    AppRemoved,
    PermissionMissing,
    PageAccessLost,
    /// The token is fine but the member must do something at the provider; a reconnect
    /// does not help, the next successful probe heals it.
    ProviderActionRequired,
    RefreshFailed,
}

/// A break reason name that design.md does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown break reason {0:?}")]
pub struct UnknownBreakReason(pub String);

impl BreakReason {
    pub const ALL: [BreakReason; 8] = [
        BreakReason::TokenExpired,
        BreakReason::TokenRevoked,
        BreakReason::PasswordChanged,
        BreakReason::AppRemoved,
        BreakReason::PermissionMissing,
        BreakReason::PageAccessLost,
        BreakReason::ProviderActionRequired,
        BreakReason::RefreshFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BreakReason::TokenExpired => "token_expired",
            BreakReason::TokenRevoked => "token_revoked",
            BreakReason::PasswordChanged => "password_changed",
            BreakReason::AppRemoved => "app_removed",
            BreakReason::PermissionMissing => "permission_missing",
            BreakReason::PageAccessLost => "page_access_lost",
            BreakReason::ProviderActionRequired => "provider_action_required",
            BreakReason::RefreshFailed => "refresh_failed",
        }
    }

    pub fn parse(name: &str) -> Result<BreakReason, UnknownBreakReason> {
        BreakReason::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| UnknownBreakReason(name.to_owned()))
    }

    /// What happened, in words for the owner's email.
    pub fn description(self) -> &'static str {
        match self {
            BreakReason::TokenExpired => "Its access expired and could not be renewed.",
            BreakReason::TokenRevoked => "Access for Apostle was withdrawn or is no longer valid.",
            BreakReason::PasswordChanged => {
                "The password of the account was changed, which ends every app's access."
            }
            BreakReason::AppRemoved => "Apostle was removed from the account's connected apps.",
            BreakReason::PermissionMissing => {
                "A permission Apostle needs was not granted or was taken back."
            }
            BreakReason::PageAccessLost => {
                "The person who connected it no longer has a role on this page."
            }
            BreakReason::ProviderActionRequired => {
                "The provider is asking the account holder to take an action on its website \
                 before apps may use the account again."
            }
            BreakReason::RefreshFailed => "Its access could not be renewed.",
        }
    }

    /// For [`BreakReason::ProviderActionRequired`], what the member should do at the
    /// provider (reconnecting does not fix it); `None` for the reasons a reconnect fixes.
    pub fn provider_action(self, provider: Provider) -> Option<&'static str> {
        if self != BreakReason::ProviderActionRequired {
            return None;
        }
        Some(match provider {
            Provider::Facebook | Provider::Instagram => {
                "Sign in at facebook.com and follow the instructions there (for example a \
                 security check or confirming your account). Apostle notices by itself when \
                 it is done."
            }
            Provider::LinkedIn => {
                "Sign in at linkedin.com and follow the instructions there. Apostle notices by \
                 itself when it is done."
            }
            Provider::X => {
                "Sign in at x.com and follow the instructions there. Apostle notices by itself \
                 when it is done."
            }
        })
    }
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_parses_back_and_has_words_for_the_email() {
        for reason in BreakReason::ALL {
            assert_eq!(BreakReason::parse(reason.as_str()), Ok(reason));
            assert!(!reason.description().is_empty());
        }
        assert!(BreakReason::parse("expired").is_err());
    }

    #[test]
    fn only_provider_action_required_tells_what_to_do_at_the_provider() {
        for provider in Provider::ALL {
            for reason in BreakReason::ALL {
                let action = reason.provider_action(provider);
                assert_eq!(
                    action.is_some(),
                    reason == BreakReason::ProviderActionRequired
                );
            }
        }
    }
}
