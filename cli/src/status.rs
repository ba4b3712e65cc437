//! `migration status` and `migration report`: the migration's state per account, from
//! `GET /v1/migration`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::client::Api;
use crate::error::CliError;
use crate::output::{sparkline, text, when, Out, Table};

/// The states an account passes through, in order.
const STATES: [&str; 5] = [
    "inventoried",
    "owner_assigned",
    "dual_writing",
    "awaiting_quiet",
    "revoked",
];

/// Why an account needs attention now, if it does.
pub(crate) fn overdue(account: &Value, now: DateTime<Utc>) -> Option<&'static str> {
    let past = |field: &str| {
        account[field]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t <= now)
    };
    let state = account["state"].as_str().unwrap_or_default();
    if account["overdueDualWrite"] == true {
        Some("dual-write past its window")
    } else if state != "revoked" && past("revokeEligibleAt") {
        Some("quiet, revocation due")
    } else if state == "revoked" && past("purgeAt") {
        Some("purge due")
    } else {
        None
    }
}

/// The legacy credential's daily use, oldest first.
fn daily_counts(account: &Value) -> Vec<u64> {
    account["legacyCredential"]["dailyUsage"]
        .as_array()
        .map(|days| {
            days.iter()
                .map(|d| d["count"].as_u64().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default()
}

fn owner_cell(account: &Value) -> String {
    match account["owner"]["ownerUserId"].as_str() {
        Some(owner) if account["owner"]["ownerOfRecord"] == true => format!("{owner} (of record)"),
        Some(owner) => owner.to_owned(),
        None => "-".to_owned(),
    }
}

fn as_of(overview: &Value) -> DateTime<Utc> {
    overview["asOf"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// `migration status`.
pub(crate) fn print(api: &Api, out: &Out) -> Result<(), CliError> {
    let overview = api.get("/v1/migration")?;
    if out.json() {
        out.print_json(&overview);
        return Ok(());
    }
    let now = as_of(&overview);
    let mut table = Table::new(&[
        "ACCOUNT",
        "STATE",
        "OWNER",
        "LEGACY USE 14d",
        "QUIET SINCE",
        "REVOKE",
        "PURGE",
        "ATTENTION",
    ]);
    let accounts = overview["accounts"].as_array().cloned().unwrap_or_default();
    for account in &accounts {
        let revoke = if account["revokedAt"].is_string() {
            format!("{} (done)", when(&account["revokedAt"]))
        } else {
            when(&account["revokeEligibleAt"])
        };
        let attention = overdue(account, now);
        let usage = if account["legacyCredential"].is_object() {
            sparkline(&daily_counts(account))
        } else {
            "(no legacy credential)".to_owned()
        };
        table.row(
            vec![
                text(&account["serviceAccountId"]),
                text(&account["state"]),
                owner_cell(account),
                usage,
                when(&account["legacyCredential"]["quietSince"]),
                revoke,
                when(&account["purgeAt"]),
                attention.map_or(String::new(), |why| format!("OVERDUE: {why}")),
            ],
            attention.is_some(),
        );
    }
    let counts: Vec<String> = STATES
        .iter()
        .map(|s| format!("{s} {}", overview["counts"][s].as_u64().unwrap_or(0)))
        .collect();
    out.line(&format!(
        "cutover {} · {}",
        when(&overview["cutoverDate"]),
        counts.join(" · ")
    ));
    if table.is_empty() {
        out.line("no accounts in the migration yet: `agentctl sa import FILE`");
    } else {
        out.table(&table);
    }
    let of_record = overview["ownersOfRecord"].as_array().map_or(0, Vec::len);
    if of_record > 0 {
        out.line(&format!(
            "{of_record} accounts have an owner of record to revisit (see `--json` or the report)"
        ));
    }
    Ok(())
}

/// What the report's charts draw, computed here so the page only renders it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportData {
    as_of: String,
    cutover_date: Value,
    usage_days: Vec<String>,
    usage: Vec<UsageSeries>,
    state_days: Vec<String>,
    states: BTreeMap<&'static str, Vec<u64>>,
    owners_of_record: Vec<Value>,
    attention: Vec<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageSeries {
    service_account_id: String,
    counts: Vec<u64>,
}

fn day_of(value: &Value) -> Option<NaiveDate> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc).date_naive())
}

/// An account's state at the end of `day`, from the times it changed state. Accounts not yet
/// migrated are shown in their present state throughout: the API keeps no earlier history.
fn state_on(account: &Value, day: NaiveDate) -> &'static str {
    let reached = |field: &str| day_of(&account[field]).is_some_and(|d| d <= day);
    let present = account["state"].as_str().unwrap_or("inventoried");
    if reached("revokedAt") {
        "revoked"
    } else if reached("dualWriteEndedAt") {
        "awaiting_quiet"
    } else if reached("migratedAt") {
        "dual_writing"
    } else if account["migratedAt"].is_string() {
        "owner_assigned"
    } else {
        STATES
            .into_iter()
            .find(|s| *s == present)
            .unwrap_or("inventoried")
    }
}

/// The report's data from the migration overview.
pub(crate) fn report_data(overview: &Value) -> ReportData {
    let now = as_of(overview);
    let today = now.date_naive();
    let accounts = overview["accounts"].as_array().cloned().unwrap_or_default();
    let usage_days = accounts
        .iter()
        .find_map(|a| a["legacyCredential"]["dailyUsage"].as_array().cloned())
        .map(|days| days.iter().map(|d| text(&d["day"])).collect())
        .unwrap_or_default();
    let usage = accounts
        .iter()
        .filter(|a| a["legacyCredential"].is_object())
        .map(|a| UsageSeries {
            service_account_id: text(&a["serviceAccountId"]),
            counts: daily_counts(a),
        })
        .collect();
    // From the cutover (or two weeks back, if sooner) to today.
    let first = day_of(&overview["cutoverDate"])
        .unwrap_or(today)
        .min(today)
        .max(today - Days::new(60));
    let first = first.min(today - Days::new(13));
    let mut state_days = Vec::new();
    let mut states: BTreeMap<&'static str, Vec<u64>> =
        STATES.iter().map(|s| (*s, Vec::new())).collect();
    let mut day = first;
    while day <= today {
        state_days.push(day.format("%Y-%m-%d").to_string());
        for series in states.values_mut() {
            series.push(0);
        }
        for account in &accounts {
            if let Some(series) = states.get_mut(state_on(account, day)) {
                *series.last_mut().expect("pushed above") += 1;
            }
        }
        day = day + Days::new(1);
    }
    let attention = accounts
        .iter()
        .filter_map(|a| {
            overdue(a, now)
                .map(|why| json!({"serviceAccountId": a["serviceAccountId"], "why": why}))
        })
        .collect();
    ReportData {
        as_of: now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        cutover_date: overview["cutoverDate"].clone(),
        usage_days,
        usage,
        state_days,
        states,
        owners_of_record: overview["ownersOfRecord"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        attention,
    }
}

const REPORT_TEMPLATE: &str = include_str!("report.html");

/// The report page: the template with the data embedded, nothing fetched from elsewhere.
pub(crate) fn render_report(data: &ReportData) -> String {
    // `<` escaped so no value can close the script element.
    let json = serde_json::to_string(data)
        .expect("report data serializes")
        .replace('<', "\\u003c");
    REPORT_TEMPLATE.replace("/*REPORT_DATA*/null", &json)
}

/// `migration report --html FILE`.
pub(crate) fn write_report(api: &Api, path: &Path, out: &Out) -> Result<(), CliError> {
    let overview = api.get("/v1/migration")?;
    let data = report_data(&overview);
    std::fs::write(path, render_report(&data)).map_err(|e| CliError::io(path, e))?;
    if out.json() {
        out.print_json(
            &json!({"written": path.display().to_string(), "accounts": data.usage.len()}),
        );
    } else {
        out.line(&format!("wrote {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(
        state: &str,
        migrated: Option<&str>,
        ended: Option<&str>,
        revoked: Option<&str>,
    ) -> Value {
        json!({
            "serviceAccountId": format!("sa-{state}"),
            "state": state,
            "migratedAt": migrated,
            "dualWriteEndedAt": ended,
            "revokedAt": revoked,
            "legacyCredential": {"dailyUsage": [{"day": "2026-12-02", "count": 3}, {"day": "2026-12-03", "count": 0}]},
        })
    }

    #[test]
    fn an_accounts_past_state_follows_the_times_it_changed() {
        let a = account(
            "revoked",
            Some("2026-11-01T10:00:00.000Z"),
            Some("2026-11-08T10:00:00.000Z"),
            Some("2026-11-12T10:00:00.000Z"),
        );
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert_eq!(state_on(&a, day("2026-10-31")), "owner_assigned");
        assert_eq!(state_on(&a, day("2026-11-01")), "dual_writing");
        assert_eq!(state_on(&a, day("2026-11-09")), "awaiting_quiet");
        assert_eq!(state_on(&a, day("2026-11-12")), "revoked");
        let fresh = account("inventoried", None, None, None);
        assert_eq!(state_on(&fresh, day("2026-11-12")), "inventoried");
    }

    #[test]
    fn the_report_counts_every_account_on_every_day() {
        let overview = json!({
            "asOf": "2026-12-03T12:00:00.000Z",
            "cutoverDate": "2026-11-20T00:00:00.000Z",
            "accounts": [
                account("dual_writing", Some("2026-11-20T10:00:00.000Z"), None, None),
                account("owner_assigned", None, None, None),
            ],
            "ownersOfRecord": [{"serviceAccountId": "sa-x", "ownerUserId": "lead"}],
        });
        let data = report_data(&overview);
        assert_eq!(data.state_days.first().unwrap(), "2026-11-20");
        assert_eq!(data.state_days.last().unwrap(), "2026-12-03");
        for i in 0..data.state_days.len() {
            let total: u64 = data.states.values().map(|s| s[i]).sum();
            assert_eq!(total, 2, "day {i}");
        }
        assert_eq!(data.states["dual_writing"][0], 1);
        assert_eq!(data.usage.len(), 2);
        assert_eq!(data.usage[0].counts, [3, 0]);
        assert_eq!(data.usage_days, ["2026-12-02", "2026-12-03"]);
        let page = render_report(&data);
        assert!(!page.contains("/*REPORT_DATA*/"));
        assert!(page.contains("\"sa-dual_writing\""));
    }

    #[test]
    fn embedded_data_cannot_close_the_script() {
        let overview = json!({
            "asOf": "2026-12-03T12:00:00.000Z",
            "accounts": [{"serviceAccountId": "</script><script>alert(1)</script>", "state": "inventoried", "legacyCredential": {"dailyUsage": []}}],
        });
        let page = render_report(&report_data(&overview));
        assert!(!page.contains("</script><script>alert(1)"));
    }

    #[test]
    fn overdue_items_are_the_ones_the_sweep_should_have_acted_on() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            overdue(
                &json!({"state": "dual_writing", "overdueDualWrite": true}),
                now
            ),
            Some("dual-write past its window")
        );
        assert_eq!(
            overdue(
                &json!({"state": "awaiting_quiet", "revokeEligibleAt": "2026-12-01T00:00:00.000Z"}),
                now
            ),
            Some("quiet, revocation due")
        );
        assert_eq!(
            overdue(
                &json!({"state": "awaiting_quiet", "revokeEligibleAt": "2026-12-05T00:00:00.000Z"}),
                now
            ),
            None
        );
        assert_eq!(
            overdue(
                &json!({"state": "revoked", "purgeAt": "2026-12-02T00:00:00.000Z"}),
                now
            ),
            Some("purge due")
        );
    }
}
