//! The command line: `serve` runs the server; the other commands talk to a running
//! server over its API, for use from a shell.

use crate::config::ServeConfig;
use crate::domain::event_type::Catalog;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// hookpost: self-hosted webhook delivery.
#[derive(Debug, Parser)]
#[command(name = "hookpost", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and the delivery workers.
    Serve(Box<ServeConfig>),
    /// Apply database migrations and exit.
    Migrate {
        /// Directory of the embedded database.
        #[arg(long, env = "HOOKPOST_DATA_DIR", default_value = "./hookpost-data")]
        data_dir: PathBuf,
        /// Database URL: empty for the embedded store, or `postgres://…`.
        #[arg(
            long = "database",
            env = "HOOKPOST_DATABASE_URL",
            default_value = "",
            hide_env_values = true
        )]
        database_url: String,
    },
    /// Copy the embedded store to FILE, consistently, while a server may be
    /// running on it and publishing (SQLite's online backup). The copy holds
    /// secrets sealed under the master key: keep the key file too, apart.
    Backup {
        /// Directory of the embedded database.
        #[arg(long, env = "HOOKPOST_DATA_DIR", default_value = "./hookpost-data")]
        data_dir: PathBuf,
        /// The copy to write (created 0600; must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// A receiver for development: prints each delivery and whether its
    /// signatures hold, answers a chosen status or forwards to a local app.
    Listen(ListenArgs),
    /// Print the OpenAPI 3.1 document of this build's API (what `GET
    /// /openapi.json` serves), as checked in at `hookpost/openapi.json`.
    Openapi,
    /// The commands that call a running server's API.
    #[command(flatten)]
    Api(ApiCommand),
}

