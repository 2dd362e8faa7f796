//! Purposes and notices from `policies/consent/` (pure parsing and validation, plus one
//! function that reads the folder).
//!
//! Each `<purpose>.toml` names the capture methods the purpose accepts, its scopes, how long a
//! consent lasts, the Kantara receipt categories, and its versioned notices (text per
//! language). A tenant may override a purpose or the controller in
//! `policies/tenants/<tenant>/consent/`. The notice hash recorded with every consent is
//! SHA-256 over the canonical JSON of {purpose, version, text}.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use super::{CaptureMethod, ConsentScope, Purpose, camera_choice::CameraOptions};

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("purpose `{0}` has no notice file")]
    Missing(&'static str),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeFile {
    purpose: Purpose,
    title: String,
    accepted_methods: Vec<CaptureMethod>,
    scopes: Vec<ConsentScope>,
    validity_secs: u64,
    sensitive: bool,
    spi_categories: Vec<String>,
    pii_categories: Vec<String>,
    policy_url: String,
    #[serde(default)]
    template_modalities: Vec<String>,
    /// BIPA §15(a): templates are destroyed at the latest this long after the last interaction.
    #[serde(default = "default_template_retention_days")]
    template_retention_days: u32,
    notices: Vec<NoticeFile>,
    /// Camera only: what the customer may choose on the camera page.
    #[serde(default)]
    camera_choices: Option<CameraOptions>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeFile {
    version: String,
    #[serde(default)]
    retired: bool,
    text: BTreeMap<String, String>,
}

/// One version of a notice, with the hash recorded beside every consent given to it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub purpose: Purpose,
    pub version: String,
    /// Language tag -> text.
    pub text: BTreeMap<String, String>,
    /// Hex SHA-256 of the canonical JSON {purpose, version, text}.
    pub hash: String,
    #[serde(skip)]
    pub retired: bool,
}

/// A purpose as configured.
#[derive(Debug, Clone)]
pub struct PurposeSpec {
    pub purpose: Purpose,
    pub title: String,
    pub accepted_methods: Vec<CaptureMethod>,
    pub scopes: Vec<ConsentScope>,
    pub validity_secs: u64,
    pub sensitive: bool,
    pub spi_categories: Vec<String>,
    pub pii_categories: Vec<String>,
    pub policy_url: String,
    /// Template modalities this consent covers (destroyed when it ends).
    pub template_modalities: Vec<String>,
    pub template_retention_days: u32,
    /// Oldest first; the last is current.
    pub notices: Vec<Notice>,
    /// Camera only: the modes and options the customer may choose (`[camera_choices]`).
    pub camera_choices: Option<CameraOptions>,
}

impl PurposeSpec {
    pub fn notice(&self, version: &str) -> Option<&Notice> {
        self.notices.iter().find(|n| n.version == version)
    }
    pub fn current_notice(&self) -> Option<&Notice> {
        self.notices.iter().rev().find(|n| !n.retired)
    }
}

/// The PII controller named on receipts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    pub jurisdiction: String,
    pub name: String,
    pub contact: String,
    pub email: String,
    pub phone: String,
    pub url: String,
    pub address: serde_json::Map<String, serde_json::Value>,
}

/// Every purpose, for one tenant.
#[derive(Debug, Clone)]
pub struct PurposeSet {
    pub purposes: HashMap<Purpose, PurposeSpec>,
    pub controller: Controller,
}

impl PurposeSet {
    pub fn get(&self, purpose: Purpose) -> Option<&PurposeSpec> {
        self.purposes.get(&purpose)
    }
}

/// The default set plus per-tenant overrides.
#[derive(Debug, Clone)]
pub struct Catalogue {
    default: PurposeSet,
    tenants: HashMap<String, PurposeSet>,
}

impl Catalogue {
    pub fn for_tenant(&self, tenant: &str) -> &PurposeSet {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }

    /// Read `policies/consent/` and every `policies/tenants/<t>/consent/`.
    pub fn load(policies: &Path) -> Result<Self, CatalogueError> {
        let default = load_set(&policies.join("consent"), None)?;
        let mut tenants = HashMap::new();
        if let Ok(dir) = std::fs::read_dir(policies.join("tenants")) {
            for entry in dir.flatten() {
                let consent_dir = entry.path().join("consent");
                if consent_dir.is_dir() {
                    let name = entry.file_name().to_string_lossy().to_string();
                    tenants.insert(name, load_set(&consent_dir, Some(&default))?);
                }
            }
        }
        Ok(Self { default, tenants })
    }
}

/// Illinois BIPA §15(a): "within 3 years of the individual's last interaction".
fn default_template_retention_days() -> u32 {
    1095
}

fn invalid(file: &Path, reason: impl Into<String>) -> CatalogueError {
    CatalogueError::Invalid {
        file: file.display().to_string(),
        reason: reason.into(),
    }
}

