//! The command line: `serve` runs the server; the other commands talk to a running
//! server over its API, for use from a shell.

use crate::config::ServeConfig;
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
        #[arg(long = "database", env = "HOOKPOST_DATABASE_URL", default_value = "")]
        database_url: String,
    },
    /// Create an account (needs the admin token); prints its id and API key.
    CreateAccount {
        /// Connection to the server.
        #[command(flatten)]
        server: ServerArgs,
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
    /// Register the ready catalog of fax and messaging event types in the account.
    LoadCatalog {
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
}

/// Where the server is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, env = "HOOKPOST_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Bearer token: the admin token for create-account, an API key otherwise.
    #[arg(long, env = "HOOKPOST_TOKEN", hide_env_values = true)]
    pub token: String,
}
