//! The command line: every command and flag, with help that teaches the migration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "Run the migration from org-owned service accounts to agent identities.";

const LONG_ABOUT: &str = "\
Run the migration from org-owned service accounts to agent identities, each belonging to one
owning human, so that every action an agent takes is attributable to a person with one lookup.

The six steps, in order (each is reversible until step 6 deletes the old credentials):

  1. Agents have a required, active owner. New automation starts as an agent:
       agentctl users put priya --email priya@example.com --scope repo:read
       agentctl agents create --name deploy-bot --owner priya
  2. Inventory the service accounts and assign owners; the shared bucket gets one owner of
     record (usually the team lead). Org-owned automation stays a service account:
       agentctl sa import inventory.csv --dry-run     then without --dry-run
       agentctl sa owner sa-shared --user lead --owner-of-record
  3. Issue a fresh credential per agent (never the old one), after the CI, cron and vendor
     places that hold the old credential are inventoried:
       agentctl sa migrate sa-deploy        prints the new secret once
  4. The audit log records both the agent and the old account during the cutover window
     (7 days by default); afterwards only the agent:
       agentctl audit --service-account sa-deploy --since 7d
  5. Owners switch their tooling to the new credential; watch the old one trend to zero:
       agentctl migration status
  6. After 3 quiet days the sweep revokes the old credential and deprecates the account;
     a week later it removes the owner map and the deprecated rows:
       agentctl migration report --html report.html

Who answers for an agent:   agentctl who-is-responsible AGENT
Everything an owner's agents did:   agentctl audit --owner priya --since 7d

Connection: --api-url, AGENTID_API_URL or the config file (default http://127.0.0.1:8080).
Caller: AGENTID_TOKEN (a JWT from your identity provider), else the local user saved by
`agentctl login --dev`. Tokens are never written to disk.

Exit codes: 0 ok, 1 error (the API refused, or could not be reached), 2 usage (a bad flag,
file or configuration), 3 not found.";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(name = "agentctl", version, about = ABOUT, long_about = LONG_ABOUT)]
pub(crate) struct Cli {
    /// The API's URL (default: the config file's, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "AGENTID_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// The config file.
    #[arg(long, global = true, env = "AGENTCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of a table (read commands).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Choose who to act as. Locally: --dev --user U [--admin]; in AWS set AGENTID_TOKEN.
    Login(LoginArgs),
    /// Forget the saved local user.
    Logout,
    /// The humans who own agents (step 1).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Service accounts: inventory, owners, migration and rollback (steps 2 and 3).
    #[command(subcommand, name = "sa")]
    ServiceAccounts(SaCommand),
    /// Agent identities and their credentials.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// The human accountable for an agent: one lookup.
    WhoIsResponsible {
        /// The agent id.
        agent: String,
    },
    /// Audit events of an owner, an actor or a service account (step 4).
    Audit(AuditArgs),
    /// Where the migration stands (steps 5 and 6).
    #[command(subcommand)]
    Migration(MigrationCommand),
}

/// `login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Use a dev token from the local gateway (`agentid-local`).
    #[arg(long, requires = "user")]
    pub dev: bool,
    /// With --dev: the user id to act as.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// With --dev: act as an administrator.
    #[arg(long, requires = "dev")]
    pub admin: bool,
}

/// `users ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Create or update a user (admin).
    Put {
        /// The user id.
        user: String,
        /// Their email address.
        #[arg(long)]
        email: String,
        /// A scope they hold (repeatable); their agents can never exceed them.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Make them an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Offboard a user: their agents and credentials are revoked (admin).
    Offboard {
        /// The user id.
        user: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `sa ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SaCommand {
    /// Import an inventory (CSV or JSON): every row is checked before any is written.
    ///
    /// Columns (CSV header, or JSON fields): id, name, kind (migrate | org_owned),
    /// integrations, owner, ownerOfRecord, and optionally integrationsReviewed, scopes, note,
    /// legacySecretEnv (the name of an environment variable holding the account's current
    /// secret, so its use is counted; secrets never go in the file). In CSV, integrations are
    /// `kind:location` separated by `;` (kind: ci, cron, vendor, other) and scopes are
    /// separated by spaces. Re-running skips the rows already applied.
    Import {
        /// The inventory file (.csv or .json).
        file: PathBuf,
        /// Check every row and say what would be written, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where applied rows are remembered (default: FILE.progress beside the file).
        #[arg(long, value_name = "FILE")]
        progress_file: Option<PathBuf>,
    },
    /// Assign the human operationally responsible for an account.
    Owner {
        /// The service account id.
        service_account: String,
        /// The owner's user id.
        #[arg(long, value_name = "USER")]
        user: String,
        /// The account is shared; this owner answers for it as owner of record.
        #[arg(long)]
        owner_of_record: bool,
        /// A note for the audit log.
        #[arg(long)]
        note: Option<String>,
    },
    /// Replace an account with an agent of its owner, with a fresh credential shown once.
    Migrate {
        /// The service account id.
        service_account: String,
        /// Days the audit log records both identities (default 7).
        #[arg(long, value_name = "DAYS")]
        dual_write_days: Option<u32>,
    },
    /// Undo a migration while the old credential still works.
    Rollback {
        /// The service account id.
        service_account: String,
    },
}

/// `agents ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCommand {
    /// Create an agent with a required owner; its credential is shown once.
    Create {
        /// A display name.
        #[arg(long)]
        name: String,
        /// The owner (default: you).
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
        /// A scope (repeatable; at most the owner's).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// List agents (yours, or an owner's).
    List {
        /// The owner (default: you).
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
    },
    /// Mint a new credential; the others expire after the grace period.
    Rotate {
        /// The agent id.
        agent: String,
        /// How long the previous credential keeps working: 0, 90m, 24h, 7d (default 24h).
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
    },
    /// Revoke an agent and every credential it has.
    Revoke {
        /// The agent id.
        agent: String,
    },
    /// Give an agent to another owner (admin).
    Transfer {
        /// The agent id.
        agent: String,
        /// The new owner's user id.
        #[arg(long, value_name = "USER")]
        to: String,
    },
}

/// `audit`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("selector").required(true).args(["owner", "actor", "service_account"])))]
pub(crate) struct AuditArgs {
    /// Everything done on behalf of this human.
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
    /// Everything this actor did (an agent, a service account or a user id).
    #[arg(long, value_name = "ID")]
    pub actor: Option<String>,
    /// With --actor: agent, service_account or user.
    #[arg(long, value_name = "TYPE", requires = "actor")]
    pub actor_type: Option<String>,
    /// A service account's own events and those recorded for it during the cutover.
    #[arg(long, value_name = "ID")]
    pub service_account: Option<String>,
    /// From this long ago (30m, 24h, 7d) or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Until this long ago or this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many events (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `migration ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MigrationCommand {
    /// One row per account: state, owner, 14 days of legacy use, quiet since, revoke and purge.
    Status,
    /// Write a self-contained HTML report with charts.
    Report {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn audit_needs_exactly_one_selector() {
        assert!(Cli::try_parse_from(["agentctl", "audit"]).is_err());
        assert!(
            Cli::try_parse_from(["agentctl", "audit", "--owner", "a", "--actor", "b"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["agentctl", "audit", "--owner", "a", "--since", "7d"]).is_ok()
        );
    }
}
