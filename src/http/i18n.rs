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
