//! The people-facing pages' languages: English and Dutch, chosen from `Accept-Language`.
//!
//! Strings live in one table so a missing translation is visible in one place (and a unit
//! test fails when a key lacks one).

use axum::{extract::FromRequestParts, http::request::Parts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Nl,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
        }
    }

    /// Pick the supported language the browser prefers most (RFC 9110 §12.5.4 weights);
    /// English when none is acceptable.
    pub fn from_accept_language(header: &str) -> Self {
        let mut best = (Lang::En, 0.0_f32);
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = match primary {
                "nl" => Lang::Nl,
                "en" => Lang::En,
                _ => continue,
            };
            // Strictly greater: among equal weights the first listed wins.
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    pub fn t(self, key: &'static str) -> &'static str {
        for (k, en, nl) in STRINGS {
            if *k == key {
                return match self {
                    Lang::En => en,
                    Lang::Nl => nl,
                };
            }
        }
        key
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language)
            .unwrap_or(Lang::En))
    }
}

/// (key, English, Dutch)
const STRINGS: &[(&str, &str, &str)] = &[
    ("app", "trustline", "trustline"),
    ("console", "Compliance console", "Compliance-console"),
    ("privacy", "Privacy centre", "Privacycentrum"),
    ("logout", "Sign out", "Afmelden"),
    ("signed_out", "You are signed out.", "U bent afgemeld."),
    ("sign_in", "Sign in", "Aanmelden"),
    (
        "not_signed_in",
        "You are not signed in, or your session has expired.",
        "U bent niet aangemeld, of uw sessie is verlopen.",
    ),
    (
        "forbidden",
        "You may not open this page.",
        "U mag deze pagina niet openen.",
    ),
    (
        "csrf",
        "This form has expired or did not come from this site. Reload the page and try again.",
        "Dit formulier is verlopen of kwam niet van deze site. Laad de pagina opnieuw en probeer het nog eens.",
    ),
    (
        "login_failed",
        "Sign-in failed. Start again from the sign-in page.",
        "Aanmelden is mislukt. Begin opnieuw vanaf de aanmeldpagina.",
    ),
    ("not_found", "Not found.", "Niet gevonden."),
    (
        "error",
        "Something went wrong on our side. Try again later.",
        "Er ging bij ons iets mis. Probeer het later opnieuw.",
    ),
    (
        "bad_request",
        "The request is not valid.",
        "Het verzoek is niet geldig.",
    ),
    (
        "link_invalid",
        "This link is invalid, expired or already used. Ask for a new one.",
        "Deze link is ongeldig, verlopen of al gebruikt. Vraag een nieuwe aan.",
    ),
    ("signed_in_as", "Signed in as", "Aangemeld als"),
    ("roles", "Roles", "Rollen"),
    ("customer", "Customer", "Klant"),
    ("tenant", "Tenant", "Organisatie"),
    // Privacy centre
    ("templates", "Biometric profiles", "Biometrische profielen"),
    (
        "templates_none",
        "No biometric profile is stored for you.",
        "Er is geen biometrisch profiel van u opgeslagen.",
    ),
    ("modality", "Profile", "Profiel"),
    ("voice", "Voiceprint", "Stemafdruk"),
    (
        "keystroke_fixed",
        "Typing rhythm (fixed text)",
        "Typritme (vaste tekst)",
    ),
    (
        "keystroke_free",
        "Typing rhythm (free text)",
        "Typritme (vrije tekst)",
    ),
    ("enrolled", "Enrolled", "Aangemaakt"),
    ("last_used", "Last used", "Laatst gebruikt"),
    ("never", "never", "nooit"),
    ("model", "Model", "Model"),
    (
        "delete_profiles",
        "Delete my biometric profiles",
        "Mijn biometrische profielen verwijderen",
    ),
    (
        "delete_explain",
        "Deleting destroys the key that encrypts every profile listed above, so none of them can ever be read again, including from backups.",
        "Verwijderen vernietigt de sleutel waarmee alle hierboven genoemde profielen versleuteld zijn; geen ervan kan daarna nog gelezen worden, ook niet uit back-ups.",
    ),
    (
        "deleted",
        "Your biometric profiles were deleted: the key that encrypted them is destroyed.",
        "Uw biometrische profielen zijn verwijderd: de sleutel waarmee ze versleuteld waren is vernietigd.",
    ),
    (
        "deleted_count",
        "Profiles destroyed",
        "Vernietigde profielen",
    ),
    ("methods", "How you are recognised", "Hoe u herkend wordt"),
    (
        "methods_explain",
        "Choose the ways we may recognise you when you contact us. A one-time code is always available.",
        "Kies hoe wij u mogen herkennen als u contact opneemt. Een eenmalige code is altijd mogelijk.",
    ),
    ("voiceprint", "By my voice", "Aan mijn stem"),
    ("typing", "By my typing rhythm", "Aan mijn typritme"),
    (
        "code_only",
        "Only with a one-time code, never biometrics",
        "Alleen met een eenmalige code, nooit biometrie",
    ),
    ("save", "Save", "Opslaan"),
    (
        "brand_title",
        "Brand on customer pages",
        "Huisstijl op klantpagina's",
    ),
    (
        "brand_explain",
        "The name, colours and logo customers see on the camera page, the link page and the privacy centre. Colours must stay readable (WCAG contrast 4.5:1); logos are PNG or SVG up to 100 KB.",
        "De naam, kleuren en het logo die klanten zien op de camerapagina, de linkpagina en het privacycentrum. Kleuren moeten leesbaar blijven (WCAG-contrast 4,5:1); logo's zijn PNG of SVG tot 100 kB.",
    ),
    ("brand_name", "Display name", "Weergavenaam"),
    (
        "brand_primary",
        "Primary colour (buttons, white text on it)",
        "Hoofdkleur (knoppen, witte tekst erop)",
    ),
    (
        "brand_accent",
        "Accent colour (text and links on white)",
        "Accentkleur (tekst en links op wit)",
    ),
    ("brand_logo", "Logo (PNG or SVG)", "Logo (PNG of SVG)"),
    ("brand_remove_logo", "Remove the logo", "Logo verwijderen"),
    (
        "brand_saved",
        "The brand was saved.",
        "De huisstijl is opgeslagen.",
    ),
    (
        "brand_invalid",
        "The brand was not saved",
        "De huisstijl is niet opgeslagen",
    ),
    ("brand_preview", "Preview", "Voorbeeld"),
    ("brand_nav", "Brand", "Huisstijl"),
    ("brand_change", "Change the brand", "Huisstijl wijzigen"),
    ("brand_sample_button", "Continue", "Doorgaan"),
    ("brand_changed", "Last changed", "Laatst gewijzigd"),
    (
        "brand_admin_only",
        "Only a tenant admin can change the brand.",
        "Alleen een tenantbeheerder kan de huisstijl wijzigen.",
    ),
    ("saved", "Saved.", "Opgeslagen."),
    (
        "download",
        "Download all my data (JSON)",
        "Al mijn gegevens downloaden (JSON)",
    ),
    ("consents", "Your consents", "Uw toestemmingen"),
    (
        "consents_none",
        "You have not given any consent.",
        "U heeft geen toestemming gegeven.",
    ),
    ("purpose", "Purpose", "Doel"),
    ("status", "Status", "Status"),
    ("granted", "Granted", "Gegeven"),
    ("withdrawn", "Withdrawn", "Ingetrokken"),
    ("not_granted", "Not given", "Niet gegeven"),
    ("grant", "Give consent", "Toestemming geven"),
    ("withdraw", "Withdraw", "Intrekken"),
    ("notice", "Notice", "Toelichting"),
    ("expires", "Expires", "Verloopt"),
    // Passkeys
    ("passkeys", "Passkeys", "Passkeys"),
    (
        "passkeys_explain",
        "A passkey lets you approve a sign-in on your own phone with its screen lock (fingerprint, face or PIN). The key stays on your device; we keep only its public half.",
        "Met een passkey keurt u een aanmelding goed op uw eigen telefoon, met de schermvergrendeling (vingerafdruk, gezicht of pincode). De sleutel blijft op uw apparaat; wij bewaren alleen het publieke deel.",
    ),
    (
        "passkeys_none",
        "You have no passkey yet.",
        "U heeft nog geen passkey.",
    ),
    ("passkey_name", "Name (optional)", "Naam (optioneel)"),
    ("passkey_add", "Add a passkey", "Passkey toevoegen"),
    (
        "passkey_check",
        "Check my passkey",
        "Mijn passkey controleren",
    ),
    ("passkey_remove", "Remove", "Verwijderen"),
    (
        "passkey_registered",
        "Your passkey was added.",
        "Uw passkey is toegevoegd.",
    ),
    (
        "passkey_verified",
        "Your passkey works.",
        "Uw passkey werkt.",
    ),
    (
        "passkey_failed",
        "That did not work. Nothing was changed.",
        "Dat is niet gelukt. Er is niets veranderd.",
    ),
    (
        "passkey_unsupported",
        "This browser does not support passkeys.",
        "Deze browser ondersteunt geen passkeys.",
    ),
    (
        "passkey_needs_script",
        "Passkeys need JavaScript in this browser.",
        "Passkeys hebben JavaScript nodig in deze browser.",
    ),
    (
        "passkey_approve_title",
        "Approve with your passkey",
        "Goedkeuren met uw passkey",
    ),
    (
        "passkey_approve_explain",
        "You are talking to us right now, and we ask you to confirm it is you. Check that the code below is the one you hear, then approve with your passkey (your screen lock).",
        "U spreekt nu met ons en wij vragen u te bevestigen dat u het bent. Controleer of de code hieronder de code is die u hoort, en keur dan goed met uw passkey (uw schermvergrendeling).",
    ),
    ("passkey_binding_code", "Code", "Code"),
    (
        "passkey_approve",
        "Approve with passkey",
        "Goedkeuren met passkey",
    ),
    (
        "passkey_approved",
        "Approved. You can return to the conversation.",
        "Goedgekeurd. U kunt terug naar het gesprek.",
    ),
    // Console
    ("events", "Audit events", "Auditgebeurtenissen"),
    ("search", "Search", "Zoeken"),
    ("export_csv", "Export CSV", "Exporteren als CSV"),
    (
        "export_jsonl",
        "Export JSON Lines",
        "Exporteren als JSON Lines",
    ),
    ("from", "From", "Van"),
    ("to", "To", "Tot"),
    ("kind", "Kind", "Soort"),
    ("channel", "Channel", "Kanaal"),
    ("outcome", "Outcome", "Uitkomst"),
    ("agent", "Agent", "Medewerker"),
    ("time", "Time", "Tijd"),
    ("index", "Index", "Index"),
    ("next_page", "Next page", "Volgende pagina"),
    (
        "no_results",
        "No events match.",
        "Geen gebeurtenissen gevonden.",
    ),
    ("log", "Log integrity", "Integriteit van het logboek"),
    ("verify", "Verify the log now", "Logboek nu verifiëren"),
    (
        "tree_heads",
        "Signed tree heads",
        "Ondertekende boomwortels",
    ),
    ("receipt", "Receipt", "Ontvangstbewijs"),
    ("policies", "Policies in force", "Geldend beleid"),
    ("models", "Models and thresholds", "Modellen en drempels"),
    ("thresholds", "Thresholds", "Drempels"),
    (
        "policy_history",
        "Every version loaded (decisions name one by its SHA-256)",
        "Elke geladen versie (beslissingen noemen er een bij SHA-256)",
    ),
    ("first_loaded", "First loaded", "Eerst geladen"),
    ("last_loaded", "Last loaded", "Laatst geladen"),
    ("text", "Text", "Tekst"),
    ("show", "Show", "Tonen"),
    (
        "calibration",
        "Calibration: DET curves of the shipped models",
        "Kalibratie: DET-curves van de meegeleverde modellen",
    ),
    ("version", "Version", "Versie"),
    ("task", "Task", "Taak"),
    ("source", "Source", "Bron"),
    ("reference", "Verified against", "Geverifieerd tegen"),
    (
        "not_available",
        "Not available yet in this build.",
        "Nog niet beschikbaar in deze versie.",
    ),
    // Customer links and the camera choice
    (
        "link_camera_title",
        "Video in your conversation",
        "Video in uw gesprek",
    ),
    (
        "link_camera_explain",
        "The agent you are talking to asks whether, and how, video may be used in this conversation. You decide on the next page.",
        "De medewerker met wie u spreekt vraagt of en hoe video in dit gesprek gebruikt mag worden. U beslist op de volgende pagina.",
    ),
    (
        "link_privacy_title",
        "Your privacy centre",
        "Uw privacycentrum",
    ),
    (
        "link_privacy_explain",
        "This link opens your privacy centre: your consents, your biometric profiles and your data.",
        "Deze link opent uw privacycentrum: uw toestemmingen, uw biometrische profielen en uw gegevens.",
    ),
    (
        "link_code_explain",
        "To make sure it is you, type the code the agent reads out to you.",
        "Typ de code die de medewerker u voorleest, zodat we weten dat u het bent.",
    ),
    (
        "code_label",
        "Code from the agent",
        "Code van de medewerker",
    ),
    ("continue", "Continue", "Doorgaan"),
    (
        "wrong_code",
        "That code is not right.",
        "Die code klopt niet.",
    ),
    ("attempts_left", "Attempts left", "Pogingen over"),
    (
        "link_expired",
        "This link has expired. Ask the agent for a new one.",
        "Deze link is verlopen. Vraag de medewerker om een nieuwe.",
    ),
    (
        "link_used",
        "This link was already used. Ask the agent for a new one.",
        "Deze link is al gebruikt. Vraag de medewerker om een nieuwe.",
    ),
    (
        "link_locked",
        "This link is locked after too many wrong codes. Ask the agent for a new one.",
        "Deze link is geblokkeerd na te veel verkeerde codes. Vraag de medewerker om een nieuwe.",
    ),
    (
        "link_other_device",
        "This page belongs to the device that opened the link.",
        "Deze pagina hoort bij het apparaat waarop de link is geopend.",
    ),
    (
        "session_over",
        "This conversation has ended, so nothing can be changed here any more.",
        "Dit gesprek is afgelopen; hier kan niets meer worden gewijzigd.",
    ),
    (
        "choice_not_offered",
        "That choice is not offered. Nothing was changed.",
        "Die keuze wordt niet aangeboden. Er is niets gewijzigd.",
    ),
    (
        "camera_title",
        "Video in this conversation",
        "Video in dit gesprek",
    ),
    ("camera_now", "Now", "Nu"),
    (
        "camera_not_decided",
        "Not decided yet: the camera stays off",
        "Nog niet gekozen: de camera blijft uit",
    ),
    ("camera_options", "Options", "Opties"),
    (
        "mode_audio_only",
        "Camera off (audio only)",
        "Camera uit (alleen geluid)",
    ),
    (
        "mode_one_way",
        "I see the agent (my camera off)",
        "Ik zie de medewerker (mijn camera uit)",
    ),
    (
        "mode_two_way",
        "Video both ways",
        "Video in beide richtingen",
    ),
    (
        "opt_blur",
        "Blur my background",
        "Mijn achtergrond vervagen",
    ),
    ("opt_recording", "Recording", "Opname"),
    (
        "opt_recording_allow",
        "Allow the video to be recorded",
        "Opname van de video toestaan",
    ),
    (
        "opt_retention",
        "Keep the recording for",
        "Opname bewaren gedurende",
    ),
    ("days", "days", "dagen"),
    ("yes", "yes", "ja"),
    ("no", "no", "nee"),
    (
        "camera_change_explain",
        "You can change or withdraw your choice here at any time with one tap; it takes effect at once.",
        "U kunt uw keuze hier altijd met één tik wijzigen of intrekken; dat geldt meteen.",
    ),
    // Agent view
    (
        "agent_title",
        "Session: what the customer allowed",
        "Sessie: wat de klant heeft toegestaan",
    ),
    ("session_id", "Session", "Sessie"),
    (
        "agent_allowed",
        "Allowed by the customer (live)",
        "Toegestaan door de klant (live)",
    ),
    (
        "agent_links",
        "Links sent to the customer",
        "Links naar de klant",
    ),
    (
        "agent_no_links",
        "No link was sent in this session.",
        "In deze sessie is geen link verstuurd.",
    ),
    ("agent_code", "Code to read out", "Voor te lezen code"),
    (
        "agent_code_explain",
        "Read the code out to the customer only in this conversation. It works once, with the link sent to them.",
        "Lees de code alleen in dit gesprek aan de klant voor. Hij werkt één keer, met de link die de klant kreeg.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(
            Lang::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Lang::Nl
        );
        assert_eq!(
            Lang::from_accept_language("en-GB,en;q=0.9,nl;q=0.8"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("fr-FR,nl;q=0.5"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("fr-FR,de;q=0.5"), Lang::En);
        assert_eq!(Lang::from_accept_language("en;q=0.2,nl;q=0.9"), Lang::Nl);
        assert_eq!(Lang::from_accept_language(""), Lang::En);
        assert_eq!(Lang::from_accept_language("nl;q=0"), Lang::En);
    }

    #[test]
    fn every_string_has_both_languages_and_keys_are_unique() {
        let mut keys: Vec<&str> = STRINGS.iter().map(|(k, _, _)| *k).collect();
        for (k, en, nl) in STRINGS {
            assert!(!en.is_empty() && !nl.is_empty(), "{k}");
        }
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "duplicate keys");
    }
}
