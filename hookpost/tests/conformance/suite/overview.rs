//! The console's overview: accounts listed in id order across tenants, failed
//! requests found per account (and across all), and portal-link revocation
//! kept to the millisecond and moved forward by a later one.

use super::*;

pub async fn the_overview_lists_accounts_failures_and_revocations(store: Arc<dyn Store>) {
    let a = account(&store, "hp_over_a").await;
    let b = account(&store, "hp_over_b").await;
    let listed = store.list_accounts(None, 1000).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|s| s.id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in id order");
    assert!(ids.contains(&a.id) && ids.contains(&b.id));
    let after_a = store.list_accounts(Some(&a.id), 1000).await.unwrap();
    assert!(after_a.iter().all(|s| s.id > a.id) && after_a.iter().any(|s| s.id == b.id));
    assert_eq!(
        listed.iter().find(|s| s.id == a.id).unwrap().name,
        "conformance"
    );

    let e = event(&a, None, Duration::from_secs(30));
    publish_one(&store, e.clone()).await;
    store.claim_due("node-a", 10).await.unwrap();
    let retry_at = Utc::now() + Span::minutes(5);
    store
        .record_attempt(
            report(&e.id, 1, NextState::RetryAt(retry_at, 1)),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    let since = Utc::now() - Span::hours(1);
    let of_a = store.recent_failures(Some(&a.id), since, 10).await.unwrap();
    assert_eq!(of_a.len(), 1, "{of_a:?}");
    let failure = &of_a[0];
    assert_eq!(
        (failure.account_id.as_str(), failure.event_id.as_str()),
        (a.id.as_str(), e.id.as_str())
    );
    assert_eq!(
        (failure.attempt, failure.http_status, failure.leg.as_str()),
        (1, Some(500), "primary")
    );
    assert!(!failure.error.is_empty());
    assert!(store
        .recent_failures(Some(&b.id), since, 10)
        .await
        .unwrap()
        .is_empty());
    let all = store.recent_failures(None, since, 10).await.unwrap();
    assert!(all.iter().any(|f| f.event_id == e.id));
    let later = Utc::now() + Span::hours(1);
    assert!(
        store
            .recent_failures(Some(&a.id), later, 10)
            .await
            .unwrap()
            .is_empty(),
        "older events are left out"
    );

    assert_eq!(store.portal_links_revoked_at(&a.id).await.unwrap(), None);
    let at = Utc::now();
    store.revoke_portal_links(&a.id, at).await.unwrap();
    let kept = store.portal_links_revoked_at(&a.id).await.unwrap().unwrap();
    assert_eq!(kept.timestamp_millis(), at.timestamp_millis());
    let again = at + Span::seconds(3);
    store.revoke_portal_links(&a.id, again).await.unwrap();
    let moved = store.portal_links_revoked_at(&a.id).await.unwrap().unwrap();
    assert_eq!(moved.timestamp_millis(), again.timestamp_millis());
    assert_eq!(store.portal_links_revoked_at(&b.id).await.unwrap(), None);
}
