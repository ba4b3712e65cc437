//! `sa import`: an inventory of service accounts, checked row by row before anything is
//! written, applied idempotently, and resumable.
//!
//! Every row is parsed into the domain's own types, so a row the API would refuse is refused
//! here with its line number and reason, and nothing is written for it. Each applied row is
//! appended to a progress file (its id and a digest of its content), so a re-run skips what
//! was applied and re-applies a row whose content changed.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use agentid::credential::LegacySecret;
use agentid::ids::{ServiceAccountId, UserId};
use agentid::model::{Integration, IntegrationKind, ServiceAccountKind};
use agentid::values::{Name, Note, Resource, ScopeSet};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::client::{encode, Api, Method};
use crate::error::CliError;

/// One account of the inventory, in the API's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InventoryRow {
    /// Where the row is in the file (1-based).
    #[serde(skip)]
    pub line: usize,
    pub id: ServiceAccountId,
    pub name: Name,
    pub kind: ServiceAccountKind,
    pub integrations: Vec<Integration>,
    pub integrations_reviewed: bool,
    pub scopes: ScopeSet,
    pub owner: Option<UserId>,
    pub owner_of_record: bool,
    pub note: Option<Note>,
    /// The environment variable holding the account's current secret, so the old credential's
    /// use can be counted; the name is part of the row, the secret never is.
    pub legacy_secret_env: Option<String>,
    #[serde(skip)]
    legacy_secret: Option<Redacted>,
}

/// A secret read from the environment: sent once to the API, never printed.
#[derive(Clone, PartialEq, Eq)]
struct Redacted(String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A row that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRow {
    /// Where it is in the file (1-based).
    pub line: usize,
    /// Why it was refused.
    pub reason: String,
}

/// A row's line and the row, or why it could not even be read.
type NumberedRow = (usize, Result<RawRow, String>);

/// A row as written in the file, before its values are checked.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRow {
    id: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    integrations: RawIntegrations,
    integrations_reviewed: Option<Flag>,
    #[serde(default)]
    scopes: RawList,
    owner: Option<String>,
    owner_of_record: Option<Flag>,
    note: Option<String>,
    legacy_secret_env: Option<String>,
}

/// Integrations: CSV's `kind:location;...` text, or JSON's list of objects.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum RawIntegrations {
    #[default]
    Absent,
    Text(String),
    List(Vec<Value>),
}

/// Scopes: CSV's space-separated text, or a JSON list.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum RawList {
    #[default]
    Absent,
    Text(String),
    List(Vec<String>),
}

/// A yes/no cell: JSON's boolean, or CSV's `true`/`false`/`yes`/`no`/empty.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn parse(flag: Option<Flag>, column: &str) -> Result<bool, String> {
        match flag {
            None => Ok(false),
            Some(Flag::Bool(b)) => Ok(b),
            Some(Flag::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
                "" | "false" | "no" | "0" => Ok(false),
                "true" | "yes" | "1" => Ok(true),
                other => Err(format!("{column}: {other:?} is not true or false")),
            },
        }
    }
}

/// Reads an inventory: `.csv`, or `.json` (an array of objects, or one object per line).
pub(crate) fn read(path: &Path) -> Result<(Vec<InventoryRow>, Vec<BadRow>), CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    let raw = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => csv_rows(&text, path)?,
        Some(ext) if ext.eq_ignore_ascii_case("json") || ext.eq_ignore_ascii_case("jsonl") => {
            json_rows(&text, path)?
        }
        _ => {
            return Err(CliError::Usage(format!(
                "{}: an inventory is a .csv or .json file",
                path.display()
            )))
        }
    };
    Ok(check(raw))
}

/// Parsed rows and refused rows, with duplicates refused after their first occurrence.
fn check(raw: Vec<NumberedRow>) -> (Vec<InventoryRow>, Vec<BadRow>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<ServiceAccountId, usize> = HashMap::new();
    for (line, row) in raw {
        match row.and_then(|r| parse_row(line, r)) {
            Ok(row) => match seen.get(&row.id) {
                Some(first) => bad.push(BadRow {
                    line,
                    reason: format!("id {}: already on line {first}", row.id),
                }),
                None => {
                    seen.insert(row.id.clone(), line);
                    good.push(row);
                }
            },
            Err(reason) => bad.push(BadRow { line, reason }),
        }
    }
    (good, bad)
}

