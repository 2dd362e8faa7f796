//! Setting and reading a tenant's brand: the I/O around [`super::brand`]. A change is checked
//! completely before anything is stored, and logged (a `staff_action` entry naming the admin,
//! the colours and the logo's SHA-256) before it takes effect.

use ring::digest::{SHA256, digest};
use serde_json::json;

use super::{
    TenantId,
    brand::{self, BrandError},
};
use crate::{
    AppState,
    ledger::{LedgerError, LedgerEvent},
    store::{self, StoreError, brands::StoredBrand, now_ms},
};

/// The look of a tenant that never set a brand: its name and trustline's own blue.
pub const DEFAULT_COLOUR: &str = "#1f5fbf";

#[derive(Debug, thiserror::Error)]
pub enum BrandingError {
    #[error(transparent)]
    Invalid(#[from] BrandError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a tenant admin submitted.
#[derive(Debug, Clone, Default)]
pub struct BrandUpdate {
    pub display_name: String,
    pub primary_color: String,
    pub accent_color: String,
    /// A new logo (PNG or SVG bytes); `None` keeps the current one.
    pub logo: Option<Vec<u8>>,
    pub remove_logo: bool,
}

/// The brand as pages use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub display_name: String,
    pub primary_color: String,
    pub accent_color: String,
    pub has_logo: bool,
    /// Changes with every update (cache-busting for the stylesheet and logo URLs).
    pub version: i64,
}

pub async fn current(state: &AppState, tenant: &TenantId) -> Result<Brand, BrandingError> {
    if let Some(b) = store::brands::get(&state.db, tenant).await? {
        return Ok(Brand {
            display_name: b.display_name,
            primary_color: b.primary_color,
            accent_color: b.accent_color,
            has_logo: b.logo.is_some(),
            version: b.updated_at,
        });
    }
    let name = store::tenants::get(&state.db, tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| tenant.to_string());
    Ok(Brand {
        display_name: name,
        primary_color: DEFAULT_COLOUR.into(),
        accent_color: DEFAULT_COLOUR.into(),
        has_logo: false,
        version: 0,
    })
}

/// The stored logo: (content type, bytes).
pub async fn logo(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Option<(String, Vec<u8>)>, BrandingError> {
    Ok(store::brands::get(&state.db, tenant)
        .await?
        .and_then(|b| Some((b.logo_type?, b.logo?))))
}

pub async fn set(
    state: &AppState,
    tenant: &TenantId,
    actor: &str,
    update: BrandUpdate,
) -> Result<StoredBrand, BrandingError> {
    let display_name = brand::check_name(&update.display_name)?;
    let primary = brand::parse_colour(&update.primary_color)?;
    let accent = brand::parse_colour(&update.accent_color)?;
    brand::check_colours(primary, accent)?;
    let existing = store::brands::get(&state.db, tenant).await?;
    let (logo_type, logo) = match (&update.logo, update.remove_logo) {
        (Some(bytes), _) if !bytes.is_empty() => {
            let checked = brand::check_logo(bytes)?;
            (Some(checked.content_type.to_string()), Some(checked.bytes))
        }
        (_, true) => (None, None),
        _ => existing
            .as_ref()
            .map(|b| (b.logo_type.clone(), b.logo.clone()))
            .unwrap_or((None, None)),
    };
    let now = now_ms();
    let stored = StoredBrand {
        display_name,
        primary_color: primary.hex(),
        accent_color: accent.hex(),
        logo_type,
        logo,
        // Strictly increasing, so a cached stylesheet or logo is never served after a change.
        updated_at: existing.map_or(now, |b| now.max(b.updated_at + 1)),
        updated_by: actor.to_string(),
    };
    state
        .ledger
        .append(
            tenant,
            LedgerEvent {
                kind: "staff_action".into(),
                customer: None,
                session_id: None,
                body: json!({
                    "action": "brand_changed",
                    "actor": actor,
                    "display_name": stored.display_name,
                    "primary_color": stored.primary_color,
                    "accent_color": stored.accent_color,
                    "logo_type": stored.logo_type,
                    "logo_sha256": stored.logo.as_ref().map(|l| hex::encode(digest(&SHA256, l))),
                }),
            },
        )
        .await?;
    store::brands::put(&state.db, tenant, &stored).await?;
    Ok(stored)
}
