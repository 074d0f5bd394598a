//! The tests of the conformance suite, each a function of a fresh store.

use chrono::{Duration as Span, Utc};
use hookpost::domain::attempt::{Leg, LegRecord};
use hookpost::domain::delivery::DeliveryStatus;
use hookpost::domain::event::{EventStatus, NewEvent};
use hookpost::domain::event_type::EventType;
use hookpost::domain::settings::WebhookSettings;
use hookpost::domain::target::{resolve_target, Levels, Target};
use hookpost::secrets::{hash_token, SigningKeys};
use hookpost::storage::*;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

mod attachments;
mod control;
mod lifecycle;
mod overview;
pub use attachments::*;
pub use control::*;
pub use lifecycle::*;
pub use overview::*;

const WINDOW: Duration = Duration::from_secs(60);

async fn account(store: &Arc<dyn Store>, key: &str) -> Account {
    let account = Account {
        id: format!("acc_{}", uuid::Uuid::now_v7().simple()),
        name: "conformance".into(),
        settings: WebhookSettings::default(),
        keys: SigningKeys::generate(),
        retention: Default::default(),
        created_at: Utc::now(),
    };
    store
        .create_account(NewAccount {
            account: account.clone(),
            api_key_hash: hash_token(key),
        })
        .await
        .expect("create account");
    account
}

fn target() -> Target {
    let settings: WebhookSettings = serde_json::from_str(
        r#"{"webhook_url": "https://receiver.invalid/hooks", "retry_schedule": ["1m", "2m"]}"#,
    )
    .unwrap();
    resolve_target(&Levels {
        request: &settings,
        profile: None,
        account: &WebhookSettings::default(),
    })
    .expect("a target")
}

