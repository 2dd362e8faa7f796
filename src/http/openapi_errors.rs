//! Completes the OpenAPI document's error side in one place (issue 15: 401/403/429 were
//! undocumented, error bodies declared `application/json`, constraints missing), so each
//! handler's annotation keeps only its own answers:
//!
//! * every error response is `application/problem+json` with the `Problem` schema;
//! * operations under the API key answer 401 `unauthenticated`, 403 `scope_denied` and 503
//!   (`unavailable`, `timeout`); rate-limited ones (`http::rate_limit::is_limited`) 429 with
//!   `Retry-After`; those with a body 400, 413 and 415; those with path parameters 400 and 404;
//!   keyed ones with a body or a customer or session in the path 422;
//! * parameters and body properties named `customer_ref` carry its pattern and length,
//!   `session_id` its pattern and length, `audio` canonical base64;
//! * body shapes the derive cannot state ([`shape_bodies`]); `factor`, `channel` and `purpose` their enums, `pin` its digits.

use serde_json::{Value, json};
use utoipa::{Modify, openapi::OpenApi};

use super::problem::PROBLEM_JSON;

/// What `CustomerRef` accepts: 1-128 printable ASCII characters, no spaces.
pub const CUSTOMER_REF_PATTERN: &str = "^[!-~]{1,128}$";
/// The webhook URLs `factors::service::set_webhook` takes: absolute http(s) with a host name or
/// IPv4 address, an optional port, path and query, in characters `http::Uri` always accepts
/// (stricter than the parser; whether the host is public is decided later, 422
/// `webhook_address_refused`).
pub const WEBHOOK_URL_PATTERN: &str = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?([?][A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$";
/// Canonical standard base64 (padded; the unused bits of the last group zero).
pub const BASE64_PATTERN: &str =
    "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";
/// What a session id may be: 1-128 printable ASCII characters, no spaces.
pub const SESSION_ID_PATTERN: &str = "^[!-~]{1,128}$";
const CHANNELS: [&str; 4] = ["voice", "chat", "web", "video"];
const FACTORS: [&str; 4] = ["totp", "one_time_code", "pin", "recovery_code"];
const PURPOSES: [&str; 5] = [
    "camera",
    "recording",
    "recording_reuse",
    "voiceprint_enrolment",
    "keystroke_enrolment",
];

pub struct ErrorResponses;

fn problem_content() -> Value {
    json!({ PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": problem_content() })
}

fn add(responses: &mut serde_json::Map<String, Value>, status: &str, description: &str) {
    responses
        .entry(status.to_string())
        .or_insert_with(|| error_response(description));
}

/// Whether a schema's `type` is `string` or `["string", "null"]` (an `Option<String>`).
fn is_string(obj: &serde_json::Map<String, Value>) -> bool {
    match obj.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

fn constrain(name: &str, schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if !is_string(obj) {
        return;
    }
    match name {
        "customer_ref" => {
            obj.insert("pattern".into(), json!(CUSTOMER_REF_PATTERN));
            obj.insert("minLength".into(), json!(1));
            obj.insert("maxLength".into(), json!(128));
        }
        "session_id" => {
            // What consent routes accept as the platform's opaque session or call id
            // (`http::consent::parse_session`); the sessions service's own ids are a subset,
            // and an id it did not issue is 404.
            obj.insert("pattern".into(), json!(SESSION_ID_PATTERN));
            obj.insert("minLength".into(), json!(1));
            obj.insert("maxLength".into(), json!(128));
        }
        "channel" => {
            obj.insert("enum".into(), json!(CHANNELS));
        }
        "purpose" => {
            obj.insert("enum".into(), json!(PURPOSES));
        }
        "pin" => {
            // What `codes::check_pin_format` accepts.
            obj.insert("pattern".into(), json!("^[0-9]{6,12}$"));
        }
        "audio" => {
            // Canonical standard base64, as `VoiceSample::parse` decodes it (padding required,
            // unused trailing bits zero).
            obj.insert("pattern".into(), json!(BASE64_PATTERN));
        }
        _ => {}
    }
}

/// The JSON rewrite (pure, on the serialised document).
pub fn complete(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                let secured = op.get("security").is_some();
                let has_body = op.get("requestBody").is_some();
                let m = axum::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .unwrap_or(axum::http::Method::GET);
                let limited = secured && super::rate_limit::is_limited(&m, path);
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    for p in params {
                        let name = p["name"].as_str().unwrap_or_default().to_string();
                        if let Some(schema) = p.get_mut("schema") {
                            if name == "factor" && path.contains("/factors/") {
                                schema["enum"] = json!(FACTORS);
                            }
                            constrain(&name, schema);
                        }
                    }
                }
                let responses = op
                    .entry("responses")
                    .or_insert_with(|| json!({}))
                    .as_object_mut();
                let Some(responses) = responses else { continue };
                for (status, response) in responses.iter_mut() {
                    if status.starts_with('4') || status.starts_with('5') {
                        response["content"] = problem_content();
                    }
                }
                let path_params = path.contains('{');
                if has_body || path_params {
                    add(
                        responses,
                        "400",
                        "Malformed or invalid body or parameter (`malformed_json`, `invalid_request`)",
                    );
                }
                if path_params {
                    add(
                        responses,
                        "404",
                        "No such resource for this tenant (`not_found`, …)",
                    );
                }
                let names_someone =
                    path.contains("{customer_ref}") || path.contains("{session_id}");
                if secured && (has_body || names_someone) {
                    add(
                        responses,
                        "422",
                        "Well-formed but not applicable (`not_registered`, `factor_not_enrolled`, …)",
                    );
                }
                if has_body {
                    add(responses, "413", "Body too large (`payload_too_large`)");
                    add(
                        responses,
                        "415",
                        "Body is not `application/json` (`unsupported_media_type`)",
                    );
                }
                if secured {
                    add(
                        responses,
                        "401",
                        "Missing, unknown, wrong or revoked API key (`unauthenticated`)",
                    );
                    add(
                        responses,
                        "403",
                        "The key lacks the operation's scope (`scope_denied`)",
                    );
                    add(
                        responses,
                        "503",
                        "A dependency is unavailable or the request timed out (`unavailable`, `timeout`)",
                    );
                }
                if limited {
                    add(
                        responses,
                        "429",
                        "Rate limit of the API key or customer reference spent (`rate_limited`)",
                    );
                }
                // Every 429 here (`rate_limited`, `factor_delayed`) carries Retry-After.
                if let Some(r) = responses.get_mut("429") {
                    r["headers"] = json!({ "Retry-After": {
                        "description": "Seconds until the attempt may be made again",
                        "schema": { "type": "integer", "minimum": 0 }
                    }});
                }
            }
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        shape_bodies(schemas);
        for schema in schemas.values_mut() {
            if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                for (name, prop) in props.iter_mut() {
                    constrain(name, prop);
                }
            }
        }
    }
}

/// Body shapes the derive cannot state, each as serde reads it (schemathesis found every one:
/// schema-valid bodies refused, or invalid ones accepted).
fn shape_bodies(schemas: &mut serde_json::Map<String, Value>) {
    // A `deny_unknown_fields` tagged enum: utoipa closes structs but not enum variants.
    if let Some(variants) = schemas
        .get_mut("CaptureRequest")
        .and_then(|s| s.get_mut("oneOf"))
        .and_then(Value::as_array_mut)
    {
        for v in variants {
            v["additionalProperties"] = json!(false);
        }
    }
    // `{"events": […]}` or the bare array, `{"segments": […]}` or the bare array
    // (`biometrics::scorer::FixedShape`, `FreeShape`).
    for (name, field) in [
        ("KeystrokeFixedSample", "events"),
        ("KeystrokeFreeSample", "segments"),
    ] {
        if let Some(schema) = schemas.get_mut(name) {
            let mut wrapped = schema.clone();
            wrapped["additionalProperties"] = json!(false);
            let bare = wrapped["properties"][field].clone();
            let description = wrapped
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::Null);
            *schema = json!({ "description": description, "oneOf": [wrapped, bare] });
        }
    }
    // The webhook URL form (only the request: response URLs are the service's own).
    if let Some(url) = schemas
        .get_mut("WebhookRequest")
        .and_then(|s| s.pointer_mut("/properties/url"))
    {
        url["pattern"] = json!(WEBHOOK_URL_PATTERN);
        url["maxLength"] = json!(2048);
    }
    // `PUT /v1/customers/{ref}`: at least one method, and `code_only` alone (duplicates are
    // merged).
    if let Some(methods) = schemas
        .get_mut("CustomerRequest")
        .and_then(|s| s.pointer_mut("/properties/methods"))
    {
        let description = methods.get("description").cloned().unwrap_or(Value::Null);
        *methods = json!({ "description": description, "oneOf": [
            { "type": "array", "minItems": 1, "items": { "type": "string", "enum": ["code_only"] } },
            { "type": "array", "minItems": 1, "items": { "type": "string", "enum": ["voiceprint", "typing"] } },
        ]});
    }
    // Exactly one of `fixed` and `free`, a null counting as absent. (Built as a `oneOf` of two
    // whole objects: the document goes back through utoipa's types, whose object schema has
    // no `oneOf` of its own.)
    if let Some(schema) = schemas.get_mut("EvidenceRequest") {
        let description = schema.get("description").cloned().unwrap_or(Value::Null);
        let variant = |given: &str, absent: &str| {
            let mut v = schema.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("description");
            }
            v["required"] = json!([given]);
            v["properties"][given]["type"] = json!("array");
            v["properties"][absent] = json!({ "type": "null" });
            v
        };
        let (fixed, free) = (variant("fixed", "free"), variant("free", "fixed"));
        *schema = json!({ "description": description, "oneOf": [fixed, free] });
    }
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let Ok(mut doc) = serde_json::to_value(&*openapi) else {
            return;
        };
        complete(&mut doc);
        match serde_json::from_value::<OpenApi>(doc) {
            Ok(done) => *openapi = done,
            Err(e) => tracing::error!(error = %e, "OpenAPI error responses not added"),
        }
    }
}
