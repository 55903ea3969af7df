//! `--root-key` values: where the root key comes from.
//!
//! * `file:/path`: 64 hex digits in a file outside the data directory, mode 0600 or stricter;
//! * `env:VAR`: 64 hex digits in an environment variable;
//! * `pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=LABEL;key=LABEL`: an AES-256 key
//!   on a PKCS#11 token seals the root key (see [`crate::pkcs11`]); the PIN comes from a
//!   file or an environment variable, never from the value itself;
//! * `vault:key=NAME`: the Transit key NAME of the Vault/OpenBao server the `--vault-*`
//!   settings point at seals the root key (see [`crate::ExternalSealer`]);
//! * `kmip:key=NAME`: the AES-256 key named NAME on the KMIP server the `--kmip-*` settings
//!   point at seals it.
//!
//! No value means the embedded default: `<data-dir>/root.key`, generated on first start.

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::RootKeyError;

/// Where the root key comes from. Its `Display` is what the data directory records and
/// what error messages name; it never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootKeySource {
    /// `<data-dir>/root.key`, generated on first start: convenient, and a copy of the data
    /// directory then decrypts everything.
    Embedded,
    File(PathBuf),
    /// The name of the variable (not its value).
    Env(String),
    Pkcs11(Pkcs11Spec),
    /// The name of the Transit key that seals the root key.
    Vault(String),
    /// The Name of the KMIP key that seals the root key.
    Kmip(String),
}

/// A key object on a PKCS#11 token, found by labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Spec {
    /// The PKCS#11 module (shared library) to load.
    pub module: PathBuf,
    /// The token's label.
    pub token: String,
    /// The label of the AES-256 secret key on the token.
    pub key: String,
}

impl RootKeySource {
    /// Parses `file:…`, `env:…` or `pkcs11:…`.
    pub fn parse(value: &str) -> Result<RootKeySource, RootKeyError> {
        let value = value.trim();
        let (scheme, rest) = value.split_once(':').unwrap_or((value, ""));
        match scheme {
            "file" if !rest.is_empty() => Ok(RootKeySource::File(PathBuf::from(rest))),
            "env" if valid_var_name(rest) => Ok(RootKeySource::Env(rest.to_owned())),
            "env" => Err(RootKeyError::Config(format!(
                "`{value}`: env: needs a variable name (letters, digits, _)"
            ))),
            "pkcs11" => Pkcs11Spec::parse(rest).map(RootKeySource::Pkcs11),
            "vault" | "kmip" => match rest.trim().strip_prefix("key=") {
                Some(name) if valid_key_name(name) && scheme == "vault" => {
                    Ok(RootKeySource::Vault(name.to_owned()))
                }
                Some(name) if valid_key_name(name) => Ok(RootKeySource::Kmip(name.to_owned())),
                _ => Err(RootKeyError::Config(format!(
                    "`{value}`: use {scheme}:key=NAME, NAME a key name (letters, digits, - _ .)"
                ))),
            },
            _ => Err(RootKeyError::Config(format!(
                "`{value}` is not a root key source; use file:/path, env:VAR, \
                 pkcs11:module=/path/to/module.so;token=LABEL;key=LABEL, vault:key=NAME or \
                 kmip:key=NAME"
            ))),
        }
    }

    /// True when the key sits beside the data it protects.
    pub fn is_embedded(&self) -> bool {
        matches!(self, RootKeySource::Embedded)
    }

    /// The short name recorded in the data directory: `embedded`, `file`, `env`, `pkcs11`,
    /// `vault`, `kmip`.
    pub fn kind(&self) -> &'static str {
        match self {
            RootKeySource::Embedded => "embedded",
            RootKeySource::File(_) => "file",
            RootKeySource::Env(_) => "env",
            RootKeySource::Pkcs11(_) => "pkcs11",
            RootKeySource::Vault(_) => "vault",
            RootKeySource::Kmip(_) => "kmip",
        }
    }
}