/// A pending event of `account`, due now, with a claim lasting `lease`.
fn event(account: &Account, key: Option<&str>, lease: Duration) -> NewEvent {
    let now = Utc::now();
    NewEvent {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account.id.clone(),
        profile_id: None,
        event_type: "fax.delivered".into(),
        payload: RawValue::from_string(r#"{"fax_id": "f1", "n": 1.50}"#.into()).unwrap(),
        payloads: None,
        occurred_at: "2026-01-07T10:01:43.677850Z".into(),
        created_at: now,
        idempotency_key: key.map(str::to_string),
        ordering_key: None,
        status: EventStatus::Pending,
        attachments: Vec::new(),
        deliveries: vec![NewDelivery {
            target: target(),
            lease,
            claimed_by: None,
            due_at: now,
            lane: None,
        }],
    }
}

/// The same event, fanned out to `n` destinations (endpoints `ep_0`…).
fn fanned_out(account: &Account, n: usize) -> NewEvent {
    let mut e = event(account, None, Duration::from_secs(30));
    let one = e.deliveries.pop().unwrap();
    e.deliveries = (0..n)
        .map(|i| {
            let mut d = one.clone();
            d.target.endpoint_id = Some(format!("ep_{i}"));
            d
        })
        .collect();
    e
}

/// An event with nowhere to go.
fn lost(account: &Account) -> NewEvent {
    let mut e = event(account, None, Duration::ZERO);
    (e.status, e.deliveries) = (EventStatus::NoTarget, Vec::new());
    e
}

async fn publish_one(store: &Arc<dyn Store>, e: NewEvent) -> Published {
    let mut out = store.publish(vec![e], WINDOW).await.expect("publish");
    out.pop().unwrap()
}

fn report(id: &str, attempt: u32, next: NextState) -> AttemptReport {
    report_of(id, 0, attempt, next)
}

fn report_of(id: &str, seq: u32, attempt: u32, next: NextState) -> AttemptReport {
    AttemptReport {
        event_id: id.to_string(),
        seq,
        account_id: "acct_conformance".into(),
        endpoint_id: None,
        lane: None,
        attempt,
        legs: vec![LegRecord {
            seq,
            attempt,
            leg: Leg::Primary,
            url: "https://receiver.invalid/hooks".into(),
            started_at: Utc::now(),
            duration_ms: 12,
            http_status: Some(500),
            error: Some(hookpost::domain::attempt::FailureKind::HttpStatus),
            error_detail: Some("the receiver answered 500".into()),
            response: Some("no".into()),
        }],
        next,
        signal: Default::default(),
        admitted: false,
    }
}

fn filter(limit: u32) -> EventFilter {
    EventFilter {
        limit,
        ..EventFilter::default()
    }
}

pub async fn accounts_are_found_by_key_hash_and_id(store: Arc<dyn Store>) {
    let a = account(&store, "hp_a").await;
    let by_key = store
        .account_by_key(hash_token("hp_a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_key.id, a.id);
    assert_eq!(
        store.account(&a.id).await.unwrap().unwrap().name,
        "conformance"
    );
    assert!(store
        .account_by_key(hash_token("hp_b"))
        .await
        .unwrap()
        .is_none());
    let settings: WebhookSettings = serde_json::from_str(r#"{"timeout": "3s"}"#).unwrap();
    store.set_account_settings(&a.id, &settings).await.unwrap();
    assert_eq!(
        store.account(&a.id).await.unwrap().unwrap().settings,
        settings
    );
}

pub async fn an_old_api_key_works_until_its_time(store: Arc<dyn Store>) {
    let a = account(&store, "hp_old").await;
    let works = |key: &'static str| {
        let store = store.clone();
        async move {
            store
                .account_by_key(hash_token(key))
                .await
                .unwrap()
                .is_some()
        }
    };
    let later = Utc::now() + Span::hours(1);
    store
        .rotate_api_key(&a.id, hash_token("hp_new"), Some(later))
        .await
        .unwrap();
    assert!(works("hp_new").await && works("hp_old").await);
    store
        .rotate_api_key(&a.id, hash_token("hp_newer"), None)
        .await
        .unwrap();
    assert!(works("hp_newer").await && !works("hp_new").await);
}

pub async fn concurrent_signing_key_rotations_lose_none(store: Arc<dyn Store>) {
    let a = account(&store, "hp_rot").await;
    let until = Utc::now() + Span::hours(1);
    let (first, second) = tokio::join!(
        store.rotate_signing_keys(&a.id, SigningKeys::generate(), until),
        store.rotate_signing_keys(&a.id, SigningKeys::generate(), until)
    );
    let (first, second) = (first.unwrap().unwrap(), second.unwrap().unwrap());
    let stored = store.account(&a.id).await.unwrap().unwrap().keys;
    // One rotation ran after the other: the later one keeps the earlier one's
    // new key as its previous key.
    let (earlier, later) = if stored.hmac[0].expose() == second.hmac[0].expose() {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(stored.hmac[0].expose(), later.hmac[0].expose());
    assert_eq!(stored.hmac[1].expose(), earlier.hmac[0].expose());
    assert_eq!(stored.hmac.len(), 2);
    assert!(store
        .rotate_signing_keys("acc_none", SigningKeys::generate(), until)
        .await
        .unwrap()
        .is_none());
}

pub async fn profiles_list_in_id_order_with_a_cursor(store: Arc<dyn Store>) {
    let a = account(&store, "hp_p").await;
    for id in ["+2", "+1", "+3"] {
        let (_, created) = store
            .put_profile(&a.id, id, &WebhookSettings::default())
            .await
            .unwrap();
        assert!(created);
    }
    let (_, created) = store
        .put_profile(&a.id, "+1", &WebhookSettings::default())
        .await
        .unwrap();
    assert!(!created, "a second put replaces");
    let page = store.list_profiles(&a.id, None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["+1", "+2"]
    );
    let rest = store.list_profiles(&a.id, Some("+2"), 2).await.unwrap();
    assert_eq!(
        rest.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["+3"]
    );
    assert!(store.delete_profile(&a.id, "+3").await.unwrap());
    assert!(!store.delete_profile(&a.id, "+3").await.unwrap());
    assert!(store.profile(&a.id, "+3").await.unwrap().is_none());
    let other = account(&store, "hp_p2").await;
    assert!(
        store.profile(&other.id, "+1").await.unwrap().is_none(),
        "profiles are per account"
    );
}

pub async fn event_types_are_created_replaced_and_deleted(store: Arc<dyn Store>) {
    let a = account(&store, "hp_t").await;
    let mut t = EventType {
        name: "fax.page".into(),
        category: hookpost::domain::event::Category::Inflight,
        description: None,
        schema: Some(serde_json::json!({"type": "object"})),
        example: Some(serde_json::json!({"page": 1})),
        versions: [(
            "v2".to_string(),
            hookpost::domain::event_type::VersionSchema {
                schema: serde_json::json!({"required": ["page_number"]}),
                example: None,
            },
        )]
        .into(),
    };
    assert!(store.put_event_type(&a.id, &t).await.unwrap());
    t.description = Some("a page went".into());
    assert!(!store.put_event_type(&a.id, &t).await.unwrap());
    assert_eq!(
        store.event_type(&a.id, "fax.page").await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(store.list_event_types(&a.id).await.unwrap(), vec![t]);
    assert!(store.delete_event_type(&a.id, "fax.page").await.unwrap());
    assert!(!store.delete_event_type(&a.id, "fax.page").await.unwrap());
}

pub async fn a_published_event_reads_back_as_stored(store: Arc<dyn Store>) {
    let a = account(&store, "hp_e").await;
    let e = event(&a, None, Duration::from_secs(30));
    assert_eq!(publish_one(&store, e.clone()).await, Published::Created);
    let got = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(
        got.payload.get(),
        r#"{"fax_id": "f1", "n": 1.50}"#,
        "payloads are kept byte for byte"
    );
    assert_eq!(got.status, EventStatus::Pending);
    assert_eq!(got.settings_target(), Some(&e.deliveries[0].target));
    assert!(!got.in_flight() && got.next_attempt_at().is_some() && got.unreadable.is_none());
    let other = account(&store, "hp_e2").await;
    assert!(
        store.event(&other.id, &e.id).await.unwrap().is_none(),
        "events are per account"
    );
}

pub async fn a_key_inside_its_window_is_a_duplicate(store: Arc<dyn Store>) {
    let a = account(&store, "hp_k").await;
    let first = event(&a, Some("cmd-1"), Duration::from_secs(30));
    assert_eq!(publish_one(&store, first.clone()).await, Published::Created);
    let again = publish_one(&store, event(&a, Some("cmd-1"), Duration::from_secs(30))).await;
    assert_eq!(
        again,
        Published::Duplicate {
            original_id: first.id
        }
    );
    let other = account(&store, "hp_k2").await;
    let theirs = publish_one(
        &store,
        event(&other, Some("cmd-1"), Duration::from_secs(30)),
    )
    .await;
    assert_eq!(theirs, Published::Created, "keys are per account");
}

pub async fn concurrent_publishes_with_one_key_store_one_event(store: Arc<dyn Store>) {
    let a = account(&store, "hp_race").await;
    let racers = (0..8).map(|_| {
        let (store, e) = (
            store.clone(),
            event(&a, Some("race"), Duration::from_secs(30)),
        );
        tokio::spawn(async move { publish_one(&store, e).await })
    });
    let outcomes = futures::future::join_all(racers).await;
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Published::Created)))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert_eq!(
        store.list_events(&a.id, &filter(50)).await.unwrap().len(),
        1
    );
}

pub async fn events_list_newest_first_with_filters_and_a_cursor(store: Arc<dyn Store>) {
    let a = account(&store, "hp_l").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut e = event(&a, None, Duration::from_secs(30));
        if i % 2 == 0 {
            e.event_type = "fax.failed".into();
        }
        ids.push(e.id.clone());
        publish_one(&store, e).await;
    }
    let page = store.list_events(&a.id, &filter(2)).await.unwrap();
    assert_eq!(
        page.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&ids[4], &ids[3]]
    );
    let next = EventFilter {
        cursor: Some(ids[3].clone()),
        ..filter(10)
    };
    let rest = store.list_events(&a.id, &next).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&ids[2], &ids[1], &ids[0]]
    );
    let failed_type = EventFilter {
        event_type: Some("fax.failed".into()),
        ..filter(10)
    };
    assert_eq!(
        store.list_events(&a.id, &failed_type).await.unwrap().len(),
        3
    );
    let delivered = EventFilter {
        status: Some(EventStatus::Delivered),
        ..filter(10)
    };
    assert!(store
        .list_events(&a.id, &delivered)
        .await
        .unwrap()
        .is_empty());
}

