//! Start-up refuses bad states with errors that name what is wrong, and the real binary serves,
//! prints its demo key once, and shuts down cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
};

use trustline::{AppState, StartupError, biometrics::models::ModelError, config::RawSettings};

fn copy_models(to: &Path) {
    let from = RawSettings::default().validate().unwrap().models_dir;
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

fn first_model_file(models: &Path) -> std::path::PathBuf {
    let manifest = trustline::biometrics::models::Manifest::read(models).unwrap();
    models.join(&manifest.models[0].file)
}

#[tokio::test]
async fn a_model_whose_hash_differs_stops_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    copy_models(&models);
    let victim = first_model_file(&models);
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();

    let mut settings =
        crate::common::settings_for(dir.path(), crate::common::sqlite_url(dir.path()));
    settings.models_dir = models.clone();
    let err = AppState::build(settings).await.err().expect("must refuse");
    match &err {
        StartupError::Models(ModelError::HashMismatch { path, .. }) => assert_eq!(path, &victim),
        other => panic!("unexpected: {other}"),
    }
    assert!(
        err.to_string().contains(&victim.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_model_file_stops_start_up_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    copy_models(&models);
    let victim = first_model_file(&models);
    std::fs::remove_file(&victim).unwrap();
    let mut settings =
        crate::common::settings_for(dir.path(), crate::common::sqlite_url(dir.path()));
    settings.models_dir = models;
    let err = AppState::build(settings).await.err().expect("must refuse");
    assert!(
        matches!(err, StartupError::Models(ModelError::FileMissing(ref p)) if p == &victim),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_onnxruntime_library_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings =
        crate::common::settings_for(dir.path(), crate::common::sqlite_url(dir.path()));
    settings.onnxruntime_library = dir.path().join("no-such-libonnxruntime.so");
    let err = AppState::build(settings).await.err().expect("must refuse");
    assert!(
        matches!(err, StartupError::Models(ModelError::RuntimeMissing(_))),
        "{err}"
    );
    assert!(err.to_string().contains("install-onnxruntime.sh"), "{err}");
}

#[tokio::test]
async fn an_unreachable_database_is_retried_then_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let settings = crate::common::settings_for(
        dir.path(),
        "postgres://app:hunter2@127.0.0.1:1/trustline".into(),
    );
    let started = std::time::Instant::now();
    let err = AppState::build(settings).await.err().expect("must refuse");
    let text = err.to_string();
    assert!(text.contains("unreachable after 2 attempts"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(250),
        "backed off between attempts"
    );
}

#[test]
fn check_config_names_the_bad_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_trustline"))
        .arg("check-config")
        .env("TRUSTLINE_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`listen`"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_trustline"))
        .arg("check-config")
        .env("DATABASE_URL", "postgres://app:hunter2@db/x")
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        !shown.contains("hunter2") && shown.contains("<redacted>"),
        "{shown}"
    );
}

/// A minimal HTTP/1.1 GET over a plain socket (no client binary needed on the machine).
fn http_get(addr: &str, path: &str, bearer: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = bearer
        .map(|k| format!("authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_binary_serves_prints_a_demo_key_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_trustline"))
            .arg("serve")
            .env("TRUSTLINE_LISTEN", "127.0.0.1:0")
            .env("TRUSTLINE_DATA_DIR", dir.path())
            .env("TRUSTLINE_LOG_FORMAT", "json")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let run_once = |expect_key: bool| {
        let mut child = spawn();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut key = None;
        let mut addr = None;
        for line in stdout.lines() {
            let line = line.unwrap();
            if let Some(k) = line.trim().strip_prefix("tlk_") {
                key = Some(format!("tlk_{k}"));
            }
            if let Some(a) = line.strip_prefix("listening on http://") {
                addr = Some(a.to_string());
                break;
            }
        }
        let addr = addr.expect("the server announced its address");
        assert_eq!(key.is_some(), expect_key);
        let health = http_get(&addr, "/readyz", None);
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        assert!(health.contains("\"ready\""));
        if let Some(key) = &key {
            let me = http_get(&addr, "/v1/tenant", Some(key));
            assert!(me.contains("\"demo\""), "{me}");
        }
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "clean exit on SIGTERM");
        let logs = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(logs.contains("shut down cleanly"), "{logs}");
        // The key never reaches the logs.
        if let Some(key) = &key {
            assert!(!logs.contains(&key[4..]), "key leaked into logs");
        }
        // JSON logs: every line parses.
        for line in logs.lines().filter(|l| !l.trim().is_empty()) {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|_| panic!("not JSON: {line}"));
        }
    };
    run_once(true);
    // A second start on the same database prints no key: it was shown once.
    run_once(false);
    assert!(dir.path().join("trustline.db").exists());
    assert!(dir.path().join("master.key").exists());
}
