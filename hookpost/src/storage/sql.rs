//! The SQL both backends run, written once in SQLite's numbered-parameter form
//! (`?1`); PostgreSQL runs the same text with `$1` ([`Statement::postgres`]).
//! What differs for real stays in the backends' `queries` files: claims (`FOR
//! UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite), how an
//! upsert tells an insert from an update, and how an idempotency key is taken.
//! Portable spellings are used where the dialects differ only in syntax: `CAST(…
//! AS BIGINT)` rather than `::bigint`, `ON CONFLICT DO NOTHING` rather than
//! `INSERT OR IGNORE`.

use std::sync::OnceLock;

/// One statement of the shared SQL.
pub struct Statement {
    sqlite: &'static str,
    postgres: OnceLock<String>,
}

impl Statement {
    /// A statement written with `?N` parameters.
    pub const fn new(sqlite: &'static str) -> Self {
        Statement {
            sqlite,
            postgres: OnceLock::new(),
        }
    }

    /// The text for SQLite.
    pub fn sqlite(&self) -> &'static str {
        self.sqlite
    }

    /// The text for PostgreSQL (`?N` → `$N`), converted once.
    pub fn postgres(&self) -> &str {
        self.postgres.get_or_init(|| to_postgres(self.sqlite))
    }
}

/// `?N` parameters as `$N`, and a `/*lock*/` mark in a subquery as `FOR UPDATE
/// SKIP LOCKED` (a bulk change on PostgreSQL passes over rows another
/// transaction holds; SQLite's one writer needs no lock). The shared SQL holds
/// no `?` in string literals.
fn to_postgres(sql: &str) -> String {
    let sql = sql.replace("/*lock*/", "FOR UPDATE SKIP LOCKED");
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let numbered = c == '?' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if numbered { '$' } else { c });
    }
    out
}

macro_rules! columns {
    (account) => {
        "id, name, settings, signing_keys, retention, created_at"
    };
    (profile) => {
        "id, settings, created_at, updated_at"
    };
    (event) => {
        "id, profile_id, event_type, payload, payloads, occurred_at, created_at, idempotency_key, \
         ordering_key, status, attachments"
    };
    (delivery) => {
        "event_id, seq, target, status, reason, attempts_made, due_at, claimed_by, held"
    };
    (claim) => {
        "d.event_id AS id, d.seq, e.account_id, e.event_type, e.payload, e.payloads, e.occurred_at, e.attachments, \
         d.target, d.attempts_made, d.retries_left, d.lane, \
         COALESCE((SELECT p.gated FROM endpoints p WHERE p.id = d.endpoint_id), 0) AS gated"
    };
    (attempt) => {
        "seq, attempt, leg, url, started_at, duration_ms, http_status, error, response, error_detail"
    };
    (endpoint) => {
        "id, account_id, spec, state, created_at, updated_at, control"
    };
    (control) => {
        "account_id, state, control, spec"
    };
    (job) => {
        "id, account_id, kind, params, state, progress, created_at, updated_at"
    };
}

/// An event's status from its deliveries' (the rule of
/// [`crate::domain::delivery::summary`]), for the event whose id is `$event`
/// (a column such as `events.id`, or a parameter).
macro_rules! summary_of_deliveries {
    ($event:literal) => {
        concat!(
            "CASE WHEN EXISTS (SELECT 1 FROM deliveries s WHERE s.event_id = ",
            $event,
            " AND s.status IN ('pending', 'paused'))
                THEN 'pending'
              WHEN EXISTS (SELECT 1 FROM deliveries s WHERE s.event_id = ",
            $event,
            " AND s.status = 'failed') THEN 'failed'
              ELSE 'delivered' END"
        )
    };
}

/// The columns of an account row.
pub const ACCOUNT_COLUMNS: &str = columns!(account);
/// The columns of a profile row.
pub const PROFILE_COLUMNS: &str = columns!(profile);
/// The columns of an event row.
pub const EVENT_COLUMNS: &str = columns!(event);
/// The columns of a delivery row.
pub const DELIVERY_COLUMNS: &str = columns!(delivery);
/// The columns a claim returns (deliveries `d` joined with events `e`).
pub const CLAIM_COLUMNS: &str = columns!(claim);
/// The columns of an attempt row.
pub const ATTEMPT_COLUMNS: &str = columns!(attempt);
/// The columns of an endpoint row.
pub const ENDPOINT_COLUMNS: &str = columns!(endpoint);
/// The columns of a job row.
pub const JOB_COLUMNS: &str = columns!(job);

// ----- accounts -----

/// `(id, name, api_key_hash, settings, signing_keys, created_at)`.
pub static INSERT_ACCOUNT: Statement = Statement::new(
    "INSERT INTO accounts (id, name, api_key_hash, settings, signing_keys, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
);
/// `(id, new key hash, old key's expiry or NULL to drop it at once)`.
pub static ROTATE_API_KEY: Statement = Statement::new(
    "UPDATE accounts SET previous_key_hash = CASE WHEN CAST(?3 AS BIGINT) IS NULL THEN NULL ELSE api_key_hash END,
        previous_key_expires_at = ?3, api_key_hash = ?2 WHERE id = ?1",
);
/// `(signing keys JSON, id)`.
pub static SET_SIGNING_KEYS: Statement =
    Statement::new("UPDATE accounts SET signing_keys = ?1 WHERE id = ?2");
/// `(settings JSON, id)`.
pub static SET_ACCOUNT_SETTINGS: Statement =
    Statement::new("UPDATE accounts SET settings = ?1 WHERE id = ?2");
/// `(retention JSON, id)`.
pub static SET_ACCOUNT_RETENTION: Statement =
    Statement::new("UPDATE accounts SET retention = ?1 WHERE id = ?2");
/// The ids of the master keys recorded for the database.
pub static MASTER_KEY_IDS: Statement = Statement::new("SELECT id FROM master_keys ORDER BY id");
/// `(id)`: forgets every master key id but this one.
pub static KEEP_MASTER_KEY: Statement = Statement::new("DELETE FROM master_keys WHERE id <> ?1");
/// `(id, now ms)`: records a master key id.
pub static RECORD_MASTER_KEY: Statement = Statement::new(
    "INSERT INTO master_keys (id, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
);
/// Every account's own retention times.
pub static ACCOUNT_RETENTIONS: Statement =
    Statement::new("SELECT id, retention FROM accounts ORDER BY id");

// ----- lifecycle -----

/// `(account, first id kept, status, status, limit)`: the oldest events of the
/// account in one of two states published before a time (ids sort by time).
pub static SELECT_EXPIRED: Statement = Statement::new(
    "SELECT id FROM events WHERE account_id = ?1 AND id < ?2 AND status IN (?3, ?4)
     ORDER BY id LIMIT ?5",
);

// ----- profiles -----

/// `(account, id)`.
pub static SELECT_PROFILE: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(profile),
    " FROM profiles WHERE account_id = ?1 AND id = ?2"
));
/// `(account, id)`.
pub static DELETE_PROFILE: Statement =
    Statement::new("DELETE FROM profiles WHERE account_id = ?1 AND id = ?2");
