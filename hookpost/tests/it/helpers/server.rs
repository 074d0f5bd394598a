//! A real hookpost process for tests: started from the built binary on a free
//! loopback port, with its own data directory, and its log lines captured.

use super::postgres::{fresh_database, TestDatabase};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

/// The admin token every test server uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running server.
pub struct TestServer {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    data_dir: PathBuf,
    _tmp: Option<Arc<TempDir>>,
    /// The database made for this server (and its restarts), dropped with it.
    database: Option<Arc<TestDatabase>>,
    extra_args: Vec<String>,
    /// A program (with its arguments) the binary is started through, e.g. `prlimit`.
    launcher: Vec<String>,
    /// Every log line the server printed.
    pub logs: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

/// An account created for a test.
#[derive(Clone, Debug)]
pub struct TestAccount {
    /// Its id.
    pub id: String,
    /// Its API key.
    pub key: String,
}

/// An API answer: status code and JSON body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Parsed body (`Null` when empty).
    pub body: Value,
}

impl TestServer {
    /// A server with loopback targets allowed (tests deliver to loopback only).
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// A server with extra command-line arguments, on the backend the suite runs
    /// on: PostgreSQL (a fresh database) when `HOOKPOST_TEST_DATABASE_URL` is set,
    /// the embedded store otherwise.
    pub async fn start_with(extra: &[&str]) -> TestServer {
        let database = suite_database().await;
        let url = database.as_ref().map(|d| d.url.as_str());
        Self::start_on(url, extra).await.owning(database)
    }

