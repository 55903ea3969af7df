//! What `coffer kms` and `coffer admin` share: credentials, the signed call to the admin
//! API, and how results and failures are printed.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use std::process::ExitCode;

use coffer_admin::AdminClient;
use serde_json::Value;

use crate::config::{DEFAULT_DATA_DIR, DEFAULT_REGION};

/// How both CLIs reach the server: flags shared by `coffer kms` and `coffer admin`.
#[derive(Args, Debug)]
pub struct Connection {
    /// URL of the server's admin listener
    #[arg(
        long,
        global = true,
        env = "COFFER_ADMIN_ENDPOINT",
        default_value = "http://127.0.0.1:7071"
    )]
    pub admin_endpoint: String,
    /// PEM file of the CA that signed the admin listener's certificate (for an https
    /// --admin-endpoint)
    #[arg(long, global = true, env = "COFFER_ADMIN_CA_CERT")]
    pub admin_ca_cert: Option<PathBuf>,
    /// Region id the server runs as (requests are signed for it)
    #[arg(long, global = true, env = "COFFER_REGION", default_value = DEFAULT_REGION)]
    pub region: String,
    /// The server's data directory, to read root-credentials.toml from when
    /// OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET are not set
    #[arg(long, global = true, env = "COFFER_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Print the raw JSON response
    #[arg(long, global = true)]
    pub json: bool,
}

/// Which family of admin actions a call addresses.
pub enum Api {
    Kms,
    Ram,
}

/// Makes one signed admin call. Failures are printed; the error is the exit code: 1 when
/// the server refused the call, 2 for a local problem (credentials, endpoint, runtime).
pub fn call(
    connection: &Connection,
    api: Api,
    action: &str,
    params: Value,
) -> Result<Value, ExitCode> {
    let (endpoint, region) = (
        connection.admin_endpoint.as_str(),
        connection.region.as_str(),
    );
    let local_failure = |message: &str| {
        eprintln!("coffer: {message}");
        ExitCode::from(2)
    };
    let (access_key_id, secret) =
        crate::credentials::load_for_client(&connection.data_dir).map_err(|e| local_failure(&e))?;
    let client = AdminClient::new(endpoint, access_key_id, secret.as_str(), region)
        .and_then(|client| match &connection.admin_ca_cert {
            Some(ca) => client.with_ca_file(ca),
            None => Ok(client),
        })
        .map_err(|e| local_failure(&format!("{}: {}", e.code(), e.message())))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| local_failure(&format!("starting the runtime: {e}")))?;
    let result = runtime.block_on(async {
        match api {
            Api::Kms => client.call(action, params).await,
            Api::Ram => client.call_ram(action, params).await,
        }
    });
    result.map_err(|e| {
        eprintln!("coffer: {}: {}", e.code(), e.message());
        ExitCode::FAILURE
    })
}

/// Prints a result: the raw JSON with `--json`, else the command's human form.
pub fn print(json: bool, value: &Value, render: impl FnOnce(&Value) -> String) -> ExitCode {
    let out = if json {
        let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
        s.push('\n');
        s
    } else {
        render(value)
    };
    // A closed stdout (`| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    ExitCode::SUCCESS
}