/// `(account, after id or NULL, limit)`.
pub static LIST_PROFILES: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(profile),
    " FROM profiles WHERE account_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
));

// ----- event types -----

/// `(account, name)`.
pub static SELECT_EVENT_TYPE: Statement =
    Statement::new("SELECT definition FROM event_types WHERE account_id = ?1 AND name = ?2");
/// `(account, name)`.
pub static DELETE_EVENT_TYPE: Statement =
    Statement::new("DELETE FROM event_types WHERE account_id = ?1 AND name = ?2");
/// `(account)`.
pub static LIST_EVENT_TYPES: Statement =
    Statement::new("SELECT definition FROM event_types WHERE account_id = ?1 ORDER BY name");

// ----- events -----

/// `(id, account, profile, type, payload, payloads, occurred at, created ms,
/// idempotency key, status, ordering key, attachments)`.
pub static INSERT_EVENT: Statement = Statement::new(
    "INSERT INTO events (id, account_id, profile_id, event_type, payload, payloads, occurred_at, created_at,
        idempotency_key, status, updated_at, ordering_key, attachments)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?8, ?11, ?12)",
);
/// `(event, position, seq, bytes)`: one chunk of an attachment.
pub static INSERT_ATTACHMENT_CHUNK: Statement = Statement::new(
    "INSERT INTO attachment_chunks (event_id, position, seq, data) VALUES (?1, ?2, ?3, ?4)",
);
/// `(event, position, seq)`: one chunk's bytes.
pub static SELECT_ATTACHMENT_CHUNK: Statement = Statement::new(
    "SELECT data FROM attachment_chunks WHERE event_id = ?1 AND position = ?2 AND seq = ?3",
);
/// `(event)`: an event's account and attachment descriptions, for a download.
pub static SELECT_EVENT_ATTACHMENTS: Statement =
    Statement::new("SELECT account_id, attachments FROM events WHERE id = ?1");
