//! The master key: from configuration, or generated once into the data directory.

use std::io::Write as _;

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::envelope::MasterKey;
use crate::config::{Secret, Settings, decode_master_key};

pub const MASTER_KEY_FILE: &str = "master.key";

/// Configured key wins; otherwise `data_dir/master.key`, created (0600) if absent.
pub fn load_or_create(settings: &Settings) -> Result<MasterKey, String> {
    let bytes = match &settings.master_key {
        Some(key) => decode_master_key(key)?,
        None => {
            let path = settings.data_dir.join(MASTER_KEY_FILE);
            if !path.exists() {
                std::fs::create_dir_all(&settings.data_dir)
                    .map_err(|e| format!("cannot create {}: {e}", settings.data_dir.display()))?;
                let mut raw = Zeroizing::new([0u8; 32]);
                SystemRandom::new()
                    .fill(raw.as_mut())
                    .map_err(|_| "no secure random numbers available".to_string())?;
                let text =
                    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(raw.as_ref()));
                write_private(&path, text.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            decode_master_key(&Secret::new(text)).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    MasterKey::from_bytes(&bytes).map_err(|e| e.to_string())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
