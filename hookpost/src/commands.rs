//! Which API call each shell subcommand makes. Every subcommand comes down to
//! one [`Call`] with a connection (the account's API key, the admin token, or
//! none for a public route) and the output flags; [`run`] sends it (or prints
//! it, for `--dry-run`) and prints the answer. The older flat names
//! (`publish`, `show-event`, …) build their calls with the same functions as
//! the resource groups (`events publish`, `events show`, …).

use crate::cli::{
    AccountCommand, AdminArgs, ApiCommand, CatalogArgs, EndpointCommand, EventCommand,
    EventTypeCommand, JobCommand, ListEventsArgs, OutputArgs, PageArgs, PortalLinkCommand,
    ProfileCommand, RetentionCommand, RotateCommand, ServerArgs, SettingsArgs, SettingsCommand,
};
use crate::client::{
    body, call, endpoint_body, parse_json, publish_body, read_json, segment, with_query, Auth,
    Call, ClientError, Connection,
};
use crate::output::render;
use reqwest::Method;
use serde_json::{json, Value};

/// A call made ready: where it goes, with which token, how to print its answer.
struct Prepared<'a> {
    to: Connection<'a>,
    output: &'a OutputArgs,
    call: Call,
}

/// Runs one API subcommand: sends its call and prints the answer (a `204`
/// prints nothing), or with `--dry-run` prints the call.
pub async fn run(command: ApiCommand) -> Result<(), ClientError> {
    let ready = prepare(&command)?;
    if ready.output.dry_run {
        println!("{}", ready.call.describe(ready.to.url));
        return Ok(());
    }
    let answer = call(&ready.to, &ready.call).await?;
    if !answer.is_null() {
        println!("{}", render(&answer, ready.output)?);
    }
    Ok(())
}

/// The call a subcommand makes, and its connection.
fn prepare(command: &ApiCommand) -> Result<Prepared<'_>, ClientError> {
    Ok(match command {
        ApiCommand::RotateMasterKey { admin } => as_admin(
            admin,
            Call::new(Method::POST, "/v1/admin/master-key/rotate", None),
        ),
        ApiCommand::CreateAccount { admin, name } => as_admin(
            admin,
            Call::new(Method::POST, "/v1/accounts", Some(json!({"name": name}))),
        ),
        ApiCommand::Publish { server, event } => as_account(server, publish(event)?),
        ApiCommand::LoadCatalog { server, catalog } => as_account(server, load_catalog(catalog)),
        ApiCommand::ListEvents { server, filter } => as_account(server, list_events(filter)),
        ApiCommand::Keys { server } => as_account(server, keys()),
        ApiCommand::ShowEvent { server, id } => as_account(server, show_event(id)),
        ApiCommand::Endpoints { server, action } => as_account(server, endpoints(action)?),
        ApiCommand::Events { server, action } => as_account(server, events(action)?),
        ApiCommand::Erase { server, subject } => {
            let fields = vec![
                ("path", text(&subject.path)),
                ("value", text(&subject.value)),
                ("rate", subject.rate.map(|r| json!(r))),
            ];
            let request = body(&subject.body, fields)?;
            as_account(server, Call::new(Method::POST, "/v1/erase", Some(request)))
        }
        ApiCommand::Jobs { server, action } => as_account(server, jobs(action)),
        ApiCommand::Account { server, action } => as_account(server, account(action)?),
        ApiCommand::Profiles { server, action } => as_account(server, profiles(action)?),
        ApiCommand::EventTypes { server, action } => as_account(server, event_types(action)?),
        ApiCommand::PortalLinks { server, action } => as_account(server, portal_links(action)),
        ApiCommand::Egress { server } => public(server, Call::get("/v1/egress")),
        ApiCommand::Health { server } => public(server, Call::get("/healthz")),
        ApiCommand::Metrics { server } => public(server, Call::get("/metrics")),
    })
}

/// A call with the account's API key.
fn as_account(server: &ServerArgs, call: Call) -> Prepared<'_> {
    let auth = Auth::Bearer {
        token: server.token.as_deref(),
        source: "set HOOKPOST_TOKEN to the account's API key, or pass --token",
    };
    Prepared {
        to: Connection {
            url: &server.url,
            auth,
        },
        output: &server.output,
        call,
    }
}

/// A call with the server's admin token.
fn as_admin(admin: &AdminArgs, call: Call) -> Prepared<'_> {
    let auth = Auth::Bearer {
        token: admin.admin_token.as_deref(),
        source: "set HOOKPOST_ADMIN_TOKEN (the server's admin token) or pass --admin-token",
    };
    Prepared {
        to: Connection {
            url: &admin.url,
            auth,
        },
        output: &admin.output,
        call,
    }
}

/// A call to a public route: no token sent.
fn public(server: &ServerArgs, call: Call) -> Prepared<'_> {
    Prepared {
        to: Connection {
            url: &server.url,
            auth: Auth::Public,
        },
        output: &server.output,
        call,
    }
}