/// `(event, seq, endpoint, target, status, retries left, lease ms, due ms,
/// claimed by, now ms, lane)`. A delivery whose lane has one pending already
/// waits behind it (`due_at` NULL) until [`UNBLOCK_LANE`] lets it go.
pub static INSERT_DELIVERY: Statement = Statement::new(
    "INSERT INTO deliveries (event_id, seq, endpoint_id, target, status, retries_left, lease_ms, due_at,
        claimed_by, updated_at, lane)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
        CASE WHEN CAST(?11 AS TEXT) IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries l
               WHERE l.lane = ?11 AND l.status IN ('pending', 'paused')) THEN NULL ELSE CAST(?8 AS BIGINT) END,
        ?9, ?10, ?11)",
);
/// `(lane, now ms)`: after a delivery of the lane reached a final state, the
/// lane's oldest waiting delivery comes due, unless one is under way already
/// (or parked with its disabled endpoint: it keeps its turn). Every lane query
/// names `status IN ('pending', 'paused')`, the `deliveries_lane` index's own
/// condition, so SQLite uses the index.
pub static UNBLOCK_LANE: Statement = Statement::new(
    "UPDATE deliveries SET due_at = ?2, updated_at = ?2
     WHERE (event_id, seq) = (SELECT event_id, seq FROM deliveries WHERE lane = ?1 AND status IN ('pending', 'paused')
                              AND status = 'pending' AND due_at IS NULL ORDER BY event_id, seq LIMIT 1)
       AND NOT EXISTS (SELECT 1 FROM deliveries WHERE lane = ?1 AND status IN ('pending', 'paused')
                       AND (status = 'paused' OR due_at IS NOT NULL))",
);
/// `(event, endpoint, target, retries left, lease ms, now ms)`: a delivery added
/// to a stored event (a replay), due now, numbered after the event's others;
/// nothing when the event has a delivery to that endpoint already.
pub static ADD_DELIVERY: Statement = Statement::new(
    "INSERT INTO deliveries (event_id, seq, endpoint_id, target, status, retries_left, lease_ms, due_at,
        claimed_by, updated_at)
     SELECT CAST(?1 AS TEXT), (SELECT COALESCE(MAX(seq) + 1, 0) FROM deliveries WHERE event_id = ?1),
        CAST(?2 AS TEXT), CAST(?3 AS TEXT), 'pending', CAST(?4 AS BIGINT), CAST(?5 AS BIGINT),
        CAST(?6 AS BIGINT), NULL, CAST(?6 AS BIGINT)
     WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1 AND endpoint_id = ?2)
     ON CONFLICT DO NOTHING",
);
/// `(id, now ms)`: an event with a new pending delivery is pending.
pub static SET_EVENT_PENDING: Statement =
    Statement::new("UPDATE events SET status = 'pending', updated_at = ?2 WHERE id = ?1");
/// `(id, account)`.
pub static SELECT_EVENT: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(event),
    " FROM events WHERE id = ?1 AND account_id = ?2"
));
/// `(event id)`.
pub static SELECT_DELIVERIES: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(delivery),
    " FROM deliveries WHERE event_id = ?1 ORDER BY seq"
));
/// `(event id)`: the attempt log of every delivery, in the order made.
pub static SELECT_ATTEMPTS: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(attempt),
    " FROM attempts WHERE event_id = ?1 ORDER BY started_at, seq, attempt, leg = 'failover'"
));
/// A filtered page of events: past the cursor by `$cmp`, in `$order`.
macro_rules! list_events {
    ($cmp:literal, $order:literal) => {
        concat!(
            "SELECT ",
            columns!(event),
            " FROM events WHERE account_id = ?1
               AND (CAST(?2 AS TEXT) IS NULL OR id ", $cmp, " ?2) AND (CAST(?3 AS TEXT) IS NULL OR status = ?3)
               AND (CAST(?4 AS TEXT) IS NULL OR event_type = ?4) AND (CAST(?5 AS TEXT) IS NULL OR profile_id = ?5)
               AND (CAST(?6 AS BIGINT) IS NULL OR created_at >= ?6)
               AND (CAST(?8 AS TEXT) IS NULL OR id IN (SELECT event_id FROM deliveries WHERE endpoint_id = ?8))
             ORDER BY id ", $order, " LIMIT ?7"
        )
    };
}

/// `(account, cursor, status, event type, profile, since ms, limit,
/// endpoint)`, each filter NULL when unused: newest first.
pub static LIST_EVENTS: Statement = Statement::new(list_events!("<", "DESC"));
/// The same, oldest first.
pub static LIST_EVENTS_OLDEST_FIRST: Statement = Statement::new(list_events!(">", "ASC"));

/// The listing statement of a filter.
pub fn list_events(filter: &crate::domain::event_log::EventFilter) -> &'static Statement {
    if filter.oldest_first {
        &LIST_EVENTS_OLDEST_FIRST
    } else {
        &LIST_EVENTS
    }
}
/// `(account, after id, since ms, until ms, limit)`: events in a time range in
/// publish order, for a replay.
pub static REPLAY_CANDIDATES: Statement = Statement::new(
    "SELECT id, event_type, profile_id FROM events WHERE account_id = ?1 AND id > ?2
       AND created_at >= ?3 AND created_at < ?4 ORDER BY id LIMIT ?5",
);
/// `(id, account, now ms)`: a manual retry. Failed deliveries get one more
/// attempt (all of them when none failed, so a delivered event is sent again),
/// pending ones no node holds are due now (one waiting in its ordering lane
/// keeps waiting; a retried delivery whose lane has one pending waits its
/// turn, first in line); deliveries stopped with
/// their endpoint stay stopped. [`crate::domain::event_log::RetryOutcome::unchanged`]
/// says what it means when nothing changed.
pub static RETRY_DELIVERIES: Statement = Statement::new(
    "UPDATE deliveries SET retries_left = CASE WHEN status = 'pending' THEN retries_left ELSE 0 END,
        due_at = CASE WHEN status = 'pending' AND due_at IS NULL THEN NULL
                      WHEN status <> 'pending' AND lane IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries l
                        WHERE l.lane = deliveries.lane AND l.status IN ('pending', 'paused')) THEN NULL
                      ELSE CAST(?3 AS BIGINT) END,
        status = 'pending', reason = NULL, claimed_by = NULL, updated_at = ?3
     WHERE event_id = (SELECT id FROM events WHERE id = ?1 AND account_id = ?2)
       AND COALESCE(reason, '') <> 'endpoint_deleted'
       AND (status = 'failed'
            OR (status = 'delivered' AND NOT EXISTS (SELECT 1 FROM deliveries f WHERE f.event_id = ?1
                   AND f.status = 'failed' AND COALESCE(f.reason, '') <> 'endpoint_deleted'))
            OR (status = 'pending' AND claimed_by IS NULL))",
);
/// `(id, account)`: why a retry changed nothing: the status, and how many of
/// its deliveries a node holds.
pub static RETRY_STATE: Statement = Statement::new(
    "SELECT status, (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = events.id
                       AND d.status = 'pending' AND d.claimed_by IS NOT NULL) AS held
     FROM events WHERE id = ?1 AND account_id = ?2",
);
/// `(status, now ms, id, account, expected status)`.
pub static RETARGET_EVENT: Statement = Statement::new(
    "UPDATE events SET status = ?1, updated_at = ?2 WHERE id = ?3 AND account_id = ?4 AND status = ?5",
);
/// `(id, now ms)`: the event's status summed up from its deliveries, written
/// only when it changed: of an event fanned out to five endpoints, the first
/// four deliveries to finish leave it pending, and each of them rewrote its
/// row (payload and all) for nothing. The sum reads the deliveries by the
/// parameter, so each backend computes it once per statement.
pub static SUM_UP_EVENT: Statement = Statement::new(concat!(
    "UPDATE events SET status = summed.status, updated_at = ?2 FROM (SELECT ",
    summary_of_deliveries!("?1"),
    " AS status) summed WHERE events.id = ?1 AND events.status <> summed.status"
));