fn csv_rows(text: &str, path: &Path) -> Result<Vec<NumberedRow>, CliError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?
        .clone();
    for column in headers.iter() {
        if !COLUMNS.contains(&column) {
            return Err(CliError::Usage(format!(
                "{}: unknown column {column:?} (columns: {})",
                path.display(),
                COLUMNS.join(", ")
            )));
        }
    }
    for required in ["id", "name", "kind"] {
        if !headers.iter().any(|h| h == required) {
            return Err(CliError::Usage(format!(
                "{}: the header has no {required:?} column (found: {})",
                path.display(),
                headers.iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let (line, row) = match record {
            Ok(record) => {
                let line = record.position().map_or(index + 2, |p| p.line() as usize);
                let row = record
                    .deserialize::<CsvRow>(Some(&headers))
                    .map_err(|e| csv_reason(&e))
                    .map(RawRow::from);
                (line, row)
            }
            Err(e) => {
                let line = e.position().map_or(index + 2, |p| p.line() as usize);
                (line, Err(csv_reason(&e)))
            }
        };
        rows.push((line, row));
    }
    Ok(rows)
}

/// The columns an inventory may have.
const COLUMNS: [&str; 10] = [
    "id",
    "name",
    "kind",
    "integrations",
    "integrationsReviewed",
    "scopes",
    "owner",
    "ownerOfRecord",
    "note",
    "legacySecretEnv",
];

/// A CSV row: every cell text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CsvRow {
    id: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    integrations: Option<String>,
    integrations_reviewed: Option<String>,
    scopes: Option<String>,
    owner: Option<String>,
    owner_of_record: Option<String>,
    note: Option<String>,
    legacy_secret_env: Option<String>,
}

impl From<CsvRow> for RawRow {
    fn from(row: CsvRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            kind: row.kind,
            integrations: row
                .integrations
                .map_or(RawIntegrations::Absent, RawIntegrations::Text),
            integrations_reviewed: row.integrations_reviewed.map(Flag::Text),
            scopes: row.scopes.map_or(RawList::Absent, RawList::Text),
            owner: row.owner,
            owner_of_record: row.owner_of_record.map(Flag::Text),
            note: row.note,
            legacy_secret_env: row.legacy_secret_env,
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} cells where the header has {expected_len}")
        }
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        _ => e.to_string(),
    }
}

fn json_rows(text: &str, path: &Path) -> Result<Vec<NumberedRow>, CliError> {
    let bad_file = |e: serde_json::Error| {
        CliError::Usage(format!(
            "{}: not JSON: {e} (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        ))
    };
    let items: Vec<(usize, Value)> = if text.trim_start().starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(text).map_err(bad_file)?;
        let lines = array_item_lines(text);
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (lines.get(i).copied().unwrap_or(1), v))
            .collect()
    } else {
        let mut items = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                items.push((i + 1, serde_json::from_str(line).map_err(bad_file)?));
            }
        }
        items
    };
    Ok(items
        .into_iter()
        .map(|(line, value)| {
            let row = serde_json::from_value::<RawRow>(value).map_err(|e| e.to_string());
            (line, row)
        })
        .collect())
}

/// The line on which each element of a top-level JSON array starts.
fn array_item_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let (mut line, mut depth) = (1usize, 0usize);
    let (mut in_string, mut escaped, mut expecting) = (false, false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if expecting && !c.is_whitespace() && c != ']' {
            lines.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    lines
}

fn required(value: Option<String>, column: &str) -> Result<String, String> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{column}: missing"))
}

