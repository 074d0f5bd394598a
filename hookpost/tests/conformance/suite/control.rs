//! Delivery control as both stores must keep it: admissions under an
//! endpoint's limits, what an attempt's outcome does to its endpoint, parking
//! and resuming, and operational events claimed once.

use super::*;
use hookpost::domain::control::{ControlPolicy, Signal};
use hookpost::storage::control::Admitted;

const LEASE: Duration = Duration::from_secs(30);

/// An endpoint `id` of `account` with `spec` fields beyond its URL, stored.
async fn stored_endpoint(
    store: &Arc<dyn Store>,
    account: &Account,
    id: &str,
    spec: serde_json::Value,
) {
    let mut fields = serde_json::json!({"url": "https://receiver.invalid/ep"});
    fields
        .as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    let endpoint = Endpoint {
        id: id.into(),
        account_id: account.id.clone(),
        spec: serde_json::from_value(fields).unwrap(),
        state: EndpointState::Enabled,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        control: Default::default(),
    };
    store.create_endpoint(&endpoint).await.unwrap();
}

/// `n` events, each with one delivery to endpoint `ep`, due now.
async fn to_endpoint(
    store: &Arc<dyn Store>,
    account: &Account,
    ep: &str,
    n: usize,
) -> Vec<NewEvent> {
    let events: Vec<NewEvent> = (0..n)
        .map(|_| {
            let mut e = event(account, None, LEASE);
            e.deliveries[0].target.endpoint_id = Some(ep.into());
            e
        })
        .collect();
    store.publish(events.clone(), WINDOW).await.unwrap();
    events
}

/// An account whose endpoint `ep_one` allows one delivery in flight, with
/// `n` deliveries to it claimed and the first admitted.
async fn one_place_taken(
    store: &Arc<dyn Store>,
    key: &str,
    n: usize,
) -> (Account, Vec<ClaimedDelivery>) {
    let a = account(store, key).await;
    let cap = serde_json::json!({"max_in_flight": 1});
    stored_endpoint(store, &a, "ep_one", cap).await;
    to_endpoint(store, &a, "ep_one", n).await;
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(store.admit(&claimed[0], LEASE).await.unwrap(), Admitted::Go);
    (a, claimed)
}

fn outcome(id: &str, ep: &str, signal: Signal, next: NextState, admitted: bool) -> AttemptReport {
    AttemptReport {
        endpoint_id: Some(ep.into()),
        signal,
        admitted,
        ..report(id, 1, next)
    }
}

fn statuses(event: &StoredEvent) -> Vec<DeliveryStatus> {
    event.deliveries.iter().map(|d| d.status).collect()
}

pub async fn admissions_hold_max_in_flight_and_a_finished_one_wakes_the_next(
    store: Arc<dyn Store>,
) {
    let a = account(&store, "hp_admit").await;
    stored_endpoint(
        &store,
        &a,
        "ep_cap",
        serde_json::json!({"max_in_flight": 2}),
    )
    .await;
    to_endpoint(&store, &a, "ep_cap", 3).await;
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(
        claimed.iter().all(|c| c.gated),
        "an endpoint with limits gates"
    );
    let mut admitted = Vec::new();
    for c in &claimed {
        admitted.push(store.admit(c, LEASE).await.unwrap());
    }
    assert_eq!(admitted, [Admitted::Go, Admitted::Go, Admitted::Held]);
    let held = &claimed[2];
    let shown = store.event(&a.id, &held.id).await.unwrap().unwrap();
    assert_eq!(shown.deliveries[0].held.as_deref(), Some("max_in_flight"));
    assert_eq!(
        shown.deliveries[0].attempts_made, 0,
        "held without an attempt"
    );
    assert!(store.claim_due("node-a", 10).await.unwrap().is_empty());
    let done = outcome(
        &claimed[0].id,
        "ep_cap",
        Signal::default(),
        NextState::Delivered,
        true,
    );
    store
        .record_attempt(done, &ControlPolicy::default())
        .await
        .unwrap();
    let woken = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&woken),
        [held.id.as_str()],
        "the finished one woke the held one"
    );
    assert_eq!(store.admit(&woken[0], LEASE).await.unwrap(), Admitted::Go);
}