// ----- delivery queue -----

/// The passes of a claim, in order: first attempts, then retries. Fresh events
/// go ahead of retries, so a storm of due retries cannot delay a new event;
/// `deliveries_fresh` and `deliveries_retry` index the two passes.
pub const CLAIM_PASSES: [&str; 2] = ["attempts_made = 0", "attempts_made > 0"];

/// `(event, seq)`: a claimed row that does not decode is failed alone.
pub static FAIL_UNDECODABLE: Statement = Statement::new(
    "UPDATE deliveries SET status = 'failed', reason = 'unreadable', due_at = NULL, claimed_by = NULL
     WHERE event_id = ?1 AND seq = ?2",
);
/// When the earliest pending delivery comes due (from each part of the queue).
pub static NEXT_DUE: Statement = Statement::new(
    "SELECT MIN(due) FROM (
        SELECT MIN(due_at) AS due FROM deliveries WHERE status = 'pending' AND attempts_made = 0
        UNION ALL
        SELECT MIN(due_at) AS due FROM deliveries WHERE status = 'pending' AND attempts_made > 0) parts",
);
/// `(event, seq, status, attempt, due ms, retries left or NULL, now ms, reason)`,
/// guarded by the attempt number so a stale claim cannot record twice (and by
/// the status, so a delivery stopped meanwhile stays stopped).
pub static RECORD_ATTEMPT: Statement = Statement::new(
    "UPDATE deliveries SET status = ?3, attempts_made = ?4, due_at = ?5, claimed_by = NULL, held = NULL,
        retries_left = COALESCE(?6, retries_left), reason = ?8, updated_at = ?7
     WHERE event_id = ?1 AND seq = ?2 AND status = 'pending' AND attempts_made = CAST(?4 AS BIGINT) - 1",
);
/// One leg of an attempt.
pub static INSERT_ATTEMPT: Statement = Statement::new(concat!(
    "INSERT INTO attempts (event_id, ",
    columns!(attempt),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING"
));
/// `(endpoint, success ms or NULL, failure ms or NULL)`: when requests to an
/// endpoint last succeeded and failed; answers the head of the row delivery
/// control reads ([`super::control::ControlRow::read_head`]), locked by the update.
pub static ENDPOINT_HEALTH: Statement = Statement::new(
    "UPDATE endpoints SET last_success_at = COALESCE(CAST(?2 AS BIGINT), last_success_at),
        last_failure_at = COALESCE(CAST(?3 AS BIGINT), last_failure_at) WHERE id = ?1
     RETURNING account_id, state, control",
);
/// `(id)`: an endpoint's spec, when delivery control needs its limits.
pub static SELECT_SPEC: Statement = Statement::new("SELECT spec FROM endpoints WHERE id = ?1");

// ----- endpoints -----

/// `(id, account, profile, spec, state, now ms, gated)`.
pub static INSERT_ENDPOINT: Statement = Statement::new(
    "INSERT INTO endpoints (id, account_id, profile_id, spec, state, created_at, updated_at, gated)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
);
/// `(account, id)`.
pub static SELECT_ENDPOINT: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(endpoint),
    " FROM endpoints WHERE account_id = ?1 AND id = ?2"
));
/// `(account, profile or NULL, after id or NULL, limit)`.
pub static LIST_ENDPOINTS: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(endpoint),
    " FROM endpoints WHERE account_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR profile_id = ?2)
       AND (CAST(?3 AS TEXT) IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
));
/// `(account, profile or NULL)`: the endpoints bound to that profile, or to none.
pub static LEVEL_ENDPOINTS: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(endpoint),
    " FROM endpoints WHERE account_id = ?1
       AND ((CAST(?2 AS TEXT) IS NULL AND profile_id IS NULL) OR profile_id = ?2) ORDER BY id"
));
/// `(account)`.
pub static COUNT_ENDPOINTS: Statement =
    Statement::new("SELECT COUNT(*) FROM endpoints WHERE account_id = ?1");
