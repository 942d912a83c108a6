//! Reading an upstream's SSE response one event at a time, each event within the message
//! limit: the parser (`sse-stream`) would buffer an endless event without bound, so the
//! bytes fed to it are counted since the last event and the stream is cut past the limit.

use std::sync::atomic::Ordering;

use futures_util::StreamExt;

use super::error::UpstreamError;

/// The `data` of each event of an SSE response, every event within `limit` bytes.
pub struct Events {
    stream: futures_util::stream::BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
    since_event: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    limit: usize,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("limit", &self.limit)
            .finish()
    }
}

impl Events {
    pub fn new(resp: reqwest::Response, limit: usize) -> Self {
        let since_event = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = since_event.clone();
        // Counts the bytes fed to the parser since the last event, and cuts the stream when
        // one event grows past the limit (the parser itself would buffer without bound).
        let bytes = resp.bytes_stream().map(move |chunk| match chunk {
            Ok(b) => {
                let seen = counter.fetch_add(b.len(), Ordering::Relaxed) + b.len();
                if seen > limit {
                    Err(ChunkError::TooLarge)
                } else {
                    Ok(b)
                }
            }
            Err(e) => Err(ChunkError::Cut(e.without_url())),
        });
        let stream = sse_stream::SseStream::from_bytes_stream(bytes).boxed();
        Self {
            stream,
            since_event,
            limit,
        }
    }

    /// The next event's data; `None` when the stream ends.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, UpstreamError> {
        loop {
            match self.stream.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(events_error(&e, self.limit)),
                Some(Ok(event)) => {
                    self.since_event.store(0, Ordering::Relaxed);
                    match event.data {
                        Some(d) if !d.trim().is_empty() => return Ok(Some(d.into_bytes())),
                        // Keep-alives, comments, and priming events with no data.
                        _ => continue,
                    }
                }
            }
        }
    }
}

/// Why the bytes under the SSE parser stopped.
#[derive(Debug, thiserror::Error)]
enum ChunkError {
    #[error("an SSE event is over the message limit")]
    TooLarge,
    #[error("the stream was cut")]
    Cut(#[source] reqwest::Error),
}

fn events_error(e: &sse_stream::Error, limit: usize) -> UpstreamError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        match s.downcast_ref::<ChunkError>() {
            Some(ChunkError::TooLarge) => return UpstreamError::TooLarge(limit),
            Some(ChunkError::Cut(_)) => return UpstreamError::Cut,
            None => source = s.source(),
        }
    }
    UpstreamError::Malformed("an SSE stream")
}
