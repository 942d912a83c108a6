//! Rate limits with AgentCore's semantics, per process: each MCP request is checked against
//! every limit before it is dispatched, and must pass all that apply.
//!
//! A limit applies when each of its dimensions resolves for the request: `targetName` and
//! `toolName` for a `tools/call` of a tool in the catalog, a JWT claim of the caller's token,
//! the IAM principal of a SigV4 caller, a request header, a path in the JSON-RPC request. A
//! dimension that does not resolve leaves the limit out (AgentCore fails open the same way).
//! Of its entries, the exact match wins; failing that, trailing dimensions fall back to `*`
//! one at a time (`(a, b, c)`, `(a, b, *)`, `(a, *, *)`, `(*, *, *)`). Each entry counts per
//! distinct tuple of resolved values (a `*` on `$.context.jwt.sub` gives every user a bucket
//! of their own), with a GCRA limiter (`governor`): `rate` requests per period, as a burst of
//! up to `rate` that refills evenly. A rate of 0 refuses everything it matches.
//!
//! Memory is bounded: an entry keeps at most [`MAX_KEYS`] buckets; past that, idle ones are
//! dropped, and a request that would need one more is let through (and a warning logged).
//!
//! With `server.rateLimitStore`, the buckets live in Redis instead, shared by every replica:
//! the same GCRA, run atomically by a Lua script against Redis's own clock, so the count is
//! exact across replicas. A store that does not answer within [`STORE_TIMEOUT`] or fails lets
//! the request through (fail open, as for an unresolved dimension) and logs a warning.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde_json::{Map, Value};

use crate::auth::{Identity, Principal};
use crate::common::encode::scalar_text;
use crate::config::{DimensionKey, RateLimitSettings};

/// Buckets one entry keeps at most.
pub const MAX_KEYS: usize = 100_000;
/// How long a check may wait for the shared store.
pub const STORE_TIMEOUT: Duration = Duration::from_millis(250);

/// The limits of a gateway.
pub struct Limits {
    limits: Vec<Limit>,
    clock: DefaultClock,
    store: Option<Store>,
}

/// Buckets in Redis, shared by replicas.
struct Store {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    script: redis::Script,
}

/// GCRA on Redis's clock: the bucket holds its theoretical arrival time (µs). Returns 0 when
/// the request passes, else the microseconds until one would.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if now < tat - tolerance then return tat - tolerance - now end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tolerance + interval) / 1000) + 1000)
return 0
";

/// Why the shared store cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the rate-limit store at {url}")]
pub struct StoreError {
    url: String,
    #[source]
    source: redis::RedisError,
}

struct Limit {
    id: String,
    keys: Vec<DimensionKey>,
    entries: Vec<Entry>,
}

struct Entry {
    values: Vec<Option<String>>,
    /// `None`: a rate of 0, which refuses everything.
    limiter: Option<DefaultKeyedRateLimiter<Vec<String>>>,
    period: Duration,
    /// The GCRA's emission interval and burst tolerance, in µs, for the shared store.
    interval_us: u64,
    tolerance_us: u64,
}

/// What a request offers to resolve dimensions from.
pub struct Subject<'a> {
    pub principal: &'a Principal,
    pub headers: &'a http::HeaderMap,
    pub method: &'a str,
    pub params: &'a Map<String, Value>,
    /// The catalog's tool and target, for `tools/call` of a tool that exists.
    pub tool: Option<(&'a str, &'a str)>,
}

/// A refusal: which limit, and when a retry may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub limit: String,
    pub retry_after: Duration,
}

impl Limits {
    pub fn new(settings: &[RateLimitSettings]) -> Self {
        let limits = settings
            .iter()
            .map(|s| Limit {
                id: s.id.clone(),
                keys: s.keys.clone(),
                entries: s
                    .entries
                    .iter()
                    .map(|e| {
                        let (interval_us, tolerance_us) = gcra(e.rate, e.period);
                        Entry {
                            values: e.values.clone(),
                            limiter: quota(e.rate, e.period).map(DefaultKeyedRateLimiter::keyed),
                            period: e.period,
                            interval_us,
                            tolerance_us,
                        }
                    })
                    .collect(),
            })
            .collect();
        Self {
            limits,
            clock: DefaultClock::default(),
            store: None,
        }
    }