pub async fn due_events_are_claimed_once(store: Arc<dyn Store>) {
    let a = account(&store, "hp_c").await;
    for _ in 0..3 {
        publish_one(&store, event(&a, None, Duration::from_secs(30))).await;
    }
    let first = store.claim_due("node-a", 2).await.unwrap();
    assert_eq!(first.len(), 2, "a claim takes at most its limit");
    let second = store.claim_due("node-b", 10).await.unwrap();
    assert_eq!(second.len(), 1, "claimed events are not claimed again");
    assert!(store.claim_due("node-b", 10).await.unwrap().is_empty());
    let claimed = &first[0];
    assert_eq!((claimed.attempts_made, claimed.retries_left), (0, 2));
    let shown = store.event(&a.id, &claimed.id).await.unwrap().unwrap();
    assert!(shown.in_flight() && shown.next_attempt_at().is_none());
}

pub async fn a_lapsed_lease_lets_another_node_claim(store: Arc<dyn Store>) {
    let a = account(&store, "hp_lease").await;
    publish_one(&store, event(&a, None, Duration::from_millis(200))).await;
    assert_eq!(store.claim_due("node-a", 10).await.unwrap().len(), 1);
    assert!(store.claim_due("node-b", 10).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        store.claim_due("node-b", 10).await.unwrap().len(),
        1,
        "the lease lapsed"
    );
}