/// `{base}/{id}{tail}`, the id encoded.
fn at(base: &str, id: &str, tail: &str) -> String {
    format!("{base}/{}{tail}", segment(id))
}

/// A text flag as a body field.
fn text(value: &Option<String>) -> Option<Value> {
    value.as_ref().map(|v| json!(v))
}

/// A list flag as a body field; empty: left out.
fn list(values: &[String]) -> Option<Value> {
    (!values.is_empty()).then(|| json!(values))
}

/// A page's query parameters.
fn page(args: &PageArgs) -> [(&'static str, Option<String>); 2] {
    [
        ("limit", args.limit.map(|l| l.to_string())),
        ("cursor", args.cursor.clone()),
    ]
}

/// `publish`, `events publish`.
fn publish(event: &crate::cli::PublishArgs) -> Result<Call, ClientError> {
    Ok(Call::new(
        Method::POST,
        "/v1/events",
        Some(publish_body(event)?),
    ))
}

/// `load-catalog`, `event-types load-catalog`.
fn load_catalog(args: &CatalogArgs) -> Call {
    let request = json!({ "catalog": args.catalog });
    Call::new(Method::POST, "/v1/event-types/catalog", Some(request))
}

/// `list-events`, `events list`: the filters given, encoded.
fn list_events(filter: &ListEventsArgs) -> Call {
    let mut query = vec![
        ("status", filter.status.clone()),
        ("event_type", filter.event_type.clone()),
        ("profile_id", filter.profile_id.clone()),
        ("endpoint_id", filter.endpoint_id.clone()),
        ("since", filter.since.clone()),
    ];
    query.extend(page(&filter.page));
    Call::get(with_query("/v1/events", &query))
}

/// `keys`, `account keys`.
fn keys() -> Call {
    Call::get("/v1/account/keys")
}

/// `show-event`, `events show`.
fn show_event(id: &str) -> Call {
    Call::get(at("/v1/events", id, ""))
}

/// `hookpost events …`.
fn events(action: &EventCommand) -> Result<Call, ClientError> {
    let event = |id: &str, tail: &str| at("/v1/events", id, tail);
    Ok(match action {
        EventCommand::Publish(args) => publish(args)?,
        EventCommand::Batch(whole) => {
            Call::new(Method::POST, "/v1/events/batch", Some(body(whole, vec![])?))
        }
        EventCommand::List(filter) => list_events(filter),
        EventCommand::Show { id } => show_event(id),
        EventCommand::Retry { id } => Call::new(Method::POST, event(id, "/retry"), None),
        EventCommand::RetryMatching(filter) => {
            let fields = vec![
                ("status", text(&filter.status)),
                ("event_type", text(&filter.event_type)),
                ("profile_id", text(&filter.profile_id)),
                ("endpoint_id", text(&filter.endpoint_id)),
                ("since", text(&filter.since)),
                ("until", text(&filter.until)),
                ("rate", filter.rate.map(|r| json!(r))),
            ];
            let request = body(&filter.body, fields)?;
            Call::new(Method::POST, "/v1/events/retry", Some(request))
        }
        EventCommand::Delete { id } => Call::new(Method::DELETE, event(id, ""), None),
    })
}

/// `hookpost jobs …`.
fn jobs(action: &JobCommand) -> Call {
    match action {
        JobCommand::Show { id } => Call::get(at("/v1/jobs", id, "")),
        JobCommand::Cancel { id } => Call::new(Method::POST, at("/v1/jobs", id, "/cancel"), None),
    }
}

/// `hookpost portal-links …`.
fn portal_links(action: &PortalLinkCommand) -> Call {
    match action {
        PortalLinkCommand::Create {
            profile_id,
            expires_in,
            read_only,
        } => {
            let mut request = json!({"read_only": read_only});
            for (name, value) in [("profile_id", profile_id), ("expires_in", expires_in)] {
                if let Some(value) = value {
                    request[name] = json!(value);
                }
            }
            Call::new(Method::POST, "/v1/portal-links", Some(request))
        }
        PortalLinkCommand::Revoke => Call::new(Method::POST, "/v1/portal-links/revoke", None),
    }
}

/// `hookpost account …`.
fn account(action: &AccountCommand) -> Result<Call, ClientError> {
    let rotate = |path: &str, RotateCommand::Rotate { keep_old_for }: &RotateCommand| {
        let request = body(
            &Default::default(),
            vec![("keep_old_for", text(keep_old_for))],
        );
        Ok::<_, ClientError>(Call::new(Method::POST, path, Some(request?)))
    };
    Ok(match action {
        AccountCommand::Show => Call::get("/v1/account"),
        AccountCommand::Settings { action } => match action {
            SettingsCommand::Get => Call::get("/v1/account/settings"),
            SettingsCommand::Set(s) => {
                Call::new(Method::PUT, "/v1/account/settings", Some(settings(s)?))
            }
        },
        AccountCommand::Retention { action } => match action {
            RetentionCommand::Get => Call::get("/v1/account/retention"),
            RetentionCommand::Set {
                delivered,
                failed,
                other,
                body: whole,
            } => {
                let fields = vec![
                    ("delivered", text(delivered)),
                    ("failed", text(failed)),
                    ("other", text(other)),
                ];
                let request = body(whole, fields)?;
                Call::new(Method::PUT, "/v1/account/retention", Some(request))
            }
        },
        AccountCommand::Keys => keys(),
        AccountCommand::ApiKey { action } => rotate("/v1/account/api-key/rotate", action)?,
        AccountCommand::SigningKeys { action } => {
            rotate("/v1/account/signing-keys/rotate", action)?
        }
    })
}

/// A settings body: the flags given over `--json` or `--file`. `--success`
/// is the number `200` or the text `2xx`, as the API takes them.
fn settings(s: &SettingsArgs) -> Result<Value, ClientError> {
    let success = s.success.as_ref().map(|v| match v.parse::<u16>() {
        Ok(n) => json!(n),
        Err(_) => json!(v),
    });
    let fields = vec![
        ("webhook_url", text(&s.webhook_url)),
        ("webhook_failover_url", text(&s.webhook_failover_url)),
        ("signatures", list(&s.signatures)),
        ("version", text(&s.version)),
        ("retry_schedule", list(&s.retry_schedule)),
        ("timeout", text(&s.timeout)),
        ("format", text(&s.format)),
        ("form_fields", text(&s.form_fields)),
        ("inflight", s.inflight.map(Value::Bool)),
        ("success", success),
    ];
    body(&s.body, fields)
}

/// `hookpost profiles …`.
fn profiles(action: &ProfileCommand) -> Result<Call, ClientError> {
    let one = |id: &str| at("/v1/profiles", id, "");
    Ok(match action {
        ProfileCommand::Put { id, settings: s } => {
            Call::new(Method::PUT, one(id), Some(settings(s)?))
        }
        ProfileCommand::Get { id } => Call::get(one(id)),
        ProfileCommand::List(args) => Call::get(with_query("/v1/profiles", &page(args))),
        ProfileCommand::Delete { id } => Call::new(Method::DELETE, one(id), None),
    })
}

/// `hookpost event-types …`.
fn event_types(action: &EventTypeCommand) -> Result<Call, ClientError> {
    let one = |name: &str| at("/v1/event-types", name, "");
    Ok(match action {
        EventTypeCommand::Put {
            name,
            category,
            description,
            schema_file,
            example_file,
            body: whole,
        } => {
            let file = |path: &Option<std::path::PathBuf>| path.as_deref().map(read_json);
            let fields = vec![
                ("category", text(category)),
                ("description", text(description)),
                ("schema", file(schema_file).transpose()?),
                ("example", file(example_file).transpose()?),
            ];
            Call::new(Method::PUT, one(name), Some(body(whole, fields)?))
        }
        EventTypeCommand::Get { name } => Call::get(one(name)),
        EventTypeCommand::List => Call::get("/v1/event-types"),
        EventTypeCommand::Delete { name } => Call::new(Method::DELETE, one(name), None),
        EventTypeCommand::LoadCatalog(args) => load_catalog(args),
    })
}

/// `hookpost endpoints …`.
fn endpoints(action: &EndpointCommand) -> Result<Call, ClientError> {
    let one = |id: &str, tail: &str| at("/v1/endpoints", id, tail);
    Ok(match action {
        EndpointCommand::Create { url, fields } => Call::new(
            Method::POST,
            "/v1/endpoints",
            Some(endpoint_body(Some(url), fields)?),
        ),
        EndpointCommand::List {
            profile_id,
            limit,
            cursor,
        } => {
            let query = [
                ("profile_id", profile_id.clone()),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor.clone()),
            ];
            Call::get(with_query("/v1/endpoints", &query))
        }
        EndpointCommand::Show { id } => Call::get(one(id, "")),
        EndpointCommand::Update { id, url, fields } => Call::new(
            Method::PATCH,
            one(id, ""),
            Some(endpoint_body(url.as_deref(), fields)?),
        ),
        EndpointCommand::Delete { id } => Call::new(Method::DELETE, one(id, ""), None),
        EndpointCommand::Disable { id } => Call::new(Method::POST, one(id, "/disable"), None),
        EndpointCommand::Enable { id } => Call::new(Method::POST, one(id, "/enable"), None),
        EndpointCommand::Test {
            id,
            event_type,
            payload,
        } => {
            let payload = payload.as_deref().map(|p| parse_json("--payload", p));
            let fields = vec![
                ("event_type", text(event_type)),
                ("payload", payload.transpose()?),
            ];
            let request = body(&Default::default(), fields)?;
            Call::new(Method::POST, one(id, "/test"), Some(request))
        }
        EndpointCommand::Replay {
            id,
            since,
            until,
            event_types,
        } => {
            let fields = vec![
                ("since", Some(json!(since))),
                ("until", text(until)),
                ("event_types", Some(json!(event_types))),
            ];
            let request = body(&Default::default(), fields)?;
            Call::new(Method::POST, one(id, "/replay"), Some(request))
        }
        EndpointCommand::Stats { id } => Call::get(one(id, "/stats")),
    })
}
