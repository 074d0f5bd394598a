//! Server configuration: one typed struct, every field a flag and an environment
//! variable, validated before anything starts.

use crate::domain::retention::check_floor;
use crate::domain::retry::RetrySchedule;
use crate::secrets::Secret;
use crate::storage::{ControlPolicy, Durability, StoreConfig};
use clap::Args;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How `hookpost serve` runs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address the HTTP API listens on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "HOOKPOST_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the embedded database.
    #[arg(long, env = "HOOKPOST_DATA_DIR", default_value = "./hookpost-data")]
    pub data_dir: PathBuf,

    /// Database URL: empty for the embedded store in --data-dir.
    #[arg(
        long = "database",
        env = "HOOKPOST_DATABASE_URL",
        default_value = "",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Token that authorizes creating accounts (`Authorization: Bearer …`).
    /// Prefer the environment variable or --admin-token-file: a flag's value is
    /// visible to every user of the machine in `ps`.
    #[arg(
        long,
        env = "HOOKPOST_ADMIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "admin_token_file",
        value_parser = secret
    )]
    pub admin_token: Option<Secret>,

    /// File holding the admin token (surrounding whitespace is ignored).
    #[arg(long, env = "HOOKPOST_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Networks exempt from the address block, comma-separated CIDRs
    /// (e.g. `127.0.0.0/8,::1/128` for local development).
    #[arg(long, env = "HOOKPOST_ALLOW_TARGETS", value_delimiter = ',', value_parser = parse_net)]
    pub allow_targets: Vec<IpNet>,

    /// How long an idempotency key is remembered.
    #[arg(long, env = "HOOKPOST_IDEMPOTENCY_WINDOW", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idempotency_window: Duration,

    /// How long finished events (delivered, failed, never sent) are kept
    /// before the background purge deletes them with their deliveries and
    /// attempts; an account may set its own (`PUT /v1/account/retention`).
    /// Pending events are kept whatever their age. Must cover the default
    /// retry schedule (about 3 days).
    #[arg(long, env = "HOOKPOST_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retention: Duration,

    /// File of the master key that seals signing secrets, callback tokens and
    /// URL passwords in the database (default: `master.key` in --data-dir,
    /// created 0600 when absent). Keep it apart from the database and its
    /// backups; nodes sharing a database need the same file.
    #[arg(long, env = "HOOKPOST_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "HOOKPOST_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest total size of the files one event may carry, in bytes. A
    /// publish carrying files may be this much larger than --max-body-bytes
    /// (a third more in base64).
    #[arg(long, env = "HOOKPOST_MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: u64,

    /// The address receivers reach this server at, for the download links of
    /// attachments in JSON deliveries (default: `http://` and --listen).
    #[arg(long, env = "HOOKPOST_PUBLIC_URL")]
    pub public_url: Option<url::Url>,

    /// How long an attachment's download link works after the attempt that
    /// carried it.
    #[arg(long, env = "HOOKPOST_ATTACHMENT_LINK_TTL", default_value = "7d", value_parser = humantime::parse_duration)]
    pub attachment_link_ttl: Duration,

    /// Most endpoints one account may keep.
    #[arg(long, env = "HOOKPOST_MAX_ENDPOINTS", default_value_t = 500)]
    pub max_endpoints: u64,

    /// Largest number of events in one batch publish.
    #[arg(long, env = "HOOKPOST_MAX_BATCH", default_value_t = 1000)]
    pub max_batch: usize,

    /// `full`: every acknowledged event survives power loss (commits are flushed,
    /// concurrent publishes share one flush). `process`: survives a crash of
    /// hookpost but not of the machine, for more speed.
    #[arg(long, env = "HOOKPOST_DURABILITY", value_enum, default_value = "full")]
    pub durability: Durability,

    /// Most delivery attempts in flight at once on this node.
    #[arg(long, env = "HOOKPOST_DELIVERY_CONCURRENCY", default_value_t = 512)]
    pub delivery_concurrency: usize,

    /// Longest pause between looks at the queue for due retries.
    #[arg(long, env = "HOOKPOST_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,

    /// Name of this node in delivery claims. Give each node a stable, unique name
    /// so that after a restart it takes back its own in-flight claims at once
    /// (default: a random name per start; its claims then lapse after their lease).
    #[arg(long, env = "HOOKPOST_NODE_ID")]
    pub node_id: Option<String>,

    /// What this process does: `all` (API and delivery), `api` (accepts events;
    /// other nodes deliver) or `worker` (delivers; serves only /healthz).
    #[arg(long, env = "HOOKPOST_ROLE", value_enum, default_value = "all")]
    pub role: Role,

    /// Spare time on a delivery claim beyond two request timeouts before another
    /// node may take the event over.
    #[arg(long, env = "HOOKPOST_LEASE_MARGIN", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lease_margin: Duration,

    /// Most connections to PostgreSQL from this node.
    #[arg(long, env = "HOOKPOST_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,

    /// SMTP relay for `mailto:` targets: `smtp://[user:pass@]host[:port]`
    /// (`?tls=required` for STARTTLS) or `smtps://…`. Without it, `mailto:`
    /// targets are refused.
    #[arg(long, env = "HOOKPOST_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender address of e-mail webhooks.
    #[arg(long, env = "HOOKPOST_SMTP_FROM", default_value = "hookpost@localhost")]
    pub smtp_from: String,

    /// Most delivery requests in flight to one host at once.
    #[arg(long, env = "HOOKPOST_MAX_PER_HOST", default_value_t = 64)]
    pub max_per_host: usize,

    /// Failed attempts in a row that open an endpoint's circuit breaker: its
    /// deliveries then wait, without using attempts, while one probe at a time
    /// tries.
    #[arg(long, env = "HOOKPOST_BREAKER_AFTER", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_after: u32,

    /// Wait before an open breaker's first probe; doubled after each failed
    /// probe, up to --breaker-longest-probe.
    #[arg(long, env = "HOOKPOST_BREAKER_FIRST_PROBE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub breaker_first_probe: Duration,

    /// Longest wait between an open breaker's probes.
    #[arg(long, env = "HOOKPOST_BREAKER_LONGEST_PROBE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub breaker_longest_probe: Duration,

    /// How long an endpoint may fail with no success before it is disabled
    /// (an endpoint's own `disable_after` wins).
    #[arg(long, env = "HOOKPOST_DISABLE_AFTER", default_value = "5d", value_parser = humantime::parse_duration)]
    pub disable_after: Duration,

    /// Account that operational events (`hookpost.endpoint.disabled`,
    /// `hookpost.endpoint.enabled`, `hookpost.endpoint.breaker_opened`,
    /// `hookpost.delivery.failed`) are published into, as ordinary events.
    #[arg(long, env = "HOOKPOST_OPERATOR_ACCOUNT")]
    pub operator_account: Option<String>,

    /// Source address deliveries leave from (one that receivers can allowlist).
    #[arg(long, env = "HOOKPOST_EGRESS_BIND")]
    pub egress_bind: Option<std::net::IpAddr>,

    /// Networks deliveries leave from, published at `GET /v1/egress` so receivers
    /// can allowlist them (comma-separated CIDRs).
    #[arg(long, env = "HOOKPOST_EGRESS_NETWORKS", value_delimiter = ',', value_parser = parse_net)]
    pub egress_networks: Vec<IpNet>,

    /// Accept receivers' TLS certificates without checking them. Dangerous: only
    /// for testing against self-signed receivers.
    #[arg(long, env = "HOOKPOST_DANGEROUSLY_ACCEPT_INVALID_CERTS")]
    pub dangerously_accept_invalid_certs: bool,

    /// How long a client may take to send a request's headers, counted from the
    /// moment the connection is ready for a request.
    #[arg(long, env = "HOOKPOST_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// How long a client may take to send a request's body once its headers
    /// arrived (`408` after it).
    #[arg(long, env = "HOOKPOST_BODY_READ_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,

    /// How long an idle keep-alive connection (no request in progress, nothing
    /// arriving) stays open.
    #[arg(long, env = "HOOKPOST_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    /// Most client connections open at once; more wait to be accepted. Lowered at
    /// start to leave descriptors for storage and deliveries if the process
    /// limit is small.
    #[arg(long, env = "HOOKPOST_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// How long shutdown waits for deliveries in flight; the rest are sent again
    /// after their lease lapses.
    #[arg(long, env = "HOOKPOST_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,

    /// Log format: `text` or `json`.
    #[arg(long, env = "HOOKPOST_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// The jobs one process takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// API and delivery.
    All,
    /// API only: accepted events wait for worker nodes.
    Api,
    /// Delivery only.
    Worker,
}

