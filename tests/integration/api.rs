//! The platform API's conventions through the real router: authentication, scopes, problem
//! details, limits, tenant isolation, operations endpoints. Every test runs on SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{TestApp, expect_problem};
use serde_json::json;
use trustline::tenants::{Scope, Sector};

both_backends!(health_ready_and_metrics, |app: TestApp| async move {
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));

    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    let loaded = ready["models"].as_array().unwrap().len();
    assert_eq!(loaded, app.state.models.manifest.models.len());
    assert!(loaded > 0, "shipped models are loaded");

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("trustline_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/healthz\""));
});

both_backends!(openapi_and_vendored_docs_page, |app: TestApp| async move {
    let doc: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/v1/customers/{customer_ref}"]["put"].is_object());
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("cdn"),
        "docs page must not load assets from a CDN"
    );
    // Assets come from the binary.
    let css = app
        .client
        .get(app.url("/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
});

both_backends!(
    authentication_failures_are_uniform_problems,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Enrol])
            .await;
        // No header, wrong scheme, malformed key, unknown key id, wrong secret.
        let resp = app.client.get(app.url("/v1/tenant")).send().await.unwrap();
        expect_problem(resp, 401, "unauthenticated").await;
        let resp = app
            .client
            .get(app.url("/v1/tenant"))
            .header("authorization", format!("Basic {key}"))
            .send()
            .await
            .unwrap();
        expect_problem(resp, 401, "unauthenticated").await;
        expect_problem(
            app.get("/v1/tenant", "tlk_nothing").await,
            401,
            "unauthenticated",
        )
        .await;
        let unknown = format!("tlk_0000000000000000_{}", &key[key.len() - 43..]);
        expect_problem(
            app.get("/v1/tenant", &unknown).await,
            401,
            "unauthenticated",
        )
        .await;
        let mut wrong_secret = key.clone();
        let last = wrong_secret.pop().unwrap();
        wrong_secret.push(if last == 'A' { 'B' } else { 'A' });
        expect_problem(
            app.get("/v1/tenant", &wrong_secret).await,
            401,
            "unauthenticated",
        )
        .await;

        // The right key works.
        let me: serde_json::Value = app.get("/v1/tenant", &key).await.json().await.unwrap();
        assert_eq!(me["tenant_id"], "acme");
        assert_eq!(me["sector"], "retail");

        // Revoked at once.
        let key_id = me["key_id"].as_str().unwrap().to_string();
        assert!(
            trustline::tenants::service::revoke_key(
                &app.state.db,
                &"acme".parse().unwrap(),
                &key_id
            )
            .await
            .unwrap()
        );
        expect_problem(app.get("/v1/tenant", &key).await, 401, "unauthenticated").await;
    }
);

both_backends!(scopes_are_enforced, |app: TestApp| async move {
    let audit_only = app
        .tenant_with_key("acme", Sector::Finance, &[Scope::Audit])
        .await;
    let body = expect_problem(
        app.put_json(
            "/v1/customers/c-1",
            &audit_only,
            json!({"methods": ["voiceprint"]}),
        )
        .await,
        403,
        "scope_denied",
    )
    .await;
    assert_eq!(body["required_scope"], "enrol");
    // Nothing was written.
    let enrol = app
        .tenant_with_key("acme", Sector::Finance, &[Scope::Enrol])
        .await;
    expect_problem(app.get("/v1/customers/c-1", &enrol).await, 404, "not_found").await;
});

