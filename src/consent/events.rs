//! Consent events pushed to listeners (`GET /v1/sessions/{id}/events`, server-sent events).
//!
//! One broadcast channel per process. A withdrawal is published the moment its row is ended,
//! before the log append, so listeners stop the camera at once. Listeners on other instances
//! learn of it from the database (the SSE handler also polls ended consents of its session).

use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
pub struct SessionEvent {
    #[serde(skip)]
    pub tenant: String,
    #[serde(skip)]
    pub session_id: String,
    /// consent_granted | consent_withdrawn | consent_expired
    pub event: &'static str,
    pub consent_id: String,
    pub purpose: String,
    pub at: i64,
}

#[derive(Debug)]
pub struct Hub {
    sender: broadcast::Sender<SessionEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(4096).0,
        }
    }
}

impl Hub {
    pub fn publish(&self, event: SessionEvent) {
        // No listener is not an error.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.sender.subscribe()
    }
}