pub async fn released_claims_are_due_at_once(store: Arc<dyn Store>) {
    let a = account(&store, "hp_rel").await;
    publish_one(&store, event(&a, None, Duration::from_secs(3600))).await;
    assert_eq!(store.claim_due("node-a", 10).await.unwrap().len(), 1);
    assert!(store.release_claims("node-a").await.unwrap() >= 1);
    assert_eq!(store.claim_due("node-a", 10).await.unwrap().len(), 1);
    assert!(store.next_due().await.unwrap().is_some());
}

pub async fn an_attempt_is_recorded_once(store: Arc<dyn Store>) {
    let a = account(&store, "hp_rec").await;
    let e = event(&a, None, Duration::from_secs(30));
    publish_one(&store, e.clone()).await;
    store.claim_due("node-a", 10).await.unwrap();
    let retry_at = Utc::now() - Span::seconds(1);
    assert!(store
        .record_attempt(
            report(&e.id, 1, NextState::RetryAt(retry_at, 1)),
            &ControlPolicy::default()
        )
        .await
        .unwrap());
    assert!(
        !store
            .record_attempt(
                report(&e.id, 1, NextState::Delivered),
                &ControlPolicy::default()
            )
            .await
            .unwrap(),
        "a stale report of the same attempt is ignored"
    );
    let shown = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(
        (shown.status, shown.attempts_made(), shown.attempts.len()),
        (EventStatus::Pending, 1, 1)
    );
    assert_eq!(
        shown.attempts[0].error_detail.as_deref(),
        Some("the receiver answered 500")
    );
    let again = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].attempts_made, again[0].retries_left),
        (1, 1, 1)
    );
    assert!(store
        .record_attempt(
            report(&e.id, 2, NextState::Delivered),
            &ControlPolicy::default()
        )
        .await
        .unwrap());
    let done = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.next_attempt_at()),
        (EventStatus::Delivered, None)
    );
}

pub async fn manual_retries_follow_the_event_state(store: Arc<dyn Store>) {
    let a = account(&store, "hp_retry").await;
    let pending = event(&a, None, Duration::from_secs(30));
    publish_one(&store, pending.clone()).await;
    assert_eq!(
        store.retry_event(&a.id, &pending.id).await.unwrap(),
        RetryOutcome::Scheduled
    );
    store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        store.retry_event(&a.id, &pending.id).await.unwrap(),
        RetryOutcome::InFlight
    );
    store
        .record_attempt(
            report(&pending.id, 1, NextState::Failed),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.retry_event(&a.id, &pending.id).await.unwrap(),
        RetryOutcome::Scheduled
    );
    let again = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        (again.len(), again[0].retries_left),
        (1, 0),
        "one more attempt, no more retries"
    );
    let lost = lost(&a);
    publish_one(&store, lost.clone()).await;
    assert_eq!(
        store.retry_event(&a.id, &lost.id).await.unwrap(),
        RetryOutcome::NotRetryable(EventStatus::NoTarget)
    );
    assert_eq!(
        store.retry_event(&a.id, "nope").await.unwrap(),
        RetryOutcome::NotFound
    );
}

pub async fn a_retarget_applies_only_from_the_expected_state(store: Arc<dyn Store>) {
    let a = account(&store, "hp_rt").await;
    let lost = lost(&a);
    publish_one(&store, lost.clone()).await;
    let deliveries = event(&a, None, Duration::from_secs(30)).deliveries;
    let retarget = |expected| Retarget {
        id: lost.id.clone(),
        expected,
        status: EventStatus::Pending,
        deliveries: deliveries.clone(),
    };
    assert!(!store
        .retarget_event(&a.id, &retarget(EventStatus::Filtered))
        .await
        .unwrap());
    assert!(store
        .retarget_event(&a.id, &retarget(EventStatus::NoTarget))
        .await
        .unwrap());
    assert!(!store
        .retarget_event(&a.id, &retarget(EventStatus::NoTarget))
        .await
        .unwrap());
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!((claimed.len(), claimed[0].retries_left), (1, 2));
}

pub async fn expired_idempotency_keys_are_deleted_in_batches(store: Arc<dyn Store>) {
    let a = account(&store, "hp_exp").await;
    for i in 0..5 {
        publish_one(
            &store,
            event(&a, Some(&format!("k{i}")), Duration::from_secs(30)),
        )
        .await;
    }
    let now = Utc::now();
    assert_eq!(
        store.expire_idempotency_keys(now, 10).await.unwrap(),
        0,
        "none expired yet"
    );
    let later = now + Span::seconds(WINDOW.as_secs() as i64 + 1);
    assert_eq!(store.expire_idempotency_keys(later, 3).await.unwrap(), 3);
    assert_eq!(store.expire_idempotency_keys(later, 3).await.unwrap(), 2);
    assert_eq!(store.expire_idempotency_keys(later, 3).await.unwrap(), 0);
}