    /// `n` nodes sharing one fresh PostgreSQL database.
    pub async fn start_nodes(n: usize, extra: &[&str]) -> Vec<TestServer> {
        let database = Arc::new(fresh_database(&super::postgres::admin_url()).await);
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let node = Self::start_on(Some(&database.url), extra).await;
            nodes.push(node.owning(Some(database.clone())));
        }
        nodes
    }

    /// This server holding `database`, so that it is dropped after the server.
    fn owning(mut self, database: Option<impl Into<Arc<TestDatabase>>>) -> TestServer {
        self.database = database.map(Into::into);
        self
    }

    /// A server on `database` (a PostgreSQL URL) or, if `None`, the embedded store.
    /// Each server has a stable node id, kept across restarts, and a short lease
    /// margin so that takeovers happen within a test's patience.
    pub async fn start_on(database: Option<&str>, extra: &[&str]) -> TestServer {
        let (tmp, data_dir, args) = Self::node_args(database, extra);
        Self::spawn(data_dir, Some(tmp), args, Vec::new()).await
    }

    /// A server on the embedded store in `data_dir` (a restored copy, say),
    /// which the caller keeps.
    pub async fn start_in(data_dir: &Path, extra: &[&str]) -> TestServer {
        let (_, _, args) = Self::node_args(None, extra);
        Self::spawn(data_dir.to_path_buf(), None, args, Vec::new()).await
    }

    /// A server (on the suite's backend) started under a descriptor limit of
    /// `nofile` (soft and hard): `prlimit --nofile=N:N -- hookpost serve …`.
    pub async fn start_limited(nofile: u64, extra: &[&str]) -> TestServer {
        let database = suite_database().await;
        let url = database.as_ref().map(|d| d.url.as_str());
        let (tmp, data_dir, args) = Self::node_args(url, extra);
        let launcher = vec![
            "prlimit".to_string(),
            format!("--nofile={nofile}:{nofile}"),
            "--".to_string(),
        ];
        Self::spawn(data_dir, Some(tmp), args, launcher)
            .await
            .owning(database)
    }

    /// A fresh data directory and the node's own arguments.
    fn node_args(database: Option<&str>, extra: &[&str]) -> (Arc<TempDir>, PathBuf, Vec<String>) {
        let tmp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let data_dir = tmp.path().join("data");
        let node = format!("test-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut args: Vec<String> = vec![
            "--node-id".into(),
            node,
            "--lease-margin".into(),
            "1s".into(),
        ];
        if let Some(url) = database {
            args.extend(["--database".into(), url.to_string()]);
            if !extra.contains(&"--master-key-file") {
                args.extend(["--master-key-file".into(), shared_key_file(url)]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        (tmp, data_dir, args)
    }

    async fn spawn(
        data_dir: PathBuf,
        tmp: Option<Arc<TempDir>>,
        extra_args: Vec<String>,
        launcher: Vec<String>,
    ) -> TestServer {
        // reqwest is built without a bundled crypto provider; tests use ring, as the binary does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--log-format".into(),
            "json".into(),
            "--poll-interval".into(),
            "200ms".into(),
        ];
        if !extra_args.iter().any(|a| a == "--admin-token-file") {
            args.extend(["--admin-token".into(), ADMIN_TOKEN.into()]);
        }
        if !extra_args.iter().any(|a| a == "--allow-targets") {
            args.extend(["--allow-targets".into(), "127.0.0.0/8,::1/128".into()]);
        }
        args.extend(extra_args.iter().cloned());
        let mut command = match launcher.split_first() {
            Some((program, launcher_args)) => {
                let mut c = Command::new(program);
                c.args(launcher_args).arg(env!("CARGO_BIN_EXE_hookpost"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_hookpost")),
        };
        let mut child = command
            .args(&args)
            .env("HOOKPOST_LOG", "info,hookpost=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hookpost");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_address(&line) {
                    let _ = addr_tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "hookpost did not start; its log:\n{}",
                    logs.lock().unwrap().join("\n")
                )
            });
        TestServer {
            child,
            url: format!("http://{addr}"),
            data_dir,
            _tmp: tmp,
            database: None,
            extra_args,
            launcher,
            logs,
            http: reqwest::Client::new(),
        }
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the server to stop (SIGTERM), as an orchestrator would.
    /// A server that has exited already is left as it is.
    pub fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits up to `within` for the process to exit; its exit status, or `None`
    /// if it is still running.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for hookpost") {
                return Some(status);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The master key file the server was started with.
    pub fn master_key_file(&self) -> PathBuf {
        let named = self
            .extra_args
            .iter()
            .position(|a| a == "--master-key-file");
        match named.and_then(|i| self.extra_args.get(i + 1)) {
            Some(path) => PathBuf::from(path),
            None => self.data_dir.join("master.key"),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port` the API listens on.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The server's data directory (the embedded store's files).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The PostgreSQL URL the server runs on, or `None` on the embedded store.
    pub fn database_url(&self) -> Option<String> {
        self.extra_args
            .iter()
            .position(|a| a == "--database")
            .and_then(|i| self.extra_args.get(i + 1).cloned())
    }

    /// Kills the server (SIGKILL) and starts a new one on the same data.
    pub async fn crash_and_restart(&mut self) {
        self.kill9();
        self.respawn(self.extra_args.clone()).await;
    }

    /// Starts a new process in place of this one, on the same data, with `args`.
    async fn respawn(&mut self, args: Vec<String>) {
        let next = Self::spawn(
            self.data_dir.clone(),
            self._tmp.clone(),
            args,
            self.launcher.clone(),
        )
        .await
        .owning(self.database.clone());
        let old = std::mem::replace(self, next);
        drop(old);
    }

    /// Stops the server and starts it again on the same data with `more`
    /// arguments (a flag that names something created through the API; a
    /// flag it was started with takes the new value).
    pub async fn restart_with(&mut self, more: &[&str]) {
        self.terminate();
        self.wait_exit(Duration::from_secs(15)).await;
        let mut args = self.extra_args.clone();
        let mut more = more.iter();
        while let Some(arg) = more.next() {
            // A flag given already takes the new value.
            match args.iter().position(|a| a == arg) {
                Some(i) if arg.starts_with("--") && i + 1 < args.len() => {
                    args[i + 1] = more.next().expect("a value").to_string();
                }
                _ => args.push(arg.to_string()),
            }
        }
        self.respawn(args).await;
    }

    /// Sends a request; `token` is an API key or the admin token.
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> Answer {
        let bearer = format!("Bearer {token}");
        let mut headers = Vec::new();
        if !token.is_empty() {
            headers.push(("authorization", bearer.as_str()));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.call_raw(method, path, &headers, body).await
    }

    /// Sends a request with exactly these headers (no key, no content type added).
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let res = req.send().await.expect("request to hookpost");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, body }
    }

    /// `POST` JSON.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.call("POST", path, token, Some(&body.to_string()))
            .await
    }

    /// `PUT` JSON.
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Answer {
        self.call("PUT", path, token, Some(&body.to_string())).await
    }

    /// `GET`.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, token, None).await
    }

    /// A new account, optionally with settings.
    pub async fn account_with(&self, settings: Value) -> TestAccount {
        let a = self
            .post(
                "/v1/accounts",
                ADMIN_TOKEN,
                &json!({"name": "test", "settings": settings}),
            )
            .await;
        assert_eq!(a.status, 201, "create account: {:?}", a.body);
        TestAccount {
            id: a.body["id"].as_str().unwrap().into(),
            key: a.body["api_key"].as_str().unwrap().into(),
        }
    }

    /// A new account without settings.
    pub async fn account(&self) -> TestAccount {
        self.account_with(json!({})).await
    }

    /// Publishes one event; panics unless it is accepted (202).
    pub async fn publish(&self, account: &TestAccount, body: Value) -> String {
        let a = self.post("/v1/events", &account.key, &body).await;
        assert_eq!(a.status, 202, "publish: {:?}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    /// Publishes `body`, JSON text sent exactly as given, and answers whatever
    /// the server said.
    pub async fn publish_text(&self, account: &TestAccount, body: &str) -> Answer {
        self.call("POST", "/v1/events", &account.key, Some(body))
            .await
    }

    /// The event with its attempts.
    pub async fn event(&self, account: &TestAccount, id: &str) -> Value {
        let a = self.get(&format!("/v1/events/{id}"), &account.key).await;
        assert_eq!(a.status, 200, "get event: {:?}", a.body);
        a.body
    }

    /// Polls the event until its status is `status` (or panics after `within`).
    pub async fn wait_for_status(
        &self,
        account: &TestAccount,
        id: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        self.wait_for_event(account, id, |e| e["status"] == status, within)
            .await
            .unwrap_or_else(|e| {
                let log = self.log_text();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "event {id} did not become {status} within {within:?}: {e:#}\nlast lines of the server log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
    }

    /// Polls the event until `done` holds; `Err` with the last state after `within`.
    pub async fn wait_for_event(
        &self,
        account: &TestAccount,
        id: &str,
        done: impl Fn(&Value) -> bool,
        within: Duration,
    ) -> Result<Value, Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let e = self.event(account, id).await;
            if done(&e) {
                return Ok(e);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(e);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the account has no pending event left (panics after `within`).
    pub async fn wait_none_pending(&self, account: &TestAccount, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let page = self
                .get("/v1/events?status=pending&limit=1", &account.key)
                .await;
            if page.status == 200 && page.body["data"] == serde_json::json!([]) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "events still pending after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// All log lines so far, joined.
    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The JSON log lines so far whose `fields.message` is `message` or starts
    /// with it (a message may go on to explain, as in `…; they are sent again`).
    pub fn log_lines(&self, message: &str) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .collect()
    }

    /// Waits until at least `count` log lines with `message` were printed; `Err`
    /// with the whole log after `within`.
    pub async fn wait_for_log(
        &self,
        message: &str,
        count: usize,
        within: Duration,
    ) -> Result<Vec<Value>, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let lines = self.log_lines(message);
            if lines.len() >= count {
                return Ok(lines);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn listening_address(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v["fields"]["message"] == "hookpost listening")
        .then(|| v["fields"]["address"].as_str().map(str::to_string))?
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database when the suite runs on PostgreSQL (`HOOKPOST_TEST_DATABASE_URL`
/// names its cluster), `None` on the embedded store.
async fn suite_database() -> Option<TestDatabase> {
    match std::env::var("HOOKPOST_TEST_DATABASE_URL") {
        Ok(admin) => Some(fresh_database(&admin).await),
        Err(_) => None,
    }
}

/// The master key file every node on the database `url` shares (nodes on
/// one database need one key), in a directory of the test run.
fn shared_key_file(url: &str) -> String {
    let name = url.rsplit('/').next().unwrap_or("db");
    let dir = std::env::temp_dir().join("hookpost-test-keys");
    std::fs::create_dir_all(&dir).expect("the shared key directory");
    dir.join(format!("{name}.key")).display().to_string()
}

/// Runs `hookpost serve` on `data_dir` with `args` (and the test admin token),
/// expecting it to refuse to start: answers what it printed on stderr (panics
/// if it is still running after 10 s, or exits successfully).
pub async fn refused_start(data_dir: &Path, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .arg("serve")
        .args(["--admin-token", ADMIN_TOKEN, "--listen", "127.0.0.1:0"])
        .args(["--data-dir", data_dir.to_str().expect("a UTF-8 path")])
        .args(args)
        .env_remove("HOOKPOST_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hookpost");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("poll hookpost").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hookpost serve {args:?} started");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().expect("hookpost output");
    assert!(!out.status.success(), "hookpost serve {args:?} exited 0");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