/// `(endpoint, now ms)`: every delivery delivery control holds for the
/// endpoint is due now (its limits changed, or it was enabled).
pub static WAKE_ALL_HELD: Statement = Statement::new(
    "UPDATE deliveries SET due_at = ?2, updated_at = ?2
     WHERE (event_id, seq) IN (SELECT event_id, seq FROM deliveries WHERE endpoint_id = ?1 AND held IS NOT NULL
                               AND status = 'pending' AND claimed_by IS NULL /*lock*/)",
);
/// `(spec, profile, now ms, account, id, limited)`: a spec with limits gates
/// the endpoint at once; one without leaves it to the next admission to see
/// that nothing gates it any more.
pub static UPDATE_ENDPOINT: Statement = Statement::new(
    "UPDATE endpoints SET spec = ?1, profile_id = ?2, updated_at = ?3,
        gated = CASE WHEN CAST(?6 AS BIGINT) = 1 THEN 1 ELSE gated END
     WHERE account_id = ?4 AND id = ?5",
);
/// `(account, id)`: the row delivery control reads, for a state change by hand.
pub static SELECT_CONTROL: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(control),
    " FROM endpoints WHERE account_id = ?1 AND id = ?2"
));
/// `(id)`: the same for an admission (PostgreSQL locks it: `FOR UPDATE`).
pub static SELECT_CONTROL_BY_ID: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(control),
    " FROM endpoints WHERE id = ?1"
));
/// `(id, control, gated, state, now ms or NULL)`: delivery control's state; a
/// time marks a change of state (by hand or by control) as an update.
pub static SAVE_CONTROL: Statement = Statement::new(
    "UPDATE endpoints SET control = ?2, gated = ?3, state = ?4,
        updated_at = COALESCE(CAST(?5 AS BIGINT), updated_at) WHERE id = ?1",
);
/// `(event, seq)`: whether a delivery is still pending (PostgreSQL locks it,
/// before the endpoint, in the order recording an attempt does).
pub static DELIVERY_PENDING: Statement = Statement::new(
    "SELECT 1 FROM deliveries WHERE event_id = ?1 AND seq = ?2 AND status = 'pending'",
);
/// `(endpoint, now ms, event, seq)`: deliveries admitted and unfinished, but
/// the one asking.
pub static COUNT_PERMITS: Statement = Statement::new(
    "SELECT COUNT(*) FROM endpoint_permits WHERE endpoint_id = ?1 AND expires_at > ?2
       AND NOT (event_id = ?3 AND seq = ?4)",
);
/// `(event, seq, endpoint, expires ms)`.
pub static INSERT_PERMIT: Statement = Statement::new(
    "INSERT INTO endpoint_permits (event_id, seq, endpoint_id, expires_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (event_id, seq) DO UPDATE SET expires_at = excluded.expires_at",
);
/// `(node)`: the places a node's claims held, given back when the node
/// starts and takes its claims back (their attempts died with it).
pub static DELETE_NODE_PERMITS: Statement = Statement::new(
    "DELETE FROM endpoint_permits WHERE (event_id, seq) IN
       (SELECT event_id, seq FROM deliveries WHERE status = 'pending' AND claimed_by = ?1)",
);
/// `(endpoint, now ms)`: places whose holder died (their lease lapsed).
pub static DELETE_LAPSED_PERMITS: Statement =
    Statement::new("DELETE FROM endpoint_permits WHERE endpoint_id = ?1 AND expires_at <= ?2");
/// `(endpoint)`: a deleted endpoint's places.
pub static DELETE_ENDPOINT_PERMITS: Statement =
    Statement::new("DELETE FROM endpoint_permits WHERE endpoint_id = ?1");
/// `(event, seq)`: an attempt recorded gives its place back.
pub static DELETE_PERMIT: Statement =
    Statement::new("DELETE FROM endpoint_permits WHERE event_id = ?1 AND seq = ?2");
