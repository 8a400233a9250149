//! The accept loop: HTTP/1.1 connections with a cap on how many are served
//! at once, a deadline for each request head and each request body, and a
//! graceful shutdown (F09).
//!
//! - A connection is served only with one of `max_connections` permits.
//!   When none is free, the loop says so in the log (at most every
//!   `LIMIT_LOG_EVERY`), counts it in `komodo_connection_limit_reached_total`,
//!   and closes the connections that have had no request in flight for
//!   `SHED_AFTER` (half-sent heads, which is what a slow-headers attack
//!   holds, and idle kept-alive connections, which a client reopens at no
//!   cost) until a permit is free; new connections meanwhile wait in the
//!   kernel's listen backlog. A request in flight (from its head to the
//!   last byte of its response) is never cut.
//! - hyper closes a connection whose request head (also the next one on a
//!   kept-alive connection) does not arrive within `header_read_timeout`.
//! - A request body that has not arrived in full `body_read_timeout` after
//!   its head fails to read ([`BodyReadError::Timeout`]); the handler
//!   answers its usual "cannot read the body" error and the connection is
//!   closed.
//! - On shutdown the listener is closed at once, connections without a
//!   request in flight (idle or half-sent) are closed, and requests in
//!   flight are answered (with `Connection: close`) before `serve`
//!   returns.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// How long a connection may stay without a request in flight before it
/// may be closed to make room when every permit is taken.
pub(crate) const SHED_AFTER: Duration = Duration::from_secs(1);

/// How often the loop looks again for connections to close while it waits
/// for a permit.
const SHED_EVERY: Duration = Duration::from_millis(250);

/// The least time between two log lines saying the limit was reached.
pub(crate) const LIMIT_LOG_EVERY: Duration = Duration::from_secs(10);

/// The metric counting the times every permit was taken.
pub const LIMIT_REACHED: &str = "komodo_connection_limit_reached_total";
/// The metric counting connections closed to make room.
pub const SHED: &str = "komodo_connections_shed_total";

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Deadline of each request head.
    pub header_read_timeout: Duration,
    /// Deadline of each request body, from its head.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyReadError {
    /// The body did not arrive in time.
    #[error(
        "the request body did not arrive within {0} s of its headers; send it faster or in a smaller request \
         (the server's --body-read-timeout)"
    )]
    Timeout(u64),
    /// The connection failed while the body was read.
    #[error("the request body could not be read: {0}")]
    Connection(#[from] hyper::Error),
}

