//! Starting and stopping the server: open storage, start the delivery worker,
//! serve the API, and on shutdown stop accepting, then let attempts in flight
//! finish (or lapse into their lease).

use crate::api;
use crate::api::connections::ConnectionLimits;
use crate::app::notices::OperationalEvents;
use crate::app::App;
use crate::config::{ConfigError, Role, ServeConfig};
use crate::delivery::address::AddressPolicy;
use crate::delivery::attempt::Channels;
use crate::delivery::clock::{RandomJitter, SystemClock};
use crate::delivery::email::Mailer;
use crate::delivery::files::FileReader;
use crate::delivery::http::{HttpSender, SenderConfig};
use crate::delivery::links::AttachmentLinks;
use crate::delivery::transport::Transport;
use crate::delivery::worker::{Deliverer, WorkerConfig};
use crate::jobs::{self, CallerJobs, IdempotencyExpiry, MasterKeyWatch, RetentionPurge};
use crate::metrics::Metrics;
use crate::storage::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Storage could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the delivery client: {0}")]
    Client(#[from] reqwest::Error),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Descriptors kept for storage, deliveries and logs beyond client connections.
const RESERVED_DESCRIPTORS: u64 = 256;

/// The connection bounds, with `--max-connections` lowered when the process may
/// not open that many descriptors (after raising the soft limit to the hard one).
fn connection_limits(config: &ServeConfig) -> ConnectionLimits {
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = nofile.saturating_sub(RESERVED_DESCRIPTORS).max(16) as usize;
    let max_connections = config.max_connections.min(room);
    if max_connections < config.max_connections {
        tracing::warn!(
            max_connections,
            descriptor_limit = nofile,
            "--max-connections lowered to fit the descriptor limit (raise it with ulimit -n)"
        );
    }
    ConnectionLimits {
        max_connections,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
    }
}

/// The ways out of deliveries (HTTP, and SMTP when a relay is configured), on
/// the system clock with random retry jitter.
fn channels(
    config: &ServeConfig,
    policy: &AddressPolicy,
    store: &Arc<dyn Store>,
    public_url: &str,
) -> Result<Channels, StartError> {
    let mail: Option<Arc<dyn Transport>> = match &config.smtp_url {
        Some(url) => Some(Arc::new(
            Mailer::new(url, &config.smtp_from).map_err(|e| ConfigError::new(e.to_string()))?,
        )),
        None => None,
    };
    Ok(Channels {
        web: Arc::new(HttpSender::new(SenderConfig {
            policy: policy.clone(),
            bind: config.egress_bind,
            max_per_host: config.max_per_host,
            dangerously_accept_invalid_certs: config.dangerously_accept_invalid_certs,
        })?),
        mail,
        clock: Arc::new(SystemClock),
        jitter: Arc::new(RandomJitter),
        files: Some(FileReader::new(store.clone())),
        links: Some(AttachmentLinks::new(public_url, config.attachment_link_ttl)),
    })
}

/// The worker's part of the configuration.
fn worker_config(config: &ServeConfig, node: &str) -> WorkerConfig {
    WorkerConfig {
        node: node.to_string(),
        concurrency: config.delivery_concurrency,
        poll_interval: config.poll_interval,
        drain_timeout: config.shutdown_timeout,
        lease_margin: config.lease_margin,
        control: config.control_policy(),
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    mut config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    config.load_admin_token()?;
    config.validate()?;
    let limits = connection_limits(&config);
    let store_config = config.store()?;
    crate::master_key::prepare(&config.master_key_path(), &store_config)
        .await
        .map_err(|e| ConfigError::new(e.to_string()))?;
    let store = store_config.open().await?;
    crate::master_key::confirm(store.as_ref())
        .await
        .map_err(|e| ConfigError::new(e.to_string()))?;
    let policy = AddressPolicy::new(config.allow_targets.clone());
    let stop = CancellationToken::new();
    let node = config
        .node_id
        .clone()
        .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let metrics = Arc::new(Metrics::new(&node, &config.role.name()));
    // The role decides whether this node has a worker at all: an API-only node
    // stores events and leaves them to the worker nodes.
    let deliverer = match config.role {
        Role::Api => None,
        Role::All | Role::Worker => {
            let public_url = match &config.public_url {
                Some(url) => url.to_string(),
                None => format!("http://{}", listener.local_addr()?),
            };
            let channels = channels(&config, &policy, &store, &public_url)?;
            Some(Deliverer::new(
                store.clone(),
                channels,
                worker_config(&config, &node),
                metrics.clone(),
            ))
        }
    };
    let worker = match &deliverer {
        Some(deliverer) => {
            let released = store.release_claims(deliverer.node()).await?;
            if released > 0 {
                tracing::info!(
                    released,
                    "took back deliveries this node had in flight when it last stopped"
                );
            }
            Some(tokio::spawn(deliverer.clone().run(stop.clone())))
        }
        None => None,
    };
    let role = config.role;
    let app = Arc::new(App {
        store: store.clone(),
        deliverer: deliverer.clone(),
        config,
        policy,
        schemas: Default::default(),
        caches: Default::default(),
        metrics,
        retention_changed: Default::default(),
    });
    let background = jobs::start(
        vec![
            Arc::new(IdempotencyExpiry::new(
                store.clone(),
                app.config.idempotency_window,
            )),
            Arc::new(MasterKeyWatch::new(
                store.clone(),
                app.config.master_key_path(),
            )),
            Arc::new(RetentionPurge::new(
                store.clone(),
                app.config.retention,
                app.metrics.clone(),
                app.retention_changed.clone(),
            )),
            Arc::new(CallerJobs::new(
                store,
                node.clone(),
                deliverer,
                app.config.lease_margin,
            )),
            Arc::new(OperationalEvents::new(app.clone(), node)),
        ],
        stop.clone(),
    );
    let router = if role == Role::Worker {
        api::health_router(app)
    } else {
        api::router(app.clone()).merge(crate::console::router(app))
    };

    tracing::info!(address = %listener.local_addr()?, ?role, "hookpost listening");
    let serve_stop = stop.clone();
    api::connections::serve(listener, router, limits, async move {
        shutdown.await;
        tracing::info!("stop requested: no new requests are taken");
        serve_stop.cancel();
    })
    .await;
    stop.cancel();
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    background.wait().await;
    Ok(())
}