pub async fn each_delivery_of_a_fanned_out_event_has_its_own_state(store: Arc<dyn Store>) {
    let a = account(&store, "hp_fan").await;
    let e = fanned_out(&a, 3);
    publish_one(&store, e.clone()).await;
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    let mut seqs: Vec<u32> = claimed.iter().map(|c| c.seq).collect();
    seqs.sort();
    assert_eq!(seqs, [0, 1, 2], "one claim per delivery");
    assert!(claimed
        .iter()
        .all(|c| c.id == e.id && c.payload.get().contains("f1")));
    let retry_at = Utc::now() + Span::seconds(60);
    for (seq, next) in [
        (0, NextState::Delivered),
        (1, NextState::RetryAt(retry_at, 1)),
    ] {
        assert!(store
            .record_attempt(report_of(&e.id, seq, 1, next), &ControlPolicy::default())
            .await
            .unwrap());
    }
    let shown = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(shown.status, EventStatus::Pending, "pending while any is");
    let states: Vec<_> = shown
        .deliveries
        .iter()
        .map(|d| (d.status, d.attempts_made))
        .collect();
    assert_eq!(
        states,
        [
            (DeliveryStatus::Delivered, 1),
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Pending, 0)
        ]
    );
    assert_eq!(
        shown
            .attempts
            .iter()
            .map(|l| l.seq)
            .collect::<Vec<_>>()
            .len(),
        2
    );
    store
        .record_attempt(
            report_of(&e.id, 2, 1, NextState::Failed),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    store
        .record_attempt(
            report_of(&e.id, 1, 2, NextState::Delivered),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    let done = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(
        done.status,
        EventStatus::Failed,
        "then failed if any failed"
    );
    assert_eq!(
        done.deliveries[2].reason.as_deref(),
        Some("attempts_exhausted")
    );
    let by_endpoint = EventFilter {
        endpoint_id: Some("ep_2".into()),
        ..filter(10)
    };
    assert_eq!(
        store.list_events(&a.id, &by_endpoint).await.unwrap().len(),
        1
    );
    assert_eq!(
        store.retry_event(&a.id, &e.id).await.unwrap(),
        RetryOutcome::Scheduled
    );
    let again = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        again.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [2],
        "a retry sends the failed delivery again, not the delivered ones"
    );
}

/// Two deliveries of one event finishing at once (two nodes): the event's
/// status must end as the sum of both, never stuck `pending`.
pub async fn concurrent_outcomes_of_one_event_sum_up(store: Arc<dyn Store>) {
    let a = account(&store, "hp_sum").await;
    for _ in 0..10 {
        let e = fanned_out(&a, 2);
        publish_one(&store, e.clone()).await;
        let policy = ControlPolicy::default();
        let (x, y) = tokio::join!(
            store.record_attempt(report_of(&e.id, 0, 1, NextState::Delivered), &policy),
            store.record_attempt(report_of(&e.id, 1, 1, NextState::Delivered), &policy),
        );
        assert!(x.unwrap() && y.unwrap());
        let shown = store.event(&a.id, &e.id).await.unwrap().unwrap();
        assert_eq!(shown.status, EventStatus::Delivered);
    }
}