both_backends!(
    bad_input_gets_typed_problems_and_changes_nothing,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Enrol])
            .await;
        let url = app.url("/v1/customers/c-1");
        // Malformed JSON.
        let resp = app
            .client
            .put(&url)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body("{\"methods\": [")
            .send()
            .await
            .unwrap();
        expect_problem(resp, 400, "malformed_json").await;
        // Wrong shape, unknown method, unknown field.
        expect_problem(
            app.put_json("/v1/customers/c-1", &key, json!({"methods": "voiceprint"}))
                .await,
            400,
            "malformed_json",
        )
        .await;
        expect_problem(
            app.put_json("/v1/customers/c-1", &key, json!({"methods": ["retina"]}))
                .await,
            400,
            "malformed_json",
        )
        .await;
        expect_problem(
            app.put_json(
                "/v1/customers/c-1",
                &key,
                json!({"methods": ["typing"], "name": "Ann"}),
            )
            .await,
            400,
            "malformed_json",
        )
        .await;
        // Contradictory choice, empty choice, bad reference.
        expect_problem(
            app.put_json(
                "/v1/customers/c-1",
                &key,
                json!({"methods": ["code_only", "voiceprint"]}),
            )
            .await,
            400,
            "invalid_request",
        )
        .await;
        expect_problem(
            app.put_json("/v1/customers/c-1", &key, json!({"methods": []}))
                .await,
            400,
            "invalid_request",
        )
        .await;
        expect_problem(
            app.put_json(
                &format!("/v1/customers/{}", "x".repeat(200)),
                &key,
                json!({"methods": ["typing"]}),
            )
            .await,
            400,
            "invalid_request",
        )
        .await;
        // Not JSON at all.
        let resp = app
            .client
            .put(&url)
            .bearer_auth(&key)
            .body("methods=typing")
            .send()
            .await
            .unwrap();
        expect_problem(resp, 415, "unsupported_media_type").await;
        // Oversized (the test limit is 64 KiB).
        let huge = json!({"methods": ["typing"], "padding": "x".repeat(100 * 1024)});
        expect_problem(
            app.put_json("/v1/customers/c-1", &key, huge).await,
            413,
            "payload_too_large",
        )
        .await;
        // Unknown route and wrong method are problems too.
        expect_problem(app.get("/v1/nothing-here", &key).await, 404, "not_found").await;
        let resp = app
            .client
            .patch(&url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        expect_problem(resp, 405, "method_not_allowed").await;
        // None of it created the customer.
        expect_problem(app.get("/v1/customers/c-1", &key).await, 404, "not_found").await;
    }
);

both_backends!(
    customers_register_update_and_delete,
    |app: TestApp| async move {
        let key = app
            .tenant_with_key("acme", Sector::Retail, &[Scope::Enrol])
            .await;
        let resp = app
            .put_json(
                "/v1/customers/c-1",
                &key,
                json!({"methods": ["voiceprint", "typing", "voiceprint"]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["methods"], json!(["typing", "voiceprint"]));
        let resp = app
            .put_json("/v1/customers/c-1", &key, json!({"methods": ["code_only"]}))
            .await;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = app
            .get("/v1/customers/c-1", &key)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["methods"], json!(["code_only"]));
        assert_eq!(app.delete("/v1/customers/c-1", &key).await.status(), 204);
        expect_problem(
            app.delete("/v1/customers/c-1", &key).await,
            404,
            "not_found",
        )
        .await;
    }
);

both_backends!(
    a_tenant_cannot_touch_another_tenants_data,
    |app: TestApp| async move {
        let all = [Scope::Sessions, Scope::Consent, Scope::Enrol, Scope::Audit];
        let a = app.tenant_with_key("tenant-a", Sector::Finance, &all).await;
        let b = app.tenant_with_key("tenant-b", Sector::Retail, &all).await;
        assert_eq!(
            app.put_json(
                "/v1/customers/shared-ref",
                &a,
                json!({"methods": ["voiceprint"]})
            )
            .await
            .status(),
            201
        );

        // B cannot read or delete A's customer, and cannot even learn it exists.
        expect_problem(
            app.get("/v1/customers/shared-ref", &b).await,
            404,
            "not_found",
        )
        .await;
        expect_problem(
            app.delete("/v1/customers/shared-ref", &b).await,
            404,
            "not_found",
        )
        .await;
        // B writing the same reference creates B's own customer; A's is untouched.
        assert_eq!(
            app.put_json(
                "/v1/customers/shared-ref",
                &b,
                json!({"methods": ["code_only"]})
            )
            .await
            .status(),
            201
        );
        let a_view: serde_json::Value = app
            .get("/v1/customers/shared-ref", &a)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(a_view["methods"], json!(["voiceprint"]));
        let b_view: serde_json::Value = app
            .get("/v1/customers/shared-ref", &b)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(b_view["methods"], json!(["code_only"]));
        // B deleting its own leaves A's.
        assert_eq!(
            app.delete("/v1/customers/shared-ref", &b).await.status(),
            204
        );
        assert_eq!(app.get("/v1/customers/shared-ref", &a).await.status(), 200);
        // Each key sees its own tenant.
        let me: serde_json::Value = app.get("/v1/tenant", &b).await.json().await.unwrap();
        assert_eq!(me["tenant_id"], "tenant-b");
        // A key of B cannot be revoked through tenant A.
        let b_key_id = me["key_id"].as_str().unwrap().to_string();
        assert!(
            !trustline::tenants::service::revoke_key(
                &app.state.db,
                &"tenant-a".parse().unwrap(),
                &b_key_id
            )
            .await
            .unwrap()
        );
        assert_eq!(app.get("/v1/tenant", &b).await.status(), 200);
    }
);
