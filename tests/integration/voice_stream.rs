//! Live voice: call audio streamed into a session over the WebSocket (Twilio Media Streams,
//! Genesys AudioHook, raw frames), accumulated, re-scored, and the decisions pushed on the
//! session's server-sent events. Real router on a port, real models, both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};
use trustline::{
    biometrics::audio::{framing, telephone},
    tenants::Sector,
};

use crate::common::{TestApp, expect_problem};
use crate::voice::{enrol, grant_voiceprint_consent, json_of, tenant_and_customer, wav};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Open the session's voice stream; `Err(status, body)` when refused before the upgrade.
async fn connect(
    app: &TestApp,
    key: &str,
    session: &str,
    format: &str,
) -> Result<Socket, (u16, Value)> {
    let url = format!(
        "ws://{}/v1/sessions/{session}/voice/stream?format={format}",
        app.addr
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_ref()
                .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            Err((status, body))
        }
        Err(e) => panic!("connect: {e}"),
    }
}

/// Read the server's text messages until it closes; the last is the outcome.
async fn server_messages(socket: &mut Socket) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
        match m {
            Message::Text(t) => out.push(serde_json::from_str(&t).unwrap()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    out
}

/// Events of the session's SSE stream, with the milliseconds since `start`.
async fn listen(
    app: &TestApp,
    key: &str,
    session: &str,
    start: Instant,
) -> tokio::task::JoinHandle<Vec<(u128, String, Value)>> {
    let mut events = app
        .client
        .get(app.url(&format!("/v1/sessions/{session}/events")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = String::new();
        loop {
            let Ok(Ok(Some(chunk))) =
                tokio::time::timeout(Duration::from_secs(60), events.chunk()).await
            else {
                break;
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let name = block
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or("")
                    .to_string();
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .map(|d| serde_json::from_str(d).unwrap())
                    .unwrap_or(Value::Null);
                if name.is_empty() {
                    continue;
                }
                let done = name == "voice_stream_ended";
                seen.push((start.elapsed().as_millis(), name, data));
                if done {
                    return seen;
                }
            }
        }
        seen
    })
}

async fn new_session(app: &TestApp, key: &str) -> (String, Value) {
    let s = json_of(
        app.post_json(
            "/v1/sessions",
            key,
            json!({"customer_ref": "caller", "channel": "voice"}),
        )
        .await,
        201,
    )
    .await;
    (s["session_id"].as_str().unwrap().to_string(), s)
}

async fn session(app: &TestApp, key: &str, id: &str) -> Value {
    json_of(app.get(&format!("/v1/sessions/{id}"), key).await, 200).await
}

/// The enrolled voice speaking for a while: a fresh utterance, a pause, the same again.
fn genuine_call_16k() -> Vec<f32> {
    let payment = wav("tts_payment");
    let mut call = vec![0f32; 4000];
    call.extend_from_slice(&payment);
    call.extend(std::iter::repeat_n(0f32, 8000));
    call.extend_from_slice(&payment);
    call.extend(std::iter::repeat_n(0f32, 4000));
    call
}

async fn enrolled(app: &TestApp, tenant: &str, sector: Sector) -> String {
    let key = tenant_and_customer(app, tenant, sector, "caller").await;
    grant_voiceprint_consent(app, &key, "caller").await;
    enrol(app, &key, "caller", &["tts_account", "tts_balance"]).await;
    key
}

both_backends!(
    a_twilio_call_streamed_at_real_time_verifies_with_sse_timeline,
    |app: TestApp| async move {
        let key = enrolled(&app, "shop", Sector::Retail).await;
        let (sid, started) = new_session(&app, &key).await;
        assert_ne!(started["decision"]["outcome"], "verified");
        let mulaw = telephone::telephone_mulaw_bytes(&genuine_call_16k()).unwrap();
        let messages = framing::twilio_messages("MZstream1", &mulaw);

        let start = Instant::now();
        let events = listen(&app, &key, &sid, start).await;
        let mut socket = connect(&app, &key, &sid, "twilio").await.unwrap();
        // While this stream is open a second one for the same session is refused.
        let (status, body) = connect(&app, &key, &sid, "twilio").await.unwrap_err();
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("stream_already_open"))
        );
        // At real time, as Twilio sends: one 20 ms media message every 20 ms.
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for m in &messages {
            if m.contains("\"media\"") {
                tick.tick().await;
            }
            socket.send(Message::Text(m.clone().into())).await.unwrap();
        }
        let replies = server_messages(&mut socket).await;
        assert_eq!(
            replies.last().unwrap()["event"],
            "voice_stream_ended",
            "{replies:?}"
        );
        let timeline = events.await.unwrap();
        println!(
            "scripted call: {} ms of µ-law in {} Twilio messages",
            mulaw.len() / 8,
            messages.len()
        );
        for (ms, name, data) in &timeline {
            println!("  t={ms:>5} ms  {name:<18} {data}");
        }
        let names: Vec<&str> = timeline.iter().map(|(_, n, _)| n.as_str()).collect();
        assert!(names.contains(&"voice_progress"), "{names:?}");
        assert!(names.contains(&"verified"), "{names:?}");
        assert_eq!(names.last(), Some(&"voice_stream_ended"));
        let progress: Vec<u64> = timeline
            .iter()
            .filter(|(_, n, _)| n == "voice_progress")
            .map(|(_, _, d)| d["net_speech_ms"].as_u64().unwrap())
            .collect();
        assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
        // The session holds one accumulated voice score, not one per re-score.
        let s = session(&app, &key, &sid).await;
        let d = &s["decision"];
        assert_eq!(d["outcome"], "verified", "{s}");
        assert_eq!(d["assurance"], "passive");
        assert_eq!(d["biometrics"].as_array().unwrap().len(), 1, "{s}");
        assert!(s["assertion"].is_string());
    }
);

