//! The resource subcommands (`events`, `erase`, `jobs`, `account`, `profiles`,
//! `event-types`, `egress`, …) against a real server, each checked through the
//! API; and a check that every route of the README's API table has a
//! subcommand that calls it, so the command line cannot fall behind the API.

use crate::helpers::*;
use serde_json::{json, Value};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PROFILE: &str = "+13125550000";

/// Runs `hookpost` against `server` with `token` as the account's API key
/// (empty: none at all).
fn run(server: &TestServer, token: &str, args: &[&str]) -> Output {
    match token {
        "" => cli::run_cli(server, &[], args),
        key => cli::run_cli(server, &[("HOOKPOST_TOKEN", key)], args),
    }
}

/// Its standard output, after checking it succeeded.
fn text(server: &TestServer, token: &str, args: &[&str]) -> String {
    let out = run(server, token, args);
    assert!(
        out.status.success(),
        "hookpost {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Its answer, as JSON (the default output).
fn answer(server: &TestServer, token: &str, args: &[&str]) -> Value {
    let out = text(server, token, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// Its standard error, after checking it failed.
fn refusal(server: &TestServer, token: &str, args: &[&str]) -> String {
    let out = run(server, token, args);
    assert!(!out.status.success(), "hookpost {args:?} succeeded");
    assert!(out.stdout.is_empty(), "a refusal printed to stdout");
    String::from_utf8(out.stderr).unwrap()
}

/// A JSON file in a fresh directory (kept alive by the returned guard).
fn json_file(value: &Value) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.json");
    std::fs::write(&path, value.to_string()).unwrap();
    (dir, path.display().to_string())
}

/// A table's lines, split into cells.
fn rows(table: &str) -> Vec<Vec<String>> {
    let cells = |line: &str| line.split_whitespace().map(String::from).collect();
    table.lines().map(cells).collect()
}

/// Waits until the job leaves `running`.
async fn job_end(server: &TestServer, acct: &TestAccount, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let job = server.get(&format!("/v1/jobs/{id}"), &acct.key).await.body;
        if job["state"] != "running" || start.elapsed() > SOON {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn profiles_are_put_listed_and_deleted_from_the_shell() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let key = acct.key.as_str();
    let body = r#"{"webhook_url": "https://a.example/hooks", "timeout": "5s"}"#;
    text(&server, key, &["profiles", "put", PROFILE, "--json", body]);
    let stored = server.get("/v1/profiles/%2B13125550000", key).await;
    assert_eq!(stored.status, 200, "{:?}", stored.body);
    assert_eq!(
        stored.body["settings"]["webhook_url"],
        "https://a.example/hooks"
    );
    assert_eq!(stored.body["settings"]["timeout"], "5s");

    let flags = [
        "profiles",
        "put",
        "+13125550001",
        "--webhook-url",
        "https://b.example/",
        "--retry-schedule",
        "1m,5m",
        "--success",
        "200",
    ];
    text(&server, key, &flags);
    let second = server.get("/v1/profiles/%2B13125550001", key).await.body;
    assert_eq!(second["settings"]["retry_schedule"], json!(["1m", "5m"]));
    assert_eq!(second["settings"]["success"], 200);
    let got = answer(&server, key, &["profiles", "get", "+13125550001"]);
    assert_eq!(got, second);

    let table = rows(&text(
        &server,
        key,
        &["profiles", "list", "--output", "table"],
    ));
    assert_eq!(
        table.len(),
        3,
        "a header and one row per profile: {table:?}"
    );
    assert_eq!(table[0], ["ID", "CREATED_AT"]);
    assert_eq!(
        (table[1][0].as_str(), table[2][0].as_str()),
        (PROFILE, "+13125550001")
    );

    text(&server, key, &["profiles", "delete", PROFILE]);
    let gone = server.get("/v1/profiles/%2B13125550000", key).await;
    assert_eq!(gone.status, 404);

    let bad = ["profiles", "put", PROFILE, "--timeout", "10years"];
    let stderr = refusal(&server, key, &bad);
    assert!(
        stderr.contains("invalid_field") && stderr.contains("(field: timeout)"),
        "{stderr}"
    );
    let not_json = refusal(&server, key, &["profiles", "put", PROFILE, "--json", "{"]);
    assert!(not_json.contains("--json is not JSON"), "{not_json}");
}

#[tokio::test]
async fn events_are_retried_listed_and_deleted_from_the_shell() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let key = acct.key.as_str();
    let publish = [
        "events",
        "publish",
        "--event-type",
        "fax.queued",
        "--print",
        "id",
    ];
    let id = text(&server, key, &publish).trim().to_string();
    let batch = r#"{"events": [{"event_type": "fax.sent", "payload": {}}]}"#;
    let batched = answer(&server, key, &["events", "batch", "--json", batch]);
    assert_eq!(
        batched["data"].as_array().map(Vec::len),
        Some(1),
        "{batched}"
    );

    let retried = answer(&server, key, &["events", "retry", &id]);
    assert_eq!(retried, json!({"id": id, "status": "no_target"}));

    let table = rows(&text(
        &server,
        key,
        &["events", "list", "--output", "table"],
    ));
    assert_eq!(table.len(), 3, "{table:?}");
    assert_eq!(table[0][..3], ["ID", "STATUS", "EVENT_TYPE"]);
    assert_eq!(table[2][..3], [id.as_str(), "no_target", "fax.queued"]);

    let deleted = answer(&server, key, &["events", "delete", &id]);
    assert_eq!(deleted["removed"]["events"], 1, "{deleted}");
    let gone = server.get(&format!("/v1/events/{id}"), key).await;
    assert_eq!(gone.status, 404);
    let stderr = refusal(&server, key, &["events", "show", &id]);
    assert!(
        stderr.contains("404") && stderr.contains("event_not_found"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_retry_by_filter_is_a_job_shown_and_cancelled_from_the_shell() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    for _ in 0..5 {
        server
            .publish(&acct, json!({"event_type": "fax.queued", "payload": {}}))
            .await;
    }
    let key = acct.key.as_str();
    let start = [
        "events",
        "retry-matching",
        "--status",
        "no_target",
        "--rate",
        "1",
    ];
    let job = answer(&server, key, &start);
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["state"], "running", "{job}");
    let shown = answer(&server, key, &["jobs", "show", id]);
    assert_eq!(shown["id"], id);
    let cancelled = answer(&server, key, &["jobs", "cancel", id]);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert_eq!(job_end(&server, &acct, id).await["state"], "cancelled");
}

#[tokio::test]
async fn erase_deletes_a_subjects_events_as_a_job() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let theirs = server
        .publish(
            &acct,
            json!({"event_type": "fax.queued", "payload": {"to": PROFILE}}),
        )
        .await;
    let other = server
        .publish(
            &acct,
            json!({"event_type": "fax.queued", "payload": {"to": "+1"}}),
        )
        .await;
    let erase = [
        "erase",
        "--path",
        "payload.to",
        "--value",
        PROFILE,
        "--print",
        "id",
    ];
    let job = text(&server, &acct.key, &erase).trim().to_string();
    let ended = job_end(&server, &acct, &job).await;
    assert_eq!(ended["state"], "succeeded", "{ended}");
    let status = |id: String| {
        let server = &server;
        let key = acct.key.clone();
        async move { server.get(&format!("/v1/events/{id}"), &key).await.status }
    };
    assert_eq!((status(theirs).await, status(other).await), (404, 200));
    let stderr = refusal(
        &server,
        &acct.key,
        &["erase", "--path", "to", "--value", "x"],
    );
    assert!(stderr.contains("(field: path)"), "{stderr}");
}

#[tokio::test]
async fn account_settings_retention_and_keys_from_the_shell() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let key = acct.key.as_str();
    assert_eq!(
        answer(&server, key, &["account", "show"])["id"],
        acct.id.as_str()
    );

    let (_dir, file) = json_file(&json!({"timeout": "5s", "format": "form"}));
    text(
        &server,
        key,
        &["account", "settings", "set", "--file", &file],
    );
    let settings = server.get("/v1/account/settings", key).await.body;
    assert_eq!(
        (settings["timeout"].as_str(), settings["format"].as_str()),
        (Some("5s"), Some("form"))
    );
    let over = [
        "account",
        "settings",
        "set",
        "--file",
        &file,
        "--timeout",
        "7s",
    ];
    text(&server, key, &over);
    let get = ["account", "settings", "get", "--print", "timeout"];
    assert_eq!(text(&server, key, &get).trim(), "7s");
    let stderr = refusal(
        &server,
        key,
        &["account", "settings", "set", "--timeout", "1h"],
    );
    assert!(stderr.contains("(field: timeout)"), "{stderr}");

    let set = ["account", "retention", "set", "--delivered", "30d"];
    let in_effect = answer(&server, key, &set);
    assert_eq!(
        server.get("/v1/account/retention", key).await.body,
        in_effect
    );
    assert_eq!(
        answer(&server, key, &["account", "retention", "get"]),
        in_effect
    );

    let rotate = [
        "account",
        "api-key",
        "rotate",
        "--keep-old-for",
        "1h",
        "--print",
        "api_key",
    ];
    let new_key = text(&server, key, &rotate).trim().to_string();
    assert_ne!(new_key, key);
    assert_eq!(server.get("/v1/account", &new_key).await.status, 200);
    assert_eq!(
        server.get("/v1/account", key).await.status,
        200,
        "kept for 1h"
    );

    let signing = ["account", "signing-keys", "rotate", "--keep-old-for", "1h"];
    text(&server, &new_key, &signing);
    let keys = answer(&server, &new_key, &["account", "keys"]);
    assert!(keys["previous"]["valid_until"].is_string(), "{keys}");
}

#[tokio::test]
async fn event_types_are_put_listed_and_deleted_from_the_shell() {
    let server = TestServer::start().await;
    let acct = server.account().await;
    let key = acct.key.as_str();
    let schema = json!({"type": "object", "required": ["fax_id"]});
    let (_dir, file) = json_file(&schema);
    let put = [
        "event-types",
        "put",
        "fax.page",
        "--category",
        "inflight",
        "--description",
        "a page went out",
        "--schema-file",
        &file,
    ];
    text(&server, key, &put);
    let stored = server.get("/v1/event-types/fax.page", key).await.body;
    assert_eq!(
        (
            &stored["category"],
            &stored["description"],
            &stored["schema"]
        ),
        (&json!("inflight"), &json!("a page went out"), &schema)
    );
    assert_eq!(
        answer(&server, key, &["event-types", "get", "fax.page"]),
        stored
    );
    let table = rows(&text(
        &server,
        key,
        &["event-types", "list", "--output", "table"],
    ));
    assert_eq!(table.len(), 2, "{table:?}");
    assert_eq!(table[0][..2], ["NAME", "CATEGORY"]);
    assert_eq!(table[1][..2], ["fax.page", "inflight"]);
    text(&server, key, &["event-types", "delete", "fax.page"]);
    assert_eq!(
        server.get("/v1/event-types/fax.page", key).await.status,
        404
    );
    let bad = ["event-types", "put", "fax.page", "--category", "sideways"];
    let stderr = refusal(&server, key, &bad);
    assert!(stderr.contains("category"), "{stderr}");
}

#[tokio::test]
async fn egress_health_and_metrics_need_no_token() {
    let server = TestServer::start_with(&["--egress-networks", "203.0.113.0/28"]).await;
    let egress = answer(&server, "", &["egress"]);
    assert_eq!(egress, json!({"networks": ["203.0.113.0/28"]}));
    let table = text(&server, "", &["egress", "--output", "table"]);
    assert_eq!(table.trim(), "networks  203.0.113.0/28");
    assert_eq!(answer(&server, "", &["health"])["status"], "ok");
    assert!(text(&server, "", &["metrics"]).contains("hookpost_"));
}

/// Each API route and a subcommand that calls it (the resource groups and the
/// older flat names both), run with `--dry-run`.
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "POST /v1/portal-links",
        &[
            "portal-links",
            "create",
            "--expires-in",
            "1h",
            "--read-only",
        ],
    ),
    ("POST /v1/portal-links/revoke", &["portal-links", "revoke"]),
    ("POST /v1/accounts", &["create-account", "--name", "n"]),
    ("GET /v1/account", &["account", "show"]),
    ("GET /v1/account/settings", &["account", "settings", "get"]),
    (
        "PUT /v1/account/settings",
        &["account", "settings", "set", "--timeout", "5s"],
    ),
    (
        "GET /v1/account/retention",
        &["account", "retention", "get"],
    ),
    (
        "PUT /v1/account/retention",
        &["account", "retention", "set", "--failed", "1d"],
    ),
    ("GET /v1/account/keys", &["keys"]),
    ("GET /v1/account/keys", &["account", "keys"]),
    (
        "PUT /v1/profiles/{id}",
        &["profiles", "put", PROFILE, "--timeout", "5s"],
    ),
    ("GET /v1/profiles/{id}", &["profiles", "get", PROFILE]),
    ("DELETE /v1/profiles/{id}", &["profiles", "delete", PROFILE]),
    ("GET /v1/profiles", &["profiles", "list"]),
    ("POST /v1/events", &["publish", "--event-type", "t"]),
    (
        "POST /v1/events",
        &["events", "publish", "--event-type", "t"],
    ),
    (
        "POST /v1/events/batch",
        &["events", "batch", "--json", r#"{"events": []}"#],
    ),
    ("GET /v1/events/{id}", &["show-event", "e"]),
    ("GET /v1/events/{id}", &["events", "show", "e"]),
    ("GET /v1/events", &["list-events"]),
    ("GET /v1/events", &["events", "list", "--status", "failed"]),
    ("DELETE /v1/events/{id}", &["events", "delete", "e"]),
    (
        "POST /v1/erase",
        &["erase", "--path", "payload.to", "--value", "v"],
    ),
    ("POST /v1/events/{id}/retry", &["events", "retry", "e"]),
    (
        "POST /v1/events/retry",
        &["events", "retry-matching", "--status", "failed"],
    ),
    (
        "POST /v1/endpoints",
        &["endpoints", "create", "https://a.example/"],
    ),
    ("GET /v1/endpoints", &["endpoints", "list"]),
    ("GET /v1/endpoints/{id}", &["endpoints", "show", "ep"]),
    (
        "PATCH /v1/endpoints/{id}",
        &["endpoints", "update", "ep", "--description", "d"],
    ),
    ("DELETE /v1/endpoints/{id}", &["endpoints", "delete", "ep"]),
    (
        "POST /v1/endpoints/{id}/disable",
        &["endpoints", "disable", "ep"],
    ),
    (
        "POST /v1/endpoints/{id}/enable",
        &["endpoints", "enable", "ep"],
    ),
    ("POST /v1/endpoints/{id}/test", &["endpoints", "test", "ep"]),
    (
        "POST /v1/endpoints/{id}/replay",
        &[
            "endpoints",
            "replay",
            "ep",
            "--since",
            "2026-01-01T00:00:00Z",
        ],
    ),
    (
        "GET /v1/endpoints/{id}/stats",
        &["endpoints", "stats", "ep"],
    ),
    ("GET /v1/jobs/{id}", &["jobs", "show", "j"]),
    ("POST /v1/jobs/{id}/cancel", &["jobs", "cancel", "j"]),
    (
        "PUT /v1/event-types/{name}",
        &["event-types", "put", "fax.x", "--category", "inflight"],
    ),
    (
        "GET /v1/event-types/{name}",
        &["event-types", "get", "fax.x"],
    ),
    (
        "DELETE /v1/event-types/{name}",
        &["event-types", "delete", "fax.x"],
    ),
    ("GET /v1/event-types", &["event-types", "list"]),
    ("POST /v1/event-types/catalog", &["load-catalog"]),
    (
        "POST /v1/event-types/catalog",
        &["event-types", "load-catalog", "--catalog", "phaxio"],
    ),
    (
        "POST /v1/account/api-key/rotate",
        &["account", "api-key", "rotate"],
    ),
    (
        "POST /v1/account/signing-keys/rotate",
        &["account", "signing-keys", "rotate"],
    ),
    ("GET /v1/egress", &["egress"]),
    ("GET /healthz", &["health"]),
    ("POST /v1/admin/master-key/rotate", &["rotate-master-key"]),
    ("GET /metrics", &["metrics"]),
];

/// Routes with no subcommand, and why: a download link carries its own
/// permission and is fetched as it is (`curl -O "$link"`); `hookpost openapi`
/// prints the document of its own build, without asking a server.
const WITHOUT_SUBCOMMAND: &[&str] = &["GET /v1/attachments/{event_id}/{n}", "GET /openapi.json"];

/// The routes of the README's API table, as `METHOD /path` (queries left
/// out). A cell lists several: "`GET`, `PUT /v1/x`" is two methods on one
/// path, and "`POST /v1/x/{id}/disable`, `/enable`" a sibling path.
pub(crate) fn readme_routes() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let table = readme
        .split("| route | what |")
        .nth(1)
        .expect("the README's API table");
    let mut routes = Vec::new();
    for line in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let cell = line.split(" | ").next().unwrap();
        let mut methods: Vec<&str> = Vec::new();
        let mut last: Option<(String, String)> = None;
        for token in cell.split('`').skip(1).step_by(2) {
            if let Some(sibling) = token.strip_prefix('/') {
                let (method, path) = last.clone().expect("a sibling after a route");
                let parent = path.rsplit_once('/').unwrap().0;
                routes.push(format!("{method} {parent}/{sibling}"));
            } else if let Some((method, path)) = token.split_once(' ') {
                let path = path.split('?').next().unwrap().to_string();
                for m in methods.drain(..).chain([method]) {
                    routes.push(format!("{m} {path}"));
                }
                last = Some((method.to_string(), path));
            } else {
                methods.push(token);
            }
        }
    }
    routes
}