/// Writes that arrive together (and so share commits where a backend groups
/// them) each come out as they would alone: plain events, a batch, repeated
/// idempotency keys; then deliveries, retries and a stale report at once.
pub async fn many_writes_at_once_each_come_out_as_alone(store: Arc<dyn Store>) {
    let a = account(&store, "hp_many").await;
    let lease = Duration::from_secs(30);
    let mut singles: Vec<NewEvent> = (0..20).map(|_| event(&a, None, lease)).collect();
    singles.extend((0..10).map(|i| event(&a, Some(&format!("k{}", i % 5)), lease)));
    let batch: Vec<NewEvent> = (0..10).map(|_| event(&a, None, lease)).collect();
    let publishes = singles
        .iter()
        .map(|e| vec![e.clone()])
        .chain([batch.clone()]);
    let results = futures::future::join_all(publishes.map(|events| {
        let store = store.clone();
        async move { store.publish(events, WINDOW).await.expect("publish") }
    }))
    .await;
    let outcomes: Vec<&Published> = results.iter().flatten().collect();
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Published::Created))
        .count();
    assert_eq!((outcomes.len(), created), (40, 35), "{outcomes:?}");
    let claimed = store.claim_due("node-a", 100).await.unwrap();
    assert_eq!(claimed.len(), 35);
    let retry_at = Utc::now() + Span::minutes(5);
    let policy = ControlPolicy::default();
    let reports = claimed.iter().enumerate().map(|(i, c)| {
        let next = match i % 2 {
            0 => NextState::Delivered,
            _ => NextState::RetryAt(retry_at, 1),
        };
        report(&c.id, 1, next)
    });
    // The first delivery reported twice: only one of the two counts.
    let stale = report(&claimed[0].id, 1, NextState::RetryAt(retry_at, 1));
    let recorded = futures::future::join_all(reports.chain([stale]).map(|r| {
        let (store, policy) = (store.clone(), policy.clone());
        async move { store.record_attempt(r, &policy).await.expect("record") }
    }))
    .await;
    assert_eq!(recorded.iter().filter(|r| **r).count(), 35, "{recorded:?}");
    for (i, c) in claimed.iter().enumerate() {
        let shown = store.event(&a.id, &c.id).await.unwrap().unwrap();
        let first = &claimed[0].id;
        let expected = match i % 2 {
            _ if c.id == *first && !recorded[0] => EventStatus::Pending,
            0 => EventStatus::Delivered,
            _ => EventStatus::Pending,
        };
        assert_eq!(
            (shown.status, shown.attempts.len()),
            (expected, 1),
            "{}",
            c.id
        );
    }
}

fn endpoint(account: &Account, id: &str, profile: Option<&str>) -> Endpoint {
    let spec = serde_json::json!({
        "url": "https://receiver.invalid/ep", "profile_id": profile, "event_types": ["fax.*"],
        "headers": {"X-Env": "prod"}, "rate_limit": "50/s",
    });
    Endpoint {
        id: id.into(),
        account_id: account.id.clone(),
        spec: serde_json::from_value(spec).unwrap(),
        state: EndpointState::Enabled,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        control: Default::default(),
    }
}

pub async fn endpoints_are_stored_listed_by_level_and_deleted(store: Arc<dyn Store>) {
    let a = account(&store, "hp_ep").await;
    let mut unbound = endpoint(&a, "ep_a", None);
    let bound = endpoint(&a, "ep_b", Some("+1"));
    store.create_endpoint(&unbound).await.unwrap();
    store.create_endpoint(&bound).await.unwrap();
    let stored = store.endpoint(&a.id, "ep_a").await.unwrap().unwrap();
    assert_eq!((&stored.spec, stored.state), (&unbound.spec, unbound.state));
    assert_eq!(store.count_endpoints(&a.id).await.unwrap(), 2);
    let level = |p: Option<&'static str>| {
        let store = store.clone();
        let account = a.id.clone();
        async move {
            let found = store.level_endpoints(&account, p).await.unwrap();
            found.into_iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(level(None).await, ["ep_a"]);
    assert_eq!(level(Some("+1")).await, ["ep_b"]);
    assert!(level(Some("+2")).await.is_empty());
    let listed = store.list_endpoints(&a.id, None, None, 1).await.unwrap();
    assert_eq!(listed[0].id, "ep_a");
    let next = store
        .list_endpoints(&a.id, None, Some("ep_a"), 10)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["ep_b"]
    );
    unbound.spec.description = Some("pager".into());
    assert!(store.update_endpoint(&unbound).await.unwrap());
    assert!(store
        .set_endpoint_state(
            &a.id,
            "ep_a",
            EndpointState::Disabled,
            &ControlPolicy::default()
        )
        .await
        .unwrap());
    let changed = store.endpoint(&a.id, "ep_a").await.unwrap().unwrap();
    assert_eq!(
        (changed.spec.description.as_deref(), changed.state),
        (Some("pager"), EndpointState::Disabled)
    );
    let other = account(&store, "hp_ep2").await;
    assert!(
        store.endpoint(&other.id, "ep_a").await.unwrap().is_none(),
        "per account"
    );
    assert_eq!(
        store.delete_endpoint(&other.id, "ep_a").await.unwrap(),
        None
    );
    // A pending delivery to a deleted endpoint stops; the other goes on.
    let mut e = fanned_out(&a, 2);
    e.deliveries[1].target.endpoint_id = Some("ep_a".into());
    publish_one(&store, e.clone()).await;
    assert_eq!(store.delete_endpoint(&a.id, "ep_a").await.unwrap(), Some(1));
    let shown = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(
        (
            shown.deliveries[1].status,
            shown.deliveries[1].reason.as_deref()
        ),
        (DeliveryStatus::Failed, Some("endpoint_deleted"))
    );
    assert_eq!(shown.deliveries[0].status, DeliveryStatus::Pending);
    store
        .record_attempt(
            report_of(&e.id, 0, 1, NextState::Delivered),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    let done = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(done.status, EventStatus::Failed);
}

pub async fn endpoint_stats_count_recent_deliveries(store: Arc<dyn Store>) {
    let a = account(&store, "hp_stats").await;
    store
        .create_endpoint(&endpoint(&a, "ep_0", None))
        .await
        .unwrap();
    let e = fanned_out(&a, 1);
    publish_one(&store, e.clone()).await;
    let mut r = report_of(&e.id, 0, 1, NextState::Failed);
    r.endpoint_id = Some("ep_0".into());
    store
        .record_attempt(r, &ControlPolicy::default())
        .await
        .unwrap();
    let stats = store
        .endpoint_stats(&a.id, "ep_0", Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stats.last_hour.failed,
            stats.last_day.failed,
            stats.last_hour.delivered
        ),
        (1, 1, 0)
    );
    assert!(stats.last_failure_at.is_some() && stats.last_success_at.is_none());
    let tomorrow = store
        .endpoint_stats(&a.id, "ep_0", Utc::now() + Span::days(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tomorrow.last_day.failed, 0,
        "older deliveries fall out of the window"
    );
    assert!(store
        .endpoint_stats(&a.id, "ep_x", Utc::now())
        .await
        .unwrap()
        .is_none());
}

pub async fn a_delivery_is_added_once_per_endpoint(store: Arc<dyn Store>) {
    let a = account(&store, "hp_add").await;
    let e = event(&a, None, Duration::from_secs(30));
    publish_one(&store, e.clone()).await;
    store.claim_due("node-a", 10).await.unwrap();
    store
        .record_attempt(
            report(&e.id, 1, NextState::Delivered),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    let mut extra = e.deliveries[0].clone();
    extra.target.endpoint_id = Some("ep_new".into());
    assert!(store.add_delivery(&e.id, extra.clone()).await.unwrap());
    assert!(
        !store.add_delivery(&e.id, extra).await.unwrap(),
        "once per endpoint"
    );
    let shown = store.event(&a.id, &e.id).await.unwrap().unwrap();
    assert_eq!(
        (shown.status, shown.deliveries.len()),
        (EventStatus::Pending, 2)
    );
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.seq).collect::<Vec<_>>(), [1]);
    let since = Utc::now() - Span::minutes(1);
    let found = store
        .replay_candidates(&a.id, "", since, Utc::now() + Span::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [e.id.as_str()]
    );
    let after = store
        .replay_candidates(&a.id, &e.id, since, Utc::now() + Span::minutes(1), 10)
        .await
        .unwrap();
    assert!(after.is_empty());
}