impl fmt::Display for RootKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootKeySource::Embedded => f.write_str("embedded (root.key in the data directory)"),
            RootKeySource::File(path) => write!(f, "file:{}", path.display()),
            RootKeySource::Env(var) => write!(f, "env:{var}"),
            RootKeySource::Pkcs11(spec) => write!(
                f,
                "pkcs11:module={};token={};key={}",
                spec.module.display(),
                spec.token,
                spec.key
            ),
            RootKeySource::Vault(name) => write!(f, "vault:key={name}"),
            RootKeySource::Kmip(name) => write!(f, "kmip:key={name}"),
        }
    }
}

impl Pkcs11Spec {
    fn parse(text: &str) -> Result<Pkcs11Spec, RootKeyError> {
        let (mut module, mut token, mut key) = (None, None, None);
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                RootKeyError::Config(format!("pkcs11: `{part}` is not name=value"))
            })?;
            let slot = match name.trim() {
                "module" => &mut module,
                "token" => &mut token,
                "key" => &mut key,
                // A PIN here would end up in shell history, process lists and logs.
                "pin" | "pin-value" => {
                    return Err(RootKeyError::Config(
                        "pkcs11: give the PIN with --root-key-pin-file or COFFER_ROOT_KEY_PIN, \
                         not in the source"
                            .into(),
                    ));
                }
                other => {
                    return Err(RootKeyError::Config(format!(
                        "pkcs11: unknown attribute `{other}` (use module, token, key)"
                    )));
                }
            };
            *slot = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        }
        let need = |v: Option<String>, what: &str| {
            v.ok_or_else(|| RootKeyError::Config(format!("pkcs11: `{what}=` is missing")))
        };
        Ok(Pkcs11Spec {
            module: PathBuf::from(need(module, "module")?),
            token: need(token, "token")?,
            key: need(key, "key")?,
        })
    }
}

/// A key name (a Transit key goes into a URL path): only the characters key names are
/// made of.
fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn valid_var_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A token user PIN. Zeroized on drop; `Debug` hides it.
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(pin: String) -> Pin {
        Pin(Zeroizing::new(pin))
    }

    /// Reads a PIN file; one trailing newline (as `echo` writes) is not part of the PIN.
    pub fn from_file(path: &std::path::Path) -> Result<Pin, RootKeyError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            RootKeyError::Source(format!("reading the PIN file {}: {e}", path.display()))
        })?);
        let pin = text.strip_suffix('\n').unwrap_or(&text);
        let pin = pin.strip_suffix('\r').unwrap_or(pin);
        Ok(Pin::new(pin.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_source_and_prints_it_back() {
        for text in [
            "file:/etc/coffer/root.key",
            "env:MY_ROOT_KEY",
            "pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=coffer;key=coffer-root",
            "vault:key=coffer-root",
            "kmip:key=coffer-root",
        ] {
            assert_eq!(RootKeySource::parse(text).unwrap().to_string(), text);
        }
        let spec = RootKeySource::parse("pkcs11: key=k ; token=t;module=/m.so;").unwrap();
        assert_eq!(
            spec,
            RootKeySource::Pkcs11(Pkcs11Spec {
                module: "/m.so".into(),
                token: "t".into(),
                key: "k".into()
            })
        );
    }

    #[test]
    fn refuses_incomplete_or_unknown_values() {
        for bad in [
            "/etc/coffer/root.key",
            "file:",
            "env:",
            "env:A-B",
            "vault:x",
            "vault:key=",
            "vault:key=../sys",
            "kmip:coffer-root",
            "pkcs11:module=/m.so;token=t",
            "pkcs11:module=/m.so;token=t;key=k;slot=1",
            "pkcs11:module=/m.so;token=t;key",
        ] {
            assert!(RootKeySource::parse(bad).is_err(), "{bad}");
        }
        let err = RootKeySource::parse("pkcs11:module=/m.so;token=t;key=k;pin=1234").unwrap_err();
        assert!(!err.to_string().contains("1234"), "{err}");
        assert!(err.to_string().contains("--root-key-pin-file"), "{err}");
    }

    #[test]
    fn pin_file_loses_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, "12 34\n").unwrap();
        assert_eq!(Pin::from_file(&path).unwrap().expose(), "12 34");
        assert_eq!(format!("{:?}", Pin::new("x".into())), "Pin(..)");
    }
}