impl Role {
    /// Its name as `--role` takes it (`all`, `api`, `worker`), for `/metrics`.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

fn secret(text: &str) -> Result<Secret, String> {
    Ok(Secret::new(text))
}

fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not a network like 127.0.0.0/8 or an address"))
}

/// A configuration that cannot work, found before start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// A configuration error with this explanation.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}

impl ServeConfig {
    /// Reads the admin token from `--admin-token-file` when one is named, so that
    /// [`ServeConfig::admin_token`] has it either way.
    pub fn load_admin_token(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.admin_token_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "cannot read --admin-token-file {}: {e}",
                    path.display()
                ))
            })?;
            self.admin_token = Some(Secret::new(text.trim()));
        }
        Ok(())
    }

    /// The admin token (empty until [`ServeConfig::load_admin_token`] ran, if it
    /// comes from a file).
    pub fn admin_token(&self) -> &str {
        self.admin_token.as_ref().map_or("", Secret::expose)
    }

    /// The store these flags name.
    pub fn store(&self) -> Result<StoreConfig, ConfigError> {
        StoreConfig::from_flags(
            &self.data_dir,
            &self.database_url,
            self.durability,
            self.db_pool_size,
        )
        .map_err(ConfigError)
    }

    /// Where the master key is kept (see [`ServeConfig::master_key_file`]).
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The rules of delivery control these flags set.
    pub fn control_policy(&self) -> ControlPolicy {
        ControlPolicy {
            breaker_after: self.breaker_after,
            first_probe: self.breaker_first_probe,
            longest_probe: self.breaker_longest_probe,
            disable_after: self.disable_after,
            ceiling: self.max_per_host as u32,
            operator_account: self.operator_account.clone(),
        }
    }

    /// Refuses configurations that cannot work and warns on risky ones.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.admin_token().trim().is_empty() {
            return Err(ConfigError(
                "an admin token is needed: set HOOKPOST_ADMIN_TOKEN, or pass --admin-token-file"
                    .into(),
            ));
        }
        if self.admin_token().len() < 16 {
            tracing::warn!("the admin token is shorter than 16 characters; use a long random one");
        }
        if !self.store()?.is_shared() && self.role != Role::All {
            return Err(ConfigError(
                "--role api|worker needs a shared --database (PostgreSQL)".into(),
            ));
        }
        if self.delivery_concurrency == 0
            || self.max_batch == 0
            || self.db_pool_size == 0
            || self.max_body_bytes < 1024
        {
            return Err(ConfigError(
                "--delivery-concurrency, --max-batch and --db-pool-size must be at least 1, --max-body-bytes at least 1024"
                    .into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError("--max-connections must be at least 1".into()));
        }
        let zero = [
            ("--header-read-timeout", self.header_read_timeout),
            ("--body-read-timeout", self.body_read_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--breaker-first-probe", self.breaker_first_probe),
            ("--disable-after", self.disable_after),
        ];
        if let Some((flag, _)) = zero.iter().find(|(_, d)| d.is_zero()) {
            return Err(ConfigError(format!("{flag} must be longer than zero")));
        }
        let floor = RetrySchedule::default().span();
        check_floor(self.retention, floor).map_err(|e| ConfigError(format!("--retention: {e}")))?;
        if self.max_per_host == 0 {
            return Err(ConfigError("--max-per-host must be at least 1".into()));
        }
        if self.breaker_longest_probe < self.breaker_first_probe {
            return Err(ConfigError(
                "--breaker-longest-probe must be at least --breaker-first-probe".into(),
            ));
        }
        if self.dangerously_accept_invalid_certs {
            tracing::warn!("TLS certificates of receivers are NOT checked (--dangerously-accept-invalid-certs)");
        }
        for net in &self.allow_targets {
            if net.prefix_len() == 0 {
                tracing::warn!(%net, "the allowlist opens every address: deliveries can reach private networks");
            }
        }
        Ok(())
    }
}
