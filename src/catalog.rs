//! The catalog: every tool the gateway serves, as one immutable snapshot behind an
//! [`ArcSwap`]. Readers load the current snapshot without a lock and keep it for the whole
//! request, so a call that started on generation N finishes on N even if the catalog is
//! rebuilt meanwhile. Tools are sorted by name (a deterministic `tools/list` order), found by
//! name in O(1), and listed from their pre-serialised JSON. Cursors name the last tool of a
//! page, not an offset, so paging stays correct when tools come and go between pages.
//!
//! [`Live`] owns the swap: it rebuilds the snapshot from the targets' current tool sets when
//! any of them changes, bumps the generation, and tells subscribers (the sessions that
//! listen for `notifications/tools/list_changed`).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use base64::Engine;
use serde_json::value::RawValue;
use tokio::sync::watch;

use crate::targets::{Target, Tool};

/// One tool and the target that serves it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tool: Arc<Tool>,
    pub target: Arc<Target>,
}

/// A snapshot of every tool.
#[derive(Debug, Default)]
pub struct Catalog {
    generation: u64,
    entries: Vec<Entry>,
    index: HashMap<Arc<str>, usize>,
}

impl Catalog {
    /// The snapshot of `targets` as they offer their tools now. Names are distinct across
    /// targets (each carries its target's name as a prefix, and target names are distinct).
    pub fn new(generation: u64, targets: &[Arc<Target>]) -> Self {
        let mut entries: Vec<Entry> = targets
            .iter()
            .flat_map(|target| {
                target
                    .tools()
                    .iter()
                    .map(|tool| Entry {
                        tool: tool.clone(),
                        target: target.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        entries.sort_by(|a, b| a.tool.name.cmp(&b.tool.name));
        entries.dedup_by(|a, b| a.tool.name == b.tool.name);
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (Arc::from(e.tool.name.as_str()), i))
            .collect();
        Self {
            generation,
            entries,
            index,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Up to `count` listings after the tool named by `cursor` (from the start without one),
    /// and the cursor of the next page when more follow.
    pub fn page(&self, cursor: Option<&Cursor>, count: usize) -> (Vec<&RawValue>, Option<Cursor>) {
        let start = match cursor {
            None => 0,
            Some(c) => self
                .entries
                .partition_point(|e| e.tool.name.as_str() <= c.after.as_str()),
        };
        let end = start.saturating_add(count.max(1)).min(self.entries.len());
        let page: Vec<&RawValue> = self.entries[start..end]
            .iter()
            .map(|e| e.tool.listing())
            .collect();
        let next = (end < self.entries.len()).then(|| Cursor {
            after: self.entries[end - 1].tool.name.clone(),
        });
        (page, next)
    }
}

/// Where a `tools/list` page starts: after the tool of this name. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    after: String,
}

impl Cursor {
    const PREFIX: &'static str = "after:";

    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}{}",
            Self::PREFIX,
            self.after
        ))
    }

    /// `None` for anything this gateway did not hand out.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 512 {
            return None;
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let after = String::from_utf8(raw)
            .ok()?
            .strip_prefix(Self::PREFIX)?
            .to_string();
        Some(Self { after })
    }
}