/// `(event, seq, due ms, hold, now ms)`: put back without an attempt.
pub static HOLD_DELIVERY: Statement = Statement::new(
    "UPDATE deliveries SET due_at = ?3, held = ?4, claimed_by = NULL, updated_at = ?5
     WHERE event_id = ?1 AND seq = ?2 AND status = 'pending'",
);
/// `(event, seq, now ms)`: parked while its endpoint is disabled.
pub static PARK_DELIVERY: Statement = Statement::new(
    "UPDATE deliveries SET status = 'paused', claimed_by = NULL, held = NULL, updated_at = ?3
     WHERE event_id = ?1 AND seq = ?2 AND status = 'pending'",
);
/// `(endpoint, hold, now ms, limit)`: the oldest deliveries held for that
/// reason are due now.
pub static WAKE_HELD: Statement = Statement::new(
    "UPDATE deliveries SET due_at = ?3, updated_at = ?3
     WHERE (event_id, seq) IN (SELECT event_id, seq FROM deliveries WHERE endpoint_id = ?1 AND held = ?2
                               AND status = 'pending' AND claimed_by IS NULL ORDER BY due_at LIMIT ?4 /*lock*/)",
);
/// `(endpoint, now ms)`: a disabled endpoint's pending deliveries no node
/// holds are parked (one waiting in its ordering lane keeps waiting, so the
/// lane's order holds when it resumes). PostgreSQL skips rows another
/// transaction holds: their own record or admission parks them.
pub static PARK_ENDPOINT_DELIVERIES: Statement = Statement::new(
    "UPDATE deliveries SET status = 'paused', held = NULL, updated_at = ?2
     WHERE (event_id, seq) IN (SELECT event_id, seq FROM deliveries WHERE endpoint_id = ?1 AND status = 'pending'
                               AND claimed_by IS NULL AND due_at IS NOT NULL /*lock*/)",
);
/// `(endpoint, now ms)`: an enabled endpoint's parked deliveries, and those
/// its delivery control held, are due now.
pub static RESUME_ENDPOINT_DELIVERIES: Statement = Statement::new(
    "UPDATE deliveries SET status = 'pending', due_at = ?2, held = NULL, updated_at = ?2
     WHERE endpoint_id = ?1
       AND (status = 'paused' OR (status = 'pending' AND held IS NOT NULL AND claimed_by IS NULL))",
);

// ----- operational events -----

/// `(id, event type, payload, now ms)`.
pub static INSERT_NOTICE: Statement = Statement::new(
    "INSERT INTO notices (id, event_type, payload, created_at, due_at) VALUES (?1, ?2, ?3, ?4, ?4)",
);
/// `(id)`: published.
pub static DELETE_NOTICE: Statement = Statement::new("DELETE FROM notices WHERE id = ?1");
/// `(now ms, node, lease ms, limit)`: the oldest due notices, claimed.
pub static CLAIM_NOTICES: Statement = Statement::new(
    "UPDATE notices SET due_at = ?1 + ?3, claimed_by = ?2
     WHERE id IN (SELECT id FROM notices WHERE due_at <= ?1 ORDER BY due_at LIMIT ?4 /*lock*/)
     RETURNING id, event_type, payload",
);
/// `(account, id)`.
pub static DELETE_ENDPOINT: Statement =
    Statement::new("DELETE FROM endpoints WHERE account_id = ?1 AND id = ?2");
/// `(endpoint, now ms)`: pending (and parked) deliveries of a deleted endpoint stop.
pub static STOP_ENDPOINT_DELIVERIES: Statement = Statement::new(
    "UPDATE deliveries SET status = 'failed', reason = 'endpoint_deleted', due_at = NULL, claimed_by = NULL,
        updated_at = ?2 WHERE endpoint_id = ?1 AND status IN ('pending', 'paused')",
);
/// `(endpoint, now ms)`: the pending events with a delivery to the endpoint,
/// summed up again after its deliveries stopped.
pub static SUM_UP_ENDPOINT_EVENTS: Statement = Statement::new(concat!(
    "UPDATE events SET status = ",
    summary_of_deliveries!("events.id"),
    ", updated_at = ?2 WHERE status = 'pending' AND id IN (SELECT event_id FROM deliveries WHERE endpoint_id = ?1)"
));
/// `(endpoint, from event id)`: its deliveries of events published since
/// then (ids are UUIDv7, so they sort by time), by status.
pub static ENDPOINT_COUNTS: Statement = Statement::new(
    "SELECT status, COUNT(*) AS n FROM deliveries WHERE endpoint_id = ?1 AND event_id >= ?2 GROUP BY status",
);
/// Endpoints by state, and whether their breaker is open (the stored control
/// JSON has a `breaker` only while it is), for `/metrics`.
pub static ENDPOINT_TALLY: Statement = Statement::new(
    "SELECT state, CASE WHEN control LIKE '%\"breaker\":%' THEN 1 ELSE 0 END AS open, COUNT(*) AS n
     FROM endpoints GROUP BY state, open",
);
/// `(now ms)`: pending deliveries due now, due later and waiting in a lane
/// (no due time), and the age in ms of the oldest due one (0 if none), for
/// `/metrics`. Read from the two partial indexes of pending deliveries (each
/// holds `due_at`, so neither branch touches the table).
pub static QUEUE_DEPTH: Statement = Statement::new(
    "SELECT COALESCE(SUM(CASE WHEN due_at <= ?1 THEN 1 ELSE 0 END), 0) AS due,
            COALESCE(SUM(CASE WHEN due_at > ?1 THEN 1 ELSE 0 END), 0) AS scheduled,
            COALESCE(SUM(CASE WHEN due_at IS NULL THEN 1 ELSE 0 END), 0) AS waiting,
            COALESCE(?1 - MIN(CASE WHEN due_at <= ?1 THEN due_at END), 0) AS oldest_due_age_ms
     FROM (SELECT due_at FROM deliveries WHERE status = 'pending' AND attempts_made = 0
           UNION ALL
           SELECT due_at FROM deliveries WHERE status = 'pending' AND attempts_made > 0) AS pending",
);
/// `(account, id)`.
pub static ENDPOINT_LAST_REQUESTS: Statement = Statement::new(
    "SELECT last_success_at, last_failure_at FROM endpoints WHERE account_id = ?1 AND id = ?2",
);

