//! The camera choice, on the customer's own phone: the purpose's current notice, what is in
//! force now, and one button per mode. Granting, changing and withdrawing are each one tap on
//! the same page (options are checked before the tap), pushed to the session at once.

use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{customer_frame, link_page_error};
use crate::tenants::branding;
use crate::{
    AppState,
    consent::{
        Purpose,
        camera_choice::{CameraMode, ChoiceRequest},
        link_service::{self, ChoiceState},
        links::LinkRefusal,
    },
    http::{
        i18n::Lang,
        web::{CustomerUser, PageError},
    },
    store::customer_links::StoredLink,
};

pub fn mode_label(lang: Lang, mode: CameraMode) -> &'static str {
    match mode {
        CameraMode::AudioOnly => lang.t("mode_audio_only"),
        CameraMode::OneWay => lang.t("mode_one_way"),
        CameraMode::TwoWay => lang.t("mode_two_way"),
    }
}

async fn load(
    state: &AppState,
    lang: Lang,
    me: &CustomerUser,
    link_id: &str,
) -> Result<StoredLink, PageError> {
    let link = link_service::camera_link(state, &me.tenant, link_id, &me.user.session_hash)
        .await
        .map_err(|e| link_page_error(e, lang))?;
    if link.customer_ref != me.customer.as_str() {
        return Err(link_page_error(LinkRefusal::OtherDevice.into(), lang));
    }
    Ok(link)
}

fn render(
    state: &AppState,
    lang: Lang,
    me: &CustomerUser,
    link: &StoredLink,
    current: &ChoiceState,
) -> Markup {
    let options = link_service::camera_options(state, &me.tenant);
    let set = state.consents.catalogue.for_tenant(me.tenant.as_str());
    let notice = set.get(Purpose::Camera).and_then(|s| s.current_notice());
    let notice_text = notice.and_then(|n| {
        n.text
            .get(lang.code())
            .or_else(|| n.text.get("en"))
            .map(String::as_str)
    });
    let chosen = current.choice.as_ref();
    let mode = chosen.map(|c| c.mode.as_str()).unwrap_or("none");
    let blur = chosen
        .filter(|c| c.mode != CameraMode::AudioOnly)
        .map(|c| c.background_blur)
        .unwrap_or_else(|| options.background_blur.as_ref().is_some_and(|b| b.default));
    let recording = chosen.is_some_and(|c| c.recording_allowed);
    let retention = chosen.and_then(|c| c.retention_days);
    html! {
        @if let Some(n) = notice {
            p.notice data-testid="notice" data-version=(n.version) { (notice_text.unwrap_or("")) }
        }
        section.current data-testid="current-choice" data-mode=(mode) aria-live="polite" {
            strong { (lang.t("camera_now")) ": " }
            @match chosen {
                Some(c) => {
                    span { (mode_label(lang, c.mode)) }
                    @if c.mode != CameraMode::AudioOnly {
                        ul {
                            li { (lang.t("opt_blur")) ": " (if c.background_blur { lang.t("yes") } else { lang.t("no") }) }
                            li { (lang.t("opt_recording")) ": "
                                @if let (true, Some(d)) = (c.recording_allowed, c.retention_days) {
                                    (lang.t("yes")) ", " (d) " " (lang.t("days"))
                                } @else { (lang.t("no")) }
                            }
                        }
                    }
                }
                None => span { (lang.t("camera_not_decided")) }
            }
        }
        form.choice method="post" action={ "/camera/" (link.link_id) } {
            input type="hidden" name="csrf" value=(me.user.csrf());
            @if options.background_blur.is_some() || options.recording.is_some() {
                fieldset {
                    legend { (lang.t("camera_options")) }
                    @if options.background_blur.is_some() {
                        label.check {
                            input type="checkbox" name="background_blur" value="on" checked[blur] data-testid="opt-blur";
                            span { (lang.t("opt_blur")) }
                        }
                    }
                    @if let Some(rec) = &options.recording {
                        // One group: "no" or "yes, for N days", so a page can only send a
                        // retention period together with recording allowed.
                        fieldset data-testid="opt-recording" {
                            legend { (lang.t("opt_recording_allow")) }
                            label.check {
                                input type="radio" name="recording" value="off" checked[!recording] data-testid="opt-recording-off";
                                span.cap { (lang.t("no")) }
                            }
                            @for d in &rec.retention_days {
                                label.check {
                                    input type="radio" name="recording" value=(d)
                                        checked[recording && retention == Some(*d)] data-testid={ "opt-recording-" (d) };
                                    span.cap { (lang.t("yes")) ", " (d) " " (lang.t("days")) }
                                }
                            }
                        }
                    }
                }
            }
            div.modes {
                @for m in options.video_modes() {
                    button type="submit" name="mode" value=(m.as_str()) data-testid={ "mode-" (m.as_str()) }
                        aria-pressed=(if mode == m.as_str() { "true" } else { "false" }) { (mode_label(lang, m)) }
                }
                button.danger type="submit" name="mode" value="audio_only" data-testid="mode-audio_only"
                    aria-pressed=(if mode == "audio_only" { "true" } else { "false" }) { (mode_label(lang, CameraMode::AudioOnly)) }
            }
        }
        p.muted { (lang.t("camera_change_explain")) }
    }
}

pub async fn show(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    Path(link_id): Path<String>,
) -> Result<Markup, PageError> {
    let link = load(&state, lang, &me, &link_id).await?;
    let current = link_service::choice_state(&state, &me.tenant, &link.session_id)
        .await
        .map_err(|e| link_page_error(e, lang))?;
    let brand = branding::for_page(&state, &me.tenant).await;
    Ok(customer_frame(
        lang,
        &brand,
        lang.t("camera_title"),
        render(&state, lang, &me, &link, &current),
    ))
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    background_blur: Option<String>,
    /// `off`, or the retention period in days when recording is allowed.
    #[serde(default)]
    recording: Option<String>,
}

/// The page's recording field, as the choice rules take it: `off` (or nothing) is no
/// recording, anything else is recording allowed for that many days (checked by the rules).
fn recording_request(field: Option<String>) -> (Option<String>, Option<String>) {
    match field.filter(|v| !v.is_empty() && v != "off") {
        None => (None, None),
        Some(days) => (Some("on".into()), Some(days)),
    }
}

pub async fn decide(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    Path(link_id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Result<Response, PageError> {
    me.user.check_csrf(&form.csrf, lang)?;
    let link = load(&state, lang, &me, &link_id).await?;
    let (recording, retention_days) = recording_request(form.recording);
    link_service::decide(
        &state,
        &link,
        lang.code(),
        &ChoiceRequest {
            mode: form.mode,
            background_blur: form.background_blur,
            recording,
            retention_days,
        },
    )
    .await
    .map_err(|e| link_page_error(e, lang))?;
    Ok(Redirect::to(&format!("/camera/{link_id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::recording_request;

    #[test]
    fn the_recording_field_carries_retention_only_with_recording() {
        assert_eq!(recording_request(None), (None, None));
        assert_eq!(recording_request(Some("off".into())), (None, None));
        assert_eq!(recording_request(Some(String::new())), (None, None));
        assert_eq!(
            recording_request(Some("30".into())),
            (Some("on".into()), Some("30".into()))
        );
    }
}
