//! PostgreSQL for tests: a fresh database per test server on the shared cluster
//! that `scripts/test` starts, and private clusters for tests that stop and start
//! the database itself.

use std::process::Command;
use tempfile::TempDir;

/// The shared cluster's admin URL, set by `scripts/test`.
pub fn admin_url() -> String {
    std::env::var("HOOKPOST_TEST_PG_ADMIN_URL")
        .or_else(|_| std::env::var("HOOKPOST_TEST_DATABASE_URL"))
        .expect("PostgreSQL tests need the cluster that scripts/test starts (HOOKPOST_TEST_PG_ADMIN_URL)")
}

/// A database made for one test; dropped when the test lets go of it, so a
/// run of hundreds of tests does not fill the disk with their databases.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    admin_url: String,
    name: String,
}

/// Creates an empty database on the cluster of `admin_url`.
pub async fn fresh_database(admin_url: &str) -> TestDatabase {
    let name = format!("hookpost_{}", uuid::Uuid::new_v4().simple());
    admin_statement(admin_url, &format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("a URL with a database name");
    TestDatabase {
        url: format!("{base}/{name}"),
        admin_url: admin_url.to_string(),
        name,
    }
}

async fn admin_statement(admin_url: &str, statement: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(statement).await
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which may not be blocked on:
        // the statement runs on a thread and a runtime of its own. A cluster
        // the test stopped already has nothing left to drop.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let _ = runtime.block_on(admin_statement(&admin_url, &statement));
        })
        .join();
    }
}

/// A PostgreSQL cluster of one test's own, which it may stop and start.
pub struct PgCluster {
    dir: TempDir,
    port: u16,
}

fn cluster_command(args: &[&str]) -> Command {
    let script = std::env::var("HOOKPOST_TEST_PG_CLUSTER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg-cluster").to_string()
    });
    let mut command = Command::new(script);
    command.args(args);
    command
}

fn cluster_script(args: &[&str]) {
    let status = cluster_command(args)
        .status()
        .expect("run scripts/pg-cluster");
    assert!(status.success(), "scripts/pg-cluster {args:?} failed");
}

impl PgCluster {
    /// Creates and starts a cluster on a free loopback port.
    pub fn start() -> PgCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = dir.path().to_str().unwrap();
        cluster_script(&["init", path]);
        cluster_script(&["start", path, &port.to_string()]);
        PgCluster { dir, port }
    }

    /// Its admin URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the database (fast shutdown: clients are disconnected).
    pub fn stop(&self) {
        cluster_script(&["stop", self.dir.path().to_str().unwrap()]);
    }

    /// Starts it again on the same port.
    pub fn resume(&self) {
        cluster_script(&[
            "start",
            self.dir.path().to_str().unwrap(),
            &self.port.to_string(),
        ]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = cluster_command(&["stop", self.dir.path().to_str().unwrap()]).status();
    }
}
