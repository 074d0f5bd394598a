//! The data lifecycle: purges by outcome and time, deletions by id, and
//! resealing under a new master key.

use super::*;
use hookpost::storage::sealed::{self, Keyring, MasterKey, ResealPage};
use hookpost::storage::sql::SEALED_COLUMNS;

/// An event of `a` published and then finished as `next` after one attempt.
async fn finished(store: &Arc<dyn Store>, a: &Account, next: NextState) -> String {
    let e = event(a, None, Duration::from_secs(30));
    publish_one(store, e.clone()).await;
    store.claim_due("node-a", 100).await.unwrap();
    let recorded = store
        .record_attempt(report(&e.id, 1, next), &ControlPolicy::default())
        .await
        .unwrap();
    assert!(recorded);
    e.id
}

async fn exists(store: &Arc<dyn Store>, a: &Account, id: &str) -> bool {
    store.event(&a.id, id).await.unwrap().is_some()
}

pub async fn a_purge_takes_one_outcome_before_a_time_and_never_a_pending_event(
    store: Arc<dyn Store>,
) {
    let a = account(&store, "hp_purge_a").await;
    let b = account(&store, "hp_purge_b").await;
    let pending = event(&a, None, Duration::from_secs(30));
    publish_one(&store, pending.clone()).await;
    let delivered = finished(&store, &a, NextState::Delivered).await;
    let failed = finished(&store, &a, NextState::Failed).await;
    let never_sent = lost(&a);
    publish_one(&store, never_sent.clone()).await;
    let others = finished(&store, &b, NextState::Delivered).await;
    let later = Utc::now() + Span::seconds(1);

    let early = Utc::now() - Span::hours(1);
    let none = store
        .purge(&a.id, Outcome::Failed, early, 10)
        .await
        .unwrap();
    assert_eq!(
        none,
        Removed::default(),
        "nothing was published an hour ago"
    );
    let removed = store
        .purge(&a.id, Outcome::Delivered, later, 10)
        .await
        .unwrap();
    assert_eq!(
        removed,
        Removed {
            events: 1,
            deliveries: 1,
            attempts: 1
        }
    );
    assert!(!exists(&store, &a, &delivered).await);
    assert!(
        exists(&store, &a, &failed).await,
        "a delivered purge took a failed event"
    );
    let removed = store.purge(&a.id, Outcome::Other, later, 10).await.unwrap();
    assert_eq!(removed.events, 1);
    assert!(!exists(&store, &a, &never_sent.id).await);
    for outcome in Outcome::ALL {
        store.purge(&a.id, outcome, later, 10).await.unwrap();
    }
    assert!(!exists(&store, &a, &failed).await);
    assert!(
        exists(&store, &a, &pending.id).await,
        "a pending event was purged"
    );
    assert!(
        exists(&store, &b, &others).await,
        "another account's event was purged"
    );
}

pub async fn deleting_events_takes_only_the_accounts_own(store: Arc<dyn Store>) {
    let a = account(&store, "hp_del_a").await;
    let b = account(&store, "hp_del_b").await;
    let mine = finished(&store, &a, NextState::Delivered).await;
    let pending = event(&a, Some("k"), Duration::from_secs(30));
    publish_one(&store, pending.clone()).await;
    let foreign = store
        .delete_events(&b.id, std::slice::from_ref(&mine))
        .await
        .unwrap();
    assert_eq!(foreign, Removed::default());
    let ids = [
        mine.clone(),
        pending.id.clone(),
        "no-such-event".to_string(),
    ];
    let removed = store.delete_events(&a.id, &ids).await.unwrap();
    assert_eq!(removed.events, 2, "{removed:?}");
    assert!(!exists(&store, &a, &pending.id).await);
    let again = publish_one(&store, event(&a, Some("k"), Duration::from_secs(30))).await;
    assert_eq!(
        again,
        Published::Created,
        "the deleted event's key still counted"
    );
}

pub async fn resealing_moves_every_sealed_value_under_the_current_key(store: Arc<dyn Store>) {
    // The keyring is process-wide: every test of this binary shares these keys.
    let (first, second) = (MasterKey::new(&[7; 32]), MasterKey::new(&[8; 32]));
    sealed::install(Keyring::new(vec![first.clone()]).unwrap());
    let a = account(&store, "hp_seal").await;
    publish_one(&store, event(&a, None, Duration::from_secs(30))).await;
    sealed::install(Keyring::new(vec![second.clone(), first]).unwrap());
    let keyring = sealed::installed().expect("a keyring");
    let mut moved = 0;
    for column in &SEALED_COLUMNS {
        let page = store
            .reseal(column, keyring.clone(), ResealPage::start(), 500)
            .await
            .unwrap();
        moved += page.resealed;
        let again = store
            .reseal(column, keyring.clone(), ResealPage::start(), 500)
            .await
            .unwrap();
        assert_eq!(
            again.looked, 0,
            "{} has values under another key",
            column.name
        );
    }
    assert!(
        moved >= 3,
        "account settings and keys and a target: {moved}"
    );
    let read = store.account(&a.id).await.unwrap().expect("the account");
    let secret = |k: &SigningKeys| k.hmac[0].expose().to_string();
    assert_eq!(
        secret(&read.keys),
        secret(&a.keys),
        "keys changed in a reseal"
    );
    let events = store.list_events(&a.id, &filter(10)).await.unwrap();
    assert!(events.iter().all(|e| e.unreadable.is_none()), "{events:?}");
}
