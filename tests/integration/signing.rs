//! Signing keys: JWS round trips, tampering, rotation with old keys still published.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::TestApp;
use serde_json::json;
use trustline::crypto::signing::{Signer, SigningError};

both_backends!(
    jws_sign_verify_tamper_and_rotate,
    |app: TestApp| async move {
        let signer = &app.state.signer;
        let token = signer
            .sign_jws(&json!({"sub": "c-1", "exp": 1}), "JWT")
            .unwrap();
        assert_eq!(signer.verify_jws(&token).unwrap()["sub"], "c-1");

        // Flip one character of the payload: the signature no longer verifies.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        assert!(matches!(
            signer.verify_jws(&parts.join(".")),
            Err(SigningError::BadSignature | SigningError::Malformed)
        ));
        assert!(matches!(
            signer.verify_jws("a.b"),
            Err(SigningError::Malformed)
        ));

        // Rotate: the new key signs, the old one still verifies and stays in the JWKS.
        let old_kid = signer.active_kid();
        let new_kid = Signer::rotate(
            &app.state.db,
            &app.state.master_key,
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
        signer
            .reload(&app.state.db, &app.state.master_key)
            .await
            .unwrap();
        assert_eq!(signer.active_kid(), new_kid);
        assert_ne!(old_kid, new_kid);
        assert_eq!(signer.verify_jws(&token).unwrap()["sub"], "c-1");
        let jwks: serde_json::Value = app
            .client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(
            kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
            "{jwks}"
        );
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519" && k.get("d").is_none())
        );

        // A second instance on the same database agrees on the active key.
        let other = Signer::load(&app.state.db, &app.state.master_key)
            .await
            .unwrap();
        assert_eq!(other.active_kid(), new_kid);
        assert_eq!(other.verify_jws(&token).unwrap()["sub"], "c-1");
    }
);

both_backends!(
    private_keys_are_sealed_under_the_master_key,
    |app: TestApp| async move {
        let wrong = trustline::crypto::envelope::MasterKey::from_bytes(&[9u8; 32]).unwrap();
        let err = Signer::load(&app.state.db, &wrong)
            .await
            .expect_err("cannot open");
        assert!(
            err.to_string()
                .contains("no signing key row opens under this master key"),
            "{err}"
        );
    }
);
