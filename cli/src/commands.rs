//! One function per command: call the API, print the answer.

use agentid::ids::UserId;
use serde_json::{json, Value};

use crate::args::{
    AgentsCommand, AuditArgs, Cli, Command, LoginArgs, MigrationCommand, SaCommand, UsersCommand,
};
use crate::client::{encode, Api, Method};
use crate::config::{self, Config, DevLogin, TOKEN_VAR};
use crate::error::CliError;
use crate::import::{self, Progress};
use crate::output::{self, text, when, Out, Table};
use crate::status;

/// Most events one `audit` prints unless `--limit` says otherwise.
const DEFAULT_AUDIT_LIMIT: usize = 100;
/// The API's largest page.
const MAX_PAGE: usize = 100;

/// Runs one parsed command line.
pub(crate) fn run(cli: &Cli) -> Result<(), CliError> {
    let config_path = cli.config.clone().unwrap_or_else(config::default_path);
    let config = Config::load(&config_path)?;
    let out = Out::new(cli.json);
    match &cli.command {
        Command::Login(login_args) => login(cli, &config, &config_path, login_args, &out),
        Command::Logout => logout(&config, &config_path, &out),
        command => {
            let api = connect(cli, &config)?;
            match command {
                Command::Users(users) => users_command(&api, users, &out),
                Command::ServiceAccounts(sa) => sa_command(&api, sa, &out),
                Command::Agents(agents) => agents_command(&api, agents, &out),
                Command::WhoIsResponsible { agent } => who_is_responsible(&api, agent, &out),
                Command::Audit(audit_args) => audit(&api, audit_args, &out),
                Command::Migration(MigrationCommand::Status) => status::print(&api, &out),
                Command::Migration(MigrationCommand::Report { html }) => {
                    status::write_report(&api, html, &out)
                }
                Command::Login(_) | Command::Logout => unreachable!("handled above"),
            }
        }
    }
}

/// The API as the configured caller: `AGENTID_TOKEN`, else a dev token for the saved local
/// user, asked of the local gateway now and never stored.
fn connect(cli: &Cli, config: &Config) -> Result<Api, CliError> {
    let api = Api::new(config.api_url(cli.api_url.as_deref())?, None);
    if let Some(token) = std::env::var(TOKEN_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(api.with_token(token.trim().to_owned()));
    }
    match &config.dev {
        Some(dev) => {
            let token = dev_token(&api, dev)?;
            Ok(api.with_token(token))
        }
        None => Err(CliError::Usage(format!(
            "not logged in: run `agentctl login --dev --user USER` against agentid-local, or set {TOKEN_VAR}"
        ))),
    }
}

fn dev_token(api: &Api, dev: &DevLogin) -> Result<String, CliError> {
    let body = json!({"sub": dev.user, "admin": dev.admin});
    match api.call(Method::Post, "/_local/token", Some(&body), None) {
        Ok(answer) => answer["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CliError::BadResponse("the local token has no \"token\"".into())),
        Err(CliError::Api { status: 404, .. }) => Err(CliError::Usage(format!(
            "{} gives no dev tokens (only agentid-local does): set {TOKEN_VAR} instead",
            api.base()
        ))),
        Err(err) => Err(err),
    }
}

fn login(
    cli: &Cli,
    config: &Config,
    path: &std::path::Path,
    login_args: &LoginArgs,
    out: &Out,
) -> Result<(), CliError> {
    let api_url = config.api_url(cli.api_url.as_deref())?;
    let mut saved = config.clone();
    if cli.api_url.is_some() {
        saved.api_url = Some(api_url.clone());
    }
    if login_args.dev {
        let user = login_args.user.as_deref().unwrap_or_default();
        UserId::parse(user).map_err(|e| CliError::Usage(format!("--user: {e}")))?;
        let dev = DevLogin {
            user: user.to_owned(),
            admin: login_args.admin,
        };
        // Proves the gateway answers and issues tokens before anything is saved.
        dev_token(&Api::new(api_url.clone(), None), &dev)?;
        saved.dev = Some(dev);
        saved.save(path)?;
        let role = if login_args.admin {
            " (administrator)"
        } else {
            ""
        };
        out.line(&format!(
            "acting as {user}{role} against {api_url}; saved to {}",
            path.display()
        ));
        return Ok(());
    }
    if std::env::var(TOKEN_VAR).is_ok_and(|t| !t.trim().is_empty()) {
        saved.dev = None;
        saved.save(path)?;
        out.line(&format!(
            "using {TOKEN_VAR} from the environment against {api_url}; saved the URL to {}",
            path.display()
        ));
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "give --dev --user USER for agentid-local, or set {TOKEN_VAR} to a JWT for the deployed API"
    )))
}

