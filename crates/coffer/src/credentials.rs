//! The root AccessKey pair: from `OSS_ACCESS_KEY_ID` / `OSS_ACCESS_KEY_SECRET` (the
//! variables the SDK samples read), or generated on first start and kept, readable by the
//! owner only, in the data directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use coffer_api::identity::SecretKey;
use coffer_identity::RootAccessKey;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const FILE_NAME: &str = "root-credentials.toml";

#[derive(Serialize, Deserialize)]
struct Stored {
    access_key_id: String,
    access_key_secret: String,
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Loads the server's pair; `generated` is true when this call created it (so it is shown
/// once).
pub fn load(data_dir: &Path) -> Result<(RootAccessKey, bool), String> {
    let env_id = std::env::var("OSS_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let env_secret = std::env::var("OSS_ACCESS_KEY_SECRET")
        .ok()
        .filter(|v| !v.is_empty());
    if let (Some(id), Some(secret)) = (env_id, env_secret) {
        return Ok((RootAccessKey::new(id, SecretKey::new(secret)), false));
    }
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?,
        );
        let stored: Stored =
            toml::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
        return Ok((
            RootAccessKey::new(
                stored.access_key_id,
                SecretKey::new(stored.access_key_secret),
            ),
            false,
        ));
    }
    let stored = Stored {
        access_key_id: format!(
            "LTAI{}",
            random_string(
                20,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            )
        ),
        access_key_secret: random_string(
            30,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        ),
    };
    let text = Zeroizing::new(toml::to_string(&stored).map_err(|e| e.to_string())?);
    // Created with 0600 from the start, so the secret is never readable by others.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| e.to_string())?;
    let Stored {
        access_key_id,
        access_key_secret,
    } = stored;
    Ok((
        RootAccessKey::new(access_key_id, SecretKey::new(access_key_secret)),
        true,
    ))
}

/// The root AccessKey for the admin CLIs: from the environment, else from the server's data
/// directory. Never creates anything (unlike the server, which generates the pair on first
/// start).
pub fn load_for_client(data_dir: &Path) -> Result<(String, Zeroizing<String>), String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(id), Some(secret)) = (env("OSS_ACCESS_KEY_ID"), env("OSS_ACCESS_KEY_SECRET")) {
        return Ok((id, Zeroizing::new(secret)));
    }
    let path = data_dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no root AccessKey: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET, or point \
                 --data-dir at the server's data directory ({} does not exist)",
                path.display()
            ));
        }
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let stored: Stored =
        toml::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    Ok((
        stored.access_key_id,
        Zeroizing::new(stored.access_key_secret),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_read_credentials_from_the_data_dir_file() {
        let dir = tempfile::tempdir().unwrap();
        // Only meaningful when the environment does not supply a pair.
        if std::env::var_os("OSS_ACCESS_KEY_ID").is_some() {
            return;
        }
        assert!(load_for_client(dir.path()).is_err());
        std::fs::write(
            dir.path().join(FILE_NAME),
            "access_key_id = \"LTAIx\"\naccess_key_secret = \"s3cr3t\"\n",
        )
        .unwrap();
        let (id, secret) = load_for_client(dir.path()).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("LTAIx", "s3cr3t"));
    }
}
