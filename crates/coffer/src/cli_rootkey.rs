//! `coffer root-key`: prepares a root key source kept apart from the data directory, before
//! the first `coffer serve --root-key ...`. Works offline (no server involved).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use coffer_rootkey::{RootKeySource, pkcs11};

use crate::config::PinSource;

#[derive(Args)]
pub struct RootKeyArgs {
    #[command(subcommand)]
    command: RootKeyCommand,
}

#[derive(Subcommand)]
enum RootKeyCommand {
    /// Create the AES-256 key on a PKCS#11 token that seals the root key (sensitive,
    /// never extractable); the token must be initialized and the label unused.
    InitPkcs11 {
        /// The same value `coffer serve --root-key` will get:
        /// pkcs11:module=/path/lib.so;token=LABEL;key=LABEL
        #[arg(long, env = "COFFER_ROOT_KEY_SOURCE")]
        root_key: String,
        /// File holding the token's user PIN (or set COFFER_ROOT_KEY_PIN)
        #[arg(long, env = "COFFER_ROOT_KEY_PIN_FILE")]
        root_key_pin_file: Option<PathBuf>,
    },
    /// Write a new random root key (64 hex digits, mode 0600) to a file outside the data
    /// directory, for `--root-key file:PATH`; never overwrites.
    GenerateFile {
        /// Where to write it
        path: PathBuf,
    },
}

pub fn run(args: RootKeyArgs) -> ExitCode {
    let outcome = match args.command {
        RootKeyCommand::InitPkcs11 {
            root_key,
            root_key_pin_file,
        } => init_pkcs11(&root_key, root_key_pin_file),
        RootKeyCommand::GenerateFile { path } => coffer_rootkey::generate_file(&path)
            .map(|()| format!("wrote a new root key to {}", path.display()))
            .map_err(|e| e.to_string()),
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coffer root-key: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_pkcs11(source: &str, pin_file: Option<PathBuf>) -> Result<String, String> {
    let source = RootKeySource::parse(source).map_err(|e| e.to_string())?;
    let RootKeySource::Pkcs11(spec) = &source else {
        return Err(format!(
            "init-pkcs11 needs a pkcs11: source, not `{source}`"
        ));
    };
    let pin = pin_file.map_or(PinSource::Env, PinSource::File).read()?;
    pkcs11::create_key(spec, pin.as_ref()).map_err(|e| e.to_string())?;
    Ok(format!(
        "created the AES-256 key `{}` on token `{}`; start the server with --root-key '{source}'",
        spec.key, spec.token
    ))
}
