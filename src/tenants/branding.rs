//! Setting and reading a tenant's brand: the I/O around [`super::brand`]. Only a tenant admin
//! may change it; a change is checked completely before anything is written, then logged (a
//! `staff_action` entry, `brand_changed`, naming the admin, the colours and the logo's SHA-256)
//! before it takes effect: a change that cannot be audited is not made.

use ring::digest::{SHA256, digest};
use serde_json::json;

use super::{
    TenantId,
    brand::{self, BrandError},
};
use crate::{
    AppState,
    ledger::{LedgerError, LedgerEvent},
    oidc::StaffRole,
    store::{
        self, StoreError,
        brands::{LogoChange, StoredBrand},
        now_ms,
    },
};

/// The look of a tenant that never set a brand: its name in trustline's own blue.
pub const DEFAULT_COLOUR: brand::Rgb = brand::Rgb(0x1f, 0x5f, 0xbf);

#[derive(Debug, thiserror::Error)]
pub enum BrandingError {
    #[error(transparent)]
    Invalid(#[from] BrandError),
    #[error("only a tenant admin may change the brand")]
    NotTenantAdmin,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who asks for a change: the staff member's subject and console roles, from their session.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    pub subject: &'a str,
    pub roles: &'a [StaffRole],
}

/// What a tenant admin submitted, as typed.
#[derive(Debug, Clone, Default)]
pub struct BrandUpdate {
    pub display_name: String,
    pub primary_color: String,
    pub accent_color: String,
    /// A new logo (PNG or SVG bytes); `None` keeps the current one unless `remove_logo`.
    pub logo: Option<Vec<u8>>,
    pub remove_logo: bool,
}

/// The brand as the pages use it. Colours are parsed values, so a page can only ever render a
/// validated `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub tenant: TenantId,
    pub display_name: String,
    pub primary: brand::Rgb,
    pub accent: brand::Rgb,
    pub has_logo: bool,
    /// The admin (identity provider subject) who set it; `None` for the default brand.
    pub updated_by: Option<String>,
    /// Changes with every update: the version in the stylesheet and logo URLs, so a cached
    /// copy is never shown after a change.
    pub version: i64,
}

impl Brand {
    pub fn stylesheet_url(&self) -> String {
        format!("/brand/{}/style.css?v={}", self.tenant, self.version)
    }
    pub fn logo_url(&self) -> Option<String> {
        self.has_logo
            .then(|| format!("/brand/{}/logo?v={}", self.tenant, self.version))
    }
    /// `:root` custom properties for the customer pages (`static/app.css` uses them).
    pub fn stylesheet(&self) -> String {
        format!(
            ":root {{ --primary: {}; --accent: {}; }}\n",
            self.primary.hex(),
            self.accent.hex()
        )
    }
}

fn from_stored(tenant: &TenantId, b: StoredBrand) -> Brand {
    // Stored colours were validated when set; a row that no longer parses shows the default.
    let colour = |c: &str| brand::parse_colour(c).unwrap_or(DEFAULT_COLOUR);
    Brand {
        tenant: tenant.clone(),
        primary: colour(&b.primary_color),
        accent: colour(&b.accent_color),
        display_name: b.display_name,
        has_logo: b.logo_type.is_some(),
        updated_by: Some(b.updated_by),
        version: b.updated_at,
    }
}

pub async fn current(state: &AppState, tenant: &TenantId) -> Result<Brand, BrandingError> {
    if let Some(b) = store::brands::get(&state.db, tenant).await? {
        return Ok(from_stored(tenant, b));
    }
    let name = store::tenants::get(&state.db, tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| tenant.to_string());
    Ok(Brand {
        tenant: tenant.clone(),
        display_name: name,
        primary: DEFAULT_COLOUR,
        accent: DEFAULT_COLOUR,
        has_logo: false,
        updated_by: None,
        version: 0,
    })
}

/// The brand for a page: on a storage failure the page still renders, with the tenant's id in
/// the default colours (the failure is logged).
pub async fn for_page(state: &AppState, tenant: &TenantId) -> Brand {
    current(state, tenant).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "brand could not be read; default shown");
        Brand {
            tenant: tenant.clone(),
            display_name: tenant.to_string(),
            primary: DEFAULT_COLOUR,
            accent: DEFAULT_COLOUR,
            has_logo: false,
            updated_by: None,
            version: 0,
        }
    })
}

/// The stored logo: (content type, bytes).
pub async fn logo(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Option<(String, Vec<u8>)>, BrandingError> {
    Ok(store::brands::logo(&state.db, tenant).await?)
}

/// Check, log, then store a change of `tenant`'s brand (the tenant of the admin's session).
pub async fn set(
    state: &AppState,
    tenant: &TenantId,
    admin: Admin<'_>,
    update: &BrandUpdate,
) -> Result<Brand, BrandingError> {
    if !admin.roles.contains(&StaffRole::TenantAdmin) {
        return Err(BrandingError::NotTenantAdmin);
    }
    let display_name = brand::check_name(&update.display_name)?;
    let primary = brand::parse_colour(&update.primary_color)?;
    let accent = brand::parse_colour(&update.accent_color)?;
    brand::check_colours(primary, accent)?;
    let logo = match (&update.logo, update.remove_logo) {
        (Some(bytes), _) => {
            let checked = brand::check_logo(bytes)?;
            LogoChange::Set(checked.content_type.to_string(), checked.bytes)
        }
        (None, true) => LogoChange::Remove,
        (None, false) => LogoChange::Keep,
    };
    let existing = store::brands::get(&state.db, tenant).await?;
    let logo_type = match &logo {
        LogoChange::Keep => existing.as_ref().and_then(|b| b.logo_type.clone()),
        LogoChange::Remove => None,
        LogoChange::Set(t, _) => Some(t.clone()),
    };
    let now = now_ms();
    let stored = StoredBrand {
        display_name,
        primary_color: primary.hex(),
        accent_color: accent.hex(),
        logo_type,
        // Strictly increasing, so a cached stylesheet or logo is never served after a change.
        updated_at: existing.map_or(now, |b| now.max(b.updated_at + 1)),
        updated_by: admin.subject.to_string(),
    };
    let roles: Vec<&str> = admin.roles.iter().map(|r| r.as_str()).collect();
    let logo_sha256 = match &logo {
        LogoChange::Set(_, bytes) => Some(hex::encode(digest(&SHA256, bytes))),
        _ => None,
    };
    state
        .ledger
        .append(
            tenant,
            LedgerEvent::staff_action(
                admin.subject,
                &roles,
                "brand_changed",
                None,
                json!({
                    "display_name": stored.display_name,
                    "primary_color": stored.primary_color,
                    "accent_color": stored.accent_color,
                    "logo": match &logo {
                        LogoChange::Keep => "kept",
                        LogoChange::Remove => "removed",
                        LogoChange::Set(..) => "replaced",
                    },
                    "logo_type": stored.logo_type,
                    "logo_sha256": logo_sha256,
                    "version": stored.updated_at,
                }),
            ),
        )
        .await?;
    store::brands::put(&state.db, tenant, &stored, &logo).await?;
    Ok(from_stored(tenant, stored))
}