    /// Keeps the buckets in the Redis at `url`, under `prefix`; connects now.
    pub async fn shared(mut self, url: &str, prefix: &str) -> Result<Self, StoreError> {
        let fail = |source| StoreError {
            url: url.to_string(),
            source,
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(STORE_TIMEOUT)
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            redis::aio::ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| {
            fail(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "no answer within 5 s",
            )))
        })?
        .map_err(fail)?;
        self.store = Some(Store {
            conn,
            prefix: prefix.to_string(),
            script: redis::Script::new(GCRA),
        });
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Counts the request against every limit that applies; the first refusal, if any.
    pub async fn check(&self, subject: &Subject<'_>) -> Result<(), Throttled> {
        for (n, limit) in self.limits.iter().enumerate() {
            let Some(values) = limit
                .keys
                .iter()
                .map(|k| resolve(k, subject))
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            let Some((index, entry)) = limit.matching(&values) else {
                continue;
            };
            let refused = |retry_after| Throttled {
                limit: limit.id.clone(),
                retry_after,
            };
            let Some(limiter) = &entry.limiter else {
                return Err(refused(entry.period));
            };
            if let Some(store) = &self.store {
                match store.check(n, &limit.id, index, entry, &values).await {
                    Some(wait) if !wait.is_zero() => return Err(refused(wait)),
                    _ => continue,
                }
            }
            if limiter.len() >= MAX_KEYS {
                limiter.retain_recent();
                if limiter.len() >= MAX_KEYS {
                    tracing::warn!(limit = %limit.id, "rate limit buckets full: a new caller is let through unlimited");
                    continue;
                }
            }
            if let Err(not_until) = limiter.check_key(&values) {
                return Err(refused(not_until.wait_time_from(self.clock.now())));
            }
        }
        Ok(())
    }
}

impl Store {
    /// The wait before a request would pass (zero: it passes now), or `None` when the store
    /// did not answer (the request is let through).
    async fn check(
        &self,
        n: usize,
        id: &str,
        index: usize,
        entry: &Entry,
        values: &[String],
    ) -> Option<Duration> {
        // Binary-safe: the values joined by NUL, under the limit's id and the entry's place.
        let mut key = format!("{}:rl:{id}:{n}:{index}", self.prefix).into_bytes();
        for v in values {
            key.push(0);
            key.extend_from_slice(v.as_bytes());
        }
        let mut conn = self.conn.clone();
        let mut call = self.script.key(key);
        call.arg(entry.interval_us).arg(entry.tolerance_us);
        let failure =
            match tokio::time::timeout(STORE_TIMEOUT, call.invoke_async::<u64>(&mut conn)).await {
                Ok(Ok(wait_us)) => return Some(Duration::from_micros(wait_us)),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {STORE_TIMEOUT:?}"),
            };
        // One warning per 10 s: a store that is down would otherwise log one per request.
        static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let now = crate::common::unix_now();
        let last = LAST.load(std::sync::atomic::Ordering::Relaxed);
        if now >= last + 10
            && LAST
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(limit = %id, error = %failure, "the rate-limit store failed: requests are let through");
        }
        None
    }
}

impl Limit {
    /// The exact entry, else the one with trailing dimensions as `*`, one at a time; with its
    /// place in the list.
    fn matching(&self, values: &[String]) -> Option<(usize, &Entry)> {
        (0..=values.len()).rev().find_map(|exact| {
            self.entries.iter().enumerate().find(|(_, e)| {
                e.values.iter().enumerate().all(|(i, v)| match v {
                    Some(v) => i < exact && *v == values[i],
                    None => i >= exact,
                })
            })
        })
    }
}

/// The same quota for the shared store: emission interval and burst tolerance in µs.
fn gcra(rate: f64, period: Duration) -> (u64, u64) {
    if rate <= 0.0 {
        return (0, 0);
    }
    let interval = (period.as_micros() as f64 / rate).max(1.0);
    let burst = rate.floor().max(1.0);
    (interval as u64, (interval * (burst - 1.0)) as u64)
}

