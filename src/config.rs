//! Typed settings: defaults, then an optional TOML file, then environment variables.
//!
//! Every value is validated once, here, with a message that names the setting; the rest of the
//! code receives a `Settings` it can trust. Secrets are wrapped so `Debug` never prints them.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Where the ONNX Runtime shared library lands when the project's install script fetched it.
/// Resolved at compile time so a binary built from this checkout finds it with no variables.
pub const BUNDLED_ORT_LIBRARY: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/.ort/libonnxruntime.so.1.31.1");

/// Models shipped with this checkout.
pub const BUNDLED_MODELS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");

/// Policies shipped with this checkout.
pub const BUNDLED_POLICIES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Read(String),
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

/// A secret string: redacted in `Debug`, wiped from memory when dropped.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<unset>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

/// Raw settings as read from file and environment, before validation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub listen: String,
    pub database_url: Option<Secret>,
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub policies_dir: PathBuf,
    pub onnxruntime_library: Option<PathBuf>,
    /// Base64 (standard) of 32 random bytes; wraps per-customer data keys. When absent, one is
    /// generated on first start and kept in `data_dir/master.key` (mode 0600).
    pub master_key: Option<Secret>,
    pub request_body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub database_connect_attempts: u32,
    pub database_max_connections: u32,
    pub log_format: String,
    pub public_url: String,
    /// Mark browser cookies `Secure` (and use the `__Host-` prefix). May be turned off only
    /// when `public_url` is plain-HTTP loopback (local tests).
    pub cookie_secure: bool,
    /// Argon2 (PIN) hashes and verifications running at once; each holds 19 MiB.
    pub argon2_max_concurrent: usize,
    /// A connection must deliver a complete request head within this time, both when it opens
    /// and between keep-alive requests (so it is also the idle timeout), or it is closed.
    pub http_header_read_timeout_secs: u64,
    /// Open connections per instance; beyond it new ones get 503 `overloaded` and are closed.
    pub http_max_connections: usize,
    /// Webhook hosts allowed despite resolving to loopback, private, link-local or other
    /// non-public addresses: exact host names or IP addresses, or CIDR blocks (`127.0.0.0/8`).
    /// Empty (the default) refuses them all. For test setups and on-premises platforms.
    pub webhook_allow_private: Vec<String>,
    /// Requests per API key per window on verification, factor and link endpoints.
    pub rate_limit_per_key: u32,
    /// Requests per (API key, customer reference) per window on the same endpoints.
    pub rate_limit_per_customer: u32,
    /// Length of a rate-limit window in seconds.
    pub rate_limit_window_secs: u64,
    /// Where signed checkpoints (C2SP tlog-checkpoint) and witness cosignatures are appended,
    /// outside the database. Default: `data_dir/checkpoints`. Instances sharing a database
    /// should share this directory too (or each keep its own and be verified each).
    pub checkpoint_dir: Option<PathBuf>,
    /// Prefix of every tenant's log origin (`<prefix>/<tenant>`), a schema-less URL that is
    /// also the checkpoint key name. Default: `public_url`'s host and path, then `/log`.
    pub log_origin_prefix: Option<String>,
    /// Witnesses that cosign every checkpoint (tlog-witness `add-checkpoint`).
    pub witnesses: Vec<WitnessSetting>,
}

/// One witness: its `add-checkpoint` URL and its cosignature/v1 verifier key
/// (`name+hash+base64`, as `trustline witness` prints it).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessSetting {
    pub url: String,
    pub key: String,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from("data"),
            models_dir: PathBuf::from(BUNDLED_MODELS_DIR),
            policies_dir: PathBuf::from(BUNDLED_POLICIES_DIR),
            onnxruntime_library: None,
            master_key: None,
            request_body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 15,
            database_connect_attempts: 8,
            database_max_connections: 16,
            log_format: "json".into(),
            public_url: "http://127.0.0.1:8080".into(),
            cookie_secure: true,
            checkpoint_dir: None,
            log_origin_prefix: None,
            witnesses: Vec::new(),
            argon2_max_concurrent: 2,
            http_header_read_timeout_secs: 10,
            http_max_connections: 1024,
            webhook_allow_private: Vec::new(),
            rate_limit_per_key: 6000,
            rate_limit_per_customer: 60,
            rate_limit_window_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: Secret,
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub policies_dir: PathBuf,
    pub onnxruntime_library: PathBuf,
    pub master_key: Option<Secret>,
    pub request_body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub database_connect_attempts: u32,
    pub database_max_connections: u32,
    pub log_format: LogFormat,
    pub public_url: String,
    pub cookie_secure: bool,
    pub checkpoint_dir: PathBuf,
    pub log_origin_prefix: String,
    pub witnesses: Vec<WitnessSetting>,
    pub argon2_max_concurrent: usize,
    pub http_header_read_timeout: Duration,
    pub http_max_connections: usize,
    pub webhook_allow_private: crate::factors::webhook_guard::AllowList,
    pub rate_limits: RateLimits,
}

