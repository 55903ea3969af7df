//! Why a root key could not be had. Every message names the file, variable or token
//! involved and what to do; none carries key material or a PIN.

/// A root key that could not be loaded, or that the data directory refuses.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    /// The `--root-key` value (or PIN setting) does not parse or is incomplete.
    #[error("--root-key: {0}")]
    Config(String),
    /// The source was reached but refused to serve the key (bad file mode, missing
    /// variable, wrong PIN, no such token or key on it).
    #[error("{0}")]
    Source(String),
    /// The data directory was sealed under a root key from another source, or the key
    /// the source gave is not the one it was sealed under.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing the data directory's root-key record failed.
    #[error("{0}")]
    Io(String),
}

impl RootKeyError {
    pub(crate) fn io(what: impl std::fmt::Display, e: std::io::Error) -> RootKeyError {
        RootKeyError::Io(format!("{what}: {e}"))
    }
}