/// The live catalog: the current snapshot, the targets it is built from, and the generation
/// subscribers watch.
pub struct Live {
    current: ArcSwap<Catalog>,
    targets: Vec<Arc<Target>>,
    generation: watch::Sender<u64>,
    /// One refresh of `DYNAMIC` targets at a time; others wait for it and use its result.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generation", &*self.generation.borrow())
            .field("tools", &self.current.load().len())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// A live catalog of `targets`, first built at generation 1.
    pub fn new(targets: Vec<Arc<Target>>) -> Self {
        let first = Catalog::new(1, &targets);
        Self {
            current: ArcSwap::from_pointee(first),
            targets,
            generation: watch::Sender::new(1),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The current snapshot, for the length of one request (lock-free).
    pub fn load(&self) -> Guard<Arc<Catalog>> {
        self.current.load()
    }

    /// The current snapshot, to keep across `.await`s.
    pub fn load_full(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Tells when the catalog changes; the value is the generation.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Rebuilds the snapshot from the targets' current tools and publishes it when the
    /// tool list differs from the current one. Returns the generation now served.
    pub fn rebuild(&self) -> u64 {
        let current = self.current.load();
        let next = current.generation + 1;
        let rebuilt = Catalog::new(next, &self.targets);
        let same = rebuilt.entries.len() == current.entries.len()
            && rebuilt
                .entries
                .iter()
                .zip(current.entries.iter())
                .all(|(a, b)| Arc::ptr_eq(&a.tool, &b.tool));
        if same {
            return current.generation;
        }
        self.current.store(Arc::new(rebuilt));
        self.generation.send_replace(next);
        next
    }

    /// Whether any target lists its tools live (`listingMode: DYNAMIC`).
    pub fn has_dynamic(&self) -> bool {
        self.targets.iter().any(|t| t.is_dynamic())
    }

    /// Lists the `DYNAMIC` targets' tools again from their upstreams (each within its
    /// timeout; one that fails keeps its last list) and rebuilds the snapshot.
    pub async fn refresh_dynamic(&self) {
        let Ok(_one) = self.refreshing.try_lock() else {
            // A refresh is running: wait for it and serve what it publishes.
            let _done = self.refreshing.lock().await;
            return;
        };
        let lists = self
            .targets
            .iter()
            .filter(|t| t.is_dynamic())
            .map(|t| t.relist());
        futures_util::future::join_all(lists).await;
        self.rebuild();
    }

    /// Rebuilds whenever a target's tools change, until `cancel` fires. A burst of changes
    /// becomes one rebuild.
    pub async fn run(self: Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        let mut watches: Vec<_> = self.targets.iter().map(|t| t.watch_tools()).collect();
        if watches.is_empty() {
            return;
        }
        // What a target offered before these watches existed.
        self.rebuild();
        loop {
            let changed =
                futures_util::future::select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = changed => {}
            }
            // Let the rest of a burst land first.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            for w in &mut watches {
                w.borrow_and_update();
            }
            let generation = self.rebuild();
            tracing::info!(generation, tools = self.load().len(), "catalog rebuilt");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::targets::http::plan::CallPlan;
    use crate::targets::http::{HttpAdapter, Route as HttpRoute};
    use crate::targets::tool::Listing;
    use crate::targets::{Adapter, Route};

    fn tool(name: &str) -> Arc<Tool> {
        let route = Route::Http(HttpRoute {
            base_url: "http://127.0.0.1:9".into(),
            plan: CallPlan {
                method: http::Method::GET,
                path_template: "/".into(),
                bindings: Vec::new(),
                body: None,
            },
        });
        let listing = Listing {
            description: name.into(),
            input_schema: json!({"type": "object"}),
            extra: Default::default(),
        };
        Arc::new(Tool::new(name.into(), "GET /".into(), listing, route).unwrap())
    }

    fn target(name: &str, tools: &[&str]) -> Arc<Target> {
        let adapter = Adapter::Http(HttpAdapter {
            credentials: crate::outbound::Credentials::None,
            client: crate::net::Client::new(Duration::from_secs(1), Default::default()).unwrap(),
            max_response_bytes: 1024,
            budget: crate::common::budget::Budget::new(1024),
        });
        let set = tools.iter().map(|t| tool(t)).collect();
        Arc::new(Target::new(
            name.into(),
            Duration::from_secs(1),
            adapter,
            set,
        ))
    }

    fn names(page: &[&RawValue]) -> Vec<String> {
        page.iter()
            .map(|r| {
                serde_json::from_str::<serde_json::Value>(r.get()).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn cursors_name_the_last_tool_and_survive_a_swap() {
        let a = target("a", &["a___1", "a___3", "a___5"]);
        let b = target("b", &["b___1"]);
        let live = Live::new(vec![a.clone(), b]);
        let first = live.load_full();
        let (page, next) = first.page(None, 2);
        assert_eq!(names(&page), ["a___1", "a___3"]);
        let next = Cursor::decode(&next.unwrap().encode()).unwrap();
        // The target's tools change between pages: one before the cursor, one after it.
        a.offer(vec![tool("a___0"), tool("a___1"), tool("a___4"), tool("a___5")].into());
        assert_eq!(live.rebuild(), 2);
        let second = live.load_full();
        let (page, more) = second.page(Some(&next), 2);
        assert_eq!(
            names(&page),
            ["a___4", "a___5"],
            "nothing skipped or repeated"
        );
        let (page, more) = second.page(more.as_ref(), 2);
        assert_eq!(names(&page), ["b___1"]);
        assert!(more.is_none());
        // The snapshot a call started on is unchanged.
        assert_eq!(first.len(), 4);
        assert!(first.get("a___4").is_none());
        assert_eq!(first.generation(), 1);
        // An unchanged tool list is not a new generation.
        assert_eq!(live.rebuild(), 2);
        assert_eq!(Cursor::decode("not a cursor"), None);
    }
}
