//! Serving the API on accepted connections, with bounds a client cannot get
//! around: at most `max_connections` open at once (the rest wait in the kernel's
//! accept queue), a deadline for each request's headers, another for its body
//! (in [`super::parse`]), and idle keep-alive connections closed after a while.
//! Without these, a thousand half-sent requests hold every descriptor and the
//! API stops answering.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The bounds on client connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// From the first byte of a request to the end of its headers.
    pub header_read_timeout: Duration,
    /// How long a connection with nothing in progress and nothing arriving stays.
    pub idle_timeout: Duration,
}

/// Serves `router` until `shutdown` resolves, then lets requests in progress
/// finish (idle connections close at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the connection semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, most often: wait for connections to close
                    // instead of spinning on the error.
                    tracing::warn!(error = %e, "cannot accept a connection; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            closing.clone(),
            permit,
        ));
    }
    closing.cancel();
    connections.close();
    connections.wait().await;
}

/// What a connection is doing, for its watchdog.
struct Activity {
    started: Instant,
    /// Requests handed to the router and not answered yet.
    in_flight: AtomicUsize,
    /// When the last answer was made (or the connection opened), in ms.
    last_done: AtomicU64,
    /// When bytes first arrived after `last_done`, in ms; 0 = none yet.
    first_read: AtomicU64,
    /// Wakes the watchdog when the deadline moved earlier (bytes began to arrive).
    moved: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_done: AtomicU64::new(0),
            first_read: AtomicU64::new(0),
            moved: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        // +1 so that 0 can mean "never" in `first_read`.
        self.started.elapsed().as_millis() as u64 + 1
    }

    fn read_some(&self) {
        let now = self.now_ms();
        let first = self
            .first_read
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        if first.is_ok() {
            // Once per request: the header deadline replaces the idle one.
            self.moved.notify_one();
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    fn request_done(&self) {
        self.last_done.store(self.now_ms(), Ordering::Relaxed);
        self.first_read.store(0, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// When the connection must be closed if nothing changes meanwhile, or `None`
    /// while a request is being handled (its body has its own deadline).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let at = |ms: u64, after: Duration| self.started + Duration::from_millis(ms) + after;
        Some(match self.first_read.load(Ordering::Relaxed) {
            0 => at(self.last_done.load(Ordering::Relaxed), limits.idle_timeout),
            first => at(first, limits.header_read_timeout),
        })
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    closing: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let seen = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let activity = seen.clone();
        activity.request_started();
        async move {
            let response = router.oneshot(request).await;
            activity.request_done();
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new());
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut shutting_down = false;
    loop {
        let deadline = activity
            .deadline(&limits)
            .unwrap_or_else(|| Instant::now() + limits.idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "client connection ended with an error");
                }
                return;
            }
            _ = closing.cancelled(), if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = activity.moved.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    // Too slow or idle too long: dropping the connection closes it.
                    return;
                }
            }
        }
    }
}

/// A stream that notes when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(5),
    };

    #[tokio::test(start_paused = true)]
    async fn idle_connections_get_the_idle_timeout_and_slow_headers_the_header_timeout() {
        let a = Activity::new();
        let opened = a.started;
        assert_eq!(
            a.deadline(&LIMITS),
            Some(opened + Duration::from_millis(0) + LIMITS.idle_timeout)
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        a.read_some();
        let header_deadline = a.deadline(&LIMITS).unwrap();
        assert_eq!(
            header_deadline - opened,
            Duration::from_millis(1001) + LIMITS.header_read_timeout
        );
        a.request_started();
        assert_eq!(
            a.deadline(&LIMITS),
            None,
            "a request in progress has no idle deadline"
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        a.request_done();
        let idle = a.deadline(&LIMITS).unwrap();
        assert_eq!(
            idle - opened,
            Duration::from_millis(4001) + LIMITS.idle_timeout
        );
    }
}
