//! Call audio as contact platforms stream it over a WebSocket, parsed into samples. Pure: one
//! [`Framer`] per stream is fed each WebSocket message and says what it carried (caller audio,
//! a reply the protocol asks for, the end of the stream) or why it is refused.
//!
//! Formats (`?format=` of `GET /v1/sessions/{id}/voice/stream`):
//! * `twilio` — Twilio Media Streams JSON text messages: `connected`, `start` (its
//!   `mediaFormat` must be `audio/x-mulaw`, 8000 Hz, 1 channel), `media` (base64 µ-law payload;
//!   only the `inbound` track, the caller, is used), `stop`; `mark` and `dtmf` are accepted and
//!   ignored. `sequenceNumber` must grow by one per message and each track's `chunk` by one.
//! * `audiohook` — a subset of Genesys AudioHook protocol version 2: text messages `open`
//!   (answered `opened`, choosing the first offered `PCMU` 8000 Hz medium whose channels are
//!   `external` or `external` + `internal`), `ping` (answered `pong`), `close` (answered
//!   `closed`, the end); `update`, `paused`, `resumed`, `discarded`, `dtmf`, `error` are
//!   accepted and ignored. Binary messages carry PCMU audio, channels interleaved; the
//!   `external` channel (the customer) is used. The client's `seq` must grow by one.
//! * `mulaw`, `s16le8k`, `s16le16k` — raw binary frames (G.711 µ-law 8 kHz, signed 16-bit
//!   little-endian 8 kHz or 16 kHz, mono); the stream ends when the socket closes.
//!
//! Nothing is kept: audio leaves as samples for the caller to analyse and drop.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::g711;

/// Largest accepted WebSocket message (a Twilio media message carries 20 ms, 160 bytes).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamFormat {
    Twilio,
    Audiohook,
    Mulaw,
    S16le8k,
    S16le16k,
}

impl StreamFormat {
    /// Sample rate of the audio this format carries.
    pub fn rate(self) -> u32 {
        match self {
            StreamFormat::S16le16k => 16_000,
            _ => 8_000,
        }
    }
}

/// One WebSocket message.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// What a message carried.
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    /// Caller audio in [-1, 1] at [`StreamFormat::rate`].
    pub audio: Vec<f32>,
    /// A text message the protocol asks the server to send back.
    pub reply: Option<String>,
    /// The platform ended the stream (Twilio `stop`, AudioHook `close`).
    pub end: bool,
}

/// Why a message is refused. The stream is ended with the problem; nothing is stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("message is {bytes} bytes; at most {max} are accepted")]
    Oversized { bytes: usize, max: usize },
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    OutOfOrder(String),
    #[error("{0}")]
    UnsupportedCodec(String),
    #[error("the platform already ended this stream")]
    AfterEnd,
}

impl FrameError {
    /// Stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::Oversized { .. } => "frame_too_large",
            FrameError::Malformed(_) => "invalid_frame",
            FrameError::OutOfOrder(_) => "frame_out_of_order",
            FrameError::UnsupportedCodec(_) => "unsupported_codec",
            FrameError::AfterEnd => "stream_ended",
        }
    }
}

fn malformed(what: impl Into<String>) -> FrameError {
    FrameError::Malformed(what.into())
}

fn mulaw(bytes: impl Iterator<Item = u8>) -> Vec<f32> {
    bytes
        .map(|b| f32::from(g711::mulaw_to_linear(b)) / 32768.0)
        .collect()
}

#[derive(Debug)]
enum Phase {
    /// Before Twilio's `start` / AudioHook's `open`.
    Opening,
    /// Audio flows. AudioHook: the number of interleaved channels.
    Streaming {
        channels: usize,
    },
    Ended,
}

/// Parser state of one stream.
#[derive(Debug)]
pub struct Framer {
    format: StreamFormat,
    phase: Phase,
    /// Last sequence number seen (Twilio `sequenceNumber`, AudioHook client `seq`).
    last_seq: u64,
    /// Twilio: last `chunk` per track (inbound, outbound).
    last_chunk: [u64; 2],
    stream_id: Option<String>,
    /// AudioHook: the server's own `seq`.
    server_seq: u64,
}

