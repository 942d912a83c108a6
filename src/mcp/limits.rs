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

/// The limits of a gateway.
pub struct Limits {
    limits: Vec<Limit>,
    clock: DefaultClock,
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
                    .map(|e| Entry {
                        values: e.values.clone(),
                        limiter: quota(e.rate, e.period).map(DefaultKeyedRateLimiter::keyed),
                        period: e.period,
                    })
                    .collect(),
            })
            .collect();
        Self {
            limits,
            clock: DefaultClock::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Counts the request against every limit that applies; the first refusal, if any.
    pub fn check(&self, subject: &Subject<'_>) -> Result<(), Throttled> {
        for limit in &self.limits {
            let Some(values) = limit
                .keys
                .iter()
                .map(|k| resolve(k, subject))
                .collect::<Option<Vec<String>>>()
            else {
                continue;
            };
            let Some(entry) = limit.matching(&values) else {
                continue;
            };
            let refused = |retry_after| Throttled {
                limit: limit.id.clone(),
                retry_after,
            };
            let Some(limiter) = &entry.limiter else {
                return Err(refused(entry.period));
            };
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

impl Limit {
    /// The exact entry, else the one with trailing dimensions as `*`, one at a time.
    fn matching(&self, values: &[String]) -> Option<&Entry> {
        (0..=values.len()).rev().find_map(|exact| {
            self.entries.iter().find(|e| {
                e.values.iter().enumerate().all(|(i, v)| match v {
                    Some(v) => i < exact && *v == values[i],
                    None => i >= exact,
                })
            })
        })
    }
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

    #[test]
    fn exact_beats_wildcards_trailing_first_and_zero_blocks() {
        let l = limits(
            vec![DimensionKey::TargetName, DimensionKey::ToolName],
            &[
                (&[Some("a"), Some("a___x")], 1.0),
                (&[Some("a"), None], 2.0),
                (&[None, None], 0.0),
            ],
        );
        let (p, h, m) = (Principal::anonymous(), http::HeaderMap::new(), Map::new());
        let ok = |tool: (&str, &str)| l.check(&subject(&p, &h, &m, Some(tool))).is_ok();
        assert!(ok(("a___x", "a")));
        assert!(!ok(("a___x", "a")), "the exact entry: 1 per minute");
        assert!(ok(("a___y", "a")) && ok(("a___y", "a")));
        assert!(!ok(("a___y", "a")), "(a, *): 2 per minute, per tool");
        assert!(
            ok(("a___z", "a")),
            "another tool of `a` has a bucket of its own"
        );
        assert!(!ok(("b___x", "b")), "(*, *) is 0: blocked");
        assert!(
            l.check(&subject(&p, &h, &m, None)).is_ok(),
            "a request whose dimensions do not resolve is not limited"
        );
    }

    #[test]
    fn throttled_calls_say_when_to_retry() {
        let l = limits(vec![DimensionKey::ToolName], &[(&[None], 1.0)]);
        let (p, h, m) = (Principal::anonymous(), http::HeaderMap::new(), Map::new());
        let s = subject(&p, &h, &m, Some(("t___x", "t")));
        assert!(l.check(&s).is_ok());
        let t = l.check(&s).unwrap_err();
        assert_eq!(t.limit, "l");
        assert!(
            t.retry_after > Duration::from_secs(50) && t.retry_after <= Duration::from_secs(60),
            "{t:?}"
        );
    }
}
