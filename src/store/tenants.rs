//! Tenants table.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::tenants::{Sector, Tenant, TenantId};

pub async fn insert(
    db: &Db,
    id: &TenantId,
    name: &str,
    sector: Sector,
) -> Result<Tenant, StoreError> {
    let created_at = now_ms();
    sqlx::query(
        "INSERT INTO tenants (tenant_id, name, sector, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.as_str())
    .bind(name)
    .bind(sector.as_str())
    .bind(created_at)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(Tenant {
        tenant_id: id.clone(),
        name: name.to_string(),
        sector,
        created_at,
    })
}

pub async fn get(db: &Db, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
    let row =
        sqlx::query("SELECT tenant_id, name, sector, created_at FROM tenants WHERE tenant_id = $1")
            .bind(id.as_str())
            .fetch_optional(&db.pool)
            .await?;
    row.map(|r| from_row(&r)).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<Tenant>, StoreError> {
    let rows =
        sqlx::query("SELECT tenant_id, name, sector, created_at FROM tenants ORDER BY tenant_id")
            .fetch_all(&db.pool)
            .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Tenant, StoreError> {
    let id: String = row.try_get("tenant_id")?;
    let sector: String = row.try_get("sector")?;
    Ok(Tenant {
        tenant_id: id.parse().map_err(|e: crate::tenants::TenantError| {
            StoreError::Database(sqlx::Error::Decode(e.into()))
        })?,
        name: row.try_get("name")?,
        sector: sector.parse().map_err(|e: crate::tenants::TenantError| {
            StoreError::Database(sqlx::Error::Decode(e.into()))
        })?,
        created_at: row.try_get("created_at")?,
    })
}