/// The commands that call the API, one request each, grouped by resource (the
/// older flat names stay for scripts that use them).
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Rotate the master key of a running server (needs the admin token): a
    /// new key goes first in its key file and every stored secret is sealed
    /// again under it while the server keeps serving; prints the new key id
    /// and what was sealed again.
    RotateMasterKey {
        /// Connection to the server, as its operator.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Create an account (needs the admin token); prints its id and API key.
    CreateAccount {
        /// Connection to the server, as its operator.
        #[command(flatten)]
        admin: AdminArgs,
        /// A label for the account.
        #[arg(long)]
        name: String,
    },
    /// Publish an event; prints the event id and its resolved target (also
    /// `events publish`).
    Publish {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// The event.
        #[command(flatten)]
        event: PublishArgs,
    },
    /// Register a ready catalog of fax and messaging event types in the account
    /// (also `event-types load-catalog`).
    LoadCatalog {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// Which catalog.
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// List events, newest first (one page; pass `next_cursor` as --cursor;
    /// also `events list`).
    ListEvents {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// Which events.
        #[command(flatten)]
        filter: ListEventsArgs,
    },
    /// Show the account's signing keys (for verifying deliveries; also
    /// `account keys`).
    Keys {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show an event with every attempt (also `events show`).
    ShowEvent {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// The event id.
        id: String,
    },
    /// Manage the account's endpoints (destinations subscribed to event types).
    Endpoints {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: EndpointCommand,
    },
    /// Publish, list, show, retry and delete events.
    Events {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: EventCommand,
    },
    /// Delete every event whose payload holds a subject's value at a path (a
    /// job: follow it with `jobs show`).
    Erase {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// Which events.
        #[command(flatten)]
        subject: EraseArgs,
    },
    /// Follow or cancel a job (a replay, a retry by filter, an erasure).
    Jobs {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: JobCommand,
    },
    /// The account: its settings, retention and keys.
    Account {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: AccountCommand,
    },
    /// Profiles: named scopes of the account with their own settings.
    Profiles {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: ProfileCommand,
    },
    /// Registered event types: categories, schemas, descriptions.
    EventTypes {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: EventTypeCommand,
    },
    /// Portal links: signed, expiring URLs that open the console on the
    /// account (or one profile) for a customer.
    PortalLinks {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: PortalLinkCommand,
    },
    /// The networks deliveries come from (no token needed).
    Egress {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Whether the server and its database answer (no token needed).
    Health {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The server's Prometheus counters, as text (no token needed).
    Metrics {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// An event to publish, as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// e.g. `fax.delivered`.
    #[arg(long)]
    pub event_type: String,
    /// The payload, a JSON object.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Profile whose settings apply.
    #[arg(long)]
    pub profile_id: Option<String>,
    /// Deliver to this URL instead of the profile's or account's.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Failover for --webhook-url.
    #[arg(long)]
    pub webhook_failover_url: Option<String>,
    /// De-duplication key.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

/// Which ready catalog to register.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogArgs {
    /// Which provider style: `telnyx` (every status postflight) or `phaxio`
    /// (page progress and retries inflight).
    #[arg(long, value_enum, default_value_t)]
    pub catalog: Catalog,
}

/// Which events to list.
#[derive(Debug, Clone, clap::Args)]
pub struct ListEventsArgs {
    /// `pending`, `delivered`, `failed`, `no_target` or `filtered`.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this event type.
    #[arg(long)]
    pub event_type: Option<String>,
    /// Only this profile (written as is: `+` is encoded for you).
    #[arg(long)]
    pub profile_id: Option<String>,
    /// Only events with a delivery to this endpoint.
    #[arg(long)]
    pub endpoint_id: Option<String>,
    /// Only events accepted at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// One page.
    #[command(flatten)]
    pub page: PageArgs,
}

/// One page of a list.
#[derive(Debug, Clone, clap::Args)]
pub struct PageArgs {
    /// Page size.
    #[arg(long)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[arg(long)]
    pub cursor: Option<String>,
}

/// A request body given whole: every command that sends a body takes one, and
/// the flags given beside it replace its fields.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BodyArgs {
    /// The body, a JSON object (`'{"webhook_url": "https://…"}'`).
    #[arg(long, conflicts_with = "file")]
    pub json: Option<String>,
    /// Read the body from this JSON file (`-`: standard input).
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// `hookpost events …`.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// Publish one event (as `publish`).
    Publish(PublishArgs),
    /// Publish events all or nothing: the body `{"events": [...]}` from
    /// --file or --json.
    Batch(BodyArgs),
    /// List events, newest first (as `list-events`).
    List(ListEventsArgs),
    /// Show an event with every attempt (as `show-event`).
    Show {
        /// The event id.
        id: String,
    },
    /// Send one event again (a failed one's failed deliveries, a pending
    /// one's now; a `no_target` or `filtered` one is resolved anew).
    Retry {
        /// The event id.
        id: String,
    },
    /// Retry every event a filter selects, oldest first, as a job.
    RetryMatching(RetryFilterArgs),
    /// Delete an event with its deliveries and attempts, whatever its state.
    Delete {
        /// The event id.
        id: String,
    },
}

/// Which events a retry by filter takes.
#[derive(Debug, Clone, clap::Args)]
pub struct RetryFilterArgs {
    /// Only events with this status (e.g. `failed`).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this event type.
    #[arg(long)]
    pub event_type: Option<String>,
    /// Only this profile's events.
    #[arg(long)]
    pub profile_id: Option<String>,
    /// Only events with a delivery to this endpoint.
    #[arg(long)]
    pub endpoint_id: Option<String>,
    /// Events published at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Events published before this time (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Events retried per second (default 100).
    #[arg(long)]
    pub rate: Option<u32>,
    /// The whole filter as JSON instead.
    #[command(flatten)]
    pub body: BodyArgs,
}

/// Whose events an erasure deletes.
#[derive(Debug, Clone, clap::Args)]
pub struct EraseArgs {
    /// Where in the payload: `payload.to`, or `payload.to[].phone_number`.
    #[arg(long)]
    pub path: Option<String>,
    /// The subject's value there, as text (a number or other JSON: --json).
    #[arg(long)]
    pub value: Option<String>,
    /// Events looked at per second.
    #[arg(long)]
    pub rate: Option<u32>,
    /// The whole request as JSON instead.
    #[command(flatten)]
    pub body: BodyArgs,
}

/// `hookpost jobs …`.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// A job's state and progress.
    Show {
        /// The job id.
        id: String,
    },
    /// Stop a job where it stands.
    Cancel {
        /// The job id.
        id: String,
    },
}

/// `hookpost portal-links …`.
#[derive(Debug, Subcommand)]
pub enum PortalLinkCommand {
    /// Make a link (prints its URL and expiry).
    Create {
        /// Show only this profile's endpoints and events.
        #[arg(long)]
        profile_id: Option<String>,
        /// How long it works (default 1h, at most 30d).
        #[arg(long)]
        expires_in: Option<String>,
        /// Let the link change nothing.
        #[arg(long)]
        read_only: bool,
    },
    /// End every link made until now, at once.
    Revoke,
}

/// `hookpost account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// The account: id, name, settings.
    Show,
    /// The account-level webhook settings.
    Settings {
        /// Read or replace them.
        #[command(subcommand)]
        action: SettingsCommand,
    },
    /// How long finished events are kept.
    Retention {
        /// Read or replace it.
        #[command(subcommand)]
        action: RetentionCommand,
    },
    /// The signing keys (as `keys`).
    Keys,
    /// The API key.
    ApiKey {
        /// Rotate it.
        #[command(subcommand)]
        action: RotateCommand,
    },
    /// The signing keys (secret, Ed25519 key, callback token).
    SigningKeys {
        /// Rotate them.
        #[command(subcommand)]
        action: RotateCommand,
    },
}

/// Read or replace account settings.
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show them.
    Get,
    /// Replace them: the fields given (flags over --json or --file), the rest
    /// unset.
    Set(Box<SettingsArgs>),
}

/// Read or replace the account's retention.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// The times in effect.
    Get,
    /// Replace the account's own times (one left out: the server's
    /// `--retention`).
    Set {
        /// How long `delivered` events are kept (`30d`).
        #[arg(long)]
        delivered: Option<String>,
        /// How long `failed` events are kept.
        #[arg(long)]
        failed: Option<String>,
        /// How long `no_target` and `filtered` events are kept.
        #[arg(long)]
        other: Option<String>,
        /// The whole body as JSON instead.
        #[command(flatten)]
        body: BodyArgs,
    },
}

