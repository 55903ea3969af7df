//! Root keys held as 64 hex digits: in a file (refused unless only its owner can read it)
//! or in an environment variable.

use std::fs;
use std::io::Read;
use std::path::Path;

use coffer_kms::RootKey;
use zeroize::Zeroizing;

use crate::RootKeyError;

/// Reads a root key file, refusing one that group or others may read: a key anyone on the
/// machine can copy keeps nothing apart.
pub(crate) fn from_file(path: &Path) -> Result<RootKey, RootKeyError> {
    let mut file = fs::File::open(path).map_err(|e| {
        RootKeyError::Source(format!("opening the root key file {}: {e}", path.display()))
    })?;
    refuse_if_shared(&file, path)?;
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text).map_err(|e| {
        RootKeyError::Source(format!("reading the root key file {}: {e}", path.display()))
    })?;
    RootKey::from_hex(&text).map_err(|_| {
        RootKeyError::Source(format!(
            "the root key file {} does not hold 64 hex digits",
            path.display()
        ))
    })
}

#[cfg(unix)]
fn refuse_if_shared(file: &fs::File, path: &Path) -> Result<(), RootKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|e| RootKeyError::Source(format!("inspecting {}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(RootKeyError::Source(format!(
            "the root key file {} is readable by group or others (mode {:o}); \
             run `chmod 600 {}` and start again",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_shared(_file: &fs::File, _path: &Path) -> Result<(), RootKeyError> {
    Ok(())
}

/// Reads a root key from the environment variable `var`.
pub(crate) fn from_env(var: &str) -> Result<RootKey, RootKeyError> {
    let value =
        Zeroizing::new(std::env::var(var).map_err(|_| {
            RootKeyError::Source(format!("the environment variable {var} is not set"))
        })?);
    RootKey::from_hex(&value).map_err(|_| {
        RootKeyError::Source(format!(
            "the environment variable {var} does not hold 64 hex digits"
        ))
    })
}

/// Writes a new random root key file (mode 0600, never overwriting one), for
/// `--root-key file:PATH`.
pub fn generate_file(path: &Path) -> Result<(), RootKeyError> {
    if path.exists() {
        return Err(RootKeyError::Source(format!(
            "{} exists already; refusing to overwrite a root key",
            path.display()
        )));
    }
    RootKey::load_or_create_file(path).map_err(|e| {
        RootKeyError::Source(format!("writing the root key file {}: {e}", path.display()))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        generate_file(&path).unwrap();
        assert!(generate_file(&path).is_err(), "never overwrites");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        from_file(&path).unwrap();

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(err.contains("640"), "{err}");
    }

    #[test]
    fn a_missing_or_malformed_variable_is_named() {
        let err = from_env("COFFER_TEST_SURELY_UNSET_ROOT_KEY").unwrap_err();
        assert!(
            err.to_string()
                .contains("COFFER_TEST_SURELY_UNSET_ROOT_KEY")
        );
    }
}
