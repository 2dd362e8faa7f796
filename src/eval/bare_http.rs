//! `trustline bench bare-http`: the baseline a decision's cost is compared with. Bare axum (no
//! middleware, no authentication, no decision) and one durable insert per request, committed
//! by a single writer task that batches whatever is waiting into one transaction (the same
//! group-commit shape as the ledger), on the same database settings as the service
//! (`store::Db::connect`: SQLite WAL + `synchronous=FULL`, PostgreSQL `synchronous_commit=on`).
//! Each request is answered only after the commit holding its row.
//!
//! `scripts/load-sessions.sh` runs it beside `trustline serve` with the same load, so the ratio
//! of the two comes from one run on one machine.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, Db, StoreError, now_ms};

/// Rows one commit carries at most (as the ledger's `MAX_BATCH`).
const MAX_BATCH: usize = crate::ledger::MAX_BATCH;

struct Insert {
    body: String,
    reply: oneshot::Sender<Result<i64, String>>,
}

/// Serve `POST /v1/sessions` on `listen` until the process is stopped.
pub async fn serve(db: Db, listen: SocketAddr) -> anyhow::Result<()> {
    store::bench::create_table(&db).await?;
    let next_id = store::bench::max_id(&db).await? + 1;
    let (sender, receiver) = mpsc::channel(16 * 1024);
    tokio::spawn(writer(db, receiver, next_id));
    let app = Router::new()
        .route("/v1/sessions", post(insert))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!(
        "bare baseline listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

async fn insert(State(sender): State<mpsc::Sender<Insert>>, body: Bytes) -> (StatusCode, String) {
    let (reply, answer) = oneshot::channel();
    let body = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
    if sender.send(Insert { body, reply }).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    match answer.await {
        Ok(Ok(id)) => (StatusCode::CREATED, format!("{{\"id\":{id}}}")),
        _ => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
    }
}

async fn writer(db: Db, mut receiver: mpsc::Receiver<Insert>, mut next_id: i64) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let first = next_id;
        let result = commit(&db, &batch, first).await;
        match result {
            Ok(()) => {
                next_id += batch.len() as i64;
                for (i, request) in batch.drain(..).enumerate() {
                    let _ = request.reply.send(Ok(first + i as i64));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(message.clone()));
                }
            }
        }
    }
}

async fn commit(db: &Db, batch: &[Insert], first: i64) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    let now = now_ms();
    for (i, request) in batch.iter().enumerate() {
        store::bench::insert(&mut tx, first + i as i64, &request.body, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
