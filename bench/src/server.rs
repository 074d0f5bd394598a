//! The hookpost processes under test: the real binary, started on a free loopback
//! port with a fresh data directory and default durability, its JSON log drained
//! by a thread, and killed when dropped (so on every exit path, panics included);
//! the size of the embedded store it keeps there.

use crate::cpu;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// The admin token the bench starts hookpost with.
pub const ADMIN_TOKEN: &str = "hookpost-bench-admin-token";

/// Longest wait for a node to report that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Warning and error lines copied to the bench's stderr per node; more are only counted.
const SHOWN_WARNINGS: usize = 10;

/// The embedded store's files in a data directory that make up its size: the
/// database and its write-ahead log (not the WAL's shared-memory index).
const STORE_FILES: [&str; 2] = ["hookpost.db", "hookpost.db-wal"];

/// The master key file hookpost makes in its data directory when it is given none.
const MASTER_KEY_FILE: &str = "master.key";

/// One running hookpost process.
struct Node {
    /// The process.
    child: Child,
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// Warning, error and non-JSON lines on its stderr.
    warnings: Arc<AtomicUsize>,
    /// Its data directory, removed after the process is killed.
    data: TempDir,
}

impl Node {
    /// Starts one node and waits until it listens; with `master_key`, the
    /// master key file of the node that made the database's secrets.
    fn start(
        bin: &Path,
        database: &str,
        node_id: Option<String>,
        master_key: Option<&Path>,
    ) -> Result<Node, String> {
        let data = tempfile::Builder::new()
            .prefix("hookpost-bench-")
            .tempdir()
            .map_err(|e| format!("cannot make a data directory: {e}"))?;
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args([
                "--admin-token",
                ADMIN_TOKEN,
                "--allow-targets",
                "127.0.0.0/8",
            ])
            .args(["--log-format", "json"]);
        if !database.is_empty() {
            command.args(["--database", database]);
        }
        if let Some(id) = node_id {
            command.args(["--node-id", &id]);
        }
        if let Some(key) = master_key {
            command.arg("--master-key-file").arg(key);
        }
        // The bench's settings only: none inherited from the environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HOOKPOST_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .env("HOOKPOST_LOG", "warn,hookpost::server=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (listening, address) = mpsc::channel();
        let warnings = Arc::new(AtomicUsize::new(0));
        let counter = warnings.clone();
        std::thread::spawn(move || drain(stderr, listening, &counter));
        // Built before waiting so that an error below still kills the process.
        let mut node = Node {
            child,
            base: String::new(),
            warnings,
            data,
        };
        node.base = match address.recv_timeout(START_TIMEOUT) {
            Ok(address) => format!("http://{address}"),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("hookpost not listening after {START_TIMEOUT:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err("hookpost exited before listening (its log, if any, is above)".into())
            }
        };
        Ok(node)
    }

    /// Peak resident memory (`VmHWM`) so far, in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// CPU time the process has used so far.
    fn cpu_time(&self) -> Option<Duration> {
        cpu::of_process(self.child.id())
    }

    /// Bytes of the embedded store's [`STORE_FILES`] in its data directory
    /// (0 for a file that is not there).
    fn store_bytes(&self) -> u64 {
        let size = |file| std::fs::metadata(self.data.path().join(file)).map_or(0, |m| m.len());
        STORE_FILES.into_iter().map(size).sum()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a node's stderr until it closes: sends the listening address once,
/// counts and shows the first few warnings.
fn drain(stderr: ChildStderr, listening: Sender<String>, warnings: &AtomicUsize) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let parsed: Option<Value> = serde_json::from_str(&line).ok();
        let fields = parsed.as_ref().map(|v| &v["fields"]);
        if let Some(address) = fields
            .filter(|f| f["message"] == "hookpost listening")
            .and_then(|f| f["address"].as_str())
        {
            let _ = listening.send(address.to_owned());
        } else if parsed.as_ref().is_none_or(|v| v["level"] != "INFO")
            && warnings.fetch_add(1, Ordering::Relaxed) < SHOWN_WARNINGS
        {
            eprintln!("[hookpost] {line}");
        }
    }
}

/// The hookpost processes of one run, all on the same store.
pub struct Cluster {
    /// Started nodes, killed when the cluster is dropped.
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts `count` nodes; more than one share `database`. Blocks while they start.
    pub fn start(bin: &Path, database: &str, count: usize) -> Result<Cluster, String> {
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count {
            // A fresh name per run: no node takes back claims of an earlier run.
            let node_id =
                (!database.is_empty()).then(|| format!("bench-{}-{i}", std::process::id()));
            // The first node makes the master key in its data directory; the
            // others share it, or they could not open the secrets it sealed.
            let key = nodes
                .first()
                .map(|n: &Node| n.data.path().join(MASTER_KEY_FILE));
            nodes.push(Node::start(bin, database, node_id, key.as_deref())?);
        }
        Ok(Cluster { nodes })
    }

    /// Base URLs of the nodes, in start order.
    pub fn bases(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.base.clone()).collect()
    }

    /// Peak resident memory of each node, in KiB (0 when unreadable).
    pub fn peak_rss_kib(&self) -> Vec<u64> {
        let peak = |n: &Node| n.peak_rss_kib().unwrap_or(0);
        self.nodes.iter().map(peak).collect()
    }

    /// CPU time the nodes have used so far, summed (a node whose time cannot
    /// be read counts nothing).
    pub fn cpu_time(&self) -> Duration {
        self.nodes.iter().filter_map(Node::cpu_time).sum()
    }

    /// Bytes of the nodes' embedded stores on disk, database and WAL (0 on a
    /// `--database` store, which keeps nothing in the data directories).
    pub fn store_bytes(&self) -> u64 {
        self.nodes.iter().map(Node::store_bytes).sum()
    }

    /// Warning, error and non-JSON log lines of all nodes so far.
    pub fn warnings(&self) -> usize {
        let count = |n: &Node| n.warnings.load(Ordering::Relaxed);
        self.nodes.iter().map(count).sum()
    }
}