/// Whether a request line `METHOD /path` is the route `METHOD /v1/x/{id}`.
fn serves(request: &str, route: &str) -> bool {
    let (method, path) = request.split_once(' ').unwrap();
    let (route_method, pattern) = route.split_once(' ').unwrap();
    let path = path.split('?').next().unwrap();
    let (got, want): (Vec<_>, Vec<_>) = (path.split('/').collect(), pattern.split('/').collect());
    method == route_method
        && got.len() == want.len()
        && got
            .iter()
            .zip(&want)
            .all(|(g, w)| g == w || (w.starts_with('{') && !g.is_empty()))
}

#[test]
fn every_route_of_the_readme_has_a_subcommand() {
    let routes = readme_routes();
    assert!(routes.len() > 40, "the table was not read: {routes:?}");
    let mapped = |route: &String| {
        SUBCOMMANDS.iter().any(|(r, _)| r == route) || WITHOUT_SUBCOMMAND.contains(&route.as_str())
    };
    let missing: Vec<_> = routes.iter().filter(|r| !mapped(r)).collect();
    assert!(
        missing.is_empty(),
        "routes without a subcommand: {missing:?}"
    );
    for (route, args) in SUBCOMMANDS {
        assert!(
            routes.iter().any(|r| r == route),
            "{route} is not in the README"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_hookpost"))
            .args(*args)
            .args(["--url", "http://cli.test", "--dry-run"])
            .env_remove("HOOKPOST_TOKEN")
            .env_remove("HOOKPOST_ADMIN_TOKEN")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let request = stdout
            .lines()
            .next()
            .unwrap()
            .replacen("http://cli.test", "", 1);
        assert!(
            serves(&request, route),
            "{args:?} sends {request}, not {route}"
        );
    }
}