// ----- jobs -----

/// `(id, account, kind, params, progress, now ms)`: a job, due now.
pub static INSERT_JOB: Statement = Statement::new(
    "INSERT INTO jobs (id, account_id, kind, params, state, progress, due_at, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?6, ?6)",
);
/// `(account, id)`.
pub static SELECT_JOB: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(job),
    " FROM jobs WHERE account_id = ?1 AND id = ?2"
));
/// `(id, node, state, progress, due ms or NULL, now ms)`: a batch's progress,
/// written only by the node holding the job and only while it runs (a
/// cancelled job stays cancelled).
pub static SAVE_JOB: Statement = Statement::new(
    "UPDATE jobs SET state = ?3, progress = ?4, due_at = ?5, claimed_by = NULL, updated_at = ?6
     WHERE id = ?1 AND claimed_by = ?2 AND state = 'running'",
);
/// `(account, id, now ms)`.
pub static CANCEL_JOB: Statement = Statement::new(
    "UPDATE jobs SET state = 'cancelled', due_at = NULL, updated_at = ?3
     WHERE account_id = ?1 AND id = ?2 AND state = 'running'",
);

/// A statement over a list of event ids, which the dialects pass differently:
/// SQLite as a JSON array (`IN (SELECT value FROM json_each(?N))`), PostgreSQL
/// as a `text[]` (`= ANY($N)`).
pub struct OverIds {
    sqlite: &'static str,
    postgres: &'static str,
    converted: OnceLock<String>,
}

impl OverIds {
    /// The text for SQLite (the ids as one JSON array parameter).
    pub fn sqlite(&self) -> &'static str {
        self.sqlite
    }

    /// The text for PostgreSQL (the ids as one array parameter; `?N` → `$N`,
    /// converted once).
    pub fn postgres(&self) -> &str {
        self.converted.get_or_init(|| to_postgres(self.postgres))
    }
}

/// `over_ids!("… WHERE event_id", N, "…")`: the head, "is one of the ids in
/// parameter N", then the tail, in both dialects; every parameter is written
/// `?N`, as in [`Statement`].
macro_rules! over_ids {
    ($head:literal, $n:literal, $tail:literal) => {
        OverIds {
            sqlite: concat!($head, " IN (SELECT value FROM json_each(?", $n, "))", $tail),
            postgres: concat!($head, " = ANY(?", $n, ")", $tail),
            converted: OnceLock::new(),
        }
    };
}

/// `(account, ids)`: which of the ids are the account's events.
pub static OWNED_EVENTS: OverIds =
    over_ids!("SELECT id FROM events WHERE account_id = ?1 AND id", 2, "");
