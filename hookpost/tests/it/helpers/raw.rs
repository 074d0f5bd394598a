//! Receivers that misbehave below HTTP, written on raw TCP: they trickle, flood
//! or reset, which a well-behaved HTTP server library will not do.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a raw receiver misbehaves.
#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    /// Sends `200` headers promptly, then the body one byte every 100 ms.
    TrickleBody,
    /// Sends the status line, then the headers one byte every 100 ms.
    TrickleHeaders,
    /// Sends `200` and a 50 MB body as fast as it can.
    HugeBody,
    /// Resets the connection as soon as the request arrives.
    Reset,
    /// Answers bytes that are not HTTP, then closes.
    Garbage,
}

/// A raw receiver on loopback; it runs until the test ends.
pub struct RawReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
}

impl RawReceiver {
    /// Starts one.
    pub async fn start(how: Misbehaviour) -> RawReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(misbehave(stream, how));
            }
        });
        RawReceiver { addr }
    }

    /// A URL on it.
    pub fn url(&self) -> String {
        format!("http://{}/raw", self.addr)
    }
}

async fn misbehave(mut stream: TcpStream, how: Misbehaviour) {
    let mut buf = [0u8; 8192];
    let _ = stream.read(&mut buf).await;
    let tick = Duration::from_millis(100);
    match how {
        Misbehaviour::TrickleBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
                .await;
            for _ in 0..600 {
                if stream.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(tick).await;
            }
        }
        Misbehaviour::TrickleHeaders => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
            for byte in b"x-slow: ".iter().cycle().take(600) {
                if stream.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(tick).await;
            }
        }
        Misbehaviour::HugeBody => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 52428800\r\n\r\n")
                .await;
            let chunk = vec![b'y'; 64 * 1024];
            for _ in 0..800 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        Misbehaviour::Reset => {
            // A zero linger makes the close a reset (RST) at once; it cannot block.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Misbehaviour::Garbage => {
            let _ = stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").await;
            let _ = stream.shutdown().await;
        }
    }
}

/// A client below HTTP: connects to `addr`, writes `request` as it is, and
/// answers the first line the server writes back (without its line end; what
/// arrived if the connection closed first). `None` if nothing came within `within`.
pub async fn first_response_line(addr: &str, request: &[u8], within: Duration) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to hookpost");
        stream.write_all(request).await.expect("send the request");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.windows(2).any(|w| w == b"\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&got).to_string();
        text.split("\r\n").next().unwrap_or_default().to_string()
    };
    tokio::time::timeout(within, exchange).await.ok()
}
