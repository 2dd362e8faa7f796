//! The listener: connection limits in front of the router (issue 15: ~20,000 half-sent
//! requests filled the descriptor limit and `/healthz` failed).
//!
//! * **Header-read timeout**: a connection must deliver a complete request head within
//!   `http_header_read_timeout_secs` of being opened, and again of finishing a response (hyper
//!   starts the clock whenever it waits for a head), so it is also the keep-alive idle timeout.
//!   Slow-loris clients are closed instead of holding a descriptor forever.
//! * **Connection cap**: at most `http_max_connections` connections are served at once. Past
//!   that a new connection is shed: it gets `503` problem+json `overloaded` with `Retry-After`
//!   and is closed, without reading its request (bounded in time, and by a small number of
//!   concurrent sheds, so shedding itself cannot exhaust descriptors).
//! * Graceful shutdown: stop accepting, let in-flight requests finish.

use std::{future::Future, sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{io::AsyncWriteExt as _, net::TcpListener, sync::Semaphore};

use super::problem::Problem;

/// Connections being shed at once; beyond that a new connection is closed at once.
const MAX_SHEDDING: usize = 64;
/// Time a shed connection gets to take its 503.
const SHED_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            header_read_timeout: settings.http_header_read_timeout,
            max_connections: settings.http_max_connections,
        }
    }
}

/// The full HTTP/1.1 answer a shed connection gets.
fn overloaded_response() -> Vec<u8> {
    let body = serde_json::to_string(&Problem::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "The service has too many open connections; retry shortly",
    ))
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {}\r\nretry-after: 1\r\n\
         cache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        super::problem::PROBLEM_JSON,
        body.len()
    )
    .into_bytes()
}

/// Serve `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shedding = Arc::new(Semaphore::new(MAX_SHEDDING));
    let overloaded: Arc<[u8]> = overloaded_response().into();
    // Graceful shutdown by hand: hyper-util's watcher does not take upgradeable connections.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            shed(stream, &shedding, &overloaded);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        // `with_upgrades`: WebSocket upgrades (live voice streams) take the connection over.
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            metrics::gauge!("trustline_http_open_connections").increment(1.0);
            tokio::pin!(connection);
            let mut draining = false;
            let result = loop {
                tokio::select! {
                    r = connection.as_mut() => break r,
                    _ = stopping.wait_for(|s| *s), if !draining => {
                        draining = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            metrics::gauge!("trustline_http_open_connections").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it has finished: wait for all of them.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = connections.acquire_many(all).await;
    Ok(())
}

/// Answer 503 `overloaded` and close, without reading the request.
fn shed(mut stream: tokio::net::TcpStream, shedding: &Arc<Semaphore>, response: &Arc<[u8]>) {
    metrics::counter!("trustline_http_connections_shed_total").increment(1);
    let Ok(permit) = shedding.clone().try_acquire_owned() else {
        return; // dropping the stream closes it
    };
    let response = response.clone();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(SHED_WRITE_TIMEOUT, async {
            stream.write_all(&response).await?;
            stream.shutdown().await
        })
        .await;
        drop(permit);
    });
}