pub async fn a_gone_receiver_disables_its_endpoint_and_parks_the_rest(store: Arc<dyn Store>) {
    let a = account(&store, "hp_gone").await;
    stored_endpoint(&store, &a, "ep_gone", serde_json::json!({})).await;
    let events = to_endpoint(&store, &a, "ep_gone", 2).await;
    let claimed = store.claim_due("node-a", 1).await.unwrap();
    assert!(
        !claimed[0].gated,
        "an endpoint without limits does not gate"
    );
    let gone = Signal {
        gone: true,
        ..Signal::default()
    };
    let policy = ControlPolicy {
        operator_account: Some("acc_operator".into()),
        ..ControlPolicy::default()
    };
    let retry = NextState::RetryAt(Utc::now() - Span::seconds(1), 1);
    let report = outcome(&claimed[0].id, "ep_gone", gone, retry, false);
    assert!(store.record_attempt(report, &policy).await.unwrap());
    let endpoint = store.endpoint(&a.id, "ep_gone").await.unwrap().unwrap();
    assert_eq!(endpoint.state, EndpointState::Disabled);
    for e in &events {
        let shown = store.event(&a.id, &e.id).await.unwrap().unwrap();
        assert_eq!(statuses(&shown), [DeliveryStatus::Paused], "both parked");
        assert_eq!(
            shown.status,
            EventStatus::Pending,
            "a parked delivery keeps its event pending"
        );
    }
    assert!(store.claim_due("node-a", 10).await.unwrap().is_empty());
    let notices = store.claim_notices("node-a", LEASE, 10).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].event_type, "hookpost.endpoint.disabled");
    assert_eq!(notices[0].payload["reason"], "gone");
    assert!(
        store
            .claim_notices("node-b", LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "a claimed notice is not claimed again within its lease"
    );
    store.delete_notice(&notices[0].id).await.unwrap();

    assert!(store
        .set_endpoint_state(&a.id, "ep_gone", EndpointState::Enabled, &policy)
        .await
        .unwrap());
    let resumed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(resumed.len(), 2, "enabling resumes the parked deliveries");
    let endpoint = store.endpoint(&a.id, "ep_gone").await.unwrap().unwrap();
    assert_eq!(
        (endpoint.state, endpoint.control.disabled_reason),
        (EndpointState::Enabled, None)
    );
    let notices = store.claim_notices("node-a", LEASE, 10).await.unwrap();
    assert_eq!(notices[0].event_type, "hookpost.endpoint.enabled");
}

pub async fn a_run_of_failures_opens_the_breaker_and_a_success_closes_it(store: Arc<dyn Store>) {
    let a = account(&store, "hp_breaker").await;
    stored_endpoint(&store, &a, "ep_flaky", serde_json::json!({})).await;
    let policy = ControlPolicy {
        breaker_after: 3,
        ..ControlPolicy::default()
    };
    let events = to_endpoint(&store, &a, "ep_flaky", 4).await;
    let later = NextState::RetryAt(Utc::now() + Span::hours(1), 1);
    for e in &events[..3] {
        let failed = outcome(&e.id, "ep_flaky", Signal::default(), later, false);
        store.record_attempt(failed, &policy).await.unwrap();
    }
    let endpoint = store.endpoint(&a.id, "ep_flaky").await.unwrap().unwrap();
    assert!(endpoint.control.breaker.is_some(), "{:?}", endpoint.control);
    let claimed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(claimed_ids(&claimed), [events[3].id.as_str()]);
    assert!(claimed[0].gated, "an open breaker gates");
    assert_eq!(
        store.admit(&claimed[0], LEASE).await.unwrap(),
        Admitted::Held
    );
    let shown = store.event(&a.id, &events[3].id).await.unwrap().unwrap();
    assert_eq!(shown.deliveries[0].held.as_deref(), Some("breaker_open"));
    let delivered = Signal {
        delivered: true,
        ..Signal::default()
    };
    let probe = outcome(
        &events[0].id,
        "ep_flaky",
        delivered,
        NextState::Delivered,
        false,
    );
    store
        .record_attempt(
            AttemptReport {
                attempt: 2,
                ..probe
            },
            &policy,
        )
        .await
        .unwrap();
    let endpoint = store.endpoint(&a.id, "ep_flaky").await.unwrap().unwrap();
    assert_eq!(endpoint.control.breaker, None);
    let woken = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&woken),
        [events[3].id.as_str()],
        "closing wakes what it held"
    );
}

