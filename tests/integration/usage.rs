use agentid::ids::{CredentialId, ServiceAccountId};
use agentid::model::UsageSubject;
use agentid::store::StoreError;
use agentid_integration::{at, spawn_app};
use chrono::NaiveDate;

#[tokio::test]
async fn usage_counts_per_day_and_keeps_the_latest_use() {
    let app = spawn_app().await;
    let cred = UsageSubject::Credential(CredentialId::generate());
    let account = UsageSubject::ServiceAccount(ServiceAccountId::parse("sa-7").unwrap());
    assert_eq!(app.store.last_use(&cred).await.unwrap(), None);

    app.store
        .increment_usage(&cred, 3, at("2026-05-01T09:00:00Z"))
        .await
        .unwrap();
    app.store
        .increment_usage(&cred, 2, at("2026-05-01T11:00:00Z"))
        .await
        .unwrap();
    // A late-arriving earlier use counts but does not move lastAt back.
    app.store
        .increment_usage(&cred, 1, at("2026-05-01T10:00:00Z"))
        .await
        .unwrap();
    app.store
        .increment_usage(&cred, 4, at("2026-05-03T08:00:00Z"))
        .await
        .unwrap();
    app.store
        .increment_usage(&account, 7, at("2026-05-02T08:00:00Z"))
        .await
        .unwrap();

    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
    let got = app.store.recent_usage(&cred, day(3), 3).await.unwrap();
    let summary: Vec<_> = got.iter().map(|u| (u.day, u.count, u.last_at)).collect();
    assert_eq!(
        summary,
        vec![
            (day(1), 6, at("2026-05-01T11:00:00Z")),
            (day(3), 4, at("2026-05-03T08:00:00Z")),
        ]
    );
    let window = app.store.recent_usage(&cred, day(2), 1).await.unwrap();
    assert!(
        window.is_empty(),
        "no use on day 2; other subjects do not leak in"
    );
    assert_eq!(
        app.store.last_use(&cred).await.unwrap(),
        Some(at("2026-05-03T08:00:00Z"))
    );
    assert_eq!(
        app.store.recent_usage(&account, day(3), 14).await.unwrap()[0].count,
        7
    );

    assert!(matches!(
        app.store
            .increment_usage(&cred, 0, at("2026-05-03T08:00:00Z"))
            .await,
        Err(StoreError::Validation(_))
    ));
    assert!(matches!(
        app.store.recent_usage(&cred, day(3), 0).await,
        Err(StoreError::Validation(_))
    ));
}
