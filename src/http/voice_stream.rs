//! Platform API: call audio streamed into a session over a WebSocket (scope `sessions`).
//!
//! `GET /v1/sessions/{session_id}/voice/stream?format=twilio|audiohook|mulaw|s16le8k|s16le16k`
//! with the API key in `Authorization` and a WebSocket upgrade. Everything that can be checked
//! before the upgrade is answered as problem+json (unknown session, ended session, no
//! voiceprint, a stream already open, …). After it, a refused message ends the stream with one
//! text message `{"event": "error", …problem fields…}` and a close frame; a stream that ends
//! normally gets `{"event": "voice_stream_ended", "reason": "completed"}`. Decisions are pushed
//! on `GET /v1/sessions/{id}/events` (`voice_progress`, `verified`, `no_match`).
//!
//! Bounds: messages of at most `framing::MAX_FRAME_BYTES`, [`IDLE_TIMEOUT`] without a message,
//! `stream::MAX_STREAM_MS` of audio. The handler reads the next message only after the last
//! one was analysed, so a fast sender is held back by TCP flow control and nothing queues.

use std::time::Duration;

use axum::{
    Router,
    extract::{
        Path, RawQuery, State,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
        },
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::Value;

use super::{extract::PlatformCaller, problem::Problem};
use crate::{
    AppState,
    biometrics::{
        audio::framing::{Frame, FrameError, MAX_FRAME_BYTES, StreamFormat},
        voice::{
            VoiceError,
            live::{LiveStream, StreamError},
        },
    },
    sessions::SessionError,
    tenants::Scope,
};

/// A stream with no message for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router() -> Router<AppState> {
    Router::new().route("/sessions/{session_id}/voice/stream", get(voice_stream))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    format: StreamFormat,
}

/// Stream call audio into a session (WebSocket). Scope `sessions`.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/voice/stream", tag = "sessions",
    security(("api_key" = [])),
    params(("session_id" = String, Path),
           ("format" = StreamFormat, Query, description = "twilio | audiohook | mulaw | s16le8k | s16le16k")),
    responses(
        (status = 101, description = "WebSocket: Twilio Media Streams JSON, AudioHook v2 (open/ping/close + PCMU binary) or raw binary frames"),
        (status = 400, description = "missing or unknown format", body = Problem),
        (status = 404, description = "session_not_found", body = Problem),
        (status = 409, description = "session_ended | stream_already_open", body = Problem),
        (status = 422, description = "voice_not_enrolled", body = Problem),
        (status = 426, description = "websocket_required", body = Problem)))]
pub async fn voice_stream(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Problem> {
    caller.require(Scope::Sessions)?;
    let q: StreamQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).map_err(|_| {
            Problem::bad_request(
                "`format` must be one of twilio, audiohook, mulaw, s16le8k, s16le16k",
            )
        })?;
    let ws = ws.map_err(|_| {
        Problem::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "This endpoint takes a WebSocket upgrade",
        )
    })?;
    let live = LiveStream::open(&state, &caller.tenant, &session_id, q.format).await?;
    Ok(ws
        // Larger messages than we accept still arrive whole, so they can be refused with a
        // typed problem; beyond this the WebSocket layer drops the connection.
        .max_message_size(4 * MAX_FRAME_BYTES)
        .max_frame_size(4 * MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, live))
        .into_response())
}

async fn run(mut socket: WebSocket, mut live: LiveStream) {
    // Once the platform closed the socket nothing more can be sent: the outcome still reaches
    // the session's event stream (`voice_stream_ended`).
    let mut peer_closed = false;
    let outcome: Result<(), StreamError> = loop {
        let message = match tokio::time::timeout(IDLE_TIMEOUT, socket.recv()).await {
            Err(_) => break Err(StreamError::Idle(IDLE_TIMEOUT.as_secs())),
            // The platform hung up without a stop message: what arrived still counts.
            Ok(None) => {
                peer_closed = true;
                break live.finish().await;
            }
            Ok(Some(Err(_))) => {
                break Err(StreamError::Frame(FrameError::Oversized {
                    bytes: 4 * MAX_FRAME_BYTES,
                    max: MAX_FRAME_BYTES,
                }));
            }
            Ok(Some(Ok(m))) => m,
        };
        let frame = match &message {
            Message::Text(t) => Frame::Text(t.as_str()),
            Message::Binary(b) => Frame::Binary(b),
            Message::Close(_) => {
                peer_closed = true;
                break live.finish().await;
            }
            // Pings are answered by the WebSocket layer.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        match live.push(frame).await {
            Ok(pushed) => {
                if let Some(reply) = pushed.reply
                    && socket.send(Message::Text(reply.into())).await.is_err()
                {
                    break live.finish().await;
                }
                if pushed.end {
                    break live.finish().await;
                }
            }
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = &outcome {
        live.abandon().await;
        live.ended(e.code());
    }
    if peer_closed {
        return;
    }
    let (body, close) = match outcome {
        Ok(()) => (
            serde_json::json!({"event": "voice_stream_ended", "reason": "completed"}),
            1000,
        ),
        Err(e) => {
            let close = match &e {
                StreamError::Frame(FrameError::Oversized { .. }) => 1009,
                StreamError::Frame(FrameError::UnsupportedCodec(_)) => 1003,
                StreamError::Internal(_) | StreamError::Voice(VoiceError::Model(_)) => 1011,
                _ => 1008,
            };
            let mut v = serde_json::to_value(Problem::from(e)).unwrap_or(Value::Null);
            v["event"] = "error".into();
            (v, close)
        }
    };
    // Release the session's stream slot before telling the platform, so it may reconnect.
    drop(live);
    let _ = socket.send(Message::Text(body.to_string().into())).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close,
            reason: "".into(),
        })))
        .await;
}

impl From<StreamError> for Problem {
    fn from(e: StreamError) -> Self {
        let code = e.code();
        match e {
            StreamError::Frame(f) => {
                let status = match f {
                    FrameError::Oversized { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    FrameError::UnsupportedCodec(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    FrameError::AfterEnd => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                Problem::new(status, code, "The stream message was refused")
                    .with_detail(f.to_string())
            }
            StreamError::Session(SessionError::NotFound) => Problem::new(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "No such session",
            ),
            StreamError::Session(SessionError::Expired | SessionError::Closed)
            | StreamError::SessionEnded => Problem::new(
                StatusCode::CONFLICT,
                "session_ended",
                "The session has ended (expired or denied); its decision stays as it was",
            ),
            StreamError::Voice(VoiceError::Audio(a)) => a.into(),
            StreamError::AlreadyStreaming => Problem::new(
                StatusCode::CONFLICT,
                code,
                "A voice stream is already open for this session",
            ),
            StreamError::NotEnrolled => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "The customer has no usable voiceprint or did not choose voice recognition",
            ),
            StreamError::BiometricsDisabled => Problem::new(
                StatusCode::LOCKED,
                code,
                "Biometrics are disabled after repeated failures until another factor succeeds",
            ),
            StreamError::NoSpeech => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "The stream carried too little speech to score; the decision is unchanged",
            ),
            StreamError::Idle(secs) => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                code,
                "No message arrived in time",
            )
            .with_detail(format!("no message for {secs} s")),
            e @ (StreamError::Session(_) | StreamError::Voice(_) | StreamError::Internal(_)) => {
                tracing::error!(error = %e, "voice stream failed");
                Problem::internal()
            }
        }
    }
}
