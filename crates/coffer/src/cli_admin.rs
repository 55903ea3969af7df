//! `coffer admin …`: manages RAM users, their AccessKeys and identity policies on a running
//! server through its admin API (`POST /admin/ram/<Action>` on the admin listener, signed with
//! the root AccessKey). Flags and credentials work as for `coffer kms`.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli_common::{self, Api, Connection};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Value, json};

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Manage RAM users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the AccessKey pairs of RAM users
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage identity policies and attach them to users
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user (name: 1-64 characters of A-Z a-z 0-9 . _ @ -)
    Create {
        name: String,
        /// Display name (defaults to the name)
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Delete a user, its AccessKeys and its policy attachments
    Delete { name: String },
    /// List users
    List,
    /// Show a user
    Get { name: String },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Create an AccessKey pair for a user (at most 2); the secret is shown only now
    Create { user: String },
    /// List a user's AccessKeys
    List { user: String },
    /// Deactivate an AccessKey: requests signed with it fail from now on
    Disable { user: String, key_id: String },
    /// Reactivate an AccessKey
    Enable { user: String, key_id: String },
    /// Delete an AccessKey
    Delete { user: String, key_id: String },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Create an identity policy from a JSON document (name: 1-128 characters of A-Z a-z 0-9 -)
    #[command(group(ArgGroup::new("source").required(true).args(["file", "document"])))]
    Create {
        name: String,
        /// Read the document from this file (`-` for standard input)
        #[arg(long)]
        file: Option<PathBuf>,
        /// The document itself
        #[arg(long)]
        document: Option<String>,
        /// Free text stored with the policy
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a policy (refused while it is attached to a user)
    Delete { name: String },
    /// List policies
    List,
    /// Show a policy and its document
    Get { name: String },
    /// Attach a policy to a user
    Attach { name: String, user: String },
    /// Detach a policy from a user
    Detach { name: String, user: String },
    /// List the policies attached to a user
    ListFor { user: String },
}

impl AdminCommand {
    /// The RAM action and its parameters; reads a policy file if one is named.
    fn request(&self) -> Result<(&'static str, Value), String> {
        Ok(match self {
            AdminCommand::User(cmd) => match cmd {
                UserCommand::Create { name, display_name } => {
                    let mut params = json!({ "UserName": name });
                    if let Some(d) = display_name {
                        params["DisplayName"] = json!(d);
                    }
                    ("CreateUser", params)
                }
                UserCommand::Delete { name } => ("DeleteUser", json!({ "UserName": name })),
                UserCommand::List => ("ListUsers", json!({})),
                UserCommand::Get { name } => ("GetUser", json!({ "UserName": name })),
            },
            AdminCommand::Key(cmd) => match cmd {
                KeyCommand::Create { user } => ("CreateAccessKey", json!({ "UserName": user })),
                KeyCommand::List { user } => ("ListAccessKeys", json!({ "UserName": user })),
                KeyCommand::Disable { user, key_id } => (
                    "UpdateAccessKey",
                    json!({ "UserName": user, "UserAccessKeyId": key_id, "Status": "Inactive" }),
                ),
                KeyCommand::Enable { user, key_id } => (
                    "UpdateAccessKey",
                    json!({ "UserName": user, "UserAccessKeyId": key_id, "Status": "Active" }),
                ),
                KeyCommand::Delete { user, key_id } => (
                    "DeleteAccessKey",
                    json!({ "UserName": user, "UserAccessKeyId": key_id }),
                ),
            },
            AdminCommand::Policy(cmd) => match cmd {
                PolicyCommand::Create {
                    name,
                    file,
                    document,
                    description,
                } => {
                    let document = match (file, document) {
                        (_, Some(document)) => document.clone(),
                        (Some(path), None) => read_document(path)?,
                        (None, None) => return Err("give --file or --document".into()),
                    };
                    let mut params = json!({ "PolicyName": name, "PolicyDocument": document });
                    if let Some(d) = description {
                        params["Description"] = json!(d);
                    }
                    ("CreatePolicy", params)
                }
                PolicyCommand::Delete { name } => ("DeletePolicy", json!({ "PolicyName": name })),
                PolicyCommand::List => ("ListPolicies", json!({})),
                PolicyCommand::Get { name } => ("GetPolicy", json!({ "PolicyName": name })),
                PolicyCommand::Attach { name, user } => (
                    "AttachPolicyToUser",
                    json!({ "PolicyName": name, "UserName": user }),
                ),
                PolicyCommand::Detach { name, user } => (
                    "DetachPolicyFromUser",
                    json!({ "PolicyName": name, "UserName": user }),
                ),
                PolicyCommand::ListFor { user } => {
                    ("ListPoliciesForUser", json!({ "UserName": user }))
                }
            },
        })
    }

    /// The short human-readable form of a successful result.
    fn render(&self, v: &Value) -> String {
        let mut out = String::new();
        match self {
            AdminCommand::User(cmd) => match cmd {
                UserCommand::Create { .. } => {
                    let u = &v["User"];
                    out = format!("{} {}\n", text(u, "UserName"), text(u, "UserId"));
                }
                UserCommand::Delete { name } => out = format!("{name} deleted\n"),
                UserCommand::List => {
                    let rows = list(v, "Users").iter().map(|u| {
                        [
                            text(u, "UserName"),
                            text(u, "UserId"),
                            text(u, "CreateDate"),
                            text(u, "DisplayName"),
                        ]
                    });
                    table(
                        &mut out,
                        ["USER NAME", "USER ID", "CREATED", "DISPLAY NAME"],
                        rows,
                    );
                }
                UserCommand::Get { .. } => {
                    let u = &v["User"];
                    fields(
                        &mut out,
                        u,
                        &[
                            "UserName",
                            "UserId",
                            "DisplayName",
                            "CreateDate",
                            "UpdateDate",
                        ],
                    );
                }
            },
            AdminCommand::Key(cmd) => match cmd {
                KeyCommand::Create { .. } => {
                    let k = &v["AccessKey"];
                    fields(&mut out, k, &["AccessKeyId", "AccessKeySecret"]);
                }
                KeyCommand::List { .. } => {
                    let rows = list(v, "AccessKeys").iter().map(|k| {
                        [
                            text(k, "AccessKeyId"),
                            text(k, "Status"),
                            text(k, "CreateDate"),
                        ]
                    });
                    table(&mut out, ["ACCESS KEY ID", "STATUS", "CREATED"], rows);
                }
                KeyCommand::Disable { key_id, .. } => out = format!("{key_id} Inactive\n"),
                KeyCommand::Enable { key_id, .. } => out = format!("{key_id} Active\n"),
                KeyCommand::Delete { key_id, .. } => out = format!("{key_id} deleted\n"),
            },
            AdminCommand::Policy(cmd) => match cmd {
                PolicyCommand::Create { .. } => {
                    out = format!("{}\n", text(&v["Policy"], "PolicyName"));
                }
                PolicyCommand::Delete { name } => out = format!("{name} deleted\n"),
                PolicyCommand::List => {
                    let rows = list(v, "Policies").iter().map(|p| {
                        [
                            text(p, "PolicyName"),
                            // `Value`'s Display ignores widths.
                            p["AttachmentCount"].to_string(),
                            text(p, "CreateDate"),
                            text(p, "Description"),
                        ]
                    });
                    table(
                        &mut out,
                        ["POLICY NAME", "ATTACHED", "CREATED", "DESCRIPTION"],
                        rows,
                    );
                }
                PolicyCommand::Get { .. } => {
                    let p = &v["Policy"];
                    fields(
                        &mut out,
                        p,
                        &[
                            "PolicyName",
                            "PolicyType",
                            "Description",
                            "AttachmentCount",
                            "CreateDate",
                            "UpdateDate",
                        ],
                    );
                    out.push('\n');
                    out.push_str(&text(p, "PolicyDocument"));
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
                PolicyCommand::Attach { name, user } => {
                    out = format!("{name} attached to {user}\n");
                }
                PolicyCommand::Detach { name, user } => {
                    out = format!("{name} detached from {user}\n");
                }
                PolicyCommand::ListFor { .. } => {
                    let rows = list(v, "Policies").iter().map(|p| {
                        [
                            text(p, "PolicyName"),
                            text(p, "AttachDate"),
                            text(p, "Description"),
                        ]
                    });
                    table(&mut out, ["POLICY NAME", "ATTACHED", "DESCRIPTION"], rows);
                }
            },
        }
        out
    }
}

fn read_document(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the policy document from standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// A field as text: strings as they are, other values as JSON, absent ones empty.
fn text(v: &Value, name: &str) -> String {
    match &v[name] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v[name].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// `Name: value` lines, values aligned.
fn fields(out: &mut String, v: &Value, names: &[&str]) {
    let width = names.iter().map(|n| n.len() + 1).max().unwrap_or(0);
    for name in names {
        let _ = writeln!(out, "{:<width$} {}", format!("{name}:"), text(v, name));
    }
}

/// Columns as wide as their widest cell; the last column is not padded.
fn table<const N: usize>(
    out: &mut String,
    header: [&str; N],
    rows: impl Iterator<Item = [String; N]>,
) {
    let rows: Vec<[String; N]> = rows.collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; N]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(std::array::from_fn(|i| row[i].as_str()));
    }
}

/// Runs one `coffer admin` command. Exit codes: 0 success, 1 the call failed (the server's
/// error code and message go to stderr), 2 a local problem (credentials, endpoint, policy
/// file, runtime).
pub fn run(args: AdminArgs) -> ExitCode {
    let (action, params) = match args.command.request() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coffer: {e}");
            return ExitCode::from(2);
        }
    };
    match cli_common::call(&args.connection, Api::Ram, action, params) {
        Ok(value) => {
            if matches!(args.command, AdminCommand::Key(KeyCommand::Create { .. }))
                && !args.connection.json
            {
                eprintln!("coffer: store the secret now; it cannot be shown again");
            }
            cli_common::print(args.connection.json, &value, |v| args.command.render(v))
        }
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
        Admin(AdminArgs),
    }

    fn try_parse(args: &[&str]) -> Result<AdminArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("coffer").chain(args.iter().copied())).map(|cli| {
            let Top::Admin(args) = cli.command;
            args
        })
    }

    fn parse(args: &[&str]) -> AdminArgs {
        try_parse(args).unwrap()
    }

    #[test]
    fn commands_map_to_actions() {
        let cases: &[(&[&str], &str, Value)] = &[
            (
                &["admin", "user", "create", "alice"],
                "CreateUser",
                json!({"UserName": "alice"}),
            ),
            (
                &["admin", "user", "create", "alice", "--display-name", "A"],
                "CreateUser",
                json!({"UserName": "alice", "DisplayName": "A"}),
            ),
            (
                &["admin", "user", "delete", "alice"],
                "DeleteUser",
                json!({"UserName": "alice"}),
            ),
            (&["admin", "user", "list"], "ListUsers", json!({})),
            (
                &["admin", "user", "get", "alice"],
                "GetUser",
                json!({"UserName": "alice"}),
            ),
            (
                &["admin", "key", "create", "alice"],
                "CreateAccessKey",
                json!({"UserName": "alice"}),
            ),
            (
                &["admin", "key", "list", "alice"],
                "ListAccessKeys",
                json!({"UserName": "alice"}),
            ),
            (
                &["admin", "key", "disable", "alice", "LTAIx"],
                "UpdateAccessKey",
                json!({"UserName": "alice", "UserAccessKeyId": "LTAIx", "Status": "Inactive"}),
            ),
            (
                &["admin", "key", "enable", "alice", "LTAIx"],
                "UpdateAccessKey",
                json!({"UserName": "alice", "UserAccessKeyId": "LTAIx", "Status": "Active"}),
            ),
            (
                &["admin", "key", "delete", "alice", "LTAIx"],
                "DeleteAccessKey",
                json!({"UserName": "alice", "UserAccessKeyId": "LTAIx"}),
            ),
            (
                &["admin", "policy", "create", "P", "--document", "{}"],
                "CreatePolicy",
                json!({"PolicyName": "P", "PolicyDocument": "{}"}),
            ),
            (
                &[
                    "admin",
                    "policy",
                    "create",
                    "P",
                    "--document",
                    "{}",
                    "--description",
                    "d",
                ],
                "CreatePolicy",
                json!({"PolicyName": "P", "PolicyDocument": "{}", "Description": "d"}),
            ),
            (
                &["admin", "policy", "delete", "P"],
                "DeletePolicy",
                json!({"PolicyName": "P"}),
            ),
            (&["admin", "policy", "list"], "ListPolicies", json!({})),
            (
                &["admin", "policy", "get", "P"],
                "GetPolicy",
                json!({"PolicyName": "P"}),
            ),
            (
                &["admin", "policy", "attach", "P", "alice"],
                "AttachPolicyToUser",
                json!({"PolicyName": "P", "UserName": "alice"}),
            ),
            (
                &["admin", "policy", "detach", "P", "alice"],
                "DetachPolicyFromUser",
                json!({"PolicyName": "P", "UserName": "alice"}),
            ),
            (
                &["admin", "policy", "list-for", "alice"],
                "ListPoliciesForUser",
                json!({"UserName": "alice"}),
            ),
        ];
        for (argv, action, params) in cases {
            let args = parse(argv);
            assert_eq!(
                args.command.request().unwrap(),
                (*action, params.clone()),
                "{argv:?}"
            );
        }
    }

    #[test]
    fn a_policy_needs_exactly_one_source() {
        assert!(try_parse(&["admin", "policy", "create", "P"]).is_err());
        assert!(
            try_parse(&[
                "admin",
                "policy",
                "create",
                "P",
                "--file",
                "x",
                "--document",
                "{}"
            ])
            .is_err()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, "{\"Version\":\"1\"}").unwrap();
        let args = parse(&[
            "admin",
            "policy",
            "create",
            "P",
            "--file",
            path.to_str().unwrap(),
        ]);
        assert_eq!(
            args.command.request().unwrap().1["PolicyDocument"],
            "{\"Version\":\"1\"}"
        );
        let args = parse(&[
            "admin",
            "policy",
            "create",
            "P",
            "--file",
            dir.path().join("missing").to_str().unwrap(),
        ]);
        assert!(args.command.request().unwrap_err().contains("missing"));
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let a = parse(&["admin", "--json", "user", "list", "--region", "cn-beijing"]);
        assert!(a.connection.json);
        assert_eq!(a.connection.region, "cn-beijing");
        let a = parse(&[
            "admin",
            "key",
            "list",
            "alice",
            "--admin-endpoint",
            "http://h:1",
            "--json",
        ]);
        assert!(a.connection.json);
        assert_eq!(a.connection.admin_endpoint, "http://h:1");
    }

    #[test]
    fn human_output_is_short() {
        let created = parse(&["admin", "key", "create", "alice"]).command.render(
            &json!({"AccessKey": {"AccessKeyId": "LTAIabc", "AccessKeySecret": "s3cr3t", "Status": "Active"}}),
        );
        assert_eq!(
            created,
            "AccessKeyId:     LTAIabc\nAccessKeySecret: s3cr3t\n"
        );
        let users = parse(&["admin", "user", "list"]).command.render(&json!({"Users": [
            {"UserName": "alice", "UserId": "1234567890123456", "CreateDate": "2024-01-01T00:00:00Z", "DisplayName": "Alice"},
        ]}));
        let lines: Vec<&str> = users.lines().collect();
        assert!(lines[0].starts_with("USER NAME"), "{users}");
        assert!(
            lines[1].starts_with("alice") && lines[1].ends_with("Alice"),
            "{users}"
        );
        let policies = parse(&["admin", "policy", "list"]).command.render(
            &json!({"Policies": [{"PolicyName": "P", "AttachmentCount": 2, "Description": ""}]}),
        );
        assert_eq!(
            policies
                .lines()
                .nth(1)
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["P", "2"]
        );
        let got = parse(&["admin", "policy", "get", "P"]).command.render(
            &json!({"Policy": {"PolicyName": "P", "PolicyDocument": "{\"Version\":\"1\"}"}}),
        );
        assert!(got.ends_with("\n\n{\"Version\":\"1\"}\n"), "{got:?}");
        assert_eq!(
            parse(&["admin", "policy", "attach", "P", "alice"])
                .command
                .render(&json!({})),
            "P attached to alice\n"
        );
    }
}
