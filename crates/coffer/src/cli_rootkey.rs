//! `coffer root-key`: prepares a root key source kept apart from the data directory, before
//! the first `coffer serve --root-key ...`. Works offline (no server involved).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use coffer_kms::RootKey;
use coffer_rootkey::{
    ExternalSealer, KmsState, RootKeySource, Rotation, SealedState, Unlock, pkcs11,
};

use crate::kms_config::{self, KmsArgs};
use crate::root_sealer::RootSealers;

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
    /// Re-seal everything sealed under the root key (KMS keys, RAM secrets) under a new
    /// one. Stop the server first. Crash-safe: if interrupted, run it again to finish.
    Rotate(Box<RotateArgs>),
}

/// What `coffer root-key rotate` (also `coffer kms root rotate`) needs.
#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The server's data directory [default: ./coffer-data]
    #[arg(long, env = "COFFER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The current root key source, as given to `coffer serve` [default: <data-dir>/root.key]
    #[arg(long, env = "COFFER_ROOT_KEY_SOURCE")]
    root_key: Option<String>,
    /// Where the new root key comes from: file:/path or env:VAR (prepared beforehand), or
    /// the embedded default or a pkcs11: token, where a new key is generated
    /// [default: the current source]
    #[arg(long)]
    new_root_key: Option<String>,
    /// File holding the PKCS#11 token's user PIN (or set COFFER_ROOT_KEY_PIN)
    #[arg(long, env = "COFFER_ROOT_KEY_PIN_FILE")]
    root_key_pin_file: Option<PathBuf>,
    /// Where Vault is, for a vault:key=NAME source (the same flags as `coffer serve`)
    #[command(flatten)]
    kms: KmsArgs,
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
        RootKeyCommand::Rotate(args) => rotate(*args),
    };
    report("coffer root-key", outcome)
}

/// Prints the outcome of an offline command the way `coffer root-key` does.
pub fn report(command: &str, outcome: Result<String, String>) -> ExitCode {
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{command}: {e}");
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

/// Runs (or finishes) a root key rotation of a stopped server's data directory.
pub fn rotate(args: RotateArgs) -> Result<String, String> {
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_DATA_DIR));
    let legacy = std::env::var("COFFER_ROOT_KEY").is_ok_and(|v| !v.trim().is_empty());
    let current = crate::config::root_key_source(args.root_key, None, legacy)?;
    let new = match args.new_root_key {
        Some(text) => RootKeySource::parse(&text).map_err(|e| e.to_string())?,
        None => current.clone(),
    };
    let uses = |kind: &str| current.kind() == kind || new.kind() == kind;
    let pin = match uses("pkcs11") {
        true => args
            .root_key_pin_file
            .map_or(PinSource::Env, PinSource::File)
            .read()?,
        false => None,
    };
    // The Transit client is async; the rotation calls it from this thread through a
    // runtime whose worker drives the calls.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let vault = match uses("vault") {
        true => Some(kms_config::vault(
            args.kms.clone(),
            Default::default(),
            &|var| std::env::var(var).ok(),
            "a vault:key=NAME root key source",
        )?),
        false => None,
    };
    let kmip = match uses("kmip") {
        true => Some(kms_config::kmip(
            args.kms,
            Default::default(),
            "a kmip:key=NAME root key source",
        )?),
        false => None,
    };
    let sealers = RootSealers::new(vault.as_ref(), kmip.as_ref(), runtime.handle().clone())?;
    let kms = KmsState(data_dir.join("kms"));
    let identities = IdentityState(data_dir.join("iam"));
    let rotation = Rotation {
        data_dir: &data_dir,
        current: &current,
        new: &new,
        unlock: Unlock {
            pin: pin.as_ref(),
            external: Some(&sealers as &dyn ExternalSealer),
        },
    };
    let done = rotation
        .run(&[&kms, &identities])
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{} the root key of {}; start the server with --root-key '{}'",
        if done.resumed {
            "finished rotating"
        } else {
            "rotated"
        },
        data_dir.display(),
        done.new_source
    ))
}

/// The RAM users' AccessKey secrets (`<data>/iam`), sealed under a key derived from the
/// root key.
struct IdentityState(PathBuf);

fn seal_key(root: &RootKey) -> zeroize::Zeroizing<[u8; 32]> {
    root.derive_subkey(coffer_identity::SEAL_KEY_PURPOSE)
}

impl SealedState for IdentityState {
    fn name(&self) -> String {
        format!("the identity store in {}", self.0.display())
    }

    fn sealed_by(&self, key: &RootKey) -> Result<Option<bool>, String> {
        coffer_identity::sealed_by(&self.0, &seal_key(key)).map_err(|e| e.to_string())
    }

    fn reseal(&self, old: &RootKey, new: &RootKey) -> Result<(), String> {
        coffer_identity::reseal(&self.0, &seal_key(old), &seal_key(new))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