fn logout(config: &Config, path: &std::path::Path, out: &Out) -> Result<(), CliError> {
    let mut saved = config.clone();
    saved.dev = None;
    saved.save(path)?;
    out.line("logged out");
    Ok(())
}

fn users_command(api: &Api, command: &UsersCommand, out: &Out) -> Result<(), CliError> {
    match command {
        UsersCommand::Put {
            user,
            email,
            scopes,
            admin,
        } => {
            let body = json!({"email": email, "scopes": scopes, "admin": admin});
            let answer = api.call(
                Method::Put,
                &format!("/v1/users/{}", encode(user)),
                Some(&body),
                None,
            )?;
            out.answer(&answer, |out| {
                let u = &answer["user"];
                out.line(&format!(
                    "user {} <{}>: {}, scopes {}{}",
                    text(&u["userId"]),
                    text(&u["email"]),
                    text(&u["status"]),
                    join(&u["scopes"]),
                    if u["admin"] == true {
                        ", administrator"
                    } else {
                        ""
                    }
                ));
            });
        }
        UsersCommand::Offboard { user, reason } => {
            let body = match reason {
                Some(reason) => json!({"reason": reason}),
                None => json!({}),
            };
            let answer = api.call(
                Method::Post,
                &format!("/v1/users/{}/offboard", encode(user)),
                Some(&body),
                None,
            )?;
            out.answer(&answer, |out| {
                out.line(&format!(
                    "offboarded {user}: {} agents and {} credentials revoked",
                    count(&answer["revokedAgents"]),
                    count(&answer["revokedCredentials"])
                ));
            });
        }
    }
    Ok(())
}

fn sa_command(api: &Api, command: &SaCommand, out: &Out) -> Result<(), CliError> {
    match command {
        SaCommand::Import {
            file,
            dry_run,
            progress_file,
        } => import_inventory(api, file, *dry_run, progress_file.clone(), out),
        SaCommand::Owner {
            service_account,
            user,
            owner_of_record,
            note,
        } => {
            let mut body = json!({"ownerUserId": user, "ownerOfRecord": owner_of_record});
            if let Some(note) = note {
                body["note"] = json!(note);
            }
            let answer = api.call(
                Method::Put,
                &format!("/v1/service-accounts/{}/owner", encode(service_account)),
                Some(&body),
                None,
            )?;
            out.answer(&answer, |out| {
                let of_record = if answer["owner"]["ownerOfRecord"] == true {
                    " (owner of record)"
                } else {
                    ""
                };
                out.line(&format!(
                    "{service_account}: owner {}{of_record}; state {}",
                    text(&answer["owner"]["ownerUserId"]),
                    text(&answer["serviceAccount"]["migrationState"])
                ));
            });
            Ok(())
        }
        SaCommand::Migrate {
            service_account,
            dual_write_days,
        } => {
            let body = match dual_write_days {
                Some(days) => json!({"dualWriteDays": days}),
                None => json!({}),
            };
            let answer = api.call(
                Method::Post,
                &format!("/v1/service-accounts/{}/migrate", encode(service_account)),
                Some(&body),
                None,
            )?;
            out.answer(&answer, |out| {
                let agent = &answer["agent"];
                out.line(&format!(
                    "{service_account} → agent {} ({}) owned by {}",
                    text(&agent["agentId"]),
                    text(&agent["name"]),
                    text(&agent["ownerUserId"])
                ));
                out.line(&format!(
                    "dual-writing the audit log until {}",
                    when(&answer["serviceAccount"]["dualWriteUntil"])
                ));
                show_secret(&answer["credential"], out);
            });
            warn_secret(&answer["credential"]);
            Ok(())
        }
        SaCommand::Rollback { service_account } => {
            let answer = api.call(
                Method::Post,
                &format!("/v1/service-accounts/{}/rollback", encode(service_account)),
                None,
                None,
            )?;
            out.answer(&answer, |out| {
            out.line(&format!(
                "{service_account} rolled back to {}: agent {} revoked; the old credential still works",
                text(&answer["serviceAccount"]["migrationState"]),
                text(&answer["revokedAgentId"])
            ));
            });
            Ok(())
        }
    }
}