impl Framer {
    pub fn new(format: StreamFormat) -> Self {
        let phase = match format {
            StreamFormat::Twilio | StreamFormat::Audiohook => Phase::Opening,
            _ => Phase::Streaming { channels: 1 },
        };
        Self {
            format,
            phase,
            last_seq: 0,
            last_chunk: [0, 0],
            stream_id: None,
            server_seq: 0,
        }
    }

    pub fn format(&self) -> StreamFormat {
        self.format
    }

    pub fn ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// Parse one message.
    pub fn push(&mut self, frame: Frame<'_>) -> Result<Step, FrameError> {
        let bytes = match frame {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        };
        if bytes > MAX_FRAME_BYTES {
            return Err(FrameError::Oversized {
                bytes,
                max: MAX_FRAME_BYTES,
            });
        }
        if self.ended() {
            return Err(FrameError::AfterEnd);
        }
        match (self.format, frame) {
            (StreamFormat::Twilio, Frame::Text(t)) => self.twilio(t),
            (StreamFormat::Twilio, Frame::Binary(_)) => Err(malformed(
                "Twilio Media Streams messages are JSON text, not binary",
            )),
            (StreamFormat::Audiohook, Frame::Text(t)) => self.audiohook_text(t),
            (StreamFormat::Audiohook, Frame::Binary(b)) => self.audiohook_audio(b),
            (_, Frame::Text(_)) => Err(malformed("raw formats take binary audio frames, not text")),
            (format, Frame::Binary(b)) => raw(format, b),
        }
    }

    fn next_seq(&mut self, seq: u64) -> Result<(), FrameError> {
        if seq != self.last_seq + 1 {
            return Err(FrameError::OutOfOrder(format!(
                "sequence number {seq} after {}; each message must follow the last by one",
                self.last_seq
            )));
        }
        self.last_seq = seq;
        Ok(())
    }

