//! Response delivery: what the gateway holds for a client until the client takes it, and when
//! it stops waiting.
//!
//! A response body is built in full (a tool result, a `tools/list` page) and then handed to
//! hyper. Without bounds, a client that never reads (HTTP/1 with a full receive window, or
//! HTTP/2 with a flow-control window left at zero) pins those bytes, and its connection,
//! forever: the red team held 2.65 GB with six HTTP/2 connections. So:
//!
//! - every `/mcp` response goes out through [`Outgoing`], which holds the request's
//!   concurrency permit until the body has been taken (the limit counts what is being
//!   delivered, not only what is being computed), and which counts its bytes against the
//!   process-wide [`Budget`] and the connection's own [`Conn::unsent`] budget;
//! - bodies are handed over in 64 KiB slices (no copies: `Bytes` slices share the buffer),
//!   and a slice counts as delivered when the next one is asked for, so a client that takes
//!   nothing shows no progress, whatever protocol it speaks;
//! - [`StallIo`] marks the connection's socket as blocked while a write waits;
//! - the connection's watchdog ([`Conn::stalled`]) closes it when a response has waited for
//!   `writeStallSeconds` with no progress, or a socket write has been blocked as long.
//!
//! The budget is also taken by request bodies and backend replies, so
//! `maxInFlightBytes` bounds what all requests hold at once.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::common::budget::{Budget, Held};

/// How much of a body is handed to hyper at a time.
const SLICE: usize = 64 * 1024;

/// What one client connection has outstanding, shared by its socket wrapper, its responses
/// and its watchdog.
#[derive(Debug)]
pub struct Conn {
    epoch: Instant,
    /// Response bytes handed to this connection and not yet taken by the client.
    unsent: AtomicUsize,
    /// Milliseconds since `epoch` of the last delivery progress.
    last_progress: AtomicU64,
    /// Milliseconds since `epoch` (plus one) since a socket write has been waiting; 0 if none.
    blocked_since: AtomicU64,
    /// This connection's share of unsent bytes.
    budget: Budget,
}

impl Conn {
    pub fn new(max_unsent: usize) -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            unsent: AtomicUsize::new(0),
            last_progress: AtomicU64::new(0),
            blocked_since: AtomicU64::new(0),
            budget: Budget::new(max_unsent),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn progress(&self) {
        self.last_progress.store(self.now_ms(), Ordering::Relaxed);
    }

