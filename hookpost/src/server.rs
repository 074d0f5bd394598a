//! Starting and stopping the server: open storage, start the delivery worker,
//! serve the API, and on shutdown stop accepting, then let attempts in flight
//! finish (or lapse into their lease).

use crate::api;
use crate::app::App;
use crate::config::ServeConfig;
use crate::delivery::address::AddressPolicy;
use crate::delivery::http::HttpSender;
use crate::delivery::worker::{Deliverer, WorkerConfig};
use crate::storage::sqlite::SqliteStore;
use crate::storage::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
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
    Store(#[from] crate::storage::StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the delivery client: {0}")]
    Client(#[from] reqwest::Error),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs until `shutdown` resolves.
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    config.validate()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.data_dir, config.durability)?);
    let policy = AddressPolicy::new(config.allow_targets.clone());
    let sender = HttpSender::new(policy.clone(), None)?;
    let node = config
        .node_id
        .clone()
        .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let deliverer = Deliverer::new(
        store.clone(),
        sender,
        WorkerConfig {
            node,
            concurrency: config.delivery_concurrency,
            poll_interval: config.poll_interval,
            drain_timeout: Duration::from_secs(10),
        },
    );
    let stop = CancellationToken::new();
    let worker = tokio::spawn(deliverer.clone().run(stop.clone()));
    let app = Arc::new(App {
        store,
        deliverer,
        config,
        policy,
    });

    tracing::info!(address = %listener.local_addr()?, "hookpost listening");
    let serve_stop = stop.clone();
    axum::serve(listener, api::router(app))
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            serve_stop.cancel();
        })
        .await?;
    stop.cancel();
    let _ = worker.await;
    Ok(())
}