pub async fn a_node_taking_back_its_claims_gives_back_their_places(store: Arc<dyn Store>) {
    one_place_taken(&store, "hp_restart", 1).await;
    // node-a dies mid-attempt and starts again.
    store.release_claims("node-a").await.unwrap();
    let again = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        store.admit(&again[0], LEASE).await.unwrap(),
        Admitted::Go,
        "the dead attempt's place was not given back"
    );
}

pub async fn a_parked_lane_head_keeps_its_turn(store: Arc<dyn Store>) {
    let a = account(&store, "hp_parked_lane").await;
    stored_endpoint(&store, &a, "ep_lane", serde_json::json!({})).await;
    let ordered = |n: usize| -> Vec<NewEvent> {
        (0..n)
            .map(|_| {
                let mut e = in_lane(&a, "fax-9");
                e.deliveries[0].target.endpoint_id = Some("ep_lane".into());
                e
            })
            .collect()
    };
    let first = ordered(2);
    store.publish(first.clone(), WINDOW).await.unwrap();
    let head = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(claimed_ids(&head), [first[0].id.as_str()]);
    let policy = ControlPolicy::default();
    store
        .set_endpoint_state(&a.id, "ep_lane", EndpointState::Disabled, &policy)
        .await
        .unwrap();
    let retry = NextState::RetryAt(Utc::now() - Span::seconds(1), 1);
    let mut parked = outcome(&first[0].id, "ep_lane", Signal::default(), retry, false);
    parked.lane = head[0].lane.clone();
    store.record_attempt(parked, &policy).await.unwrap();
    let shown = store.event(&a.id, &first[0].id).await.unwrap().unwrap();
    assert_eq!(statuses(&shown), [DeliveryStatus::Paused]);
    // A delivery added to the lane now waits behind the parked head.
    let later = ordered(1);
    store.publish(later.clone(), WINDOW).await.unwrap();
    assert!(store.claim_due("node-a", 10).await.unwrap().is_empty());
    store
        .set_endpoint_state(&a.id, "ep_lane", EndpointState::Enabled, &policy)
        .await
        .unwrap();
    let resumed = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(
        claimed_ids(&resumed),
        [first[0].id.as_str()],
        "only the head goes on"
    );
}

pub async fn a_stale_record_and_a_changed_spec_free_what_control_held(store: Arc<dyn Store>) {
    let (a, claimed) = one_place_taken(&store, "hp_stale", 2).await;
    assert_eq!(
        store.admit(&claimed[1], LEASE).await.unwrap(),
        Admitted::Held
    );
    // A spec change makes what its limits held due again at once.
    let mut endpoint = store.endpoint(&a.id, "ep_one").await.unwrap().unwrap();
    endpoint.spec.max_in_flight = Some(2);
    assert!(store.update_endpoint(&endpoint).await.unwrap());
    let woken = store.claim_due("node-a", 10).await.unwrap();
    assert_eq!(claimed_ids(&woken), [claimed[1].id.as_str()]);
    // An attempt recorded too late (another node recorded it) still gives its
    // place back.
    let stale = AttemptReport {
        attempt: 7,
        ..outcome(
            &claimed[0].id,
            "ep_one",
            Signal::default(),
            NextState::Delivered,
            true,
        )
    };
    assert!(!store
        .record_attempt(stale, &ControlPolicy::default())
        .await
        .unwrap());
    endpoint.spec.max_in_flight = Some(1);
    store.update_endpoint(&endpoint).await.unwrap();
    assert_eq!(store.admit(&woken[0], LEASE).await.unwrap(), Admitted::Go);
}
