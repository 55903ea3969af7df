//! How Coffer proves itself to Vault: a fixed token, or an AppRole login whose token is
//! renewed by logging in again before its lease ends (or at once, when Vault refuses it).

use std::time::{Duration, Instant};

use coffer_service::KeyError;
use http::Method;
use serde::Deserialize;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::Secret;
use crate::transport::Transport;

/// The credentials Coffer holds.
#[derive(Clone)]
pub enum Credentials {
    /// A Vault token (from `VAULT_TOKEN`, `BAO_TOKEN` or a token file).
    Token(Secret),
    /// AppRole: a role id and a secret id, exchanged for a token at `auth/<mount>/login`.
    AppRole {
        mount: String,
        role_id: String,
        secret_id: Secret,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(..)"),
            Credentials::AppRole { mount, role_id, .. } => f
                .debug_struct("AppRole")
                .field("mount", mount)
                .field("role_id", role_id)
                .finish_non_exhaustive(),
        }
    }
}

struct Cached {
    token: Secret,
    /// When to log in again; `None`: the token does not expire.
    refresh_at: Option<Instant>,
}

/// Hands out the current token, logging in first when there is none or it is due.
pub(crate) struct Authenticator {
    credentials: Credentials,
    cached: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct Login {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: Zeroizing<String>,
    #[serde(default)]
    lease_duration: u64,
}

impl Authenticator {
    pub fn new(credentials: Credentials) -> Self {
        Authenticator {
            credentials,
            cached: Mutex::new(None),
        }
    }

    /// Whether a refused token may be cured by logging in again.
    pub fn can_relogin(&self) -> bool {
        matches!(self.credentials, Credentials::AppRole { .. })
    }

    pub async fn token(&self, transport: &Transport) -> Result<Secret, KeyError> {
        let (mount, role_id, secret_id) = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::AppRole {
                mount,
                role_id,
                secret_id,
            } => (mount, role_id, secret_id),
        };
        // Held across the login so that concurrent requests wait for one login rather
        // than each starting its own.
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(c.token.clone());
        }
        let fresh = login(transport, mount, role_id, secret_id).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token after Vault refused it (revoked, or expired early).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

async fn login(
    transport: &Transport,
    mount: &str,
    role_id: &str,
    secret_id: &Secret,
) -> Result<Cached, KeyError> {
    let body = serde_json::to_vec(&serde_json::json!({
        "role_id": role_id,
        "secret_id": secret_id.expose(),
    }))
    .map_err(|e| KeyError::InvalidParameter(e.to_string()))?;
    let answer = transport
        .call(
            Method::POST,
            &format!("auth/{mount}/login"),
            None,
            Some(Zeroizing::new(body)),
        )
        .await?;
    let login: Login = serde_json::from_slice(&answer)
        .map_err(|e| KeyError::Unavailable(format!("unreadable AppRole login answer: {e}")))?;
    let lease = login.auth.lease_duration;
    tracing::info!(lease_seconds = lease, "logged in to vault with AppRole");
    Ok(Cached {
        token: Secret::new(login.auth.client_token.to_string()),
        // Log in again when two thirds of the lease have passed, leaving a margin for
        // clock drift and for calls already under way.
        refresh_at: (lease > 0).then(|| Instant::now() + Duration::from_secs(lease * 2 / 3)),
    })
}
