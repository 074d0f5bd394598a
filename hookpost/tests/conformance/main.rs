//! The storage conformance suite: every behaviour the server relies on, written
//! once against the storage traits and run against each backend (the embedded
//! store in a temporary directory, and PostgreSQL in a fresh database of the
//! cluster that `scripts/test` starts). A backend method is tested twice by
//! writing its test once.

#[allow(dead_code)]
#[path = "../it/helpers/postgres.rs"]
mod postgres_helpers;
mod suite;

use hookpost::storage::postgres::PostgresStore;
use hookpost::storage::sqlite::SqliteStore;
use hookpost::storage::{Durability, Store};
use std::sync::Arc;

/// A store under test and what keeps it alive.
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<postgres_helpers::TestDatabase>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("data"), Durability::Full).expect("open");
    Backend {
        store: Arc::new(store),
        _dir: Some(dir),
        _database: None,
    }
}

/// A fresh, empty database on the test cluster.
async fn fresh_pg_database() -> postgres_helpers::TestDatabase {
    postgres_helpers::fresh_database(&postgres_helpers::admin_url()).await
}

async fn postgres() -> Backend {
    let database = fresh_pg_database().await;
    let store = PostgresStore::open(&database.url, 8).await.expect("open");
    Backend {
        store: Arc::new(store),
        _dir: None,
        _database: Some(database),
    }
}

/// One `#[tokio::test]` per backend for each test of the suite.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::suite::$name(crate::sqlite().await.store).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::suite::$name(crate::postgres().await.store).await;
            })*
        }
    };
}

conformance!(
    accounts_are_found_by_key_hash_and_id,
    an_old_api_key_works_until_its_time,
    concurrent_signing_key_rotations_lose_none,
    profiles_list_in_id_order_with_a_cursor,
    event_types_are_created_replaced_and_deleted,
    a_published_event_reads_back_as_stored,
    a_key_inside_its_window_is_a_duplicate,
    concurrent_publishes_with_one_key_store_one_event,
    events_list_newest_first_with_filters_and_a_cursor,
    due_events_are_claimed_once,
    a_lapsed_lease_lets_another_node_claim,
    released_claims_are_due_at_once,
    an_attempt_is_recorded_once,
    manual_retries_follow_the_event_state,
    a_retarget_applies_only_from_the_expected_state,
    expired_idempotency_keys_are_deleted_in_batches,
    each_delivery_of_a_fanned_out_event_has_its_own_state,
    concurrent_outcomes_of_one_event_sum_up,
    many_writes_at_once_each_come_out_as_alone,
    endpoints_are_stored_listed_by_level_and_deleted,
    endpoint_stats_count_recent_deliveries,
    a_delivery_is_added_once_per_endpoint,
    jobs_are_claimed_saved_and_cancelled,
    a_lane_delivers_one_at_a_time_in_publish_order,
    the_queue_counts_pending_deliveries_by_due_state,
    admissions_hold_max_in_flight_and_a_finished_one_wakes_the_next,
    a_gone_receiver_disables_its_endpoint_and_parks_the_rest,
    a_run_of_failures_opens_the_breaker_and_a_success_closes_it,
    a_node_taking_back_its_claims_gives_back_their_places,
    a_parked_lane_head_keeps_its_turn,
    a_stale_record_and_a_changed_spec_free_what_control_held,
    a_purge_takes_one_outcome_before_a_time_and_never_a_pending_event,
    deleting_events_takes_only_the_accounts_own,
    resealing_moves_every_sealed_value_under_the_current_key,
    attachments_are_stored_in_chunks_and_go_with_their_event,
    the_overview_lists_accounts_failures_and_revocations,
    an_event_without_files_has_none,
);

/// Both backends' migrations must build the same tables with the same columns
/// (types differ by dialect; names must not), so a column added to one backend
/// only is caught here. (PostgreSQL keeps its schema version in a table of its
/// own, `hookpost_schema`; SQLite in `PRAGMA user_version`.)
#[tokio::test]
async fn the_backends_have_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    SqliteStore::open(&data, Durability::Full).expect("open");
    let conn = rusqlite::Connection::open(data.join("hookpost.db")).unwrap();
    let mut sqlite: Vec<(String, String)> = conn
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    sqlite.sort();

    let database = fresh_pg_database().await;
    let url = &database.url;
    PostgresStore::open(url, 1).await.expect("open");
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut postgres: Vec<(String, String)> = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'hookpost_schema'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    postgres.sort();
    assert_eq!(sqlite, postgres);
}