fn optional(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn parse_row(line: usize, raw: RawRow) -> Result<InventoryRow, String> {
    let id =
        ServiceAccountId::parse(required(raw.id, "id")?.trim()).map_err(|e| format!("id: {e}"))?;
    let name = Name::parse(required(raw.name, "name")?).map_err(|e| format!("name: {e}"))?;
    let kind = match required(raw.kind, "kind")?.trim() {
        "migrate" => ServiceAccountKind::Migrate,
        "org_owned" => ServiceAccountKind::OrgOwned,
        other => return Err(format!("kind: {other:?} is not migrate or org_owned")),
    };
    let integrations = parse_integrations(raw.integrations)?;
    let scopes = match raw.scopes {
        RawList::Absent => ScopeSet::parse(Vec::<String>::new()),
        RawList::Text(t) => ScopeSet::parse(t.split_whitespace().map(str::to_owned)),
        RawList::List(l) => ScopeSet::parse(l),
    }
    .map_err(|e| format!("scopes: {e}"))?;
    let owner = optional(raw.owner)
        .map(|o| UserId::parse(o.trim()).map_err(|e| format!("owner: {e}")))
        .transpose()?;
    let owner_of_record = Flag::parse(raw.owner_of_record, "ownerOfRecord")?;
    if owner_of_record && owner.is_none() {
        return Err("ownerOfRecord: true, but no owner is named".to_owned());
    }
    let note = optional(raw.note)
        .map(|n| Note::parse(n).map_err(|e| format!("note: {e}")))
        .transpose()?;
    if note.is_some() && owner.is_none() {
        return Err("note: it annotates the owner, but no owner is named".to_owned());
    }
    let legacy_secret_env = optional(raw.legacy_secret_env).map(|v| v.trim().to_owned());
    let legacy_secret = match &legacy_secret_env {
        Some(var) => {
            let secret = std::env::var(var)
                .map_err(|_| format!("legacySecretEnv: {var} is not set in the environment"))?;
            LegacySecret::parse(&secret).map_err(|e| format!("legacySecretEnv: {var}: {e}"))?;
            Some(Redacted(secret))
        }
        None => None,
    };
    Ok(InventoryRow {
        line,
        id,
        name,
        kind,
        integrations,
        integrations_reviewed: Flag::parse(raw.integrations_reviewed, "integrationsReviewed")?,
        scopes,
        owner,
        owner_of_record,
        note,
        legacy_secret_env,
        legacy_secret,
    })
}

fn parse_integrations(raw: RawIntegrations) -> Result<Vec<Integration>, String> {
    match raw {
        RawIntegrations::Absent => Ok(Vec::new()),
        RawIntegrations::List(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                serde_json::from_value::<Integration>(item)
                    .map_err(|e| format!("integrations[{i}]: {e}"))
            })
            .collect(),
        RawIntegrations::Text(text) => text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (kind, location) = part.split_once(':').ok_or_else(|| {
                    format!("integrations: {part:?} is not kind:location (e.g. ci:github:org/repo)")
                })?;
                let kind = match kind.trim() {
                    "ci" => IntegrationKind::Ci,
                    "cron" => IntegrationKind::Cron,
                    "vendor" => IntegrationKind::Vendor,
                    "other" => IntegrationKind::Other,
                    other => {
                        return Err(format!(
                            "integrations: kind {other:?} is not ci, cron, vendor or other"
                        ))
                    }
                };
                let location = Resource::parse(location.trim())
                    .map_err(|e| format!("integrations: {location:?}: {e}"))?;
                Ok(Integration {
                    kind,
                    location,
                    note: None,
                })
            })
            .collect(),
    }
}

impl InventoryRow {
    /// A digest of everything the row asks for: a changed row is applied again.
    pub(crate) fn digest(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("rows serialize");
        Sha256::digest(&canonical)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `PUT /v1/service-accounts/{id}`, then its owner if it names one.
    pub(crate) fn apply(&self, api: &Api) -> Result<(), CliError> {
        let path = format!("/v1/service-accounts/{}", encode(self.id.as_str()));
        let mut body = json!({
            "name": self.name,
            "kind": self.kind,
            "integrations": self.integrations,
            "integrationsReviewed": self.integrations_reviewed,
            "scopes": self.scopes,
        });
        if let Some(Redacted(secret)) = &self.legacy_secret {
            body["legacySecret"] = json!(secret);
        }
        api.call(Method::Put, &path, Some(&body), None)?;
        if let Some(owner) = &self.owner {
            let mut body = json!({"ownerUserId": owner, "ownerOfRecord": self.owner_of_record});
            if let Some(note) = &self.note {
                body["note"] = json!(note);
            }
            api.call(Method::Put, &format!("{path}/owner"), Some(&body), None)?;
        }
        Ok(())
    }
}

/// The rows already applied from a file, remembered beside it.
pub(crate) struct Progress {
    path: PathBuf,
    applied: HashSet<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProgressLine {
    id: String,
    digest: String,
}

impl Progress {
    /// `FILE.progress` beside the inventory, unless another path is given.
    pub(crate) fn default_path(inventory: &Path) -> PathBuf {
        let mut name = inventory.as_os_str().to_owned();
        name.push(".progress");
        PathBuf::from(name)
    }

