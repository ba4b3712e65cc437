//! The scheduled sweep (steps 5 and 6 of the migration): closes cutover windows, revokes quiet
//! legacy credentials, purges after the buffer, expires rotated credentials past their grace,
//! and finishes any offboarding cascade that was interrupted.
//!
//! Its notion of "now" is the scheduled event's `time`, so it can be run at any date. Work lists
//! come from sparse index partitions (never a table scan), so its cost grows with candidates, not
//! with the table. Every change is conditional on the item being as read: re-running at the same
//! time does nothing new, and two sweeps at once perform each action once. Org-owned accounts are
//! never in a work list. A dry run (`{"dryRun": true}` in the event's detail) reports without
//! writing. At most `MAX_REVOCATIONS_PER_RUN` revocations happen per run; the rest wait for the
//! next. Every action is also an audit event whose actor is `system`/`sweep`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{Days, Duration, NaiveDate};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::ids::{AgentId, CredentialId, EventId, RequestId, ServiceAccountId};
use crate::model::{
    Actor, AuditEvent, MigrationState, Outcome, RevocationReason, ServiceAccount,
    ServiceAccountStatus, UsageSubject,
};
use crate::store::{PageRequest, Store, StoreError};
use crate::time::Timestamp;
use crate::values::{Action, Resource};

/// The sweep's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepConfig {
    /// Whole UTC days without use before a legacy credential is revoked (`QUIET_DAYS`).
    pub quiet_days: u32,
    /// Days between revocation and purge: the "did we forget anyone" buffer (`BUFFER_DAYS`).
    pub buffer_days: u32,
    /// Most revocations per run (`MAX_REVOCATIONS_PER_RUN`).
    pub max_revocations: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            quiet_days: 3,
            buffer_days: 7,
            max_revocations: 25,
        }
    }
}

impl SweepConfig {
    /// The defaults, overridden by `QUIET_DAYS`, `BUFFER_DAYS`, `MAX_REVOCATIONS_PER_RUN`.
    pub fn from_env() -> Self {
        let read = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let default = Self::default();
        Self {
            quiet_days: read("QUIET_DAYS").unwrap_or(default.quiet_days),
            buffer_days: read("BUFFER_DAYS").unwrap_or(default.buffer_days),
            max_revocations: read("MAX_REVOCATIONS_PER_RUN")
                .map(|n| n as usize)
                .unwrap_or(default.max_revocations),
        }
    }

    /// When a legacy credential last used (or migrated) at `quiet_since` may be revoked: after
    /// `quiet_days` whole UTC days with no use.
    pub fn revoke_eligible_at(&self, quiet_since: Timestamp) -> Timestamp {
        let day: NaiveDate = quiet_since
            .day()
            .checked_add_days(Days::new(1 + u64::from(self.quiet_days)))
            .unwrap_or(quiet_since.day());
        Timestamp::start_of_day(day)
    }

    /// Since when a legacy credential has been quiet: its last use or the migration, whichever
    /// is later (a use before the migration does not count against the new agent's window).
    pub fn quiet_since(
        last_used_at: Option<Timestamp>,
        migrated_at: Option<Timestamp>,
    ) -> Option<Timestamp> {
        match (last_used_at, migrated_at) {
            (Some(used), Some(migrated)) => Some(used.max(migrated)),
            (used, migrated) => used.or(migrated),
        }
    }

    /// When an account revoked at `revoked_at` is purged.
    pub fn purge_at(&self, revoked_at: Timestamp) -> Timestamp {
        revoked_at.plus(Duration::days(i64::from(self.buffer_days)))
    }
}

/// An account not yet quiet long enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotYetQuiet {
    /// The account.
    pub service_account_id: ServiceAccountId,
    /// The legacy credential's last use, if any since migration.
    pub last_used_at: Option<Timestamp>,
    /// When it becomes eligible, if it stays unused.
    pub eligible_at: Timestamp,
}

