//! Tenant brands (display name, colours, logo) for the customer pages: one row per tenant.
//! Pages read the brand without the logo's bytes; only the logo route reads those.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::TenantId;

/// A brand row without the logo's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBrand {
    pub display_name: String,
    pub primary_color: String,
    pub accent_color: String,
    /// `image/png` or `image/svg+xml` when a logo is stored.
    pub logo_type: Option<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

pub async fn get(db: &Db, tenant: &TenantId) -> Result<Option<StoredBrand>, StoreError> {
    let row = sqlx::query(
        "SELECT display_name, primary_color, accent_color, logo_type, updated_at, updated_by \
         FROM tenant_brands WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(StoredBrand {
        display_name: r.try_get("display_name")?,
        primary_color: r.try_get("primary_color")?,
        accent_color: r.try_get("accent_color")?,
        logo_type: r.try_get("logo_type")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
    }))
}

/// The stored logo: (content type, bytes).
pub async fn logo(db: &Db, tenant: &TenantId) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let row = sqlx::query(
        "SELECT logo_type, logo FROM tenant_brands \
         WHERE tenant_id = $1 AND logo_type IS NOT NULL AND logo IS NOT NULL",
    )
    .bind(tenant.as_str())
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some((r.try_get("logo_type")?, r.try_get("logo")?)))
}

/// What a change does to the logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoChange {
    Keep,
    Remove,
    /// A checked logo: (content type, bytes).
    Set(String, Vec<u8>),
}

/// Replace the tenant's brand. With [`LogoChange::Keep`] the stored logo columns are not
/// touched (a tenant's first brand then has none).
pub async fn put(
    db: &Db,
    tenant: &TenantId,
    b: &StoredBrand,
    logo: &LogoChange,
) -> Result<(), StoreError> {
    let (logo_type, bytes) = match logo {
        LogoChange::Keep | LogoChange::Remove => (None, None),
        LogoChange::Set(t, bytes) => (Some(t.clone()), Some(bytes.clone())),
    };
    let sql = if *logo == LogoChange::Keep {
        "INSERT INTO tenant_brands (tenant_id, display_name, primary_color, accent_color, \
         logo_type, logo, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id) DO UPDATE SET display_name = $2, primary_color = $3, \
         accent_color = $4, updated_at = $7, updated_by = $8"
    } else {
        "INSERT INTO tenant_brands (tenant_id, display_name, primary_color, accent_color, \
         logo_type, logo, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id) DO UPDATE SET display_name = $2, primary_color = $3, \
         accent_color = $4, logo_type = $5, logo = $6, updated_at = $7, updated_by = $8"
    };
    sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(&b.display_name)
        .bind(&b.primary_color)
        .bind(&b.accent_color)
        .bind(logo_type)
        .bind(bytes)
        .bind(b.updated_at)
        .bind(&b.updated_by)
        .execute(&db.pool)
        .await?;
    Ok(())
}
