//! Customers table: a tenant's customers and the methods they chose.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::tenants::{CustomerRef, TenantId};

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredCustomer {
    pub customer_ref: CustomerRef,
    pub methods: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Create or update; returns true when the customer was new.
pub async fn upsert(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    methods: &[String],
) -> Result<bool, StoreError> {
    let now = now_ms();
    let joined = methods.join(" ");
    let updated = sqlx::query(
        "UPDATE customers SET methods = $1, updated_at = $2 WHERE tenant_id = $3 AND customer_ref = $4",
    )
    .bind(&joined)
    .bind(now)
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .execute(&db.pool)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(false);
    }
    let inserted = sqlx::query(
        "INSERT INTO customers (tenant_id, customer_ref, methods, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(&joined)
    .bind(now)
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert);
    match inserted {
        Ok(_) => Ok(true),
        // Lost a race with a concurrent insert of the same customer: theirs stands, update it.
        Err(StoreError::Duplicate) => Box::pin(upsert(db, tenant, customer, methods))
            .await
            .map(|_| false),
        Err(e) => Err(e),
    }
}

pub async fn get(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Option<StoredCustomer>, StoreError> {
    let row = sqlx::query(
        "SELECT customer_ref, methods, created_at, updated_at FROM customers \
         WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        let methods: String = r.try_get("methods")?;
        let customer_ref: String = r.try_get("customer_ref")?;
        Ok(StoredCustomer {
            customer_ref: customer_ref
                .parse()
                .map_err(|e: crate::tenants::TenantError| {
                    StoreError::Database(sqlx::Error::Decode(e.into()))
                })?,
            methods: methods.split_whitespace().map(str::to_string).collect(),
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    })
    .transpose()
}

pub async fn delete(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM customers WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
