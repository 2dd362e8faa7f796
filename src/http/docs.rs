//! The OpenAPI document and its browsable page (Swagger UI, vendored into the binary).

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_swagger_ui::SwaggerUi;

use super::openapi_errors::ErrorResponses;
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "trustline", description = "Passive, consent-first customer recognition for contact centres."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::wellknown::jwks,
        super::customers::whoami,
        super::customers::put_customer,
        super::customers::get_customer,
        super::customers::delete_customer,
        super::auth::create_privacy_link,
        super::keystroke::enrol_fixed,
        super::keystroke::enrol_free,
        super::keystroke::evidence,
        super::sessions::start_session,
        super::sessions::get_session,
        super::sessions::add_evidence,
        super::sessions::submit_factor,
        super::sessions::send_code,
        super::sessions::handoff,
        super::sessions::enrol_totp,
        super::sessions::set_pin,
        super::sessions::new_recovery_codes,
        super::sessions::set_webhook,
        super::sessions::discovery,
        super::consent::grant,
        super::consent::withdraw,
        super::consent::list,
        super::consent::receipt,
        super::consent::notice,
        super::consent::camera_grant,
        super::customer_links::camera_consent_request,
        super::customer_links::privacy_link_request,
        super::customer_links::camera_choice,
        super::passkeys::request_step_up,
        super::passkeys::step_up_status,
        super::consent::session_events,
        super::voice_stream::voice_stream,
        super::consent::tree_head,
        super::consent::sign_tree_head,
        super::consent::inclusion_proof,
        super::consent::consistency_proof,
        super::checkpoint::checkpoint,
        super::checkpoint::checkpoint_key,
        super::voice::enrol,
        super::voice::verify,
        super::voice::delete_voiceprint,
    ),
    components(schemas(
        super::problem::Problem,
        crate::biometrics::scorer::VoiceSample,
        crate::biometrics::audio::AudioEncoding,
        crate::biometrics::audio::framing::StreamFormat,
    )),
    modifiers(&ApiKeyScheme, &ErrorResponses),
    tags((name = "operations"), (name = "platform", description = "Contact-platform API (API key)"), (name = "consent", description = "Consent, camera grants, and the tamper-evident log (API key)"))
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tlk_<id>_<secret>")
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
