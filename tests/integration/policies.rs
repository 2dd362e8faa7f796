//! The history of policies in force: every version the service loaded is kept by the hash that
//! decisions record, with its exact text, and survives the file changing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::TestApp;
use trustline::{policy, store, tenants::Sector};

fn sha256_hex(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

both_backends!(
    every_loaded_policy_version_stays_readable_by_its_hash,
    |app: TestApp| async move {
        // Start-up recorded the policies in force, with text that hashes to what decisions name.
        let retail = app.state.policies.sector(Sector::Retail);
        let history = store::policies::history(&app.state.db, &retail.id)
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].sha256, retail.hash);
        assert_eq!(sha256_hex(&history[0].content), retail.hash);

        // The file changes (a stricter lockout), the service restarts with it.
        let changed_text = retail.source.replacen("version = \"", "version = \"9", 1);
        assert_ne!(changed_text, retail.source);
        let changed = policy::parse_sector("sectors/retail.toml", changed_text.as_bytes()).unwrap();
        store::policies::record_loaded(&app.state.db, [&changed])
            .await
            .unwrap();
        // Loading the same file again only touches it.
        store::policies::record_loaded(&app.state.db, [retail.as_ref()])
            .await
            .unwrap();

        let history = store::policies::history(&app.state.db, &retail.id)
            .await
            .unwrap();
        assert_eq!(history.len(), 2, "{history:?}");
        let hashes: Vec<&str> = history.iter().map(|v| v.sha256.as_str()).collect();
        assert!(hashes.contains(&retail.hash.as_str()));
        assert!(hashes.contains(&changed.hash.as_str()));
        for v in &history {
            assert_eq!(
                sha256_hex(&v.content),
                v.sha256,
                "stored text is the hashed text"
            );
        }
        let old = history.iter().find(|v| v.sha256 == retail.hash).unwrap();
        assert!(old.last_loaded_at >= old.first_loaded_at);
        assert_eq!(old.content, retail.source);
    }
);
