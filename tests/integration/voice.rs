//! Voice: the Rust front end and models against the Python reference outputs on our own
//! synthetic fixtures (models/voice/make_fixtures.py), and the voice API through the real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{TestApp, expect_problem};
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
            replay::Fingerprint,
            service::{self, VoiceEngine},
            template::VoiceTemplate,
        },
    },
    store,
    tenants::{CustomerRef, Scope, Sector, TenantId},
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/voice");

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/reference.json")).unwrap())
        .unwrap()
}

pub(crate) fn wav_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}.wav")).unwrap()
}

pub(crate) fn wav(name: &str) -> Vec<f32> {
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

/// The trained presentation-attack head through the registry's ONNX Runtime session vs
/// scikit-learn's probabilities (models/pad/reference.json, written by train_pad_head.py).
#[test]
fn pad_head_matches_scikit_learn_reference() {
    let models = crate::common::shared_models();
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/pad/reference.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let tolerance = r["tolerance"].as_f64().unwrap() as f32;
    let head = models.get(trustline::biometrics::voice::PAD_HEAD).unwrap();
    let want = floats(&r["bona_fide_probability"]);
    let inputs = r["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), want.len());
    let got: Vec<f32> = inputs
        .iter()
        .map(|x| {
            head.run(|s| {
                trustline::biometrics::voice::pad_head::bona_fide_probability(s, &floats(x))
            })
            .unwrap()
        })
        .collect();
    let d = max_abs_diff(&got, &want);
    println!("pad head: max|diff| {d:.2e} (tolerance {tolerance:e})");
    assert!(d <= tolerance, "{got:?} vs {want:?}");
    // Not a constant: the inputs span both classes' probabilities.
    assert!(
        want.iter().any(|p| *p < 0.5) && want.iter().any(|p| *p > 0.5),
        "{want:?}"
    );
}

/// 0.3 s of low noise: passes the level checks, but has no speech.
fn noise_wav() -> Vec<u8> {
    let mut s = 7u64;
    let noise: Vec<i16> = (0..4800)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 52) as i16) - 2048
        })
        .collect();
    audio::encode_wav(&noise, 16_000, 1).unwrap()
}