fn load_set(dir: &Path, base: Option<&PurposeSet>) -> Result<PurposeSet, CatalogueError> {
    let mut purposes = base.map(|b| b.purposes.clone()).unwrap_or_default();
    let controller_file = dir.join("controller.toml");
    let controller = if controller_file.exists() {
        let text = std::fs::read_to_string(&controller_file)
            .map_err(|e| invalid(&controller_file, e.to_string()))?;
        toml::from_str(&text).map_err(|e| invalid(&controller_file, e.to_string()))?
    } else {
        match base {
            Some(b) => b.controller.clone(),
            None => return Err(invalid(&controller_file, "missing")),
        }
    };
    for purpose in Purpose::ALL {
        let file = dir.join(format!("{}.toml", purpose.as_str()));
        if !file.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&file).map_err(|e| invalid(&file, e.to_string()))?;
        let spec = parse_purpose(&text).map_err(|reason| invalid(&file, reason))?;
        if spec.purpose != purpose {
            return Err(invalid(&file, "the file name and `purpose` differ"));
        }
        purposes.insert(purpose, spec);
    }
    for purpose in Purpose::ALL {
        if !purposes.contains_key(&purpose) {
            return Err(CatalogueError::Missing(purpose.as_str()));
        }
    }
    Ok(PurposeSet {
        purposes,
        controller,
    })
}

/// Parse and validate one purpose file.
pub fn parse_purpose(text: &str) -> Result<PurposeSpec, String> {
    let file: PurposeFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.accepted_methods.is_empty() || file.scopes.is_empty() {
        return Err("a purpose needs at least one capture method and one scope".into());
    }
    // An agent's credential alone can never grant camera consent: only the customer's own
    // device with the customer's session credential may.
    if file.purpose == Purpose::Camera
        && file
            .accepted_methods
            .iter()
            .any(|m| *m != CaptureMethod::CustomerDevice)
    {
        return Err("camera consent may only be captured on the customer's own device".into());
    }
    if let Some(choices) = &file.camera_choices {
        if file.purpose != Purpose::Camera {
            return Err("camera_choices belong to the camera purpose only".into());
        }
        choices.validate()?;
    }
    if file.template_retention_days == 0 || file.template_retention_days > 1095 {
        return Err("template_retention_days must be 1..=1095 (BIPA: at most 3 years)".into());
    }
    if file.validity_secs == 0 {
        return Err("validity_secs must be positive".into());
    }
    if file.notices.is_empty() {
        return Err("a purpose needs at least one notice".into());
    }
    let mut notices = Vec::new();
    for n in file.notices {
        if !n.text.contains_key("en") {
            return Err(format!("notice {} has no English text", n.version));
        }
        if notices.iter().any(|o: &Notice| o.version == n.version) {
            return Err(format!("notice version {} appears twice", n.version));
        }
        let hash = notice_hash(file.purpose, &n.version, &n.text);
        notices.push(Notice {
            purpose: file.purpose,
            version: n.version,
            text: n.text,
            hash,
            retired: n.retired,
        });
    }
    if notices.iter().all(|n| n.retired) {
        return Err("every notice is retired".into());
    }
    Ok(PurposeSpec {
        purpose: file.purpose,
        title: file.title,
        accepted_methods: file.accepted_methods,
        scopes: file.scopes,
        validity_secs: file.validity_secs,
        sensitive: file.sensitive,
        spi_categories: file.spi_categories,
        pii_categories: file.pii_categories,
        policy_url: file.policy_url,
        template_modalities: file.template_modalities,
        template_retention_days: file.template_retention_days,
        notices,
        camera_choices: file.camera_choices,
    })
}

pub fn notice_hash(purpose: Purpose, version: &str, text: &BTreeMap<String, String>) -> String {
    let canonical = serde_json::json!({
        "purpose": purpose.as_str(),
        "version": version,
        "text": text,
    });
    hex::encode(digest(&SHA256, canonical.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shipped_policies_load_with_every_purpose() {
        let catalogue = Catalogue::load(Path::new(crate::config::BUNDLED_POLICIES_DIR)).unwrap();
        let set = catalogue.for_tenant("anyone");
        for p in Purpose::ALL {
            let spec = set.get(p).unwrap();
            assert!(spec.current_notice().unwrap().text.contains_key("en"));
        }
        assert_eq!(
            set.get(Purpose::Camera).unwrap().accepted_methods,
            vec![CaptureMethod::CustomerDevice]
        );
    }

    #[test]
    fn a_camera_purpose_accepting_an_agent_method_is_refused() {
        let text = r#"
purpose = "camera"
title = "t"
accepted_methods = ["customer_device", "verbal_witnessed"]
scopes = ["session"]
validity_secs = 60
sensitive = true
spi_categories = []
pii_categories = []
policy_url = "x"
[[notices]]
version = "1"
[notices.text]
en = "hi"
"#;
        let err = parse_purpose(text).unwrap_err();
        assert!(err.contains("customer's own device"), "{err}");
        let ok = text.replace(", \"verbal_witnessed\"", "");
        assert!(parse_purpose(&ok).is_ok());
    }

    #[test]
    fn notice_hash_changes_with_text_and_version() {
        let mut text = BTreeMap::new();
        text.insert("en".to_string(), "a".to_string());
        let h = notice_hash(Purpose::Camera, "1", &text);
        assert_eq!(h.len(), 64);
        assert_ne!(h, notice_hash(Purpose::Camera, "2", &text));
        text.insert("en".to_string(), "b".to_string());
        assert_ne!(h, notice_hash(Purpose::Camera, "1", &text));
    }
}
