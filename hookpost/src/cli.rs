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
    /// Rotate the master key of a running server (needs the admin token): a
    /// new key goes first in its key file and every stored secret is sealed
    /// again under it while the server keeps serving; prints the new key id
    /// and what was sealed again.
    RotateMasterKey {
        /// Base URL of the server.
        #[arg(long, env = "HOOKPOST_URL", default_value = DEFAULT_URL)]
        url: String,
        /// The server's admin token (the same variable `serve` reads).
        #[arg(long, env = "HOOKPOST_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
    /// Create an account (needs the admin token); prints its id and API key.
    CreateAccount {
        /// Base URL of the server.
        #[arg(long, env = "HOOKPOST_URL", default_value = DEFAULT_URL)]
        url: String,
        /// The server's admin token (the same variable `serve` reads).
        #[arg(long, env = "HOOKPOST_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Print only this field of the answer (e.g. `api_key`).
        #[arg(long)]
        print: Option<String>,
        /// A label for the account.
        #[arg(long)]
        name: String,
    },
    /// Publish an event; prints the event id and its resolved target.
    Publish {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// e.g. `fax.delivered`.
        #[arg(long)]
        event_type: String,
        /// The payload, a JSON object.
        #[arg(long, default_value = "{}")]
        payload: String,
        /// Profile whose settings apply.
        #[arg(long)]
        profile_id: Option<String>,
        /// Deliver to this URL instead of the profile's or account's.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Failover for --webhook-url.
        #[arg(long)]
        webhook_failover_url: Option<String>,
        /// De-duplication key.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Register a ready catalog of fax and messaging event types in the account.
    LoadCatalog {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// Which provider style: `telnyx` (every status postflight) or `phaxio`
        /// (page progress and retries inflight).
        #[arg(long, value_enum, default_value_t)]
        catalog: Catalog,
    },
    /// List events, newest first (one page; pass `next_cursor` as --cursor).
    ListEvents {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// `pending`, `delivered`, `failed`, `no_target` or `filtered`.
        #[arg(long)]
        status: Option<String>,
        /// Only this event type.
        #[arg(long)]
        event_type: Option<String>,
        /// Only this profile (written as is: `+` is encoded for you).
        #[arg(long)]
        profile_id: Option<String>,
        /// Only events accepted at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// The previous page's `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show the account's signing keys (for verifying deliveries).
    Keys {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show an event with every attempt.
    ShowEvent {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// The event id.
        id: String,
    },
    /// A receiver for development: prints each delivery and whether its
    /// signatures hold, answers a chosen status or forwards to a local app.
    Listen(ListenArgs),
    /// Manage the account's endpoints (destinations subscribed to event types).
    Endpoints {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
        /// What to do.
        #[command(subcommand)]
        action: EndpointCommand,
    },
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
    /// Print only this field of the answer (e.g. `id`), as plain text.
    #[arg(long, global = true)]
    pub print: Option<String>,
}