fn import_inventory(
    api: &Api,
    file: &std::path::Path,
    dry_run: bool,
    progress_file: Option<std::path::PathBuf>,
    out: &Out,
) -> Result<(), CliError> {
    let (rows, bad) = import::read(file)?;
    for row in &bad {
        eprintln!("{}:{}: {}", file.display(), row.line, row.reason);
    }
    let progress_path = progress_file.unwrap_or_else(|| Progress::default_path(file));
    let mut progress = Progress::load(progress_path)?;
    let (done, todo): (Vec<_>, Vec<_>) = rows.iter().partition(|r| progress.contains(r));
    if dry_run {
        if out.json() {
            out.print_json(&json!({
                "dryRun": true,
                "wouldApply": todo.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                "alreadyApplied": done.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                "refused": bad.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            }));
        } else {
            for row in &todo {
                let owner = row.owner.as_ref().map_or("no owner".to_owned(), |o| {
                    let of_record = if row.owner_of_record {
                        " (owner of record)"
                    } else {
                        ""
                    };
                    format!("owner {o}{of_record}")
                });
                out.line(&format!(
                    "would apply line {}: {} ({}, {owner}, {} integrations)",
                    row.line,
                    row.id,
                    serde_json::to_value(row.kind).map_or_else(|_| "-".into(), |k| text(&k)),
                    row.integrations.len()
                ));
            }
            out.line(&format!(
                "dry run: {} rows would be applied, {} already applied, {} refused; nothing written",
                todo.len(),
                done.len(),
                bad.len()
            ));
        }
        return refused(&bad);
    }
    if !done.is_empty() && !out.json() {
        out.line(&format!(
            "resuming: {} rows already applied (recorded in {})",
            done.len(),
            progress.path().display()
        ));
    }
    let bar = indicatif::ProgressBar::new(todo.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .expect("the template is valid"),
    );
    // Only on a terminal with enough rows to be worth a bar; the bar draws on stderr.
    if todo.len() < 20 || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut failed = Vec::new();
    let mut applied = Vec::new();
    for row in &todo {
        bar.set_message(row.id.to_string());
        match row.apply(api) {
            Ok(()) => {
                progress.record(row)?;
                applied.push(row.id.as_str());
            }
            // The server is gone: stop here; a re-run resumes from this row.
            Err(err @ CliError::Unreachable { .. }) => {
                bar.abandon();
                return Err(CliError::Rejected(format!(
                    "{err}; {} rows applied this run, re-run to resume",
                    applied.len()
                )));
            }
            Err(err) => {
                bar.suspend(|| eprintln!("{}:{}: {}: {err}", file.display(), row.line, row.id));
                failed.push((row.line, err.to_string()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if out.json() {
        out.print_json(&json!({
            "applied": applied,
            "alreadyApplied": done.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            "refused": bad.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect::<Vec<_>>(),
        }));
    } else {
        out.line(&format!(
            "imported {} rows ({} already applied, {} refused, {} failed)",
            applied.len(),
            done.len(),
            bad.len(),
            failed.len()
        ));
    }
    if !failed.is_empty() {
        return Err(CliError::Rejected(format!(
            "{} rows were refused by the API; fix them and re-run",
            failed.len()
        )));
    }
    refused(&bad)
}

fn refused(bad: &[import::BadRow]) -> Result<(), CliError> {
    if bad.is_empty() {
        Ok(())
    } else {
        Err(CliError::Rejected(format!(
            "{} rows refused (see above); nothing was written for them",
            bad.len()
        )))
    }
}

fn agents_command(api: &Api, command: &AgentsCommand, out: &Out) -> Result<(), CliError> {
    match command {
        AgentsCommand::Create {
            name,
            owner,
            scopes,
        } => {
            let mut body = json!({"name": name, "scopes": scopes});
            if let Some(owner) = owner {
                body["ownerUserId"] = json!(owner);
            }
            // A fresh key per invocation: a retry after a dropped connection creates nothing new.
            let key = format!("agentctl-{}", uuid::Uuid::new_v4().simple());
            let answer = api.call(Method::Post, "/v1/agents", Some(&body), Some(&key))?;
            out.answer(&answer, |out| {
                let agent = &answer["agent"];
                out.line(&format!(
                    "agent {} ({}) owned by {}, scopes {}",
                    text(&agent["agentId"]),
                    text(&agent["name"]),
                    text(&agent["ownerUserId"]),
                    join(&agent["scopes"])
                ));
                show_secret(&answer["credential"], out);
            });
            warn_secret(&answer["credential"]);
            Ok(())
        }
        AgentsCommand::List { owner } => {
            let mut items = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let mut path = format!("/v1/agents?limit={MAX_PAGE}");
                if let Some(owner) = owner {
                    path.push_str(&format!("&ownerUserId={}", encode(owner)));
                }
                if let Some(token) = &next {
                    path.push_str(&format!("&nextToken={}", encode(token)));
                }
                let page = api.get(&path)?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["nextToken"].as_str() {
                    Some(token) => next = Some(token.to_owned()),
                    None => break,
                }
            }
            if out.json() {
                out.print_json(&json!({"items": items}));
                return Ok(());
            }
            let mut table = Table::new(&[
                "AGENT",
                "NAME",
                "OWNER",
                "STATUS",
                "CREDENTIALS",
                "CREATED",
                "FROM",
            ]);
            for a in &items {
                table.row(
                    vec![
                        text(&a["agentId"]),
                        text(&a["name"]),
                        text(&a["ownerUserId"]),
                        text(&a["status"]),
                        count(&a["activeCredentialIds"]).to_string(),
                        when(&a["createdAt"]),
                        text(&a["migratedFromServiceAccountId"]),
                    ],
                    false,
                );
            }
            if table.is_empty() {
                out.line("no agents");
            } else {
                out.table(&table);
            }
            Ok(())
        }
        AgentsCommand::Rotate { agent, grace } => {
            let body = match grace {
                Some(grace) => json!({"graceSeconds": grace_seconds(grace)?}),
                None => json!({}),
            };
            let key = format!("agentctl-{}", uuid::Uuid::new_v4().simple());
            let answer = api.call(
                Method::Post,
                &format!("/v1/agents/{}/credentials", encode(agent)),
                Some(&body),
                Some(&key),
            )?;
            out.answer(&answer, |out| {
                out.line(&format!(
                    "{agent}: new credential; {} other credentials expire at {}",
                    count(&answer["expiring"]),
                    when(&answer["graceUntil"])
                ));
                show_secret(&answer["credential"], out);
            });
            warn_secret(&answer["credential"]);
            Ok(())
        }
        AgentsCommand::Revoke { agent } => {
            let answer = api.call(
                Method::Delete,
                &format!("/v1/agents/{}", encode(agent)),
                None,
                None,
            )?;
            out.answer(&answer, |out| {
                out.line(&format!(
                    "{agent}: {}; {} credentials revoked",
                    text(&answer["agent"]["status"]),
                    count(&answer["revokedCredentials"])
                ));
            });
            Ok(())
        }
        AgentsCommand::Transfer { agent, to } => {
            let answer = api.call(
                Method::Post,
                &format!("/v1/agents/{}/transfer", encode(agent)),
                Some(&json!({"newOwnerUserId": to})),
                None,
            )?;
            out.answer(&answer, |out| {
                out.line(&format!(
                    "{agent} now belongs to {} (was {})",
                    text(&answer["agent"]["ownerUserId"]),
                    text(&answer["previousOwnerUserId"])
                ));
            });
            Ok(())
        }
    }
}

fn who_is_responsible(api: &Api, agent: &str, out: &Out) -> Result<(), CliError> {
    let answer = api.get(&format!("/v1/agents/{}/accountable", encode(agent)))?;
    out.answer(&answer, |out| {
        out.line(&format!(
            "{} → {} <{}> ({})",
            text(&answer["agentId"]),
            text(&answer["ownerUserId"]),
            text(&answer["email"]),
            text(&answer["ownerStatus"])
        ));
    });
    Ok(())
}

fn audit(api: &Api, args: &AuditArgs, out: &Out) -> Result<(), CliError> {
    let mut query = match (&args.owner, &args.actor, &args.service_account) {
        (Some(owner), _, _) => format!("accountablePrincipalId={}", encode(owner)),
        (_, Some(actor), _) => {
            let mut q = format!("actorId={}", encode(actor));
            if let Some(kind) = &args.actor_type {
                q.push_str(&format!("&actorType={}", encode(kind)));
            }
            q
        }
        (_, _, Some(sa)) => format!("serviceAccountId={}", encode(sa)),
        _ => unreachable!("clap requires one selector"),
    };
    for (name, value) in [("since", &args.since), ("until", &args.until)] {
        if let Some(value) = value {
            query.push_str(&format!("&{name}={}", encode(value)));
        }
    }
    let limit = args.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    let mut events: Vec<Value> = Vec::new();
    let mut next: Option<String> = None;
    let mut more = false;
    while events.len() < limit {
        let mut path = format!(
            "/v1/audit-events?{query}&limit={}",
            (limit - events.len()).min(MAX_PAGE)
        );
        if let Some(token) = &next {
            path.push_str(&format!("&nextToken={}", encode(token)));
        }
        let page = api.get(&path)?;
        events.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
        more = true;
    }
    events.truncate(limit);
    let truncated = more && next.is_some() && events.len() == limit;
    if out.json() {
        out.print_json(&json!({"items": events, "more": truncated}));
        return Ok(());
    }
    let mut table = Table::new(&[
        "OCCURRED",
        "ACTOR",
        "ACCOUNTABLE",
        "ACTION",
        "RESOURCE",
        "OUTCOME",
        "LEGACY ACCOUNT",
    ]);
    for e in &events {
        table.row(
            vec![
                when(&e["occurredAt"]),
                format!("{}:{}", text(&e["actorType"]), text(&e["actorId"])),
                text(&e["accountablePrincipalId"]),
                text(&e["action"]),
                text(&e["resource"]),
                text(&e["outcome"]),
                text(&e["legacyServiceAccountId"]),
            ],
            e["outcome"] != "success",
        );
    }
    if table.is_empty() {
        out.line("no events");
    } else {
        out.table(&table);
    }
    if truncated {
        out.line(&format!("(first {limit} events; --limit N for more)"));
    }
    Ok(())
}

/// `0`, `3600`, `90m`, `24h`, `7d` as seconds.
fn grace_seconds(text: &str) -> Result<u64, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--grace {text:?}: give seconds or a duration such as 90m, 24h, 7d"
        ))
    };
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let amount: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    amount.checked_mul(scale).ok_or_else(bad)
}

