//! The accept loop and the connection limits, below axum's router:
//! - at most `maxConnections` open connections; beyond that new ones are closed at once;
//! - a client must send a request's headers within `headerReadSeconds` (slowloris, and idle
//!   keep-alive connections, are closed); an HTTP/2 peer that goes silent that long is pinged
//!   and closed unless it answers within as long again (an idle or stalled HTTP/2 connection
//!   has no header timer to end it);
//! - a connection that owes its client a response and sees none of it taken for
//!   `writeStallSeconds` (a client that stopped reading, or an HTTP/2 window left at zero) is
//!   closed, and so is one whose socket write has waited that long (see [`super::flow`]);
//! - shutdown: `/ready` turns false, the listener stays open for `readinessDrainSeconds` so load
//!   balancers notice, then it closes, and in-flight requests get `shutdownGraceSeconds` to
//!   finish.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::AppState;
use super::flow::{Conn, StallIo};

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub write_stall_timeout: Duration,
    pub max_unsent_bytes_per_connection: usize,
    pub readiness_drain: Duration,
    pub shutdown_grace: Duration,
}

/// Hands accepted connections to hyper, within the connection limit.
struct Acceptor {
    app: axum::Router,
    builder: Builder<TokioExecutor>,
    graceful: GracefulShutdown,
    connections: Arc<Semaphore>,
    /// How long a new connection may stay silent before its first byte.
    first_byte: Duration,
    write_stall: Duration,
    max_unsent: usize,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Acceptor {
    fn accept(&self, stream: tokio::net::TcpStream) {
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            tracing::debug!("connection limit reached; closing a new connection");
            return;
        };
        let _ = stream.set_nodelay(true);
        let builder = self.builder.clone();
        let state = Conn::new(self.max_unsent);
        let tagged = state.clone();
        // Each request of this connection carries its state, for its response body.
        let app =
            self.app
                .clone()
                .map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(tagged.clone());
                    req
                });
        let service = TowerToHyperService::new(app);
        let watcher = self.graceful.watcher();
        let (first_byte, write_stall) = (self.first_byte, self.write_stall);
        let metrics = self.metrics.clone();
        metrics.connection(1);
        tokio::spawn(async move {
            // hyper's header timer starts with the first byte; a silent client is closed here.
            // (`peek` waits for a real byte; `readable` may wake spuriously.)
            let mut probe = [0u8; 1];
            if let Ok(Ok(1..)) = tokio::time::timeout(first_byte, stream.peek(&mut probe)).await {
                let io = TokioIo::new(StallIo::new(stream, state.clone()));
                let conn = builder.serve_connection_with_upgrades(io, service);
                tokio::select! {
                    _ = watcher.watch(conn.into_owned()) => {}
                    () = state.watchdog(write_stall) => {
                        tracing::debug!(?write_stall, "closing a connection whose client took none of its response");
                    }
                }
            }
            drop(permit);
            metrics.connection(-1);
        });
    }
}

/// Serves until `shutdown` resolves, then drains as described above.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // HTTP/2 has no header timeout: a peer that stops mid-frame or sits idle after its
    // preface would hold its connection forever. Ping it after `header_read_timeout` of
    // silence and close the connection if the ping is not answered within as long again.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let acceptor = Acceptor {
        app: super::router(state.clone()),
        builder,
        graceful: GracefulShutdown::new(),
        connections: Arc::new(Semaphore::new(limits.max_connections)),
        first_byte: limits.header_read_timeout,
        write_stall: limits.write_stall_timeout,
        max_unsent: limits.max_unsent_bytes_per_connection,
        metrics: state.mcp.metrics.clone(),
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => acceptor.accept(stream),
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    state.ready.store(false, Ordering::SeqCst);
    tracing::info!(drain = ?limits.readiness_drain, "shutting down: /ready is now 503");
    // Keep accepting while load balancers notice that the gateway is not ready.
    let drain = tokio::time::sleep(limits.readiness_drain);
    tokio::pin!(drain);
    loop {
        tokio::select! {
            () = &mut drain => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    acceptor.accept(stream);
                }
            }
        }
    }
    drop(listener);
    state.closing.cancel();
    tracing::info!("listener closed; draining in-flight requests");
    tokio::select! {
        () = acceptor.graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace = ?limits.shutdown_grace, "grace period over; closing the remaining connections");
        }
    }
    Ok(())
}