pub async fn jobs_are_claimed_saved_and_cancelled(store: Arc<dyn Store>) {
    use hookpost::domain::job::{JobKind, ReplayParams};
    let a = account(&store, "hp_job").await;
    let job = Job {
        id: "job_1".into(),
        account_id: a.id.clone(),
        kind: JobKind::Replay(ReplayParams {
            endpoint_id: "ep_1".into(),
            since: Utc::now(),
            until: Utc::now(),
            event_types: Vec::new(),
            rate: 5,
        }),
        state: JobState::Running,
        progress: JobProgress::default(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    store.create_job(&job).await.unwrap();
    let claimed = store
        .claim_job("node-a", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.map(|j| j.kind), Some(job.kind.clone()));
    assert!(store
        .claim_job("node-b", Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());
    let progress = JobProgress {
        scanned: 5,
        matched: 5,
        done: 3,
        skipped: 2,
        cursor: Some("e5".into()),
        error: None,
        removed: None,
    };
    assert!(
        !store
            .save_job(
                "job_1",
                "node-b",
                JobState::Running,
                &progress,
                Some(Utc::now())
            )
            .await
            .unwrap(),
        "only the holder saves"
    );
    assert!(store
        .save_job(
            "job_1",
            "node-a",
            JobState::Running,
            &progress,
            Some(Utc::now())
        )
        .await
        .unwrap());
    let shown = store.job(&a.id, "job_1").await.unwrap().unwrap();
    assert_eq!(
        (shown.state, shown.progress),
        (JobState::Running, progress.clone())
    );
    assert!(store.cancel_job(&a.id, "job_1").await.unwrap());
    assert!(!store.cancel_job(&a.id, "job_1").await.unwrap());
    assert!(store
        .claim_job("node-a", Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.job(&a.id, "job_1").await.unwrap().unwrap().state,
        JobState::Cancelled
    );
    let other = account(&store, "hp_job2").await;
    assert!(store.job(&other.id, "job_1").await.unwrap().is_none());
}

/// An event whose one delivery is in ordering lane `lane`.
fn in_lane(account: &Account, lane: &str) -> NewEvent {
    let mut e = event(account, None, Duration::from_secs(30));
    e.ordering_key = Some(lane.into());
    e.deliveries[0].lane = Some(lane.into());
    e
}

fn claimed_ids(claimed: &[ClaimedDelivery]) -> Vec<&str> {
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    ids
}

pub async fn a_lane_delivers_one_at_a_time_in_publish_order(store: Arc<dyn Store>) {
    let a = account(&store, "hp_lane").await;
    let lane: Vec<NewEvent> = (0..3).map(|_| in_lane(&a, "fax-1")).collect();
    let other = in_lane(&a, "fax-2");
    store.publish(lane.clone(), WINDOW).await.unwrap();
    publish_one(&store, other.clone()).await;
    let first = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&first),
        [lane[0].id.as_str(), other.id.as_str()],
        "one per lane"
    );
    let head = first.iter().find(|c| c.id == lane[0].id).unwrap();
    assert_eq!(head.lane.as_deref(), Some("fax-1"));
    let mut retry = report(
        &lane[0].id,
        1,
        NextState::RetryAt(Utc::now() - Span::seconds(1), 1),
    );
    retry.lane = head.lane.clone();
    store
        .record_attempt(retry, &ControlPolicy::default())
        .await
        .unwrap();
    let again = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&again),
        [lane[0].id.as_str()],
        "a failing head holds its lane"
    );
    let done = |id: &str, attempt: u32, next: NextState| {
        let mut r = report(id, attempt, next);
        r.lane = Some("fax-1".into());
        r
    };
    store
        .record_attempt(
            done(&lane[0].id, 2, NextState::Delivered),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    let next = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&next),
        [lane[1].id.as_str()],
        "then the next in publish order"
    );
    store
        .record_attempt(
            done(&lane[1].id, 1, NextState::Failed),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.retry_event(&a.id, &lane[0].id).await.unwrap(),
        RetryOutcome::Scheduled
    );
    let third = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&third),
        [lane[2].id.as_str()],
        "a failed delivery frees its lane; a retried one waits its turn"
    );
    store
        .record_attempt(
            done(&lane[2].id, 1, NextState::Delivered),
            &ControlPolicy::default(),
        )
        .await
        .unwrap();
    let retried = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(claimed_ids(&retried), [lane[0].id.as_str()]);
}