both_backends!(
    bad_streams_get_typed_errors_and_change_nothing,
    |app: TestApp| async move {
        let key = enrolled(&app, "shop", Sector::Retail).await;
        let (sid, before) = new_session(&app, &key).await;
        let unchanged = |s: &Value| {
            assert_eq!(s["decision"], before["decision"], "{s}");
        };
        let call = telephone::telephone_mulaw_bytes(&genuine_call_16k()).unwrap();
        let msgs = framing::twilio_messages("MZ2", &call);

        // Refused before the upgrade: no format, unknown session, another tenant's session.
        let (status, body) = connect(&app, &key, &sid, "opus").await.unwrap_err();
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_request"))
        );
        let (status, body) = connect(&app, &key, "ses_nope", "twilio").await.unwrap_err();
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("session_not_found"))
        );
        let other = app
            .tenant_with_key(
                "other",
                Sector::Retail,
                &[trustline::tenants::Scope::Sessions],
            )
            .await;
        let (status, _) = connect(&app, &other, &sid, "twilio").await.unwrap_err();
        assert_eq!(status, 404);
        // Plain HTTP without the upgrade.
        let resp = app
            .get(
                &format!("/v1/sessions/{sid}/voice/stream?format=twilio"),
                &key,
            )
            .await;
        expect_problem(resp, 426, "websocket_required").await;

        // Each bad message ends its stream with a typed problem; the decision stays.
        let bad_cases: Vec<(&str, Vec<Message>, &str)> = vec![
            (
                "twilio",
                vec![Message::Text(
                    msgs[1].replace("audio/x-mulaw", "audio/l16").into(),
                )],
                "unsupported_codec",
            ),
            (
                "twilio",
                vec![
                    Message::Text(msgs[1].clone().into()),
                    Message::Text(msgs[2].clone().into()),
                    Message::Text(msgs[4].clone().into()),
                ],
                "frame_out_of_order",
            ),
            (
                "mulaw",
                vec![Message::Binary(
                    vec![0xff; framing::MAX_FRAME_BYTES + 1].into(),
                )],
                "frame_too_large",
            ),
            (
                "s16le8k",
                vec![Message::Binary(vec![0u8; 3].into())],
                "invalid_frame",
            ),
            // Five seconds of digital silence, then `stop`: no speech to score.
            (
                "twilio",
                framing::twilio_messages("MZ3", &[0xff; 8000 * 5])
                    .into_iter()
                    .map(|m| Message::Text(m.into()))
                    .collect(),
                "no_speech",
            ),
        ];
        for (format, sends, code) in bad_cases {
            let mut socket = connect(&app, &key, &sid, format).await.unwrap();
            for m in sends {
                let _ = socket.send(m).await;
            }
            let replies = server_messages(&mut socket).await;
            let last = replies.last().unwrap_or(&Value::Null);
            assert_eq!(last["event"], "error", "{format} {code}: {replies:?}");
            assert_eq!(last["code"], code, "{replies:?}");
            assert!(last["type"].as_str().unwrap().ends_with(code));
            unchanged(&session(&app, &key, &sid).await);
        }

        // After the session ended (expired), a stream is refused and nothing changes.
        sqlx::query(&format!(
            "UPDATE sessions SET expires_at = 1 WHERE tenant_id = 'shop' AND session_id = '{sid}'"
        ))
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        let (status, body) = connect(&app, &key, &sid, "twilio").await.unwrap_err();
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("session_ended"))
        );
        let row = app
            .get(&format!("/v1/sessions/{sid}"), &key)
            .await
            .json::<Value>()
            .await
            .unwrap();
        unchanged(&row);
    }
);