/// `rate` requests per `period`, as a GCRA quota with a burst of `rate` (at least 1); `None`
/// for 0.
fn quota(rate: f64, period: Duration) -> Option<Quota> {
    if rate <= 0.0 {
        return None;
    }
    let burst = NonZeroU32::new(rate.floor().clamp(1.0, f64::from(u32::MAX)) as u32)?;
    Quota::with_period(period.div_f64(rate)).map(|q| q.allow_burst(burst))
}

/// A dimension's value for the request, or `None` when it does not resolve.
fn resolve(key: &DimensionKey, s: &Subject<'_>) -> Option<String> {
    match key {
        DimensionKey::TargetName => s.tool.map(|(_, target)| target.to_string()),
        DimensionKey::ToolName => s.tool.map(|(tool, _)| tool.to_string()),
        DimensionKey::JwtClaim(claim) => match &s.principal.identity {
            Identity::Jwt(j) => scalar_text(j.claims.get(claim)?),
            _ => None,
        },
        DimensionKey::IamPrincipal => match &s.principal.identity {
            Identity::Iam { arn, .. } => Some(arn.clone()),
            _ => None,
        },
        DimensionKey::Header(name) => s
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        DimensionKey::Body(path) => {
            let (first, rest) = path.split_first()?;
            let mut value = match first.as_str() {
                "method" if rest.is_empty() => return Some(s.method.to_string()),
                "params" => rest.first().and_then(|k| s.params.get(k))?,
                _ => return None,
            };
            for k in rest.iter().skip(1) {
                value = value.get(k)?;
            }
            scalar_text(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitEntry;

    fn limits(keys: Vec<DimensionKey>, entries: &[(&[Option<&str>], f64)]) -> Limits {
        Limits::new(&[RateLimitSettings {
            id: "l".into(),
            keys,
            entries: entries
                .iter()
                .map(|(values, rate)| LimitEntry {
                    values: values.iter().map(|v| v.map(str::to_string)).collect(),
                    rate: *rate,
                    period: Duration::from_secs(60),
                })
                .collect(),
        }])
    }

    fn subject<'a>(
        principal: &'a Principal,
        headers: &'a http::HeaderMap,
        params: &'a Map<String, Value>,
        tool: Option<(&'a str, &'a str)>,
    ) -> Subject<'a> {
        Subject {
            principal,
            headers,
            method: "tools/call",
            params,
            tool,
        }
    }

    #[tokio::test]
    async fn exact_beats_wildcards_trailing_first_and_zero_blocks() {
        let l = limits(
            vec![DimensionKey::TargetName, DimensionKey::ToolName],
            &[
                (&[Some("a"), Some("a___x")], 1.0),
                (&[Some("a"), None], 2.0),
                (&[None, None], 0.0),
            ],
        );
        let (p, h, m) = (Principal::anonymous(), http::HeaderMap::new(), Map::new());
        let ok = async |tool: (&str, &str)| l.check(&subject(&p, &h, &m, Some(tool))).await.is_ok();
        assert!(ok(("a___x", "a")).await);
        assert!(!ok(("a___x", "a")).await, "the exact entry: 1 per minute");
        assert!(ok(("a___y", "a")).await && ok(("a___y", "a")).await);
        assert!(!ok(("a___y", "a")).await, "(a, *): 2 per minute, per tool");
        assert!(
            ok(("a___z", "a")).await,
            "another tool of `a` has a bucket of its own"
        );
        assert!(!ok(("b___x", "b")).await, "(*, *) is 0: blocked");
        assert!(
            l.check(&subject(&p, &h, &m, None)).await.is_ok(),
            "a request whose dimensions do not resolve is not limited"
        );
    }

    #[tokio::test]
    async fn throttled_calls_say_when_to_retry() {
        let l = limits(vec![DimensionKey::ToolName], &[(&[None], 1.0)]);
        let (p, h, m) = (Principal::anonymous(), http::HeaderMap::new(), Map::new());
        let s = subject(&p, &h, &m, Some(("t___x", "t")));
        assert!(l.check(&s).await.is_ok());
        let t = l.check(&s).await.unwrap_err();
        assert_eq!(t.limit, "l");
        assert!(
            t.retry_after > Duration::from_secs(50) && t.retry_after <= Duration::from_secs(60),
            "{t:?}"
        );
    }
}