/// Prints a minted credential and its secret: the only time it is ever shown.
fn show_secret(credential: &Value, out: &Out) {
    out.line(&format!("credential {}", text(&credential["credentialId"])));
    if let Some(secret) = credential["secret"].as_str() {
        out.line(&format!("secret: {secret}"));
    }
}

fn warn_secret(credential: &Value) {
    if credential["secret"].is_string() {
        output::warn("the secret above is shown once and cannot be retrieved again: store it now");
    } else if credential["secretAlreadyReturned"] == true {
        output::warn(
            "the credential was created by an earlier attempt whose answer was lost, so its secret cannot be shown; rotate the agent for a new one",
        );
    }
}

fn join(list: &Value) -> String {
    match list.as_array() {
        Some(items) if !items.is_empty() => items.iter().map(text).collect::<Vec<_>>().join(" "),
        _ => "(none)".to_owned(),
    }
}

fn count(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_read_as_seconds() {
        assert_eq!(grace_seconds("0").unwrap(), 0);
        assert_eq!(grace_seconds("3600").unwrap(), 3600);
        assert_eq!(grace_seconds("90m").unwrap(), 5400);
        assert_eq!(grace_seconds("24h").unwrap(), 86_400);
        assert_eq!(grace_seconds("7d").unwrap(), 604_800);
        for bad in ["", "h", "-1", "1w", "1.5h", "99999999999999999999d"] {
            assert!(grace_seconds(bad).is_err(), "{bad} accepted");
        }
    }
}