    fn twilio(&mut self, text: &str) -> Result<Step, FrameError> {
        let m: TwilioMessage = serde_json::from_str(text)
            .map_err(|e| malformed(format!("not a Twilio Media Streams message: {e}")))?;
        if m.event == "connected" {
            return match self.phase {
                Phase::Opening if self.last_seq == 0 => Ok(Step::default()),
                _ => Err(FrameError::OutOfOrder(
                    "`connected` after the stream began".into(),
                )),
            };
        }
        let seq = m
            .sequence_number
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| malformed("`sequenceNumber` must be a decimal string"))?;
        self.next_seq(seq)?;
        if let (Some(expected), Some(got)) = (&self.stream_id, &m.stream_sid)
            && expected != got
        {
            return Err(malformed(
                "`streamSid` differs from the one `start` announced",
            ));
        }
        match (m.event.as_str(), &self.phase) {
            ("start", Phase::Opening) => {
                let start = m
                    .start
                    .ok_or_else(|| malformed("`start` without `start`"))?;
                let f = &start.media_format;
                if f.encoding != "audio/x-mulaw" || f.sample_rate != 8000 || f.channels != 1 {
                    return Err(FrameError::UnsupportedCodec(format!(
                        "mediaFormat {} {} Hz {} channel(s); only audio/x-mulaw 8000 Hz mono",
                        f.encoding.chars().take(32).collect::<String>(),
                        f.sample_rate,
                        f.channels
                    )));
                }
                self.stream_id = m.stream_sid.or(start.stream_sid);
                self.phase = Phase::Streaming { channels: 1 };
                Ok(Step::default())
            }
            ("start", _) => Err(FrameError::OutOfOrder("a second `start`".into())),
            ("media", Phase::Streaming { .. }) => {
                let media = m
                    .media
                    .ok_or_else(|| malformed("`media` without `media`"))?;
                let track = match media.track.as_deref().unwrap_or("inbound") {
                    "inbound" => 0,
                    "outbound" => 1,
                    other => {
                        return Err(malformed(format!(
                            "unknown track `{}`",
                            other.chars().take(16).collect::<String>()
                        )));
                    }
                };
                if let Some(chunk) = media.chunk.as_deref() {
                    let chunk: u64 = chunk
                        .parse()
                        .map_err(|_| malformed("`chunk` must be a decimal string"))?;
                    if chunk != self.last_chunk[track] + 1 {
                        return Err(FrameError::OutOfOrder(format!(
                            "media chunk {chunk} after {}",
                            self.last_chunk[track]
                        )));
                    }
                    self.last_chunk[track] = chunk;
                }
                let payload = base64::engine::general_purpose::STANDARD
                    .decode(media.payload.as_bytes())
                    .map_err(|_| malformed("`media.payload` is not valid base64"))?;
                // The outbound track is what the platform plays to the caller: not the caller.
                let audio = if track == 0 {
                    mulaw(payload.into_iter())
                } else {
                    Vec::new()
                };
                Ok(Step {
                    audio,
                    ..Step::default()
                })
            }
            ("media", _) => Err(FrameError::OutOfOrder("`media` before `start`".into())),
            ("stop", _) => {
                self.phase = Phase::Ended;
                Ok(Step {
                    end: true,
                    ..Step::default()
                })
            }
            ("mark" | "dtmf", _) => Ok(Step::default()),
            (other, _) => Err(malformed(format!(
                "unknown event `{}`",
                other.chars().take(16).collect::<String>()
            ))),
        }
    }

    fn audiohook_reply(&mut self, kind: &str, client_seq: u64, id: &str, params: Value) -> String {
        self.server_seq += 1;
        json!({
            "version": "2",
            "type": kind,
            "seq": self.server_seq,
            "clientseq": client_seq,
            "id": id,
            "parameters": params,
        })
        .to_string()
    }

    fn audiohook_text(&mut self, text: &str) -> Result<Step, FrameError> {
        let m: AudioHookMessage = serde_json::from_str(text)
            .map_err(|e| malformed(format!("not an AudioHook message: {e}")))?;
        if m.version != "2" {
            return Err(FrameError::UnsupportedCodec(format!(
                "AudioHook protocol version `{}`; only 2",
                m.version.chars().take(8).collect::<String>()
            )));
        }
        self.next_seq(m.seq)?;
        if let Some(id) = &self.stream_id
            && *id != m.id
        {
            return Err(malformed("`id` differs from the one `open` announced"));
        }
        match (m.kind.as_str(), &self.phase) {
            ("open", Phase::Opening) => {
                let offered: Vec<AudioHookMedia> = m
                    .parameters
                    .get("media")
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| malformed(format!("`parameters.media`: {e}")))?
                    .unwrap_or_default();
                let chosen = offered
                    .into_iter()
                    .find(|md| {
                        md.kind == "audio"
                            && md.format == "PCMU"
                            && md.rate == 8000
                            && md.channels.first().map(String::as_str) == Some("external")
                            && md.channels.len() <= 2
                    })
                    .ok_or_else(|| {
                        FrameError::UnsupportedCodec(
                            "no offered medium is PCMU 8000 Hz with the external channel first"
                                .into(),
                        )
                    })?;
                let channels = chosen.channels.len();
                let medium = json!({
                    "type": "audio", "format": "PCMU", "channels": chosen.channels, "rate": 8000,
                });
                self.stream_id = Some(m.id.clone());
                self.phase = Phase::Streaming { channels };
                let reply = self.audiohook_reply(
                    "opened",
                    m.seq,
                    &m.id,
                    json!({"startPaused": false, "media": [medium]}),
                );
                Ok(Step {
                    reply: Some(reply),
                    ..Step::default()
                })
            }
            ("open", _) => Err(FrameError::OutOfOrder("a second `open`".into())),
            (_, Phase::Opening) => Err(FrameError::OutOfOrder(format!(
                "`{}` before `open`",
                m.kind.chars().take(16).collect::<String>()
            ))),
            ("ping", _) => Ok(Step {
                reply: Some(self.audiohook_reply("pong", m.seq, &m.id, json!({}))),
                ..Step::default()
            }),
            ("close", _) => {
                let reply = self.audiohook_reply("closed", m.seq, &m.id, json!({}));
                self.phase = Phase::Ended;
                Ok(Step {
                    reply: Some(reply),
                    end: true,
                    ..Step::default()
                })
            }
            ("update" | "paused" | "resumed" | "discarded" | "dtmf" | "error", _) => {
                Ok(Step::default())
            }
            (other, _) => Err(malformed(format!(
                "unknown message type `{}`",
                other.chars().take(16).collect::<String>()
            ))),
        }
    }

    fn audiohook_audio(&mut self, bytes: &[u8]) -> Result<Step, FrameError> {
        let Phase::Streaming { channels } = self.phase else {
            return Err(FrameError::OutOfOrder("audio before `open`".into()));
        };
        if !bytes.len().is_multiple_of(channels) {
            return Err(malformed(format!(
                "{} bytes do not split into {channels} interleaved channels",
                bytes.len()
            )));
        }
        // Interleaved channels: the first, `external`, is the customer.
        Ok(Step {
            audio: mulaw(bytes.iter().step_by(channels).copied()),
            ..Step::default()
        })
    }
}

