//! `coffer kms …`: manages the keys of a running server's key manager through its admin
//! API (`POST /admin/kms/<Action>` on the admin listener, signed with the root AccessKey).
//! The server runs each action on its backend (the built-in KMS, Vault Transit); one the
//! backend does not have is refused with `UnsupportedOperation` and the reason.

use std::fmt::Write as _;

use std::process::ExitCode;

use crate::cli_common::{self, Api, Connection};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Args, Debug)]
pub struct KmsArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: KmsCommand,
}

#[derive(Subcommand, Debug)]
enum KmsCommand {
    /// Create a key (Enabled, one version); prints its id
    Create {
        /// The key's name, for backends whose keys are named by their creator (vault:
        /// the Transit key name); the built-in KMS names its keys itself
        #[arg(long)]
        name: Option<String>,
        /// Free text stored with the key (built-in KMS only)
        #[arg(long)]
        description: Option<String>,
    },
    /// List the keys that are not deleted
    List,
    /// Show a key (by id or alias/…)
    Describe { key: String },
    /// Enable a disabled key
    Enable { key: String },
    /// Disable a key: data under it can be neither encrypted nor decrypted until re-enabled
    Disable { key: String },
    /// Schedule a key's destruction in 7 to 30 days
    ScheduleDeletion {
        key: String,
        /// Pending window in days (7 to 30)
        #[arg(long)]
        days: u32,
    },
    /// Cancel a scheduled deletion (the key becomes Disabled)
    CancelDeletion { key: String },
    /// Destroy a key pending deletion now: data encrypted under it becomes unrecoverable
    DeleteNow { key: String },
    /// Give a key a new primary version (old versions keep decrypting)
    Rotate { key: String },
    /// Manage aliases
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Show how often a key was used since the server started
    Usage { key: String },
}

#[derive(Subcommand, Debug)]
enum AliasCommand {
    /// Point a new alias (alias/<name>) at a key
    Create { alias: String, key: String },
    /// Delete an alias (the key stays)
    Delete { alias: String },
    /// List aliases and their keys
    List,
}

impl KmsCommand {
    /// The action and its parameters.
    fn request(&self) -> (&'static str, Value) {
        match self {
            KmsCommand::Create { name, description } => {
                let mut params = serde_json::Map::new();
                if let Some(n) = name {
                    params.insert("Name".into(), n.as_str().into());
                }
                if let Some(d) = description {
                    params.insert("Description".into(), d.as_str().into());
                }
                ("CreateKey", Value::Object(params))
            }
            KmsCommand::List => ("ListKeys", json!({})),
            KmsCommand::Describe { key } => ("DescribeKey", json!({ "KeyId": key })),
            KmsCommand::Enable { key } => ("EnableKey", json!({ "KeyId": key })),
            KmsCommand::Disable { key } => ("DisableKey", json!({ "KeyId": key })),
            KmsCommand::ScheduleDeletion { key, days } => (
                "ScheduleKeyDeletion",
                json!({ "KeyId": key, "PendingWindowInDays": days }),
            ),
            KmsCommand::CancelDeletion { key } => ("CancelKeyDeletion", json!({ "KeyId": key })),
            KmsCommand::DeleteNow { key } => ("DeleteKeyNow", json!({ "KeyId": key })),
            KmsCommand::Rotate { key } => ("RotateKey", json!({ "KeyId": key })),
            KmsCommand::Alias(AliasCommand::Create { alias, key }) => {
                ("CreateAlias", json!({ "AliasName": alias, "KeyId": key }))
            }
            KmsCommand::Alias(AliasCommand::Delete { alias }) => {
                ("DeleteAlias", json!({ "AliasName": alias }))
            }
            KmsCommand::Alias(AliasCommand::List) => ("ListAliases", json!({})),
            KmsCommand::Usage { key } => ("GetKeyUsage", json!({ "KeyId": key })),
        }
    }