/// `event` with its one delivery due at `due_at`.
fn due_at(account: &Account, due_at: chrono::DateTime<Utc>) -> NewEvent {
    let mut e = event(account, None, Duration::from_secs(30));
    e.deliveries[0].due_at = due_at;
    e
}

pub async fn the_queue_counts_pending_deliveries_by_due_state(store: Arc<dyn Store>) {
    let a = account(&store, "hp_queue").await;
    let t0 = Utc::now();
    assert_eq!(store.queue_depth(t0).await.unwrap(), QueueDepth::default());
    let retried = event(&a, None, Duration::from_secs(30));
    publish_one(&store, retried.clone()).await;
    assert_eq!(store.claim_due("node-a", 10).await.unwrap().len(), 1);
    let retry = NextState::RetryAt(t0 - Span::seconds(10), 1);
    store
        .record_attempt(report(&retried.id, 1, retry), &ControlPolicy::default())
        .await
        .unwrap();
    publish_one(&store, due_at(&a, t0 - Span::seconds(2))).await;
    publish_one(&store, due_at(&a, t0 + Span::hours(1))).await;
    let lane: Vec<NewEvent> = (0..2)
        .map(|_| {
            let mut e = in_lane(&a, "fax-1");
            e.deliveries[0].due_at = t0;
            e
        })
        .collect();
    store.publish(lane, WINDOW).await.unwrap();

    let depth = store.queue_depth(t0).await.unwrap();
    let expected = QueueDepth {
        due: 3,
        scheduled: 1,
        waiting: 1,
        oldest_due_age: Duration::from_secs(10),
    };
    assert_eq!(
        depth, expected,
        "a retry, a fresh one and a lane's head are due"
    );
    let before = store.queue_depth(t0 - Span::seconds(20)).await.unwrap();
    let expected = QueueDepth {
        due: 0,
        scheduled: 4,
        waiting: 1,
        oldest_due_age: Duration::ZERO,
    };
    assert_eq!(before, expected, "nothing is due yet: no age");
    assert_eq!(store.claim_due("node-a", 10).await.unwrap().len(), 3);
    let claimed = store.queue_depth(Utc::now()).await.unwrap();
    assert_eq!(
        (claimed.due, claimed.scheduled, claimed.waiting),
        (0, 4, 1),
        "a claimed delivery is due again only when its lease ends"
    );
}