/// A request body that fails once its deadline has passed. The timer is
/// created only if the body is not all there when first read.
struct TimedBody {
    inner: Incoming,
    deadline: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self { inner, deadline: Instant::now() + timeout, timeout, sleep: None, expired: false }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = BodyReadError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(BodyReadError::from))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.expired = true;
                        Poll::Ready(Some(Err(BodyReadError::Timeout(this.timeout.as_secs().max(1)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The most connections the process's open-file limit leaves room for:
/// `requested`, or less when the limit is low, keeping a quarter of the
/// descriptors (at least 256) for the database, the warehouse's files and
/// the rest.
pub(crate) fn affordable_connections(requested: usize) -> usize {
    let Some(open_files) = open_file_limit() else {
        return requested;
    };
    let reserve = (open_files / 4).max(256);
    let room = open_files.saturating_sub(reserve).max(16);
    if requested > room {
        tracing::warn!(
            requested,
            allowed = room,
            open_file_limit = open_files,
            "--max-connections lowered to what the open-file limit leaves room for; raise the limit \
             (`ulimit -n`, LimitNOFILE=) to serve more connections"
        );
        return room;
    }
    requested
}

/// The soft limit on open files, when there is one.
#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given, which lives on
    // this stack frame for the whole call.
    let done = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (done == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

/// Serves `app` on `listener` until `shutdown` turns true, then finishes
/// the requests in flight and returns once every connection is closed.
pub(crate) async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: watch::Receiver<bool>) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let permits = Arc::new(Semaphore::new(max));
    let shed = Arc::new(Notify::new());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let mut last_limit_log: Option<Instant> = None;
    let mut accept_failures = 0u32;
    let mut stop = shutdown.clone();
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                metrics::counter!(LIMIT_REACHED).increment(1);
                if last_limit_log.is_none_or(|at| at.elapsed() >= LIMIT_LOG_EVERY) {
                    last_limit_log = Some(Instant::now());
                    tracing::warn!(
                        max_connections = max,
                        "connection limit reached: {max} connections are open; new connections wait, and open ones \
                         without a request in flight for {} s are closed to make room (raise --max-connections if \
                         this is normal load)",
                        SHED_AFTER.as_secs()
                    );
                }
                let waited = async {
                    loop {
                        shed.notify_waiters();
                        tokio::select! {
                            permit = permits.clone().acquire_owned() => break permit.ok(),
                            () = tokio::time::sleep(SHED_EVERY) => {}
                        }
                    }
                };
                tokio::select! {
                    permit = waited => match permit {
                        Some(permit) => permit,
                        None => break,
                    },
                    () = stopped(&mut stop) => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    accept_failures = 0;
                    accepted
                }
                Err(error) => {
                    accept_failures += 1;
                    if !is_connection_error(&error) {
                        if accept_failures == 1 || accept_failures.is_power_of_two() {
                            tracing::error!(%error, "cannot accept connections (too many open files? lower \
                                --max-connections or raise the open-file limit)");
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        // Responses go out as soon as they are written (no Nagle delay
        // behind an unacknowledged segment).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set on a connection");
        }
        let connection = Connection {
            stream,
            peer,
            app: app.clone(),
            http: http.clone(),
            body_read_timeout: limits.body_read_timeout,
            shed: shed.clone(),
            shutdown: shutdown.clone(),
        };
        tokio::spawn(connection.run(permit));
    }
    drop(listener);
    // Every connection holds a permit until it is closed.
    let _all = permits.acquire_many(max as u32).await;
}

/// Completes once the shutdown has begun (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Errors of one connection that do not stop the listener.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// One accepted connection and what serving it needs.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    http: hyper::server::conn::http1::Builder,
    body_read_timeout: Duration,
    shed: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
}

/// What a connection is doing: whether it may be closed to make room.
struct Activity {
    /// When the connection was accepted.
    opened: Instant,
    /// Requests whose response has not been written in full.
    in_flight: AtomicUsize,
    /// When the last request in flight ended, in milliseconds since
    /// `opened`.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity { opened: Instant::now(), in_flight: AtomicUsize::new(0), idle_since_ms: AtomicU64::new(0) }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// No request in flight, for at least `for_at_least`.
    fn idle(&self, for_at_least: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.now_ms().saturating_sub(self.idle_since_ms.load(Ordering::Acquire))
                >= u64::try_from(for_at_least.as_millis()).unwrap_or(u64::MAX)
    }
}

/// One request in flight on a connection, from its head until its
/// response's body is written in full (or dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Connection {
    async fn run(self, permit: OwnedSemaphorePermit) {
        let Connection { stream, peer, app, http, body_read_timeout, shed, mut shutdown } = self;
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                let in_flight = InFlight::start(&activity);
                request.extensions_mut().insert(ConnectInfo(peer));
                let request = request.map(|body| Body::new(TimedBody::new(body, body_read_timeout)));
                let app = app.clone();
                async move {
                    let response = app.oneshot(request).await?;
                    Ok::<_, std::convert::Infallible>(
                        response.map(|inner| TrackedBody { inner, _in_flight: in_flight }),
                    )
                }
            })
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                    break;
                }
                () = stopped(&mut shutdown), if !draining => {
                    if activity.idle(Duration::ZERO) {
                        // Nothing in flight: nothing is owed to the client.
                        break;
                    }
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = shed.notified(), if !draining => {
                    if activity.idle(SHED_AFTER) {
                        metrics::counter!(SHED).increment(1);
                        tracing::debug!(%peer, "closed a connection without a request in flight to make room");
                        break;
                    }
                }
            }
        }
        drop(permit);
    }
}