#[test]
fn analysis_rejects_too_little_speech_and_scores_same_audio_high() {
    let models = crate::common::shared_models();
    let engine = VoiceEngine::shared(&models).unwrap();
    let u = audio::decode(&noise_wav(), AudioEncoding::Wav).unwrap();
    let err = analyse(&models, &engine.front, &u, AnalyseOptions::default()).unwrap_err();
    assert!(err.to_string().contains("too little speech"), "{err}");

    let u = audio::decode(&wav_bytes("tts_account"), AudioEncoding::Wav).unwrap();
    let a = analyse(&models, &engine.front, &u, AnalyseOptions::default()).unwrap();
    assert!(a.net_speech_ms >= audio::MIN_NET_SPEECH_MS);
    // analyse() shares one fbank between the CAM++ features and the replay fingerprint when VAD
    // drops nothing: the results are those of the separate computations.
    assert_eq!(
        a.fingerprint,
        Fingerprint::of(&engine.front.fbank, &u.samples)
    );
    let mut separate = models
        .get(CAMPPLUS)
        .unwrap()
        .run(|s| campplus_run(s, &campplus_features(&engine.front, &u.samples)))
        .unwrap();
    trustline::biometrics::voice::embed::l2_normalise(&mut separate);
    assert!(max_abs_diff(&separate, &a.campplus) < 1e-6);
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

/// A tenant of `sector` with a key for enrolment, sessions and consent, and a registered
/// customer who chose the voiceprint.
pub(crate) async fn tenant_and_customer(
    app: &TestApp,
    tenant: &str,
    sector: Sector,
    customer: &str,
) -> String {
    let key = app
        .tenant_with_key(
            tenant,
            sector,
            &[Scope::Enrol, Scope::Sessions, Scope::Consent],
        )
        .await;
    let resp = app
        .put_json(
            &format!("/v1/customers/{customer}"),
            &key,
            json!({"methods": ["voiceprint"]}),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    key
}

/// The customer grants `voiceprint_enrolment` through the consent API (IVR keypress).
pub(crate) async fn grant_voiceprint_consent(app: &TestApp, key: &str, customer: &str) {
    let resp = app
        .post_json(
            "/v1/consents",
            key,
            json!({"customer_ref": customer, "purpose": "voiceprint_enrolment",
                   "notice_version": "1.0.0", "language": "en",
                   "capture": {"method": "dtmf", "ivr_call_id": "call-1"}}),
        )
        .await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["consent"]["purpose"], "voiceprint_enrolment", "{body}");
}

fn utterance(name: &str) -> Value {
    json!({"audio": b64(&wav_bytes(name)), "encoding": "wav"})
}

pub(crate) async fn enrol(app: &TestApp, key: &str, customer: &str, clips: &[&str]) -> Value {
    let utterances: Vec<Value> = clips.iter().map(|c| utterance(c)).collect();
    let resp = app
        .put_json(
            &format!("/v1/customers/{customer}/voiceprint"),
            key,
            json!({ "utterances": utterances }),
        )
        .await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

both_backends!(
    voice_api_consent_enrolment_scopes_validation_and_verify,
    |app: TestApp| async move {
        let key = tenant_and_customer(&app, "acme", Sector::Retail, "cust-1").await;
        let sessions_only = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Sessions])
            .await;
        let utt = utterance("tts_account");
        let tenant: TenantId = "acme".parse().unwrap();
        let customer: CustomerRef = "cust-1".to_string().try_into().unwrap();

        // Enrolment is refused without a voiceprint_enrolment consent; nothing is stored.
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
        assert!(
            store::templates::template(&app.state.db, &tenant, &customer, "voice")
                .await
                .unwrap()
                .is_none()
        );

        // Not enrolled yet.
        let resp = app
            .post_json("/v1/customers/cust-1/voiceprint/verify", &key, utt.clone())
            .await;
        expect_problem(resp, 409, "not_enrolled").await;

        // The customer consents through the consent API; enrolment then succeeds over HTTP and
        // stores only the sealed template (no audio).
        grant_voiceprint_consent(&app, &key, "cust-1").await;
        let outcome = enrol(&app, &key, "cust-1", &["tts_account"]).await;
        assert_eq!(outcome["utterances"], 1, "{outcome}");
        assert_eq!(outcome["condition"], "wideband");
        assert_eq!(outcome["models"][0][0], "campplus");
        assert_eq!(outcome["models"][1][0], "ge2e");
        assert!(outcome["net_speech_ms"].as_u64().unwrap() >= 256);
        let stored = store::templates::template(&app.state.db, &tenant, &customer, "voice")
            .await
            .unwrap()
            .expect("template stored");
        assert_eq!(stored.model_id, "campplus+ge2e");
        let raw = wav_bytes("tts_account");
        assert!(
            !stored
                .ciphertext
                .windows(64)
                .any(|w| raw.windows(64).any(|r| r == w)),
            "no audio in the stored template"
        );

        // A different utterance: scored, with models, FMR, spoof check; not a replay.
        let other = utterance("tts_hello");
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
        assert!(ev["fmr"].as_f64().unwrap() < 1e-3, "{ev}");
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

        // Delete: another tenant cannot; the owner's DELETE removes it and logs it (it used
        // to leave no trace in the log).
        let deletions = "SELECT COUNT(*) FROM ledger_entries WHERE tenant_id = $1 \
                         AND kind = 'template_deleted'";
        let other_enrol = app
            .tenant_with_key("globex", Sector::Retail, &[Scope::Enrol])
            .await;
        expect_problem(
            app.delete("/v1/customers/cust-1/voiceprint", &other_enrol)
                .await,
            404,
            "not_found",
        )
        .await;
        assert_eq!(count(&app, deletions, tenant.as_str()).await, 0);
        let resp = app.delete("/v1/customers/cust-1/voiceprint", &key).await;
        assert_eq!(resp.status(), 204);
        let stored = store::templates::template(&app.state.db, &tenant, &customer, "voice")
            .await
            .unwrap();
        assert!(stored.is_none());
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM ledger_entries WHERE tenant_id = $1 AND kind = 'template_deleted' \
             ORDER BY idx",
        )
        .bind(tenant.as_str())
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
        let voice: Vec<Value> = bodies
            .iter()
            .map(|b| serde_json::from_str::<Value>(b).unwrap())
            .filter(|b| b["modality"] == "voice")
            .collect();
        assert_eq!(voice.len(), 1, "{bodies:?}");
        assert_eq!(voice[0]["by"], "platform");
        assert_eq!(voice[0]["reason"], "platform_request");
        // Deleting again: nothing there, nothing logged.
        let logged = count(&app, deletions, tenant.as_str()).await;
        expect_problem(
            app.delete("/v1/customers/cust-1/voiceprint", &key).await,
            404,
            "not_found",
        )
        .await;
        assert_eq!(count(&app, deletions, tenant.as_str()).await, logged);
    }
);