/// `(ids)`: the ordered lanes the ids' unfinished deliveries hold.
pub static LANES_OF_EVENTS: OverIds = over_ids!(
    "SELECT DISTINCT lane FROM deliveries WHERE lane IS NOT NULL AND status IN ('pending', 'paused') AND event_id",
    1,
    ""
);
/// `(ids)`: the idempotency keys that still name the ids.
pub static FORGET_EVENT_KEYS: OverIds = over_ids!(
    "DELETE FROM idempotency_keys WHERE (account_id, key, event_id) IN
       (SELECT account_id, idempotency_key, id FROM events WHERE idempotency_key IS NOT NULL AND id",
    1,
    ")"
);
/// `(ids)`.
pub static DELETE_EVENT_ATTEMPTS: OverIds = over_ids!("DELETE FROM attempts WHERE event_id", 1, "");
/// `(ids)`.
pub static DELETE_EVENT_PERMITS: OverIds =
    over_ids!("DELETE FROM endpoint_permits WHERE event_id", 1, "");
/// `(ids)`.
pub static DELETE_EVENT_DELIVERIES: OverIds =
    over_ids!("DELETE FROM deliveries WHERE event_id", 1, "");
/// `(ids)`.
pub static DELETE_EVENT_ATTACHMENTS: OverIds =
    over_ids!("DELETE FROM attachment_chunks WHERE event_id", 1, "");
/// `(ids)`.
pub static DELETE_EVENTS: OverIds = over_ids!("DELETE FROM events WHERE id", 1, "");

/// A column whose values are sealed (see [`super::sealed`]): how to page
/// through the rows not sealed under a key, in key order, and to replace one
/// value if it is unchanged.
pub struct SealedColumn {
    /// `table.column`, for reports.
    pub name: &'static str,
    /// `(NOT LIKE pattern, limit, after key, after second key)` → `(key,
    /// second key as text or '', value)`, in key order after the given one
    /// (start after `("", "-1")`).
    pub select: Statement,
    /// `(new value, old value, key, second key as text or '')`.
    pub update: Statement,
}

/// `sealed_column!(table, column, "first key", "second key", "match", "after",
/// "order")`: the keys selected as text, a row matched by `match` over `?3`
/// and `?4`, the page after the key `?3`, `?4` by `after`;
/// `sealed_column!(table, column, by id)` for a table keyed by `id` alone.
macro_rules! sealed_column {
    ($table:literal, $column:literal, by id) => {
        sealed_column!(
            $table,
            $column,
            "id",
            "''",
            "id = ?3 AND CAST(?4 AS TEXT) IS NOT NULL",
            "id > ?3 AND CAST(?4 AS TEXT) IS NOT NULL",
            "id"
        )
    };
    ($table:literal, $column:literal, $first:literal, $second:literal, $match:literal, $after:literal, $order:literal) => {
        SealedColumn {
            name: concat!($table, ".", $column),
            select: Statement::new(concat!(
                "SELECT ",
                $first,
                ", ",
                $second,
                ", ",
                $column,
                " FROM ",
                $table,
                " WHERE ",
                $column,
                " NOT LIKE ?1 AND ",
                $after,
                " ORDER BY ",
                $order,
                " LIMIT ?2"
            )),
            update: Statement::new(concat!(
                "UPDATE ",
                $table,
                " SET ",
                $column,
                " = ?1 WHERE ",
                $match,
                " AND ",
                $column,
                " = ?2"
            )),
        }
    };
}

/// Every sealed column.
pub static SEALED_COLUMNS: [SealedColumn; 5] = [
    sealed_column!("accounts", "settings", by id),
    sealed_column!("accounts", "signing_keys", by id),
    sealed_column!(
        "profiles",
        "settings",
        "account_id",
        "id",
        "account_id = ?3 AND id = ?4",
        "(account_id > ?3 OR (account_id = ?3 AND id > ?4))",
        "account_id, id"
    ),
    sealed_column!("endpoints", "spec", by id),
    sealed_column!(
        "deliveries",
        "target",
        "event_id",
        "CAST(seq AS TEXT)",
        "event_id = ?3 AND seq = CAST(CAST(?4 AS TEXT) AS BIGINT)",
        "(event_id > ?3 OR (event_id = ?3 AND seq > CAST(CAST(?4 AS TEXT) AS BIGINT)))",
        "event_id, seq"
    ),
];

// ----- the console's overview -----

/// `(after id or NULL, limit)`: accounts in id order.
pub static LIST_ACCOUNTS: Statement = Statement::new(
    "SELECT id, name, created_at FROM accounts
     WHERE (CAST(?1 AS TEXT) IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
);
/// `(limit)`: endpoints that are disabled, have their breaker open, or
/// failed last, across accounts, most recently changed first.
pub static TROUBLED_ENDPOINTS: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(endpoint),
    " FROM endpoints WHERE state = 'disabled' OR control LIKE '%\"breaker\":%'
       OR (last_failure_at IS NOT NULL AND (last_success_at IS NULL OR last_failure_at > last_success_at))
     ORDER BY updated_at DESC LIMIT ?1"
));
/// `(account or NULL, first event id, limit)`: failed requests of events
/// published since the id's time, newest first.
pub static RECENT_FAILURES: Statement = Statement::new(
    "SELECT e.account_id, a.event_id, d.endpoint_id, a.attempt, a.leg, a.url, a.started_at,
            a.duration_ms, a.http_status, a.error
     FROM attempts a JOIN events e ON e.id = a.event_id
     LEFT JOIN deliveries d ON d.event_id = a.event_id AND d.seq = a.seq
     WHERE a.event_id >= ?2 AND a.error IS NOT NULL
       AND (CAST(?1 AS TEXT) IS NULL OR e.account_id = ?1)
     ORDER BY a.started_at DESC LIMIT ?3",
);
/// `(account, endpoint, first event id, since ms)`: when each request to the
/// endpoint started, how long it took, and whether it succeeded (1 or 0).
pub static ENDPOINT_REQUESTS: Statement = Statement::new(
    "SELECT a.started_at, a.duration_ms, CAST(CASE WHEN a.error IS NULL THEN 1 ELSE 0 END AS BIGINT) AS ok
     FROM deliveries d JOIN events e ON e.id = d.event_id
     JOIN attempts a ON a.event_id = d.event_id AND a.seq = d.seq
     WHERE d.endpoint_id = ?2 AND d.event_id >= ?3 AND e.account_id = ?1 AND a.started_at >= ?4",
);
/// `(account, at ms)`: every portal link made up to `at` stops working.
pub static REVOKE_PORTAL_LINKS: Statement = Statement::new(
    "INSERT INTO portal_revocations (account_id, revoked_at) VALUES (?1, ?2)
     ON CONFLICT (account_id) DO UPDATE SET revoked_at = excluded.revoked_at",
);
/// `(account)`.
pub static PORTAL_REVOKED_AT: Statement =
    Statement::new("SELECT revoked_at FROM portal_revocations WHERE account_id = ?1");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollars_and_nothing_else_changes() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?'"
        );
        assert!(RETRY_DELIVERIES.postgres().contains("updated_at = $3"));
        assert!(!LIST_EVENTS.postgres().contains('?'));
    }
}