/// What one run did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// The run's "now".
    pub now: Option<Timestamp>,
    /// True when nothing was written.
    pub dry_run: bool,
    /// Cutover windows closed: dual-writing ended.
    pub dual_write_ended: Vec<ServiceAccountId>,
    /// Accounts still dual-writing past their window after this run.
    pub overdue_dual_writes: Vec<ServiceAccountId>,
    /// Legacy credentials revoked, their accounts deprecated.
    pub revoked_legacy: Vec<ServiceAccountId>,
    /// Quiet accounts left for the next run by the revocation cap.
    pub deferred_by_cap: Vec<ServiceAccountId>,
    /// Accounts whose legacy credential has been used too recently.
    pub not_yet_quiet: Vec<NotYetQuiet>,
    /// Accounts purged after the buffer.
    pub purged: Vec<ServiceAccountId>,
    /// Rotated credentials past their grace period, now expired.
    pub expired_credentials: Vec<CredentialId>,
    /// Agents of offboarded owners that were still active, now revoked.
    pub revoked_agents_of_offboarded_owners: Vec<AgentId>,
    /// Actions another writer performed first (a concurrent sweep, an admin).
    pub lost_races: usize,
}

impl SweepReport {
    /// Revocations counted against the cap.
    fn revocations(&self) -> usize {
        self.revoked_legacy.len() + self.revoked_agents_of_offboarded_owners.len()
    }
}

/// The sweep's state: built once at init.
#[derive(Debug, Clone)]
pub struct Sweep {
    store: Store,
    config: SweepConfig,
}

impl Sweep {
    /// A sweep over `store` with `config`.
    pub fn new(store: Store, config: SweepConfig) -> Self {
        Self { store, config }
    }

    /// Runs for an EventBridge scheduled event: "now" is its `time`; `detail.dryRun` asks for a
    /// report without writes.
    pub async fn handle(&self, event: EventBridgeEvent<Value>) -> Result<SweepReport, StoreError> {
        let now = event
            .time
            .map_or_else(Timestamp::now, Timestamp::from_datetime);
        let dry_run = event
            .detail
            .get("dryRun")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // Boxed: the whole run is one large future, and the runtime's service stack nests it.
        let report = Box::pin(self.run(now, dry_run)).await?;
        tracing::info!(report = %serde_json::to_string(&report).unwrap_or_default(), "sweep");
        Ok(report)
    }