/// Fixed-window request limits, shared by instances through the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_key: u32,
    pub per_customer: u32,
    pub window: Duration,
}

impl Settings {
    /// Defaults, then `file` (if given, or `TRUSTLINE_CONFIG`), then `TRUSTLINE_*` variables,
    /// then the conventional `DATABASE_URL`.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        let file = file
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("TRUSTLINE_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Read(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("TRUSTLINE_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL"]));
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| ConfigError::Read(e.to_string()))?;
        raw.validate()
    }
}

impl RawSettings {
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| ConfigError::Invalid {
            setting: "listen",
            reason: format!("`{}` is not an address like 127.0.0.1:8080", self.listen),
        })?;
        let database_url = match self.database_url {
            Some(url) if !url.is_empty() => url,
            _ => Secret::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("trustline.db").display()
            )),
        };
        let scheme_ok = database_url.expose().starts_with("sqlite:")
            || database_url.expose().starts_with("postgres://")
            || database_url.expose().starts_with("postgresql://");
        if !scheme_ok {
            return Err(ConfigError::Invalid {
                setting: "database_url",
                reason: "must start with sqlite:, postgres:// or postgresql://".into(),
            });
        }
        if self.request_body_limit_bytes < 1024 || self.request_body_limit_bytes > 64 << 20 {
            return Err(ConfigError::Invalid {
                setting: "request_body_limit_bytes",
                reason: "must be between 1 KiB and 64 MiB".into(),
            });
        }
        if !(1..=300).contains(&self.request_timeout_secs) {
            return Err(ConfigError::Invalid {
                setting: "request_timeout_secs",
                reason: "must be between 1 and 300".into(),
            });
        }
        if !(1..=100).contains(&self.database_connect_attempts) {
            return Err(ConfigError::Invalid {
                setting: "database_connect_attempts",
                reason: "must be between 1 and 100".into(),
            });
        }
        if !(1..=512).contains(&self.database_max_connections) {
            return Err(ConfigError::Invalid {
                setting: "database_max_connections",
                reason: "must be between 1 and 512".into(),
            });
        }
        let log_format = match self.log_format.as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(ConfigError::Invalid {
                    setting: "log_format",
                    reason: format!("`{other}` is neither `json` nor `pretty`"),
                });
            }
        };
        if let Some(key) = &self.master_key {
            decode_master_key(key).map_err(|reason| ConfigError::Invalid {
                setting: "master_key",
                reason,
            })?;
        }
        let public_url = self.public_url.trim_end_matches('/').to_string();
        if !self.cookie_secure && !is_loopback_http(&public_url) {
            return Err(ConfigError::Invalid {
                setting: "cookie_secure",
                reason: "may be false only when public_url is http://127.0.0.1:… or \
                         http://localhost:… (loopback tests)"
                    .into(),
            });
        }
        let log_origin_prefix = match self.log_origin_prefix {
            Some(p) => p.trim_end_matches('/').to_string(),
            None => {
                let host = public_url
                    .split_once("://")
                    .map_or(public_url.as_str(), |(_, h)| h);
                format!("{host}/log")
            }
        };
        if !crate::crypto::note::valid_name(&log_origin_prefix) {
            return Err(ConfigError::Invalid {
                setting: "log_origin_prefix",
                reason: "must be non-empty without spaces or `+` (it names the checkpoint key)"
                    .into(),
            });
        }
        for w in &self.witnesses {
            crate::crypto::note::VerifierKey::parse(&w.key)
                .ok()
                .filter(|k| k.alg == crate::crypto::note::ALG_COSIGNATURE_V1)
                .ok_or_else(|| ConfigError::Invalid {
                    setting: "witnesses",
                    reason: format!("`{}` is not a cosignature/v1 verifier key", w.key),
                })?;
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    setting: "witnesses",
                    reason: format!("`{}` is not an http(s) URL", w.url),
                });
            }
        }
        let checkpoint_dir = self
            .checkpoint_dir
            .unwrap_or_else(|| self.data_dir.join("checkpoints"));
        if !(1..=64).contains(&self.argon2_max_concurrent) {
            return Err(ConfigError::Invalid {
                setting: "argon2_max_concurrent",
                reason: "must be between 1 and 64".into(),
            });
        }
        if !(1..=300).contains(&self.http_header_read_timeout_secs) {
            return Err(ConfigError::Invalid {
                setting: "http_header_read_timeout_secs",
                reason: "must be between 1 and 300".into(),
            });
        }
        if !(1..=1_000_000).contains(&self.http_max_connections) {
            return Err(ConfigError::Invalid {
                setting: "http_max_connections",
                reason: "must be between 1 and 1000000".into(),
            });
        }
        let webhook_allow_private = crate::factors::webhook_guard::AllowList::parse(
            &self.webhook_allow_private,
        )
        .map_err(|reason| ConfigError::Invalid {
            setting: "webhook_allow_private",
            reason,
        })?;
        if self.rate_limit_per_key == 0
            || self.rate_limit_per_customer == 0
            || !(1..=86_400).contains(&self.rate_limit_window_secs)
        {
            return Err(ConfigError::Invalid {
                setting: "rate_limit_per_key",
                reason: "rate limits must be at least 1 and rate_limit_window_secs 1..=86400"
                    .into(),
            });
        }
        let onnxruntime_library = self
            .onnxruntime_library
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(BUNDLED_ORT_LIBRARY));
        Ok(Settings {
            listen,
            database_url,
            data_dir: self.data_dir,
            models_dir: self.models_dir,
            policies_dir: self.policies_dir,
            onnxruntime_library,
            master_key: self.master_key,
            request_body_limit_bytes: self.request_body_limit_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            database_connect_attempts: self.database_connect_attempts,
            database_max_connections: self.database_max_connections,
            log_format,
            public_url,
            cookie_secure: self.cookie_secure,
            checkpoint_dir,
            log_origin_prefix,
            witnesses: self.witnesses,
            argon2_max_concurrent: self.argon2_max_concurrent,
            http_header_read_timeout: Duration::from_secs(self.http_header_read_timeout_secs),
            http_max_connections: self.http_max_connections,
            webhook_allow_private,
            rate_limits: RateLimits {
                per_key: self.rate_limit_per_key,
                per_customer: self.rate_limit_per_customer,
                window: Duration::from_secs(self.rate_limit_window_secs),
            },
        })
    }
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Decode a base64 master key and insist on exactly 32 bytes (AES-256).
pub fn decode_master_key(key: &Secret) -> Result<Zeroizing<[u8; 32]>, String> {
    use base64::Engine as _;
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .map_err(|_| "is not valid base64".to_string())?,
    );
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("must decode to 32 bytes, got {}", bytes.len()))?;
    Ok(Zeroizing::new(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_to_sqlite_under_data_dir() {
        let s = RawSettings::default()
            .validate()
            .expect("defaults are valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert!(
            s.database_url
                .expose()
                .starts_with("sqlite://data/trustline.db")
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let raw = RawSettings {
            listen: "nowhere".into(),
            ..RawSettings::default()
        };
        let err = raw.validate().expect_err("invalid listen");
        assert!(err.to_string().contains("`listen`"), "{err}");

        let raw = RawSettings {
            database_url: Some(Secret::new("mysql://x")),
            ..RawSettings::default()
        };
        assert!(
            raw.validate()
                .expect_err("bad scheme")
                .to_string()
                .contains("database_url")
        );

        let raw = RawSettings {
            master_key: Some(Secret::new("c2hvcnQ=")),
            ..RawSettings::default()
        };
        let err = raw.validate().expect_err("short key").to_string();
        assert!(
            err.contains("master_key") && err.contains("32 bytes"),
            "{err}"
        );
    }

    #[test]
    fn insecure_cookies_only_on_loopback_http() {
        let raw = RawSettings {
            cookie_secure: false,
            public_url: "https://trustline.example".into(),
            ..RawSettings::default()
        };
        assert!(
            raw.validate()
                .expect_err("not loopback")
                .to_string()
                .contains("cookie_secure")
        );
        let raw = RawSettings {
            cookie_secure: false,
            public_url: "http://127.0.0.1:9000/".into(),
            ..RawSettings::default()
        };
        assert!(!raw.validate().expect("loopback").cookie_secure);
        assert!(!is_loopback_http("http://127.0.0.1.evil.example"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let raw = RawSettings {
            database_url: Some(Secret::new("postgres://user:hunter2@db/x")),
            master_key: Some(Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
            ..RawSettings::default()
        };
        let s = raw.validate().expect("valid");
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
