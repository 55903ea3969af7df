//! The audit log: one JSON line per key use or admin operation, appended and flushed.
//!
//! ```json
//! {"time":"2024-05-01T12:00:00.123456Z","caller":"oss:alice","operation":"GenerateDataKey",
//!  "key_id":"9468da86-…","key_version":2,"context":{"bucket":"b","object":"k"},"outcome":"ok"}
//! ```
//!
//! `outcome` is `"ok"` or the [`KmsError::code`](crate::KmsError::code) of the failure.
//! Admin operations carry their arguments in `detail`. Key material is never written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;

use crate::{EncryptionContext, KmsError, store};

/// The caller recorded for admin operations (the admin API has its own authentication log).
pub(crate) const ADMIN_CALLER: &str = "admin";
/// The caller recorded for what the KMS does by itself (service key rotation, purging).
pub(crate) const SYSTEM_CALLER: &str = "system";

#[derive(Serialize, Debug)]
pub(crate) struct AuditEvent {
    time: String,
    caller: String,
    operation: &'static str,
    key_id: Option<String>,
    key_version: Option<u32>,
    context: BTreeMap<String, String>,
    outcome: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    detail: BTreeMap<&'static str, String>,
}

impl AuditEvent {
    pub fn new(now: OffsetDateTime, caller: &str, operation: &'static str) -> AuditEvent {
        AuditEvent {
            time: store::format_time(now),
            caller: caller.to_owned(),
            operation,
            key_id: None,
            key_version: None,
            context: BTreeMap::new(),
            outcome: "ok".to_owned(),
            detail: BTreeMap::new(),
        }
    }

    pub fn context(mut self, context: &EncryptionContext) -> AuditEvent {
        self.context = context.0.clone();
        self
    }

    pub fn key(mut self, key_id: impl Into<String>) -> AuditEvent {
        self.key_id = Some(key_id.into());
        self
    }

    pub fn version(mut self, version: u32) -> AuditEvent {
        self.key_version = Some(version);
        self
    }

    pub fn set_key(&mut self, key_id: &str, version: Option<u32>) {
        self.key_id = Some(key_id.to_owned());
        if version.is_some() {
            self.key_version = version;
        }
    }

    pub fn detail(mut self, name: &'static str, value: impl Into<String>) -> AuditEvent {
        self.detail.insert(name, value.into());
        self
    }

    pub fn outcome<T>(mut self, result: &Result<T, KmsError>) -> AuditEvent {
        if let Err(e) = result {
            self.outcome = e.code().to_owned();
        }
        self
    }
}

pub(crate) struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<AuditLog, KmsError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| KmsError::io("creating the audit log directory", e))?;
        }
        let mut options = store::private_file(false);
        options.append(true);
        let file = options
            .open(path)
            .map_err(|e| KmsError::io("opening the KMS audit log", e))?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends events, one line each, in one write. A failure is logged, not returned: the key
    /// operation has already happened, and refusing every later one would take storage down.
    pub fn write(&self, events: &[AuditEvent]) {
        if events.is_empty() {
            return;
        }
        let mut buf = Vec::with_capacity(256 * events.len());
        for event in events {
            if serde_json::to_writer(&mut buf, event).is_err() {
                tracing::error!(
                    operation = event.operation,
                    "cannot encode a KMS audit record"
                );
                continue;
            }
            buf.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(&buf).and_then(|()| file.flush()) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the KMS audit log");
        }
    }
}