both_backends!(
    audiohook_and_raw_frames_accumulate_the_same_way,
    |app: TestApp| async move {
        let key = enrolled(&app, "shop", Sector::Retail).await;
        // Genesys AudioHook: open (answered opened), ping (pong), stereo PCMU, close (closed).
        let (sid, _) = new_session(&app, &key).await;
        let mut socket = connect(&app, &key, &sid, "audiohook").await.unwrap();
        let id = "e160e428-53e2-487c-977d-96989bf5c99d";
        let open = json!({"version": "2", "type": "open", "seq": 1, "id": id,
            "parameters": {"organizationId": "o", "conversationId": "c",
                "media": [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]}});
        socket
            .send(Message::Text(open.to_string().into()))
            .await
            .unwrap();
        let Some(Ok(Message::Text(opened))) = socket.next().await else {
            panic!("no opened")
        };
        let opened: Value = serde_json::from_str(&opened).unwrap();
        assert_eq!(opened["type"], "opened");
        let mono = telephone::telephone_mulaw_bytes(&genuine_call_16k()).unwrap();
        for (i, piece) in mono.chunks(1600).enumerate() {
            // external (the customer) interleaved with a silent agent channel
            let stereo: Vec<u8> = piece.iter().flat_map(|b| [*b, 0xff]).collect();
            socket.send(Message::Binary(stereo.into())).await.unwrap();
            if i == 3 {
                let ping =
                    json!({"version": "2", "type": "ping", "seq": 2, "id": id, "parameters": {}});
                socket
                    .send(Message::Text(ping.to_string().into()))
                    .await
                    .unwrap();
            }
        }
        let close = json!({"version": "2", "type": "close", "seq": 3, "id": id, "parameters": {"reason": "end"}});
        socket
            .send(Message::Text(close.to_string().into()))
            .await
            .unwrap();
        let replies = server_messages(&mut socket).await;
        let kinds: Vec<&str> = replies
            .iter()
            .map(|r| r["type"].as_str().or(r["event"].as_str()).unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            vec!["pong", "closed", "voice_stream_ended"],
            "{replies:?}"
        );
        let s = session(&app, &key, &sid).await;
        println!("audiohook: {}", s["decision"]["biometrics"]);
        assert_eq!(s["decision"]["biometrics"].as_array().unwrap().len(), 1);

        // Raw s16le at 16 kHz (wideband), then the socket closes without a stop message.
        let (sid, _) = new_session(&app, &key).await;
        let mut socket = connect(&app, &key, &sid, "s16le16k").await.unwrap();
        let pcm: Vec<u8> = genuine_call_16k()
            .iter()
            .flat_map(|v| ((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            .collect();
        for piece in pcm.chunks(6400) {
            socket
                .send(Message::Binary(piece.to_vec().into()))
                .await
                .unwrap();
        }
        socket.send(Message::Close(None)).await.unwrap();
        server_messages(&mut socket).await;
        // The stream is finished after the close handshake: wait for its commit.
        let mut s = session(&app, &key, &sid).await;
        for _ in 0..100 {
            if !s["decision"]["biometrics"].as_array().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            s = session(&app, &key, &sid).await;
        }
        println!("raw wideband: {}", s["decision"]);
        assert_eq!(s["decision"]["outcome"], "verified", "{s}");
    }
);

both_backends!(
    an_impostor_call_is_no_match_and_counts_once,
    |app: TestApp| async move {
        let key = enrolled(&app, "shop", Sector::Retail).await;
        let (sid, _) = new_session(&app, &key).await;
        // Another voice (a different synthetic speaker), about 4 s long, over Twilio.
        let other = wav("tts_other_voice");
        let mut call = other.clone();
        call.extend(std::iter::repeat_n(0f32, 4000));
        call.extend_from_slice(&other);
        let mulaw = telephone::telephone_mulaw_bytes(&call).unwrap();
        let start = Instant::now();
        let events = listen(&app, &key, &sid, start).await;
        let mut socket = connect(&app, &key, &sid, "twilio").await.unwrap();
        for m in framing::twilio_messages("MZ9", &mulaw) {
            socket.send(Message::Text(m.into())).await.unwrap();
        }
        let replies = server_messages(&mut socket).await;
        assert_eq!(replies.last().unwrap()["event"], "voice_stream_ended");
        let timeline = events.await.unwrap();
        let names: Vec<&str> = timeline.iter().map(|(_, n, _)| n.as_str()).collect();
        println!("impostor: {timeline:?}");
        assert!(names.contains(&"no_match"), "{names:?}");
        assert!(!names.contains(&"verified"), "{names:?}");
        let s = session(&app, &key, &sid).await;
        assert_ne!(s["decision"]["outcome"], "verified", "{s}");
        assert_eq!(s["decision"]["biometrics"][0]["result"], "no_match");
        assert_eq!(s["decision"]["biometrics"].as_array().unwrap().len(), 1);
        // Several re-scores, one attempt against the consecutive-failure counter.
        let progress = names.iter().filter(|n| **n == "voice_progress").count();
        assert!(progress >= 2, "{names:?}");
        let (failures, _) = trustline::store::sessions::lockout(
            &app.state.db,
            &"shop".parse().unwrap(),
            &"caller".to_string().try_into().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(failures, 1);
    }
);

/// Stream `samples` (16 kHz) as a Twilio call and wait for the stream's end.
async fn twilio_call(app: &TestApp, key: &str, sid: &str, samples: &[f32]) -> Vec<Value> {
    let mulaw = telephone::telephone_mulaw_bytes(samples).unwrap();
    let mut socket = connect(app, key, sid, "twilio").await.unwrap();
    for m in framing::twilio_messages("MZr", &mulaw) {
        socket.send(Message::Text(m.into())).await.unwrap();
    }
    server_messages(&mut socket).await
}

both_backends!(
    streamed_replays_are_caught_and_the_voiceprint_use_is_recorded,
    |app: TestApp| async move {
        let tenant: trustline::tenants::TenantId = "shop".parse().unwrap();
        let customer: trustline::tenants::CustomerRef = "caller".to_string().try_into().unwrap();
        let key = enrolled(&app, "shop", Sector::Retail).await;
        let last_used = || async {
            trustline::store::templates::template(&app.state.db, &tenant, &customer, "voice")
                .await
                .unwrap()
                .unwrap()
                .last_used_at
        };
        assert_eq!(last_used().await, None, "never used since enrolment");

        // A recording of an enrolment utterance played into the call, over the phone line.
        let (sid, _) = new_session(&app, &key).await;
        twilio_call(&app, &key, &sid, &wav("tts_account")).await;
        let d = session(&app, &key, &sid).await["decision"].clone();
        println!("replayed enrolment audio (retail): {d}");
        let reasons = d["reasons"].as_array().unwrap();
        assert!(reasons.contains(&json!("voice_replay_suspected")), "{d}");
        // Retail flags (the decision names it); the call still counts as voice evidence.
        assert!(
            reasons.contains(&json!("voice_presentation_attack_flagged")),
            "{d}"
        );
        let used = last_used().await.expect("the stream used the voiceprint");

        // A fresh call of the customer: no replay alert; it is remembered...
        let (sid, _) = new_session(&app, &key).await;
        twilio_call(&app, &key, &sid, &genuine_call_16k()).await;
        let d = session(&app, &key, &sid).await["decision"].clone();
        assert!(
            !d["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("voice_replay_suspected")),
            "{d}"
        );
        assert_eq!(d["outcome"], "verified", "{d}");
        assert!(last_used().await.unwrap() >= used);
        // ...so the same call played back later is caught.
        let (sid, _) = new_session(&app, &key).await;
        twilio_call(&app, &key, &sid, &genuine_call_16k()).await;
        let d = session(&app, &key, &sid).await["decision"].clone();
        assert!(
            d["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("voice_replay_suspected")),
            "{d}"
        );

        // Finance blocks a replay: the sample is not a match at all.
        let bank = enrolled(&app, "bank", Sector::Finance).await;
        let (sid, _) = new_session(&app, &bank).await;
        twilio_call(&app, &bank, &sid, &wav("tts_balance")).await;
        let d = session(&app, &bank, &sid).await["decision"].clone();
        println!("replayed enrolment audio (finance): {d}");
        assert_eq!(d["biometrics"][0]["result"], "blocked", "{d}");
        assert!(
            d["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("voice_presentation_attack_blocked"))
        );
    }
);
