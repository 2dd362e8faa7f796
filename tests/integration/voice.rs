//! Voice: the Rust front end and models against the Python reference outputs on our own
//! synthetic fixtures (models/voice/make_fixtures.py), and the voice API through the real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{Backend, TestApp, expect_problem};
use base64::Engine as _;
use serde_json::{Value, json};
use trustline::{
    biometrics::{
        audio::{self, AudioEncoding, fbank::KaldiFbank, mel, vad},
        voice::{
            CAMPPLUS, GE2E, VAD,
            embed::{
                AnalyseOptions, FrontEnd, analyse, campplus_features, campplus_run, ge2e_partials,
                ge2e_run,
            },
            service::{self, VoiceEngine},
            template::{self, SeenAudio, VoiceTemplate},
        },
    },
    crypto::envelope::context,
    store,
    tenants::{CustomerRef, Scope, Sector, TenantId},
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/voice");

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/reference.json")).unwrap())
        .unwrap()
}

fn wav_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}.wav")).unwrap()
}

fn wav(name: &str) -> Vec<f32> {
    audio::decode(&wav_bytes(name), AudioEncoding::Wav)
        .unwrap()
        .samples
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x {
            Value::Array(a) => a.iter().map(|y| y.as_f64().unwrap() as f32).collect(),
            y => vec![y.as_f64().unwrap() as f32],
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn kaldi_fbank_matches_kaldi_native_fbank() {
    let r = reference();
    let fb = KaldiFbank::new(80);
    for (name, clip) in r["clips"].as_object().unwrap() {
        let f = fb.compute(&wav(name));
        let frames = f.len() / 80;
        assert_eq!(frames as u64, clip["fbank_num_frames"].as_u64().unwrap());
        let want = floats(&clip["fbank_first_frames"]);
        let d = max_abs_diff(&f[..want.len()], &want);
        let mean: Vec<f32> = (0..80)
            .map(|b| (0..frames).map(|t| f[t * 80 + b]).sum::<f32>() / frames as f32)
            .collect();
        let dm = max_abs_diff(&mean, &floats(&clip["fbank_frame_mean"]));
        println!("{name}: log-fbank max|diff| {d:.2e} (first 20 frames), per-bin mean {dm:.2e}");
        assert!(d < 2e-3 && dm < 1e-3);
    }
}

#[test]
fn ge2e_mel_matches_librosa() {
    let r = reference();
    let filters = mel::mel_filters();
    for t in r["ge2e_mel_filters_nonzero"].as_array().unwrap() {
        let (i, j) = (
            t[0].as_u64().unwrap() as usize,
            t[1].as_u64().unwrap() as usize,
        );
        assert!((filters[i][j] - t[2].as_f64().unwrap() as f32).abs() < 1e-7);
    }
    let m = mel::MelSpectrogram::new();
    for (name, clip) in r["clips"].as_object().unwrap() {
        let mut x = wav(name);
        mel::normalize_volume(&mut x);
        let got = m.compute(&x);
        assert_eq!(
            (got.len() / 40) as u64,
            clip["mel_num_frames"].as_u64().unwrap()
        );
        let want = floats(&clip["mel_first_frames"]);
        let rel = got[..want.len()]
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs() / (b.abs() + 1e-3))
            .fold(0.0, f32::max);
        println!("{name}: mel max relative diff {rel:.2e}");
        assert!(rel < 1e-3);
    }
}

#[test]
fn g711_mulaw_matches_reference_roundtrip() {
    let r = reference();
    let input = r["mulaw_roundtrip"]["input"].as_array().unwrap();
    let output = r["mulaw_roundtrip"]["output"].as_array().unwrap();
    for (i, o) in input.iter().zip(output) {
        let x = i.as_i64().unwrap() as i16;
        let y = audio::g711::mulaw_to_linear(audio::g711::linear_to_mulaw(x));
        assert_eq!(i64::from(y), o.as_i64().unwrap(), "input {x}");
    }
}

/// VAD, CAM++ and GE2E through the registry's ONNX Runtime sessions vs Python onnxruntime.
#[test]
fn models_match_python_reference() {
    let models = crate::common::shared_models();
    let front = FrontEnd::default();
    let r = reference();
    for (name, clip) in r["clips"].as_object().unwrap() {
        let x = wav(name);
        let p = models
            .get(VAD)
            .unwrap()
            .run(|s| vad::speech_probabilities(s, &x))
            .unwrap();
        let dv = max_abs_diff(&p, &floats(&clip["vad_probs"]));
        let feats = campplus_features(&front, &x);
        let e = models
            .get(CAMPPLUS)
            .unwrap()
            .run(|s| campplus_run(s, &feats))
            .unwrap();
        let de = max_abs_diff(&e, &floats(&clip["campplus_embedding"]));
        let (b, t, m) = ge2e_partials(&front, &x);
        let g = models
            .get(GE2E)
            .unwrap()
            .run(|s| ge2e_run(s, b, t, &m))
            .unwrap();
        let dg = max_abs_diff(&g, &floats(&clip["ge2e_embedding_whole"]));
        println!("{name}: max|diff| vad {dv:.2e}, CAM++ {de:.2e}, GE2E {dg:.2e}");
        assert!(dv < 1e-4 && de < 1e-3 && dg < 1e-4);
    }
}

#[test]
fn analysis_rejects_too_little_speech_and_scores_same_audio_high() {
    let models = crate::common::shared_models();
    let engine = VoiceEngine::shared(&models).unwrap();
    // 0.3 s of low noise: passes the level checks, but has no speech.
    let mut s = 7u64;
    let noise: Vec<i16> = (0..4800)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 52) as i16) - 2048
        })
        .collect();
    let u = audio::decode(
        &audio::encode_wav(&noise, 16_000, 1).unwrap(),
        AudioEncoding::Wav,
    )
    .unwrap();
    let err = analyse(&models, &engine.front, &u, AnalyseOptions::default()).unwrap_err();
    assert!(err.to_string().contains("too little speech"), "{err}");

    let u = audio::decode(&wav_bytes("tts_account"), AudioEncoding::Wav).unwrap();
    let a = analyse(&models, &engine.front, &u, AnalyseOptions::default()).unwrap();
    assert!(a.net_speech_ms >= audio::MIN_NET_SPEECH_MS);
    assert!(a.spoof_score.is_some());
    let tpl = VoiceTemplate::from_analyses(std::slice::from_ref(&a), vec![]).unwrap();
    let ev = service::evidence(&models, &engine, &tpl, &a, None);
    assert!(
        ev.fmr < 1e-3,
        "identical audio must look like a match: {ev:?}"
    );
    // The 8 kHz copy of another utterance is scored in the telephone condition.
    let u8k = audio::decode(&wav_bytes("tts_hello.8k"), AudioEncoding::Wav).unwrap();
    let b = analyse(&models, &engine.front, &u8k, AnalyseOptions::default()).unwrap();
    let ev = service::evidence(&models, &engine, &tpl, &b, None);
    assert_eq!(ev.condition.as_str(), "telephone");
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_api_consent_scopes_validation_and_verify() {
    let app = TestApp::start(Backend::Sqlite).await;
    let key = app
        .tenant_with_key("acme", Sector::Retail, &[Scope::Enrol, Scope::Sessions])
        .await;
    let sessions_only = app
        .tenant_with_key("acme", Sector::Retail, &[Scope::Sessions])
        .await;
    let utt = json!({"audio": b64(&wav_bytes("tts_account")), "encoding": "wav"});

    // Enrolment is refused without a voiceprint_enrolment consent (the consent store fills
    // the single hook later); nothing is stored.
    let resp = app
        .put_json(
            "/v1/customers/cust-1/voiceprint",
            &key,
            json!({"utterances": [utt.clone()]}),
        )
        .await;
    let body = expect_problem(resp, 403, "consent_required").await;
    assert_eq!(body["purpose"], "voiceprint_enrolment");
    let resp = app
        .put_json(
            "/v1/customers/cust-1/voiceprint",
            &sessions_only,
            json!({"utterances": [utt.clone()]}),
        )
        .await;
    expect_problem(resp, 403, "scope_denied").await;

    // Not enrolled yet.
    let resp = app
        .post_json("/v1/customers/cust-1/voiceprint/verify", &key, utt.clone())
        .await;
    expect_problem(resp, 409, "not_enrolled").await;

    // Store a template the way enrolment does (sealed under the customer's data key).
    let tenant: TenantId = "acme".parse().unwrap();
    let customer: CustomerRef = "cust-1".to_string().try_into().unwrap();
    let models = app.state.models.clone();
    let engine = VoiceEngine::shared(&models).unwrap();
    let u = audio::decode(&wav_bytes("tts_account"), AudioEncoding::Wav).unwrap();
    let a = analyse(&models, &engine.front, &u, AnalyseOptions::default()).unwrap();
    let tpl = VoiceTemplate::from_analyses(std::slice::from_ref(&a), vec![]).unwrap();
    let owner = context("acme", "cust-1", "data-key");
    let (dk, wrapped) = app.state.master_key.new_data_key(&owner).unwrap();
    store::templates::insert_wrapped_key(&app.state.db, &tenant, &customer, &wrapped)
        .await
        .unwrap();
    let sealed = template::seal_template(&dk, "acme", "cust-1", &tpl).unwrap();
    store::templates::upsert_template(
        &app.state.db,
        &tenant,
        &customer,
        "voice",
        "campplus+ge2e",
        "1.0.0+1.0.0",
        &sealed,
    )
    .await
    .unwrap();
    let mut seen = SeenAudio::default();
    seen.push(a.fingerprint.clone());
    let sealed_seen = template::seal_seen(&dk, "acme", "cust-1", &seen).unwrap();
    store::templates::upsert_template(
        &app.state.db,
        &tenant,
        &customer,
        "voice_fingerprints",
        "replay-fingerprint",
        "1",
        &sealed_seen,
    )
    .await
    .unwrap();

    // A different utterance: scored, with models, FMR, spoof check; not a replay.
    let other = json!({"audio": b64(&wav_bytes("tts_hello")), "encoding": "wav"});
    let resp = app
        .post_json(
            "/v1/customers/cust-1/voiceprint/verify",
            &key,
            other.clone(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let ev: Value = resp.json().await.unwrap();
    assert_eq!(ev["models"][0]["model_id"], "campplus");
    assert_eq!(ev["models"][1]["model_id"], "ge2e");
    assert!(ev["fmr"].as_f64().unwrap() > 0.0);
    assert_eq!(ev["replay"]["kind"], "none");
    assert!(ev["spoof"]["flagged"].is_boolean());

    // The enrolment recording played again: exact replay. The verify audio sent again: replay.
    let resp = app
        .post_json("/v1/customers/cust-1/voiceprint/verify", &key, utt.clone())
        .await;
    let ev: Value = resp.json().await.unwrap();
    assert_eq!(ev["replay"]["kind"], "exact", "{ev}");
    let resp = app
        .post_json("/v1/customers/cust-1/voiceprint/verify", &key, other)
        .await;
    let ev: Value = resp.json().await.unwrap();
    assert_eq!(ev["replay"]["kind"], "exact", "{ev}");

    // Bad audio: typed problem with a reason; wrong scope; bad base64.
    let silent = audio::encode_wav(&vec![0i16; 16_000], 16_000, 1).unwrap();
    let resp = app
        .post_json(
            "/v1/customers/cust-1/voiceprint/verify",
            &key,
            json!({"audio": b64(&silent), "encoding": "wav"}),
        )
        .await;
    let body = expect_problem(resp, 422, "invalid_audio").await;
    assert_eq!(body["reason"], "audio_silent");
    let resp = app
        .post_json(
            "/v1/customers/cust-1/voiceprint/verify",
            &key,
            json!({"audio": b64(b"not a wav"), "encoding": "wav"}),
        )
        .await;
    let body = expect_problem(resp, 422, "invalid_audio").await;
    assert_eq!(body["reason"], "audio_format");
    let resp = app
        .post_json(
            "/v1/customers/cust-1/voiceprint/verify",
            &key,
            json!({"audio": "!!", "encoding": "wav"}),
        )
        .await;
    expect_problem(resp, 400, "invalid_request").await;
    let resp = app
        .post_json(
            "/v1/customers/cust-1/voiceprint/verify",
            &key,
            json!({"audio": b64(&wav_bytes("tts_hello")), "encoding": "flac"}),
        )
        .await;
    assert_eq!(resp.status(), 400);

    // Another tenant cannot reach this customer's voiceprint.
    let other_tenant = app
        .tenant_with_key("globex", Sector::Retail, &[Scope::Sessions])
        .await;
    let resp = app
        .post_json("/v1/customers/cust-1/voiceprint/verify", &other_tenant, utt)
        .await;
    expect_problem(resp, 409, "not_enrolled").await;

    // Delete.
    let resp = app.delete("/v1/customers/cust-1/voiceprint", &key).await;
    assert_eq!(resp.status(), 204);
    let stored = store::templates::template(&app.state.db, &tenant, &customer, "voice")
        .await
        .unwrap();
    assert!(stored.is_none());
}