fn raw(format: StreamFormat, bytes: &[u8]) -> Result<Step, FrameError> {
    let audio = match format {
        StreamFormat::Mulaw => mulaw(bytes.iter().copied()),
        _ => {
            if !bytes.len().is_multiple_of(2) {
                return Err(malformed(
                    "s16le frames must hold whole 16-bit samples (odd byte count)",
                ));
            }
            bytes
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
                .collect()
        }
    };
    Ok(Step {
        audio,
        ..Step::default()
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TwilioMessage {
    event: String,
    sequence_number: Option<String>,
    stream_sid: Option<String>,
    start: Option<TwilioStart>,
    media: Option<TwilioMedia>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TwilioStart {
    stream_sid: Option<String>,
    media_format: TwilioMediaFormat,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TwilioMediaFormat {
    encoding: String,
    sample_rate: u32,
    channels: u32,
}

#[derive(Deserialize)]
struct TwilioMedia {
    track: Option<String>,
    chunk: Option<String>,
    payload: String,
}

#[derive(Deserialize)]
struct AudioHookMessage {
    version: String,
    #[serde(rename = "type")]
    kind: String,
    seq: u64,
    id: String,
    #[serde(default)]
    parameters: Value,
}

#[derive(Deserialize)]
struct AudioHookMedia {
    #[serde(rename = "type")]
    kind: String,
    format: String,
    channels: Vec<String>,
    rate: u32,
}

/// Twilio Media Streams messages for a µ-law recording, 20 ms per `media` message, as
/// Twilio sends them (the scripted call and the tests use this shape).
pub fn twilio_messages(stream_sid: &str, mulaw_8k: &[u8]) -> Vec<String> {
    let mut out = vec![
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}).to_string(),
        json!({
            "event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid, "accountSid": "AC0", "callSid": "CA0",
                "tracks": ["inbound"], "customParameters": {},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })
        .to_string(),
    ];
    let mut seq = 1u64;
    for (i, chunk) in mulaw_8k.chunks(160).enumerate() {
        seq += 1;
        out.push(
            json!({
                "event": "media", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
                "media": {
                    "track": "inbound", "chunk": (i + 1).to_string(),
                    "timestamp": (i * 20).to_string(),
                    "payload": base64::engine::general_purpose::STANDARD.encode(chunk),
                },
            })
            .to_string(),
        );
    }
    out.push(
        json!({"event": "stop", "sequenceNumber": (seq + 1).to_string(), "streamSid": stream_sid,
               "stop": {"accountSid": "AC0", "callSid": "CA0"}})
        .to_string(),
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn feed(f: &mut Framer, msgs: &[String]) -> Result<Vec<Step>, FrameError> {
        msgs.iter().map(|m| f.push(Frame::Text(m))).collect()
    }

    #[test]
    fn twilio_call_yields_the_inbound_audio_in_order() {
        let bytes: Vec<u8> = (0..800u32).map(|i| (i % 251) as u8).collect();
        let msgs = twilio_messages("MZ1", &bytes);
        let mut f = Framer::new(StreamFormat::Twilio);
        let steps = feed(&mut f, &msgs).unwrap();
        let audio: Vec<f32> = steps.iter().flat_map(|s| s.audio.clone()).collect();
        assert_eq!(audio, mulaw(bytes.iter().copied()));
        assert!(steps.last().unwrap().end);
        assert_eq!(
            f.push(Frame::Text(&msgs[2])).unwrap_err(),
            FrameError::AfterEnd
        );
    }

    #[test]
    fn twilio_refuses_disorder_codec_and_binary() {
        let msgs = twilio_messages("MZ1", &[0x7f; 480]);
        // media before start
        let mut f = Framer::new(StreamFormat::Twilio);
        f.push(Frame::Text(&msgs[0])).unwrap();
        let e = f.push(Frame::Text(&msgs[2])).unwrap_err();
        assert_eq!(e.code(), "frame_out_of_order");
        // a skipped sequence number
        let mut f = Framer::new(StreamFormat::Twilio);
        feed(&mut f, &msgs[..3]).unwrap();
        assert_eq!(
            f.push(Frame::Text(&msgs[4])).unwrap_err().code(),
            "frame_out_of_order"
        );
        // wrong codec
        let mut f = Framer::new(StreamFormat::Twilio);
        let l16 = msgs[1].replace("audio/x-mulaw", "audio/l16");
        assert_eq!(
            f.push(Frame::Text(&l16)).unwrap_err().code(),
            "unsupported_codec"
        );
        // binary frames and oversized messages
        let mut f = Framer::new(StreamFormat::Twilio);
        assert_eq!(
            f.push(Frame::Binary(&[1, 2])).unwrap_err().code(),
            "invalid_frame"
        );
        let big = "x".repeat(MAX_FRAME_BYTES + 1);
        assert_eq!(
            f.push(Frame::Text(&big)).unwrap_err().code(),
            "frame_too_large"
        );
        // outbound audio (what the caller hears) is not the caller
        let mut f = Framer::new(StreamFormat::Twilio);
        feed(&mut f, &msgs[..2]).unwrap();
        let out = msgs[2].replace("\"inbound\"", "\"outbound\"");
        assert!(f.push(Frame::Text(&out)).unwrap().audio.is_empty());
    }

    #[test]
    fn audiohook_open_ping_audio_close() {
        let id = "e160e428-53e2-487c-977d-96989bf5c99d";
        let open = json!({"version": "2", "type": "open", "seq": 1, "id": id,
            "parameters": {"organizationId": "o", "conversationId": "c",
                "media": [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]}})
        .to_string();
        let mut f = Framer::new(StreamFormat::Audiohook);
        assert_eq!(
            f.push(Frame::Binary(&[1, 2])).unwrap_err().code(),
            "frame_out_of_order"
        );
        let opened: Value =
            serde_json::from_str(&f.push(Frame::Text(&open)).unwrap().reply.unwrap()).unwrap();
        assert_eq!(opened["type"], "opened");
        assert_eq!(opened["clientseq"], 1);
        assert_eq!(opened["parameters"]["media"][0]["format"], "PCMU");
        // stereo: external (even bytes) is kept
        let step = f.push(Frame::Binary(&[0x00, 0xff, 0x80, 0xff])).unwrap();
        assert_eq!(step.audio, mulaw([0x00u8, 0x80].into_iter()));
        assert_eq!(
            f.push(Frame::Binary(&[1, 2, 3])).unwrap_err().code(),
            "invalid_frame"
        );
        let ping = json!({"version": "2", "type": "ping", "seq": 2, "id": id, "parameters": {}});
        let pong: Value = serde_json::from_str(
            &f.push(Frame::Text(&ping.to_string()))
                .unwrap()
                .reply
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (pong["type"].as_str(), pong["seq"].as_u64()),
            (Some("pong"), Some(2))
        );
        let close = json!({"version": "2", "type": "close", "seq": 3, "id": id,
                           "parameters": {"reason": "end"}});
        let step = f.push(Frame::Text(&close.to_string())).unwrap();
        assert!(step.end);
        assert!(step.reply.unwrap().contains("\"closed\""));
        // a medium we cannot use, and a replayed seq
        let mut f = Framer::new(StreamFormat::Audiohook);
        let l16 = open.replace("PCMU", "L16");
        assert_eq!(
            f.push(Frame::Text(&l16)).unwrap_err().code(),
            "unsupported_codec"
        );
        let mut f = Framer::new(StreamFormat::Audiohook);
        f.push(Frame::Text(&open)).unwrap();
        assert_eq!(
            f.push(Frame::Text(&open)).unwrap_err().code(),
            "frame_out_of_order"
        );
    }

    #[test]
    fn raw_frames() {
        let mut f = Framer::new(StreamFormat::S16le16k);
        let step = f.push(Frame::Binary(&[0x00, 0x40, 0x00, 0xc0])).unwrap();
        assert_eq!(step.audio, vec![0.5, -0.5]);
        assert_eq!(
            f.push(Frame::Binary(&[1, 2, 3])).unwrap_err().code(),
            "invalid_frame"
        );
        assert_eq!(
            f.push(Frame::Text("{}")).unwrap_err().code(),
            "invalid_frame"
        );
        let mut f = Framer::new(StreamFormat::Mulaw);
        assert_eq!(
            f.push(Frame::Binary(&[0xff; 160])).unwrap().audio.len(),
            160
        );
    }
}
