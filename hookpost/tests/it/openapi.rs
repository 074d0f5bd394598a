//! `GET /openapi.json`: served without credentials, the same document as the
//! one checked in (`hookpost/openapi.json`), and complete: every route the
//! router declares, and every route of the README's table, is documented.

use crate::helpers::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// How the checked-in document is made again after a change to the API.
const REGENERATE: &str = "cargo run -q -p hookpost -- openapi > hookpost/openapi.json";

/// The checked-in document, read at run time so a regeneration needs no rebuild.
fn checked_in() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; make it with `{REGENERATE}`", path.display()))
}

async fn served(server: &TestServer) -> (u16, Option<String>, String) {
    let res = reqwest::get(format!("{}/openapi.json", server.url))
        .await
        .expect("GET /openapi.json");
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (
        status,
        content_type,
        res.text().await.expect("the document"),
    )
}

#[tokio::test]
async fn the_served_document_is_the_checked_in_one() {
    let server = TestServer::start().await;
    let (status, content_type, text) = served(&server).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let document: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    assert!(
        text == checked_in(),
        "hookpost/openapi.json is not the document this build serves; regenerate it:\n    {REGENERATE}"
    );
}

/// `METHOD /path` of every operation, path parameters written `{}`.
fn documented(document: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            routes.insert(format!("{} {}", method.to_uppercase(), unnamed(path)));
        }
    }
    routes
}

/// A path with its parameters' names left out (`/v1/x/{}`), since the README
/// and the router may name one parameter differently.
fn unnamed(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every `.route("path", get(a).post(b)…)` in the API's source files, as
/// `METHOD /path`: what the router serves, read where it is declared.
fn declared_routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for call in source.split(".route(").skip(1) {
            let call = &call[..closing(call)];
            let route = call.split('"').nth(1).expect("a route's path");
            for (at, _) in call.match_indices('(') {
                let word = call[..at]
                    .rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .next()
                    .unwrap();
                if ["get", "post", "put", "patch", "delete"].contains(&word) {
                    routes.insert(format!("{} {}", word.to_uppercase(), unnamed(route)));
                }
            }
        }
    }
    routes
}

/// Where the call whose arguments `text` starts with closes.
fn closing(text: &str) -> usize {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return i,
            ')' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

#[test]
fn every_route_of_the_router_is_documented() {
    let document: Value = serde_json::from_str(&checked_in()).unwrap();
    let documented = documented(&document);
    let declared = declared_routes();
    assert!(
        declared.len() > 40,
        "the routes were not read: {declared:?}"
    );
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without `#[utoipa::path]` (or missing from their file's `Api`): {undocumented:?}; then `{REGENERATE}`"
    );
    let unserved: Vec<_> = documented.difference(&declared).collect();
    assert!(
        unserved.is_empty(),
        "documented but not routed: {unserved:?}"
    );
}

#[test]
fn every_route_of_the_readme_is_documented_and_back() {
    let document: Value = serde_json::from_str(&checked_in()).unwrap();
    let documented = documented(&document);
    let readme: BTreeSet<String> = crate::cli_resources::readme_routes()
        .iter()
        .map(|r| unnamed(r))
        .collect();
    let missing: Vec<_> = readme.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "README routes not documented: {missing:?}"
    );
    let unlisted: Vec<_> = documented.difference(&readme).collect();
    assert!(
        unlisted.is_empty(),
        "documented routes missing from the README's table: {unlisted:?}"
    );
}

#[test]
fn the_cli_prints_the_checked_in_document() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout) == checked_in(),
        "hookpost/openapi.json is stale; regenerate it:\n    {REGENERATE}"
    );
}
