//! The `hookpost` binary.

use clap::Parser;
use hookpost::cli::{Cli, Command, EndpointCommand, ServerArgs};
use hookpost::client::{call, endpoint_body, publish_body, render, with_query, Connection};
use hookpost::storage::{Durability, StoreConfig};
use reqwest::Method;
use serde_json::json;
use std::process::ExitCode;

/// mimalloc: the delivery path allocates many small buffers per request, and the
/// system allocator showed up at about 8% of the server's CPU in profiles.
/// Built with `no_thp`: huge pages kept 20 concurrent 10 MiB attachment
/// deliveries at 300 MiB of RSS for a 25 MB live heap (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let json_logs = matches!(&cli.command, Command::Serve(c) if c.log_format == "json");
    init_logging(json_logs);
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hookpost: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOOKPOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The server at `url`, reached with the admin token.
fn as_admin<'a>(url: &'a str, token: Option<&'a str>) -> Connection<'a> {
    Connection {
        url,
        token,
        token_source: "set HOOKPOST_ADMIN_TOKEN (the server's admin token) or pass --admin-token",
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(config) => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
            hookpost::server::run(*config, listener, shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate {
            data_dir,
            database_url,
        } => {
            let store = StoreConfig::from_flags(&data_dir, &database_url, Durability::Full, 1)?;
            let applied = store.migrate().await.map_err(|e| e.to_string())?;
            println!("{applied} migration(s) applied");
            Ok(())
        }
        Command::Backup { data_dir, to } => {
            let pages =
                hookpost::storage::sqlite::backup(&data_dir, &to).map_err(|e| e.to_string())?;
            println!(
                "backed up {} ({pages} pages) to {}",
                data_dir.join("hookpost.db").display(),
                to.display()
            );
            Ok(())
        }
        Command::CreateAccount {
            url,
            admin_token,
            print,
            name,
        } => {
            let answer = call(
                &as_admin(&url, admin_token.as_deref()),
                Method::POST,
                "/v1/accounts",
                Some(json!({"name": name})),
            )
            .await;
            show(answer, print.as_deref())
        }
        Command::RotateMasterKey { url, admin_token } => {
            let to = as_admin(&url, admin_token.as_deref());
            let answer = call(&to, Method::POST, "/v1/admin/master-key/rotate", None).await;
            show(answer, None)
        }
        Command::Publish {
            server,
            event_type,
            payload,
            profile_id,
            webhook_url,
            webhook_failover_url,
            idempotency_key,
        } => {
            let optional = [
                ("profile_id", profile_id.as_ref()),
                ("webhook_url", webhook_url.as_ref()),
                ("webhook_failover_url", webhook_failover_url.as_ref()),
                ("idempotency_key", idempotency_key.as_ref()),
            ];
            let body = publish_body(&event_type, &payload, optional).map_err(|e| e.to_string())?;
            account_call(&server, Method::POST, "/v1/events", Some(body)).await
        }
        Command::ListEvents {
            server,
            status,
            event_type,
            profile_id,
            since,
            limit,
            cursor,
        } => {
            let path = with_query(
                "/v1/events",
                &[
                    ("status", status),
                    ("event_type", event_type),
                    ("profile_id", profile_id),
                    ("since", since),
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor),
                ],
            );
            account_call(&server, Method::GET, &path, None).await
        }
        Command::Keys { server } => {
            account_call(&server, Method::GET, "/v1/account/keys", None).await
        }
        Command::LoadCatalog { server, catalog } => {
            account_call(
                &server,
                Method::POST,
                "/v1/event-types/catalog",
                Some(json!({ "catalog": catalog })),
            )
            .await
        }
        Command::ShowEvent { server, id } => {
            account_call(&server, Method::GET, &format!("/v1/events/{id}"), None).await
        }
        Command::Endpoints { server, action } => endpoints(&server, action).await,
        Command::Listen(args) => hookpost::listen::run(args).await,
    }
}

/// `hookpost endpoints …`: one API call each.
async fn endpoints(server: &ServerArgs, action: EndpointCommand) -> Result<(), String> {
    let at = |id: &str, tail: &str| format!("/v1/endpoints/{id}{tail}");
    let (method, path, body) = match action {
        EndpointCommand::Create { url, fields } => {
            let body = endpoint_body(Some(&url), &fields).map_err(|e| e.to_string())?;
            (Method::POST, "/v1/endpoints".to_string(), Some(body))
        }
        EndpointCommand::List {
            profile_id,
            limit,
            cursor,
        } => {
            let query = [
                ("profile_id", profile_id),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor),
            ];
            (Method::GET, with_query("/v1/endpoints", &query), None)
        }
        EndpointCommand::Show { id } => (Method::GET, at(&id, ""), None),
        EndpointCommand::Update { id, url, fields } => {
            let body = endpoint_body(url.as_deref(), &fields).map_err(|e| e.to_string())?;
            (Method::PATCH, at(&id, ""), Some(body))
        }
        EndpointCommand::Delete { id } => (Method::DELETE, at(&id, ""), None),
        EndpointCommand::Disable { id } => (Method::POST, at(&id, "/disable"), None),
        EndpointCommand::Enable { id } => (Method::POST, at(&id, "/enable"), None),
        EndpointCommand::Test {
            id,
            event_type,
            payload,
        } => {
            let mut body = json!({});
            if let Some(t) = event_type {
                body["event_type"] = json!(t);
            }
            if let Some(p) = payload {
                body["payload"] =
                    serde_json::from_str(&p).map_err(|e| format!("--payload is not JSON: {e}"))?;
            }
            (Method::POST, at(&id, "/test"), Some(body))
        }
        EndpointCommand::Replay {
            id,
            since,
            until,
            event_types,
        } => {
            let mut body = json!({"since": since, "event_types": event_types});
            if let Some(until) = until {
                body["until"] = json!(until);
            }
            (Method::POST, at(&id, "/replay"), Some(body))
        }
        EndpointCommand::Stats { id } => (Method::GET, at(&id, "/stats"), None),
    };
    account_call(server, method, &path, body).await
}

/// One request with an account's API key, its answer printed.
async fn account_call(
    server: &ServerArgs,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<(), String> {
    let to = Connection {
        url: &server.url,
        token: server.token.as_deref(),
        token_source: "set HOOKPOST_TOKEN to the account's API key, or pass --token",
    };
    show(call(&to, method, path, body).await, server.print.as_deref())
}

fn show(
    answer: Result<serde_json::Value, hookpost::client::ClientError>,
    field: Option<&str>,
) -> Result<(), String> {
    let value = answer.map_err(|e| e.to_string())?;
    // A `204` (a delete) has nothing to print.
    if !value.is_null() {
        println!("{}", render(&value, field).map_err(|e| e.to_string())?);
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