    /// The short human-readable form of a successful result.
    fn render(&self, v: &Value) -> String {
        let mut out = String::new();
        match self {
            KmsCommand::Create { .. } => out = format!("{}\n", text(v, "KeyId")),
            KmsCommand::List => render_key_table(&mut out, v["Keys"].as_array()),
            KmsCommand::Describe { .. } => render_key(&mut out, v),
            KmsCommand::Enable { .. }
            | KmsCommand::Disable { .. }
            | KmsCommand::CancelDeletion { .. } => {
                out = format!("{} {}\n", text(v, "KeyId"), text(v, "KeyState"));
            }
            KmsCommand::ScheduleDeletion { .. } => {
                out = format!(
                    "{} {} (to be destroyed at {})\n",
                    text(v, "KeyId"),
                    text(v, "KeyState"),
                    text(v, "DeleteDate")
                );
            }
            KmsCommand::Rotate { .. } => {
                out = format!(
                    "{} primary version {}\n",
                    text(v, "KeyId"),
                    v["PrimaryKeyVersion"]
                );
            }
            KmsCommand::DeleteNow { key } => out = format!("{key} destroyed\n"),
            KmsCommand::Alias(AliasCommand::Create { alias, key }) => {
                out = format!("{alias} -> {key}\n");
            }
            KmsCommand::Alias(AliasCommand::Delete { alias }) => {
                out = format!("{alias} deleted\n");
            }
            KmsCommand::Alias(AliasCommand::List) => {
                let aliases = v["Aliases"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                let width = aliases
                    .iter()
                    .map(|a| text(a, "AliasName").len())
                    .chain([5])
                    .max()
                    .unwrap_or(5);
                let _ = writeln!(out, "{:<width$}  KEY ID", "ALIAS");
                for a in aliases {
                    let _ = writeln!(
                        out,
                        "{:<width$}  {}",
                        text(a, "AliasName"),
                        text(a, "KeyId")
                    );
                }
            }
            KmsCommand::Usage { .. } => {
                let usage = &v["Usage"];
                out = format!(
                    "GenerateDataKey {}\nDecrypt {}\n",
                    usage["GenerateDataKey"], usage["Decrypt"]
                );
            }
        }
        out
    }
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or("")
}

fn render_key_table(out: &mut String, keys: Option<&Vec<Value>>) {
    let keys = keys.map(Vec::as_slice).unwrap_or(&[]);
    let _ = writeln!(
        out,
        "{:<36}  {:<15}  {:>7}  {:<20}  DESCRIPTION",
        "KEY ID", "STATE", "VERSION", "ALIASES"
    );
    for k in keys {
        let _ = writeln!(
            out,
            "{:<36}  {:<15}  {:>7}  {:<20}  {}",
            text(k, "KeyId"),
            text(k, "KeyState"),
            // `Value`'s Display ignores widths.
            k["PrimaryKeyVersion"].to_string(),
            aliases(k),
            text(k, "Description")
        );
    }
}

fn aliases(k: &Value) -> String {
    let list: Vec<&str> = k["Aliases"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.join(",")
    }
}

fn render_key(out: &mut String, k: &Value) {
    let mut line = |name: &str, value: String| {
        let _ = writeln!(out, "{:<19}{value}", format!("{name}:"));
    };
    line("KeyId", text(k, "KeyId").to_owned());
    line("KeyState", text(k, "KeyState").to_owned());
    line("Description", text(k, "Description").to_owned());
    line("Aliases", aliases(k));
    line("CreationDate", text(k, "CreationDate").to_owned());
    line(
        "PrimaryKeyVersion",
        format!("{} (of {})", k["PrimaryKeyVersion"], k["Versions"]),
    );
    line("LastRotationDate", text(k, "LastRotationDate").to_owned());
    if let Some(date) = k["DeleteDate"].as_str() {
        line("DeleteDate", date.to_owned());
    }
    line("KeySpec", text(k, "KeySpec").to_owned());
    if k["DefaultKey"].as_bool() == Some(true) {
        line("DefaultKey", "yes (alias/acs/oss)".to_owned());
    }
    let usage = &k["Usage"];
    line(
        "Usage",
        format!(
            "GenerateDataKey {}, Decrypt {}",
            usage["GenerateDataKey"], usage["Decrypt"]
        ),
    );
}

/// Runs one `coffer kms` command. Exit codes: 0 success, 1 the call failed (the server's error
/// code and message go to stderr), 2 a local problem (credentials, endpoint, runtime).
pub fn run(args: KmsArgs) -> ExitCode {
    let (action, params) = args.command.request();
    match cli_common::call(&args.connection, Api::Kms, action, params) {
        Ok(value) => cli_common::print(args.connection.json, &value, |v| args.command.render(v)),
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        Kms(KmsArgs),
    }

    fn parse(args: &[&str]) -> KmsArgs {
        let Top::Kms(args) =
            Cli::try_parse_from(std::iter::once("coffer").chain(args.iter().copied()))
                .unwrap()
                .command;
        args
    }

    #[test]
    fn commands_map_to_actions() {
        let cases: &[(&[&str], &str, Value)] = &[
            (&["kms", "create"], "CreateKey", json!({})),
            (
                &["kms", "create", "--description", "d"],
                "CreateKey",
                json!({"Description": "d"}),
            ),
            (
                &["kms", "create", "--name", "tenant-a"],
                "CreateKey",
                json!({"Name": "tenant-a"}),
            ),
            (&["kms", "list"], "ListKeys", json!({})),
            (
                &["kms", "describe", "k"],
                "DescribeKey",
                json!({"KeyId": "k"}),
            ),
            (
                &["kms", "schedule-deletion", "k", "--days", "7"],
                "ScheduleKeyDeletion",
                json!({"KeyId": "k", "PendingWindowInDays": 7}),
            ),
            (
                &["kms", "delete-now", "k"],
                "DeleteKeyNow",
                json!({"KeyId": "k"}),
            ),
            (
                &["kms", "alias", "create", "alias/a", "k"],
                "CreateAlias",
                json!({"AliasName": "alias/a", "KeyId": "k"}),
            ),
            (&["kms", "alias", "list"], "ListAliases", json!({})),
            (&["kms", "usage", "k"], "GetKeyUsage", json!({"KeyId": "k"})),
        ];
        for (argv, action, params) in cases {
            let args = parse(argv);
            assert_eq!(
                args.command.request(),
                (*action, params.clone()),
                "{argv:?}"
            );
        }
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let a = parse(&["kms", "--json", "list", "--region", "cn-beijing"]);
        assert!(a.connection.json);
        assert_eq!(a.connection.region, "cn-beijing");
        let a = parse(&[
            "kms",
            "describe",
            "k",
            "--admin-endpoint",
            "http://h:1",
            "--json",
        ]);
        assert!(a.connection.json);
        assert_eq!(a.connection.admin_endpoint, "http://h:1");
    }

    #[test]
    fn human_output_is_short() {
        let usage = KmsCommand::Usage { key: "k".into() }
            .render(&json!({"KeyId": "k", "Usage": {"GenerateDataKey": 3, "Decrypt": 4}}));
        assert_eq!(usage, "GenerateDataKey 3\nDecrypt 4\n");
        let created = KmsCommand::Create {
            name: None,
            description: None,
        }
        .render(&json!({"KeyId": "id-1"}));
        assert_eq!(created, "id-1\n");
        let listed = KmsCommand::List.render(&json!({"Keys": [{
            "KeyId": "id-1", "KeyState": "Enabled", "PrimaryKeyVersion": 2,
            "Aliases": ["alias/a"], "Description": "d"
        }]}));
        assert!(listed.lines().nth(1).unwrap().contains("id-1"));
        assert!(listed.contains("alias/a") && listed.contains("Enabled"));
    }
}