    /// One run at `now`.
    pub async fn run(&self, now: Timestamp, dry_run: bool) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport {
            now: Some(now),
            dry_run,
            ..SweepReport::default()
        };
        self.end_windows(now, &mut report).await?;
        self.revoke_quiet(now, &mut report).await?;
        self.purge(now, &mut report).await?;
        self.expire_credentials(now, &mut report).await?;
        self.finish_offboarding(now, &mut report).await?;
        Ok(report)
    }

    async fn accounts_in(&self, state: MigrationState) -> Result<Vec<ServiceAccount>, StoreError> {
        let mut all = Vec::new();
        let mut page = PageRequest::new(100, None)?;
        loop {
            let got = self
                .store
                .list_service_accounts_by_state(state, &page)
                .await?;
            all.extend(got.items);
            match got.next {
                Some(next) => page = PageRequest::new(100, Some(next))?,
                None => return Ok(all),
            }
        }
    }

    async fn end_windows(
        &self,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        for sa in self.accounts_in(MigrationState::DualWriting).await? {
            if sa.dual_write_until.is_none_or(|until| until > now) {
                continue;
            }
            if report.dry_run {
                report.dual_write_ended.push(sa.service_account_id.clone());
                report.overdue_dual_writes.push(sa.service_account_id);
                continue;
            }
            let mut ended = sa.clone();
            ended.migration_state = MigrationState::AwaitingQuiet;
            ended.dual_write_ended_at = Some(now);
            ended.updated_at = now;
            match self
                .store
                .put_service_account(
                    &ended,
                    crate::store::Expect::UpdatedAtIn(sa.updated_at, MigrationState::DualWriting),
                )
                .await
            {
                Ok(()) => {
                    self.audit(
                        "migration.dual_write_ended",
                        &sa.service_account_id,
                        now,
                        json!({"dualWriteUntil": sa.dual_write_until}),
                    )
                    .await?;
                    report.dual_write_ended.push(sa.service_account_id);
                }
                Err(StoreError::ConditionFailed(_)) => report.lost_races += 1,
                Err(err) => {
                    tracing::warn!(error = %err, account = %sa.service_account_id, "could not end the dual-write");
                    report.overdue_dual_writes.push(sa.service_account_id);
                }
            }
        }
        Ok(())
    }

    async fn revoke_quiet(
        &self,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let mut candidates = self.accounts_in(MigrationState::AwaitingQuiet).await?;
        if report.dry_run {
            // Accounts whose window this run would have closed.
            for sa in self.accounts_in(MigrationState::DualWriting).await? {
                if report.dual_write_ended.contains(&sa.service_account_id) {
                    candidates.push(sa);
                }
            }
        }
        for sa in candidates {
            let last_used_at = match &sa.legacy_credential_id {
                Some(cred) => {
                    self.store
                        .last_use(&UsageSubject::Credential(cred.clone()))
                        .await?
                }
                None => None,
            };
            let quiet_since =
                SweepConfig::quiet_since(last_used_at, sa.migrated_at).unwrap_or(sa.updated_at);
            let eligible_at = self.config.revoke_eligible_at(quiet_since);
            if now < eligible_at {
                report.not_yet_quiet.push(NotYetQuiet {
                    service_account_id: sa.service_account_id,
                    last_used_at,
                    eligible_at,
                });
                continue;
            }
            if report.revocations() >= self.config.max_revocations {
                report.deferred_by_cap.push(sa.service_account_id);
                continue;
            }
            if report.dry_run {
                report.revoked_legacy.push(sa.service_account_id);
                continue;
            }
            let mut revoked = sa.clone();
            revoked.migration_state = MigrationState::Revoked;
            revoked.status = ServiceAccountStatus::Deprecated;
            revoked.revoked_at = Some(now);
            revoked.updated_at = now;
            match self.store.revoke_legacy(&revoked, sa.updated_at, now).await {
                Ok(()) => {
                    self.audit("service_account.revoke_legacy", &sa.service_account_id, now, json!({"credentialId": sa.legacy_credential_id, "lastUsedAt": last_used_at, "reason": RevocationReason::LegacyQuiet}))
                        .await?;
                    report.revoked_legacy.push(sa.service_account_id);
                }
                Err(StoreError::ConditionFailed(_)) => report.lost_races += 1,
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    async fn purge(&self, now: Timestamp, report: &mut SweepReport) -> Result<(), StoreError> {
        for sa in self.accounts_in(MigrationState::Revoked).await? {
            let Some(revoked_at) = sa.revoked_at else {
                continue;
            };
            if now < self.config.purge_at(revoked_at) {
                continue;
            }
            if report.dry_run {
                report.purged.push(sa.service_account_id);
                continue;
            }
            match self.store.purge_account(&sa).await {
                Ok(()) => {
                    self.audit(
                        "service_account.purge",
                        &sa.service_account_id,
                        now,
                        json!({"revokedAt": revoked_at}),
                    )
                    .await?;
                    report.purged.push(sa.service_account_id);
                }
                Err(StoreError::ConditionFailed(_)) => report.lost_races += 1,
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    async fn expire_credentials(
        &self,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let mut page = PageRequest::new(100, None)?;
        loop {
            let got = self.store.list_expiring_credentials(now, &page).await?;
            for cred in got.items {
                if cred.expires_at.is_none_or(|at| at > now) {
                    continue;
                }
                if report.dry_run {
                    report.expired_credentials.push(cred.credential_id);
                    continue;
                }
                match self.store.expire_credential(&cred, now).await {
                    Ok(()) => {
                        self.audit_resource(
                            "credential.expire",
                            format!("credential:{}", cred.credential_id),
                            cred.agent_id.as_ref(),
                            now,
                            json!({"expiresAt": cred.expires_at}),
                        )
                        .await?;
                        report.expired_credentials.push(cred.credential_id);
                    }
                    Err(StoreError::ConditionFailed(_)) => report.lost_races += 1,
                    Err(err) => return Err(err),
                }
            }
            match got.next {
                Some(next) => page = PageRequest::new(100, Some(next))?,
                None => return Ok(()),
            }
        }
    }

    async fn finish_offboarding(
        &self,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let mut page = PageRequest::new(100, None)?;
        loop {
            let got = self.store.list_offboarded_users(&page).await?;
            for (user, agents) in got.items {
                let mut remaining = agents.len();
                for agent in agents {
                    if report.revocations() >= self.config.max_revocations {
                        break;
                    }
                    if report.dry_run {
                        report.revoked_agents_of_offboarded_owners.push(agent);
                        continue;
                    }
                    match self
                        .store
                        .revoke_agent(&agent, RevocationReason::OwnerOffboarded, now)
                        .await
                    {
                        Ok(_) => {
                            remaining -= 1;
                            self.audit_resource("agent.revoke", format!("agent:{agent}"), Some(&agent), now, json!({"reason": RevocationReason::OwnerOffboarded, "owner": user.user_id}))
                                .await?;
                            report.revoked_agents_of_offboarded_owners.push(agent);
                        }
                        Err(StoreError::ConditionFailed(_) | StoreError::NotFound(_)) => {
                            report.lost_races += 1;
                        }
                        Err(err) => return Err(err),
                    }
                }
                if remaining == 0 && !report.dry_run {
                    match self.store.confirm_offboarded(&user).await {
                        Ok(()) | Err(StoreError::ConditionFailed(_)) => {}
                        Err(err) => return Err(err),
                    }
                }
            }
            match got.next {
                Some(next) => page = PageRequest::new(100, Some(next))?,
                None => return Ok(()),
            }
        }
    }

    async fn audit(
        &self,
        action: &str,
        account: &ServiceAccountId,
        now: Timestamp,
        details: Value,
    ) -> Result<(), StoreError> {
        self.audit_resource(
            action,
            format!("service_account:{account}"),
            None,
            now,
            details,
        )
        .await
    }

    /// Records a sweep action. Its id derives from the action, the resource and the run's time,
    /// so the same action at the same time is one event.
    async fn audit_resource(
        &self,
        action: &str,
        resource: String,
        agent: Option<&AgentId>,
        now: Timestamp,
        details: Value,
    ) -> Result<(), StoreError> {
        let namespace = Uuid::from_u128(0x8e1d_3c57_a04b_4f19_b2d6_6a90_e7c1_5f38);
        let request_id = RequestId::parse(format!(
            "sweep-{}",
            Uuid::new_v5(
                &namespace,
                format!("{action}\n{resource}\n{now}").as_bytes()
            )
            .simple()
        ))
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let event = AuditEvent {
            event_id: EventId::derive("system:sweep", &request_id),
            actor: Actor::system("sweep").map_err(|e| StoreError::Internal(e.to_string()))?,
            accountable_principal_id: None,
            agent_id: agent.cloned(),
            legacy_service_account_id: None,
            credential_id: None,
            action: Action::parse(action).map_err(|e| StoreError::Internal(e.to_string()))?,
            resource: Resource::parse(resource).map_err(|e| StoreError::Internal(e.to_string()))?,
            outcome: Outcome::Success,
            request_id,
            details: Some(details),
            occurred_at: now,
            received_at: Timestamp::now(),
        };
        self.store.put_audit_event(&event).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eligibility_counts_whole_quiet_utc_days() {
        let config = SweepConfig::default();
        // Last use on day 2 (any time): days 3, 4 and 5 are the quiet days; eligible on day 6.
        let used = Timestamp::parse("2026-01-03T23:59:59Z").unwrap();
        assert_eq!(
            config.revoke_eligible_at(used).to_string(),
            "2026-01-07T00:00:00.000Z"
        );
        let used = Timestamp::parse("2026-01-03T00:00:00Z").unwrap();
        assert_eq!(
            config.revoke_eligible_at(used).to_string(),
            "2026-01-07T00:00:00.000Z"
        );
        let revoked = Timestamp::parse("2026-01-10T12:00:00Z").unwrap();
        assert_eq!(
            config.purge_at(revoked).to_string(),
            "2026-01-17T12:00:00.000Z"
        );
    }

    #[test]
    fn the_scheduled_event_fixture_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/sweep-scheduled.json"
        ))
        .unwrap();
        let event: EventBridgeEvent<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            Timestamp::from_datetime(event.time.unwrap()).to_string(),
            "2026-12-03T10:00:00.000Z"
        );
        assert_eq!(
            event.detail.get("dryRun").and_then(Value::as_bool),
            Some(true)
        );
    }
}
