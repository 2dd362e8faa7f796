//! Tenant brands (display name, colours, logo) for the customer pages.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::TenantId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBrand {
    pub display_name: String,
    pub primary_color: String,
    pub accent_color: String,
    pub logo_type: Option<String>,
    pub logo: Option<Vec<u8>>,
    pub updated_at: i64,
    pub updated_by: String,
}

pub async fn get(db: &Db, tenant: &TenantId) -> Result<Option<StoredBrand>, StoreError> {
    let row = sqlx::query(
        "SELECT display_name, primary_color, accent_color, logo_type, logo, updated_at, \
         updated_by FROM tenant_brands WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(StoredBrand {
            display_name: r.try_get("display_name")?,
            primary_color: r.try_get("primary_color")?,
            accent_color: r.try_get("accent_color")?,
            logo_type: r.try_get("logo_type")?,
            logo: r.try_get("logo")?,
            updated_at: r.try_get("updated_at")?,
            updated_by: r.try_get("updated_by")?,
        })
    })
    .transpose()
    .map_err(|e: sqlx::Error| e.into())
}

/// Replace the tenant's brand (one row per tenant).
pub async fn put(db: &Db, tenant: &TenantId, b: &StoredBrand) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tenant_brands (tenant_id, display_name, primary_color, accent_color, \
         logo_type, logo, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id) DO UPDATE SET display_name = $2, primary_color = $3, \
         accent_color = $4, logo_type = $5, logo = $6, updated_at = $7, updated_by = $8",
    )
    .bind(tenant.as_str())
    .bind(&b.display_name)
    .bind(&b.primary_color)
    .bind(&b.accent_color)
    .bind(b.logo_type.clone())
    .bind(b.logo.clone())
    .bind(b.updated_at)
    .bind(&b.updated_by)
    .execute(&db.pool)
    .await?;
    Ok(())
}
