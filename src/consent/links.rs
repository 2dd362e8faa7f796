//! Customer links (pure rules): one mechanism for every link that puts a customer on a
//! trustline page from a live session — the camera-consent page and the privacy centre.
//!
//! A link is bound to tenant, customer and session, short-lived and single-use. The URL token
//! alone never redeems it: redemption also needs the confirmation code that the agent reads out
//! in the live conversation (shown only on the signed-in agent's page; no API answer or webhook
//! carries it). So a forwarded link, or the platform holding its API key and the link it
//! delivered, cannot act as the customer. Wrong codes are counted; after
//! [`MAX_CODE_ATTEMPTS`] the link is locked.
//!
//! The privacy link is minted only for a session whose outcome is `verified` and whose
//! verification is at most [`PRIVACY_LINK_MAX_VERIFIED_AGE_MS`] old.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

/// Links live ten minutes.
pub const LINK_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong confirmation codes before the link is locked.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// A privacy link needs a verification this recent.
pub const PRIVACY_LINK_MAX_VERIFIED_AGE_MS: i64 = 10 * 60 * 1000;
/// Digits of the confirmation code.
pub const CODE_DIGITS: u32 = 6;

/// Where a link leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    /// The camera-consent page of one live session.
    Camera,
    /// The customer's privacy centre.
    Privacy,
    /// A step-up the customer approves with a passkey (`passkeys::stepup`). The passkey
    /// assertion is the confirmation only the customer can give, so this link is never
    /// redeemed with the agent's code (and the agent is shown none).
    Passkey,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Camera => "camera",
            LinkPurpose::Privacy => "privacy",
            LinkPurpose::Passkey => "passkey",
        }
    }
    /// Is the link redeemed with the code the agent reads out? (Not a passkey link: the
    /// passkey confirms it.)
    pub fn redeemed_by_code(self) -> bool {
        self != LinkPurpose::Passkey
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "camera" => Some(LinkPurpose::Camera),
            "privacy" => Some(LinkPurpose::Privacy),
            "passkey" => Some(LinkPurpose::Passkey),
            _ => None,
        }
    }
}

/// The state of a stored link that the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct LinkState {
    pub expires_at: i64,
    pub redeemed: bool,
    pub locked: bool,
    pub attempts: i64,
}

/// Why a link cannot be used (each is a stable, typed reason on the page and in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("no such link")]
    Invalid,
    #[error("the link has expired")]
    Expired,
    #[error("the link was already used")]
    Used,
    #[error("the link is locked after too many wrong codes")]
    Locked,
    #[error("the confirmation code is wrong")]
    WrongCode { attempts_left: i64 },
    #[error("the link was opened on another device")]
    OtherDevice,
}

impl LinkRefusal {
    pub fn code(self) -> &'static str {
        match self {
            LinkRefusal::Invalid => "link_invalid",
            LinkRefusal::Expired => "link_expired",
            LinkRefusal::Used => "link_used",
            LinkRefusal::Locked => "link_locked",
            LinkRefusal::WrongCode { .. } => "wrong_code",
            LinkRefusal::OtherDevice => "link_other_device",
        }
    }
}

/// Can the link still be opened (landing page) or redeemed?
pub fn check_open(link: &LinkState, now_ms: i64) -> Result<(), LinkRefusal> {
    if link.redeemed {
        return Err(LinkRefusal::Used);
    }
    if link.locked || link.attempts >= MAX_CODE_ATTEMPTS {
        return Err(LinkRefusal::Locked);
    }
    if link.expires_at <= now_ms {
        return Err(LinkRefusal::Expired);
    }
    Ok(())
}

/// Compare the typed code with the expected one in constant time (spaces and dashes ignored).
pub fn code_matches(expected: &str, typed: &str) -> bool {
    let typed: String = typed.chars().filter(char::is_ascii_digit).collect();
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(typed.as_bytes()))
}

/// Why a session may not have a link of this purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MintRefusal {
    #[error("the session has ended")]
    SessionEnded,
    #[error("the session's customer is not verified")]
    NotVerified,
    #[error("the session's verification is too old")]
    VerificationStale,
}

/// The facts about the session a link is asked for.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    pub outcome: &'a str,
    pub verified_at: Option<i64>,
    pub expires_at: i64,
}

/// May a link of `purpose` be minted for this session now? Camera and passkey links need a live
/// session (the customer decides on their own phone, confirmed by the code or the passkey);
/// privacy links also need
/// the customer verified, recently.
pub fn check_mint(
    purpose: LinkPurpose,
    s: &SessionFacts<'_>,
    now_ms: i64,
) -> Result<(), MintRefusal> {
    if s.expires_at <= now_ms {
        return Err(MintRefusal::SessionEnded);
    }
    if purpose == LinkPurpose::Privacy {
        if s.outcome != "verified" {
            return Err(MintRefusal::NotVerified);
        }
        match s.verified_at {
            Some(at) if now_ms - at <= PRIVACY_LINK_MAX_VERIFIED_AGE_MS => {}
            Some(_) => return Err(MintRefusal::VerificationStale),
            None => return Err(MintRefusal::NotVerified),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> LinkState {
        LinkState {
            expires_at: 1_000,
            redeemed: false,
            locked: false,
            attempts: 0,
        }
    }

    #[test]
    fn links_open_until_used_locked_or_expired() {
        assert_eq!(check_open(&live(), 999), Ok(()));
        assert_eq!(check_open(&live(), 1_000), Err(LinkRefusal::Expired));
        let used = LinkState {
            redeemed: true,
            ..live()
        };
        assert_eq!(check_open(&used, 0), Err(LinkRefusal::Used));
        let tried = LinkState {
            attempts: MAX_CODE_ATTEMPTS,
            ..live()
        };
        assert_eq!(check_open(&tried, 0), Err(LinkRefusal::Locked));
    }

    #[test]
    fn codes_compare_digits_only() {
        assert!(code_matches("123456", "123 456"));
        assert!(code_matches("123456", "123-456"));
        assert!(!code_matches("123456", "123457"));
        assert!(!code_matches("123456", ""));
        assert!(!code_matches("", ""));
    }

    #[test]
    fn privacy_links_need_a_recent_verification() {
        let now = 100 * 60 * 1000;
        let verified = SessionFacts {
            outcome: "verified",
            verified_at: Some(now - 1_000),
            expires_at: now + 1,
        };
        assert_eq!(check_mint(LinkPurpose::Privacy, &verified, now), Ok(()));
        let step_up = SessionFacts {
            outcome: "step_up_required",
            verified_at: None,
            ..verified
        };
        assert_eq!(
            check_mint(LinkPurpose::Privacy, &step_up, now),
            Err(MintRefusal::NotVerified)
        );
        assert_eq!(check_mint(LinkPurpose::Camera, &step_up, now), Ok(()));
        assert_eq!(check_mint(LinkPurpose::Passkey, &step_up, now), Ok(()));
        assert!(!LinkPurpose::Passkey.redeemed_by_code());
        assert!(LinkPurpose::Privacy.redeemed_by_code());
        let stale = SessionFacts {
            verified_at: Some(now - PRIVACY_LINK_MAX_VERIFIED_AGE_MS - 1),
            ..verified
        };
        assert_eq!(
            check_mint(LinkPurpose::Privacy, &stale, now),
            Err(MintRefusal::VerificationStale)
        );
        let ended = SessionFacts {
            expires_at: now,
            ..verified
        };
        assert_eq!(
            check_mint(LinkPurpose::Camera, &ended, now),
            Err(MintRefusal::SessionEnded)
        );
    }
}