async fn count(app: &TestApp, sql: &str, tenant: &str) -> i64 {
    use sqlx::Row as _;
    sqlx::query(sql)
        .bind(tenant)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Rows a session request may write: sessions, ledger entries, biometric lockout counters.
async fn footprint(app: &TestApp, tenant: &str) -> (i64, i64, i64) {
    (
        count(
            app,
            "SELECT COUNT(*) FROM sessions WHERE tenant_id = $1",
            tenant,
        )
        .await,
        count(
            app,
            "SELECT COUNT(*) FROM ledger_entries WHERE tenant_id = $1",
            tenant,
        )
        .await,
        count(
            app,
            "SELECT CAST(COALESCE(SUM(failures), 0) AS BIGINT) FROM lockout_factor \
             WHERE tenant_id = $1 AND factor = 'biometric'",
            tenant,
        )
        .await,
    )
}

fn session_with_voice(customer: &str, clip: &str) -> Value {
    json!({"customer_ref": customer, "channel": "voice",
           "evidence": {"voice": utterance(clip)}})
}

pub(crate) async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

both_backends!(
    voice_evidence_in_sessions_by_sector,
    |app: TestApp| async move {
        // The same customer voice, enrolled over HTTP after a real consent grant, with a retail
        // tenant (passive voice may verify alone) and a finance tenant (never alone).
        let shop = tenant_and_customer(&app, "shop", Sector::Retail, "caller").await;
        let bank = tenant_and_customer(&app, "bank", Sector::Finance, "caller").await;
        for key in [&shop, &bank] {
            grant_voiceprint_consent(&app, key, "caller").await;
            enrol(&app, key, "caller", &["tts_account", "tts_balance"]).await;
        }
        // The bank's customer also holds recovery codes (a possession factor).
        let codes = json_of(
            app.post_json(
                "/v1/customers/caller/factors/recovery_codes",
                &bank,
                json!({}),
            )
            .await,
            201,
        )
        .await;
        let recovery_code = codes["codes"][0].as_str().unwrap().to_string();

        // Retail: a new utterance of the enrolled voice verifies at the passive level.
        let retail = json_of(
            app.post_json(
                "/v1/sessions",
                &shop,
                session_with_voice("caller", "tts_payment"),
            )
            .await,
            201,
        )
        .await;
        let d = &retail["decision"];
        let b = &d["biometrics"][0];
        println!("retail genuine: {b}");
        assert_eq!(d["outcome"], "verified", "{retail}");
        assert_eq!(d["assurance"], "passive", "{retail}");
        assert_eq!(d["amr"], json!(["vbm"]), "{retail}");
        assert_eq!(b["modality"], "voice");
        assert_eq!(b["model_id"], "campplus+ge2e");
        let versions: Vec<String> = ["campplus", "ge2e"]
            .iter()
            .map(|id| app.state.models.get(id).unwrap().entry.version.clone())
            .collect();
        assert_eq!(b["model_version"], versions.join("+"));
        assert_eq!(b["result"], "match", "{retail}");
        let fmr = b["fmr"].as_f64().unwrap();
        assert!(fmr > 0.0 && fmr <= 1e-3, "{b}");
        assert!(
            d["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("passive_biometric_only"))
        );
        // The signed assertion carries the voice amr.
        let claims = app
            .state
            .signer
            .verify_jws(retail["assertion"].as_str().unwrap())
            .unwrap();
        assert_eq!(claims["amr"], json!(["vbm"]));

        // Finance: the same audio gets the same score, yet voice alone never verifies.
        let finance = json_of(
            app.post_json(
                "/v1/sessions",
                &bank,
                session_with_voice("caller", "tts_payment"),
            )
            .await,
            201,
        )
        .await;
        let d = &finance["decision"];
        let fb = &d["biometrics"][0];
        assert_eq!(d["outcome"], "step_up_required", "{finance}");
        assert_eq!(d["amr"], json!([]));
        assert!(finance.get("assertion").is_none(), "{finance}");
        assert_eq!(fb["modality"], "voice");
        assert_eq!(fb["model_id"], "campplus+ge2e");
        assert!((fb["score"].as_f64().unwrap() - b["score"].as_f64().unwrap()).abs() < 1e-6);
        assert_eq!(fb["fmr"], b["fmr"]);
        assert_eq!(fb["max_fmr"], 1e-4);
        // Finance's 1e-4 is below what the voice matcher has demonstrated, and finance blocks
        // a sample the anti-spoofing model flags (these fixtures are espeak-ng speech): not a
        // match here either way.
        let reasons = d["reasons"].as_array().unwrap();
        assert!(
            reasons.contains(&json!("voice_no_match"))
                || reasons.contains(&json!("voice_presentation_attack_blocked")),
            "{finance}"
        );
        assert_eq!(
            d["step_up"]["factors"],
            json!(["recovery_code"]),
            "{finance}"
        );
        // The voice's measured FMR cannot reach the NIST 1e-4 finance asks of a biometric (the
        // development data measures down to ~6e-4; rarer rates are extrapolations and are not
        // used to decide): with the possession factor it is one factor, not multi-factor.
        assert!(fb["fmr"].as_f64().unwrap() > 1e-4, "{finance}");
        let id = finance["session_id"].as_str().unwrap();
        let done = json_of(
            app.post_json(
                &format!("/v1/sessions/{id}/factors/recovery_code"),
                &bank,
                json!({ "code": recovery_code }),
            )
            .await,
            200,
        )
        .await;
        let d = &done["decision"];
        assert_ne!(d["assurance"], "multi_factor", "{done}");
        assert!(
            !d["amr"].as_array().unwrap().contains(&json!("mfa")),
            "{done}"
        );

        // An impostor (another voice) does not verify in retail either. (espeak's en+f3 voice,
        // tts_hello, scores FMR ~6e-4 against this en-us voiceprint: voices of one formant
        // synthesiser are close for these models. The impostor is en+f3 pitched 6 semitones down.)
        let impostor = json_of(
            app.post_json(
                "/v1/sessions",
                &shop,
                session_with_voice("caller", "tts_other_voice"),
            )
            .await,
            201,
        )
        .await;
        let d = &impostor["decision"];
        println!("retail impostor: {}", d["biometrics"][0]);
        assert_ne!(d["outcome"], "verified", "{impostor}");
        assert_eq!(d["biometrics"][0]["result"], "no_match", "{impostor}");
        assert!(d["biometrics"][0]["fmr"].as_f64().unwrap() > 1e-3);
        assert!(
            d["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("voice_no_match"))
        );

        // Evidence added to a running session is scored the same way.
        let started = json_of(
            app.post_json(
                "/v1/sessions",
                &shop,
                json!({"customer_ref": "caller", "channel": "voice"}),
            )
            .await,
            201,
        )
        .await;
        assert_ne!(started["decision"]["outcome"], "verified");
        let id = started["session_id"].as_str().unwrap().to_string();
        let path = format!("/v1/sessions/{id}/evidence");
        let added = json_of(
            app.post_json(&path, &shop, json!({"voice": utterance("tts_payment")}))
                .await,
            200,
        )
        .await;
        assert_eq!(added["decision"]["outcome"], "verified", "{added}");
        assert_eq!(added["decision"]["amr"], json!(["vbm"]));

        // The evidence schema is documented: `voice` is the voice API's utterance.
        let doc: Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let schemas = &doc["components"]["schemas"];
        let voice_ref = schemas["EvidenceInput"]["properties"]["voice"].to_string();
        assert!(voice_ref.contains("VoiceSample"), "{voice_ref}");
        let sample = &schemas["VoiceSample"];
        assert!(sample["properties"]["audio"].is_object(), "{sample}");
        assert!(sample["properties"]["encoding"].is_object(), "{sample}");
        let evidence_responses =
            &doc["paths"]["/v1/sessions/{session_id}/evidence"]["post"]["responses"];
        assert!(
            evidence_responses["422"].is_object(),
            "{evidence_responses}"
        );

        // Bad audio: the voice API's typed problems, and nothing is written.
        let before = footprint(&app, "shop").await;
        let silent = audio::encode_wav(&vec![0i16; 16_000], 16_000, 1).unwrap();
        let bad = |audio: Value| {
            json!({"customer_ref": "caller", "channel": "voice",
                   "evidence": {"voice": {"audio": audio, "encoding": "wav"}}})
        };
        let resp = app
            .post_json("/v1/sessions", &shop, bad(json!(b64(&silent))))
            .await;
        let body = expect_problem(resp, 422, "invalid_audio").await;
        assert_eq!(body["reason"], "audio_silent");
        let resp = app
            .post_json("/v1/sessions", &shop, bad(json!(b64(b"RIFF...."))))
            .await;
        let body = expect_problem(resp, 422, "invalid_audio").await;
        assert_eq!(body["reason"], "audio_format");
        let resp = app.post_json("/v1/sessions", &shop, bad(json!("!!"))).await;
        expect_problem(resp, 400, "invalid_request").await;
        // Too little speech (0.3 s of noise) on a running session.
        let resp = app
            .post_json(
                &path,
                &shop,
                json!({"voice": {"audio": b64(&noise_wav()), "encoding": "wav"}}),
            )
            .await;
        let body = expect_problem(resp, 422, "invalid_audio").await;
        assert_eq!(body["reason"], "audio_too_short");
        assert_eq!(body["min_net_speech_ms"], 256);
        let resp = app
            .post_json(
                &path,
                &shop,
                json!({"voice": {"audio": b64(&wav_bytes("tts_hello"))}}),
            )
            .await;
        // A sample without its encoding is not the voice API's body: refused as that API
        // refuses it, when the body is parsed.
        expect_problem(resp, 400, "malformed_json").await;
        assert_eq!(footprint(&app, "shop").await, before);
        let again: Value = app
            .get(&format!("/v1/sessions/{id}"), &shop)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again["decision"], added["decision"]);
    }
);

both_backends!(
    posted_voice_replays_in_sessions_are_caught_and_the_voiceprint_use_recorded,
    |app: TestApp| async move {
        let shop = tenant_and_customer(&app, "shop", Sector::Retail, "caller").await;
        let bank = tenant_and_customer(&app, "bank", Sector::Finance, "caller").await;
        for key in [&shop, &bank] {
            grant_voiceprint_consent(&app, key, "caller").await;
            enrol(&app, key, "caller", &["tts_account", "tts_balance"]).await;
        }
        let tenant: trustline::tenants::TenantId = "shop".parse().unwrap();
        let customer: trustline::tenants::CustomerRef = "caller".to_string().try_into().unwrap();
        let last_used = || async {
            trustline::store::templates::template(&app.state.db, &tenant, &customer, "voice")
                .await
                .unwrap()
                .unwrap()
                .last_used_at
        };
        assert_eq!(last_used().await, None, "never used since enrolment");
        let reasons = |v: &Value| v["decision"]["reasons"].as_array().unwrap().clone();
        let replayed = json!("voice_replay_suspected");

        // An enrolment recording posted as session evidence: an exact replay.
        let s = json_of(
            app.post_json(
                "/v1/sessions",
                &shop,
                session_with_voice("caller", "tts_account"),
            )
            .await,
            201,
        )
        .await;
        println!("posted enrolment audio (retail): {}", s["decision"]);
        assert!(reasons(&s).contains(&replayed), "{s}");
        assert!(
            reasons(&s).contains(&json!("voice_presentation_attack_flagged")),
            "{s}"
        );
        let used = last_used().await.expect("the session used the voiceprint");

        // A fresh utterance: no replay alert, verified; remembered and the use recorded.
        let fresh = json_of(
            app.post_json(
                "/v1/sessions",
                &shop,
                session_with_voice("caller", "tts_payment"),
            )
            .await,
            201,
        )
        .await;
        assert!(!reasons(&fresh).contains(&replayed), "{fresh}");
        assert_eq!(fresh["decision"]["outcome"], "verified", "{fresh}");
        assert!(last_used().await.unwrap() >= used);

        // The same utterance later over the phone line (8 kHz µ-law, band-limited): a
        // near-exact replay, caught on a running session's added evidence too.
        let started = json_of(
            app.post_json(
                "/v1/sessions",
                &shop,
                json!({"customer_ref": "caller", "channel": "voice"}),
            )
            .await,
            201,
        )
        .await;
        let id = started["session_id"].as_str().unwrap();
        let mulaw =
            trustline::biometrics::audio::telephone::telephone_mulaw_bytes(&wav("tts_payment"))
                .unwrap();
        let added = json_of(
            app.post_json(
                &format!("/v1/sessions/{id}/evidence"),
                &shop,
                json!({"voice": {"audio": b64(&mulaw), "encoding": "mulaw"}}),
            )
            .await,
            200,
        )
        .await;
        println!(
            "the fresh utterance again, µ-law (retail): {}",
            added["decision"]
        );
        assert!(reasons(&added).contains(&replayed), "{added}");

        // Refused audio is not remembered: the fingerprints and last use are unchanged.
        let seen = || async {
            trustline::store::templates::template(
                &app.state.db,
                &tenant,
                &customer,
                "voice_fingerprints",
            )
            .await
            .unwrap()
            .unwrap()
            .ciphertext
        };
        let (before, used) = (seen().await, last_used().await);
        let silent = audio::encode_wav(&vec![0i16; 16_000], 16_000, 1).unwrap();
        let resp = app
            .post_json(
                "/v1/sessions",
                &shop,
                json!({"customer_ref": "caller", "channel": "voice",
                       "evidence": {"voice": {"audio": b64(&silent), "encoding": "wav"}}}),
            )
            .await;
        expect_problem(resp, 422, "invalid_audio").await;
        assert_eq!(seen().await, before);
        assert_eq!(last_used().await, used);

        // Finance blocks a replay: the sample is not a match.
        let f = json_of(
            app.post_json(
                "/v1/sessions",
                &bank,
                session_with_voice("caller", "tts_balance"),
            )
            .await,
            201,
        )
        .await;
        println!("posted enrolment audio (finance): {}", f["decision"]);
        assert_eq!(f["decision"]["biometrics"][0]["result"], "blocked", "{f}");
        assert!(reasons(&f).contains(&replayed), "{f}");
        assert!(
            reasons(&f).contains(&json!("voice_presentation_attack_blocked")),
            "{f}"
        );
    }
);