/// Rotate a key.
#[derive(Debug, Subcommand)]
pub enum RotateCommand {
    /// A new key; prints it.
    Rotate {
        /// Keep the old one working this long too (`1h`).
        #[arg(long)]
        keep_old_for: Option<String>,
    },
}

/// Webhook settings (of the account or a profile), as flags over a JSON body.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingsArgs {
    /// Primary URL.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Tried at once when the primary fails.
    #[arg(long)]
    pub webhook_failover_url: Option<String>,
    /// Signature schemes, comma-separated (`standard,telnyx,phaxio`).
    #[arg(long, value_delimiter = ',')]
    pub signatures: Vec<String>,
    /// The payload version receivers are pinned to.
    #[arg(long)]
    pub version: Option<String>,
    /// Delays before each retry, comma-separated (`5m,1h`).
    #[arg(long, value_delimiter = ',')]
    pub retry_schedule: Vec<String>,
    /// Deadline of one request (`10s`).
    #[arg(long)]
    pub timeout: Option<String>,
    /// `json` or `form`.
    #[arg(long)]
    pub format: Option<String>,
    /// For `form`: `envelope` or `payload`.
    #[arg(long)]
    pub form_fields: Option<String>,
    /// Deliver inflight event types (`true` or `false`).
    #[arg(long)]
    pub inflight: Option<bool>,
    /// Which answers count as delivered: `2xx` or `200`.
    #[arg(long)]
    pub success: Option<String>,
    /// The settings as JSON (flags given beside replace its fields).
    #[command(flatten)]
    pub body: BodyArgs,
}

/// `hookpost profiles …`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create or replace a profile with these settings.
    Put {
        /// The profile id (yours: `+13125550000`, a UUID).
        id: String,
        /// Its settings.
        #[command(flatten)]
        settings: Box<SettingsArgs>,
    },
    /// Show one profile.
    Get {
        /// The profile id.
        id: String,
    },
    /// List profiles in id order (one page).
    List(PageArgs),
    /// Delete a profile.
    Delete {
        /// The profile id.
        id: String,
    },
}

/// `hookpost event-types …`.
#[derive(Debug, Subcommand)]
pub enum EventTypeCommand {
    /// Register or replace an event type.
    Put {
        /// Its name (`fax.delivered`).
        name: String,
        /// `inflight` (progress) or `postflight` (a state change).
        #[arg(long)]
        category: Option<String>,
        /// What it means, for people.
        #[arg(long)]
        description: Option<String>,
        /// A JSON Schema file its payloads must satisfy.
        #[arg(long)]
        schema_file: Option<PathBuf>,
        /// A JSON file with an example payload (sent by endpoint tests).
        #[arg(long)]
        example_file: Option<PathBuf>,
        /// The whole body as JSON (for `versions`); flags replace its fields.
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Show one event type.
    Get {
        /// Its name.
        name: String,
    },
    /// List the registered event types.
    List,
    /// Delete an event type.
    Delete {
        /// Its name.
        name: String,
    },
    /// Register a ready catalog (as `load-catalog`).
    LoadCatalog(CatalogArgs),
}

/// `hookpost listen`.
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Port to listen on (0: any free port; the address is printed first).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Fetch the keys to check with from the server (`HOOKPOST_URL`), with the
    /// account's API key in `HOOKPOST_TOKEN`.
    #[arg(long)]
    pub account_key: bool,
    /// Base URL of the server, for --account-key.
    #[arg(long, env = "HOOKPOST_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// The account's API key, for --account-key.
    #[arg(long, env = "HOOKPOST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Standard Webhooks secret (`whsec_…`) to check `v1` signatures with.
    #[arg(long)]
    pub secret: Vec<String>,
    /// Ed25519 public key (base64, or `whpk_…`) to check `v1a` and Telnyx signatures with.
    #[arg(long)]
    pub public_key: Vec<String>,
    /// Phaxio-style callback token.
    #[arg(long)]
    pub callback_token: Vec<String>,
    /// Status to answer, or a sequence (`500,500,200`: the last one stays).
    #[arg(long, default_value = "200")]
    pub status: String,
    /// Forward each delivery to this URL and answer with its status.
    #[arg(long)]
    pub forward: Option<String>,
    /// How far a signature's timestamp may be from now.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub tolerance: std::time::Duration,
    /// The webhook URL exactly as configured at hookpost (userinfo and all),
    /// which the Phaxio signature covers; by default the URL the request
    /// came to, which differs when hookpost normalised the configured one.
    #[arg(long)]
    pub signed_url: Option<String>,
}

