//! Descriptor starvation: many clients that send their headers a byte at a time
//! must not keep a server with a low descriptor limit from answering others.

use crate::helpers::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TRICKLERS: usize = 1500;
/// The longest any trickling client keeps going.
const TRICKLE_FOR: Duration = Duration::from_secs(25);

#[derive(Default)]
struct Counts {
    connected: AtomicUsize,
    closed_by_server: AtomicUsize,
}

/// One slow client: the start of a request, then a header byte every 500 ms,
/// until the server closes the connection or `TRICKLE_FOR` is over.
async fn trickle(addr: String, counts: Arc<Counts>) {
    let deadline = tokio::time::Instant::now() + TRICKLE_FOR;
    let Ok(Ok(stream)) = tokio::time::timeout_at(deadline, TcpStream::connect(&addr)).await else {
        return;
    };
    counts.connected.fetch_add(1, Ordering::Relaxed);
    let (mut read, mut write) = stream.into_split();
    if write
        .write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut header = b"X-Trickle: slow\r\n".iter().cycle();
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return,
            // Anything from the server (a 408, or the close) ends this client.
            _ = read.read(&mut buf) => {
                counts.closed_by_server.fetch_add(1, Ordering::Relaxed);
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                if write.write_all(&[*header.next().unwrap()]).await.is_err() {
                    counts.closed_by_server.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_do_not_starve_a_server_with_few_descriptors() {
    // The test itself needs a descriptor per client, and some to spare.
    let _ = rlimit::increase_nofile_limit(TRICKLERS as u64 + 1024);
    let server = TestServer::start_limited(1024, &["--header-read-timeout", "2s"]).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["1024", "1024"],
        "the server does not run under the lowered limit: {open_files}"
    );
    let acct = server.account().await;
    let counts = Arc::new(Counts::default());
    let clients: Vec<_> = (0..TRICKLERS)
        .map(|_| tokio::spawn(trickle(server.addr().to_string(), counts.clone())))
        .collect();
    let until_connected = tokio::time::Instant::now() + Duration::from_secs(3);
    while counts.connected.load(Ordering::Relaxed) < TRICKLERS
        && tokio::time::Instant::now() < until_connected
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = counts.connected.load(Ordering::Relaxed);

    // A fresh client without pooled connections: each request needs a new accept.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    // Both asked at once, while the clients trickle.
    let asked = std::time::Instant::now();
    let timed = |request: reqwest::RequestBuilder| async move {
        let answer = request.send().await;
        (answer, asked.elapsed())
    };
    let ((publish, publish_took), (health, health_took)) = tokio::join!(
        timed(
            http.post(format!("{}/v1/events", server.url))
                .bearer_auth(&acct.key)
                .header("content-type", "application/json")
                .body(json!({"event_type": "x", "payload": {}}).to_string())
        ),
        timed(http.get(format!("{}/healthz", server.url))),
    );
    let closed = counts.closed_by_server.load(Ordering::Relaxed);
    for client in &clients {
        client.abort();
    }
    println!(
        "starvation: {connected} connected, {closed} closed by the server; publish answered in {publish_took:?} ({:?}), /healthz in {health_took:?} ({:?})",
        publish.as_ref().map(|r| r.status()),
        health.as_ref().map(|r| r.status())
    );

    // With 1024 descriptors the server holds fewer connections than this.
    assert!(
        connected >= 800,
        "only {connected} of {TRICKLERS} clients connected: the test did not load the server"
    );
    let publish = publish.expect("the publish got no answer within 30 s");
    assert_eq!(publish.status().as_u16(), 202, "{:?}", publish.text().await);
    let health = health.expect("/healthz got no answer within 30 s");
    assert_eq!(health.status().as_u16(), 200);
}