    /// What the progress file says was applied (nothing if there is no file).
    pub(crate) fn load(path: PathBuf) -> Result<Self, CliError> {
        let mut applied = HashSet::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                // A last line cut short by an interruption is dropped: its row is applied
                // again, which the API makes harmless.
                let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
                if complete.len() < text.len() {
                    std::fs::write(&path, complete).map_err(|e| CliError::io(&path, e))?;
                }
                for (i, line) in complete.lines().enumerate() {
                    let entry = serde_json::from_str::<ProgressLine>(line).map_err(|_| {
                        CliError::Usage(format!(
                            "{}: line {} is not a progress record; delete the file to start over",
                            path.display(),
                            i + 1
                        ))
                    })?;
                    applied.insert(entry.digest);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::io(&path, e)),
        }
        Ok(Self { path, applied })
    }

    /// Whether this row, with this content, was applied.
    pub(crate) fn contains(&self, row: &InventoryRow) -> bool {
        self.applied.contains(&row.digest())
    }

    /// Rows the file remembers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.applied.len()
    }

    /// Remembers an applied row, on disk before the next row starts.
    pub(crate) fn record(&mut self, row: &InventoryRow) -> Result<(), CliError> {
        let digest = row.digest();
        let line = serde_json::to_string(&ProgressLine {
            id: row.id.to_string(),
            digest: digest.clone(),
        })
        .expect("progress serializes");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| CliError::io(&self.path, e))?;
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .map_err(|e| CliError::io(&self.path, e))?;
        self.applied.insert(digest);
        Ok(())
    }

    /// The progress file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_csv(text: &str) -> (Vec<InventoryRow>, Vec<BadRow>) {
        check(csv_rows(text, Path::new("t.csv")).unwrap())
    }

    #[test]
    fn good_csv_rows_parse_into_the_apis_values() {
        let (good, bad) = from_csv(
            "id,name,kind,integrations,owner,ownerOfRecord,integrationsReviewed,scopes\n\
             sa-deploy,Deploy bot,migrate,ci:github:acme/api/deploy.yml;cron:ops-1/crontab,priya,false,true,repo:read repo:write\n\
             sa-nightly,Nightly cleanup,org_owned,,,,,\n",
        );
        assert_eq!(bad, []);
        assert_eq!(good.len(), 2);
        let deploy = &good[0];
        assert_eq!((deploy.line, deploy.id.as_str()), (2, "sa-deploy"));
        assert_eq!(deploy.integrations.len(), 2);
        assert_eq!(deploy.integrations[1].kind, IntegrationKind::Cron);
        assert!(deploy.integrations_reviewed);
        assert_eq!(deploy.owner.as_ref().unwrap().as_str(), "priya");
        assert_eq!(good[1].kind, ServiceAccountKind::OrgOwned);
        assert_eq!(good[1].owner, None);
    }

    #[test]
    fn bad_csv_rows_are_reported_with_their_line_and_reason() {
        let (good, bad) = from_csv(
            "id,name,kind,owner,ownerOfRecord\n\
             sa-ok,Fine,migrate,priya,false\n\
             sa bad,Spaces,migrate,priya,false\n\
             sa-kind,Kind,robot,priya,false\n\
             sa-ok,Again,migrate,priya,false\n\
             sa-oor,Shared,migrate,,true\n\
             sa-short,Short\n\
             sa-flag,Flag,migrate,priya,maybe\n",
        );
        assert_eq!(good.len(), 1);
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8]);
        let reason = |line| &bad.iter().find(|b| b.line == line).unwrap().reason;
        assert!(reason(3).starts_with("id:"), "{}", reason(3));
        assert!(reason(4).contains("robot"), "{}", reason(4));
        assert!(reason(5).contains("already on line 2"), "{}", reason(5));
        assert!(reason(6).contains("no owner"), "{}", reason(6));
        assert!(reason(7).contains("cells"), "{}", reason(7));
        assert!(reason(8).contains("maybe"), "{}", reason(8));
    }

    #[test]
    fn json_arrays_and_json_lines_report_the_line_each_item_starts_on() {
        let array = "[\n  {\"id\": \"sa-a\", \"name\": \"A\", \"kind\": \"migrate\"},\n  {\n    \"id\": \"sa-b\",\n    \"name\": \"\",\n    \"kind\": \"migrate\"\n  },\n  {\"id\": \"sa-c\", \"name\": \"C [x], {y}\", \"kind\": \"org_owned\", \"integrations\": [{\"kind\": \"vendor\", \"location\": \"stripe:acct\"}]}\n]\n";
        let (good, bad) = check(json_rows(array, Path::new("t.json")).unwrap());
        assert_eq!(good.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 8]);
        assert_eq!(good[1].integrations[0].kind, IntegrationKind::Vendor);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 3);
        assert!(bad[0].reason.starts_with("name:"), "{}", bad[0].reason);

        let lines = "{\"id\": \"sa-a\", \"name\": \"A\", \"kind\": \"migrate\"}\n\n{\"id\": \"sa-b\", \"name\": \"B\", \"kind\": \"migrate\", \"colour\": \"red\"}\n";
        let (good, bad) = check(json_rows(lines, Path::new("t.jsonl")).unwrap());
        assert_eq!(good.len(), 1);
        assert_eq!(bad[0].line, 3);
        assert!(bad[0].reason.contains("colour"), "{}", bad[0].reason);
    }

    #[test]
    fn a_legacy_secret_comes_from_the_named_variable_and_never_shows() {
        std::env::set_var("AGENTCTL_TEST_LEGACY", "legacy-secret-0123456789abcdef");
        let (good, bad) = from_csv(
            "id,name,kind,legacySecretEnv\n\
             sa-a,A,migrate,AGENTCTL_TEST_LEGACY\n\
             sa-b,B,migrate,AGENTCTL_TEST_UNSET\n",
        );
        assert_eq!(good.len(), 1);
        assert!(good[0].legacy_secret.is_some());
        let shown = format!("{:?}", good[0]);
        assert!(!shown.contains("legacy-secret-0123"), "{shown}");
        let digest_input = serde_json::to_string(&good[0]).unwrap();
        assert!(
            !digest_input.contains("legacy-secret-0123"),
            "{digest_input}"
        );
        assert_eq!(bad[0].line, 3);
        assert!(
            bad[0].reason.contains("AGENTCTL_TEST_UNSET"),
            "{}",
            bad[0].reason
        );
    }

    #[test]
    fn the_documented_example_inventory_is_valid() {
        std::env::set_var("LEGACY_DEPLOY_BOT", "example-legacy-secret-0001");
        std::env::set_var("LEGACY_PLATFORM", "example-legacy-secret-0002");
        let (good, bad) = from_csv(include_str!("../../docs/inventory.example.csv"));
        assert_eq!(bad, []);
        assert_eq!(good.len(), 4);
        assert!(good[2].owner_of_record && good[2].integrations.len() == 2);
        assert!(!good[3].integrations_reviewed);
    }

    #[test]
    fn a_rows_digest_changes_with_its_content_only() {
        let (rows, _) = from_csv("id,name,kind\nsa-a,A,migrate\nsa-a2,A,migrate\n");
        let mut moved = rows[0].clone();
        moved.line = 40;
        assert_eq!(moved.digest(), rows[0].digest());
        assert_ne!(rows[0].digest(), rows[1].digest());
    }

    #[test]
    fn progress_survives_a_reload_and_a_torn_last_line() {
        let dir = std::env::temp_dir().join(format!("agentctl-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("inv.csv.progress");
        let (rows, _) = from_csv("id,name,kind\nsa-a,A,migrate\nsa-b,B,migrate\n");
        let mut progress = Progress::load(path.clone()).unwrap();
        progress.record(&rows[0]).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(file, "{{\"id\": \"sa-b\", \"dig").unwrap();
        let mut reloaded = Progress::load(path.clone()).unwrap();
        assert!(reloaded.contains(&rows[0]));
        assert!(!reloaded.contains(&rows[1]));
        reloaded.record(&rows[1]).unwrap();
        let again = Progress::load(path.clone()).unwrap();
        assert!(again.contains(&rows[0]) && again.contains(&rows[1]));
        assert_eq!(again.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
