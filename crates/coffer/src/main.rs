//! `coffer`: the server and its admin commands. Everything substantial lives in the
//! library crates; this binary parses configuration and wires them together.

mod cached_audit;
mod cli_admin;
mod cli_cert;
mod cli_common;
mod cli_kms;
mod cli_rootkey;
mod config;
mod credentials;
mod identities;
mod keys;
mod kms_config;
mod root_sealer;
mod server;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    about = "An encrypted object store that speaks the Alibaba Cloud OSS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<config::ServeArgs>),
    /// Manage the built-in KMS of a running server (through its admin listener).
    Kms(cli_kms::KmsArgs),
    /// Manage RAM users, AccessKeys and policies of a running server (through its admin listener).
    Admin(cli_admin::AdminArgs),
    /// Prepare a root key kept apart from the data directory (a key file, a PKCS#11 token key).
    RootKey(cli_rootkey::RootKeyArgs),
    /// Make certificates for trying TLS locally.
    Cert(cli_cert::CertArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Kms(args) => cli_kms::run(args),
        Command::Admin(args) => cli_admin::run(args),
        Command::RootKey(args) => cli_rootkey::run(args),
        Command::Cert(args) => cli_cert::run(args),
        Command::Serve(args) => {
            let settings = match config::Settings::resolve(*args) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("coffer: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build();
            let result = runtime
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(server::run(settings)));
            match result {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("coffer: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