/// `hookpost endpoints …`.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// Create an endpoint; prints it (with its `id`).
    Create {
        /// Where deliveries go (`https://…`, or `mailto:` with an SMTP relay).
        #[arg(id = "endpoint_url", value_name = "URL")]
        url: String,
        /// The endpoint's fields.
        #[command(flatten)]
        fields: EndpointArgs,
    },
    /// List endpoints (one page; pass `next_cursor` as --cursor).
    List {
        /// Only those bound to this profile.
        #[arg(long)]
        profile_id: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// The previous page's `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one endpoint.
    Show {
        /// The endpoint id.
        id: String,
    },
    /// Change the fields given.
    Update {
        /// The endpoint id.
        id: String,
        /// A new URL.
        #[arg(long = "endpoint-url", id = "endpoint_url", value_name = "URL")]
        url: Option<String>,
        /// The fields to change.
        #[command(flatten)]
        fields: EndpointArgs,
    },
    /// Delete an endpoint (its pending deliveries stop).
    Delete {
        /// The endpoint id.
        id: String,
    },
    /// Stop new deliveries to an endpoint.
    Disable {
        /// The endpoint id.
        id: String,
    },
    /// Take new deliveries again.
    Enable {
        /// The endpoint id.
        id: String,
    },
    /// Send a test event to this endpoint only.
    Test {
        /// The endpoint id.
        id: String,
        /// Its type (default `hookpost.test`).
        #[arg(long)]
        event_type: Option<String>,
        /// Its payload, a JSON object (default: the type's example, or `{}`).
        #[arg(long)]
        payload: Option<String>,
    },
    /// Send past events to this endpoint (a job; follow it with its id).
    Replay {
        /// The endpoint id.
        id: String,
        /// Events published at or after this RFC 3339 time.
        #[arg(long)]
        since: String,
        /// Events published before this time (default: now).
        #[arg(long)]
        until: Option<String>,
        /// Only these types (comma-separated patterns).
        #[arg(long, value_delimiter = ',')]
        event_types: Vec<String>,
    },
    /// Deliveries of the last hour and day, last success and failure.
    Stats {
        /// The endpoint id.
        id: String,
    },
}

/// The optional fields of an endpoint, as flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EndpointArgs {
    /// Tried at once when the URL fails.
    #[arg(long)]
    pub failover_url: Option<String>,
    /// Bind it to this profile.
    #[arg(long)]
    pub profile_id: Option<String>,
    /// Subscribed types, comma-separated (`fax.*,message.failed`; none: all).
    #[arg(long, value_delimiter = ',')]
    pub event_types: Vec<String>,
    /// For people.
    #[arg(long)]
    pub description: Option<String>,
    /// A custom header, `Name: value` (repeat for more).
    #[arg(long = "header")]
    pub headers: Vec<String>,
    /// Its own settings, a JSON object (`{"format": "form"}`).
    #[arg(long)]
    pub settings: Option<String>,
    /// Most deliveries in flight at once.
    #[arg(long)]
    pub max_in_flight: Option<u32>,
    /// Most deliveries per period (`50/s`, `1000/m`).
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// How long it may fail with no success before it is disabled (`2d`).
    #[arg(long)]
    pub disable_after: Option<String>,
}

/// The server the shell commands talk to when no URL is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Where the server is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, env = "HOOKPOST_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// The account's API key (prefer the environment variable: a flag's value
    /// shows in `ps`).
    #[arg(long, env = "HOOKPOST_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// How to print the answer.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where the server is, reached as its operator (admin routes).
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Base URL of the server.
    #[arg(long, env = "HOOKPOST_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// The server's admin token (the same variable `serve` reads).
    #[arg(long, env = "HOOKPOST_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How to print the answer.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How an API command prints its answer, shared by every one of them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Print only this field of the answer (e.g. `id`), as plain text.
    #[arg(long, global = true)]
    pub print: Option<String>,
    /// `json` (the default: the answer as the API gives it, the same on a
    /// terminal and in a pipe) or `table` (aligned columns; a list one row
    /// per item).
    #[arg(long, value_enum, default_value_t, global = true)]
    pub output: Format,
    /// Print the request (method, URL, body) instead of sending it.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// The shapes `--output` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The answer's JSON, pretty.
    #[default]
    Json,
    /// Aligned columns.
    Table,
}