    fn blocked(&self, blocked: bool) {
        if blocked {
            let now = self.now_ms() + 1;
            let _ =
                self.blocked_since
                    .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        } else {
            self.blocked_since.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the client has taken nothing of what it is owed for `limit`.
    pub fn stalled(&self, limit: Duration) -> bool {
        let now = self.now_ms();
        let limit = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        let since = self.blocked_since.load(Ordering::Relaxed);
        let write_stuck = since != 0 && now.saturating_sub(since - 1) > limit;
        let owed = self.unsent.load(Ordering::Relaxed) > 0
            && now.saturating_sub(self.last_progress.load(Ordering::Relaxed)) > limit;
        write_stuck || owed
    }

    /// Waits until [`stalled`](Self::stalled) holds.
    pub async fn watchdog(&self, limit: Duration) {
        let mut tick = tokio::time::interval((limit / 4).max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.stalled(limit) {
                return;
            }
        }
    }
}

/// A socket that tells its [`Conn`] when writes wait.
pub struct StallIo<T> {
    inner: T,
    conn: Arc<Conn>,
}

impl<T> StallIo<T> {
    pub fn new(inner: T, conn: Arc<Conn>) -> Self {
        Self { inner, conn }
    }

    fn track<R>(&self, poll: Poll<R>) -> Poll<R> {
        self.conn.blocked(poll.is_pending());
        poll
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.track(poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body on its way to a client; see the module docs.
pub struct Outgoing {
    inner: Option<Body>,
    /// Slices of the frame being delivered.
    queued: VecDeque<Bytes>,
    /// Bytes of the slice handed over last (taken once the next poll comes).
    last: usize,
    /// Bytes counted in `conn.unsent` and not yet taken.
    unsent: usize,
    conn: Option<Arc<Conn>>,
    _held: Held,
    _held_by_conn: Held,
    _permit: Option<OwnedSemaphorePermit>,
    _timed: Option<Timed>,
}

/// Observes a response's duration when its body is dropped: delivered, or abandoned with
/// its connection.
pub struct Timed {
    pub metrics: Arc<crate::metrics::Metrics>,
    pub method: http::Method,
    pub started: tokio::time::Instant,
}

impl Drop for Timed {
    fn drop(&mut self) {
        self.metrics.delivered(&self.method, self.started.elapsed());
    }
}

impl Outgoing {
    /// Wraps `body`. Its exact size (when known) is borrowed from `budget` and from the
    /// connection's budget; `None` when either is spent.
    pub fn new(
        body: Body,
        conn: Option<Arc<Conn>>,
        budget: &Budget,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Option<Self> {
        let size = http_body::Body::size_hint(&body)
            .exact()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let held = budget.take(size)?;
        let mut held_by_conn = Held::default();
        if let Some(c) = &conn {
            held_by_conn = c.budget.take(size)?;
            c.unsent.fetch_add(size, Ordering::Relaxed);
            c.progress();
        }
        Some(Self {
            inner: Some(body),
            queued: VecDeque::new(),
            last: 0,
            unsent: size,
            conn,
            _held: held,
            _held_by_conn: held_by_conn,
            _permit: permit,
            _timed: None,
        })
    }

    /// Observes the response's duration when the body has been delivered (or dropped).
    pub fn timed(mut self, timed: Timed) -> Self {
        self._timed = Some(timed);
        self
    }

    /// The previous slice was taken by hyper: count it as delivered.
    fn delivered(&mut self) {
        let n = std::mem::take(&mut self.last).min(self.unsent);
        if let Some(c) = &self.conn {
            if n > 0 {
                c.unsent.fetch_sub(n, Ordering::Relaxed);
            }
            c.progress();
        }
        self.unsent -= n;
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        if let Some(c) = &self.conn {
            c.unsent.fetch_sub(self.unsent, Ordering::Relaxed);
        }
    }
}

impl http_body::Body for Outgoing {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        this.delivered();
        if let Some(slice) = this.queued.pop_front() {
            this.last = slice.len();
            return Poll::Ready(Some(Ok(Frame::data(slice))));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(inner).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    let first = if data.len() > SLICE {
                        data.split_to(SLICE)
                    } else {
                        std::mem::take(&mut data)
                    };
                    while data.len() > SLICE {
                        this.queued.push_back(data.split_to(SLICE));
                    }
                    if !data.is_empty() {
                        this.queued.push_back(data);
                    }
                    this.last = first.len();
                    Poll::Ready(Some(Ok(Frame::data(first))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => {
                this.inner = None;
                Poll::Ready(None)
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        let queued: usize = self.queued.iter().map(Bytes::len).sum();
        let mut hint = self
            .inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint);
        let extra = u64::try_from(queued).unwrap_or(u64::MAX);
        hint.set_lower(hint.lower().saturating_add(extra));
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(extra));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn bodies_are_sliced_and_counted_until_taken() {
        let conn = Conn::new(1 << 20);
        let budget = Budget::new(1 << 20);
        let total = 2 * SLICE + 7_000;
        let body = Body::from(vec![7u8; total]);
        let out = Outgoing::new(body, Some(conn.clone()), &budget, None).unwrap();
        assert_eq!(conn.unsent.load(Ordering::Relaxed), total);
        assert_eq!(http_body::Body::size_hint(&out).exact(), Some(total as u64));
        let mut out = out;
        let mut sizes = Vec::new();
        while let Some(frame) = out.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
        }
        assert_eq!(sizes, [SLICE, SLICE, 7_000]);
        assert_eq!(conn.unsent.load(Ordering::Relaxed), 0);
        drop(out);
        assert_eq!(budget.available(), 1 << 20);
    }

    #[tokio::test]
    async fn spent_budgets_refuse_and_drops_give_back() {
        let conn = Conn::new(50_000);
        let budget = Budget::new(1 << 20);
        let a = Outgoing::new(
            Body::from(vec![0u8; 40_000]),
            Some(conn.clone()),
            &budget,
            None,
        )
        .unwrap();
        assert!(
            Outgoing::new(
                Body::from(vec![0u8; 20_000]),
                Some(conn.clone()),
                &budget,
                None
            )
            .is_none(),
            "over the connection's budget"
        );
        drop(a);
        assert_eq!(conn.unsent.load(Ordering::Relaxed), 0);
        let small = Budget::new(10);
        assert!(Outgoing::new(Body::from(vec![0u8; 11]), None, &small, None).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_stalls_when_nothing_is_taken() {
        let conn = Conn::new(1 << 20);
        let budget = Budget::new(1 << 20);
        let limit = Duration::from_secs(10);
        let out = Outgoing::new(
            Body::from(vec![0u8; 100]),
            Some(conn.clone()),
            &budget,
            None,
        )
        .unwrap();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!conn.stalled(limit));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(conn.stalled(limit), "owed bytes, no progress for 11 s");
        drop(out);
        assert!(!conn.stalled(limit), "nothing owed");
        conn.blocked(true);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(conn.stalled(limit), "a write waiting for 11 s");
        conn.blocked(false);
        assert!(!conn.stalled(limit));
    }
}
