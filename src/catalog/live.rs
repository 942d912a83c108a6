//! [`Live`]: the one owner of the catalog's swap. It rebuilds the snapshot when any target's
//! offer changes (a burst becomes one rebuild), one rebuild at a time, bumps the generation
//! of each list that changed, tells subscribers (the sessions that listen for
//! `notifications/*/list_changed`), and refreshes `DYNAMIC` targets for a client's first
//! page.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use tokio::sync::watch;

use super::{Catalog, Versions};
use crate::targets::Target;

/// The live catalog: the current snapshot, the targets it is built from, and the generation
/// subscribers watch.
pub struct Live {
    current: ArcSwap<Catalog>,
    targets: Vec<Arc<Target>>,
    versions: watch::Sender<Versions>,
    /// One refresh of `DYNAMIC` targets at a time; others wait for it and use its result.
    refreshing: tokio::sync::Mutex<()>,
    /// One rebuild at a time (the rebuilder, a refresh, a readiness probe), so that an
    /// older snapshot never replaces a newer one.
    rebuilding: parking_lot::Mutex<()>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("versions", &*self.versions.borrow())
            .field("tools", &self.current.load().len())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// A live catalog of `targets`, first built at generation 1.
    pub fn new(targets: Vec<Arc<Target>>) -> Self {
        let first = Catalog::new(1, &targets);
        Self {
            versions: watch::Sender::new(first.versions),
            current: ArcSwap::from_pointee(first),
            targets,
            refreshing: tokio::sync::Mutex::new(()),
            rebuilding: parking_lot::Mutex::new(()),
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

    /// Tells when the catalog changes, and which lists did.
    pub fn subscribe(&self) -> watch::Receiver<Versions> {
        self.versions.subscribe()
    }

    /// Rebuilds the snapshot from what the targets offer now and publishes it when a list
    /// differs from the current one. Returns the generation now served.
    pub fn rebuild(&self) -> u64 {
        let _one = self.rebuilding.lock();
        let current = self.current.load();
        let next = current.versions.generation + 1;
        let mut rebuilt = Catalog::new(next, &self.targets);
        let was = current.versions;
        let tools_same = rebuilt.tools.items.len() == current.tools.items.len()
            && rebuilt
                .tools
                .items
                .iter()
                .zip(current.tools.items.iter())
                .all(|(a, b)| Arc::ptr_eq(&a.tool, &b.tool));
        let owner = |t: &Arc<Target>| Arc::as_ptr(t);
        let prompts_same = rebuilt
            .prompts
            .same_as(&current.prompts, |e| owner(&e.target));
        let resources_same = rebuilt
            .resources
            .same_as(&current.resources, |e| owner(&e.target))
            && rebuilt
                .templates
                .same_as(&current.templates, |e| owner(&e.target));
        if tools_same && prompts_same && resources_same && rebuilt.sources == current.sources {
            return was.generation;
        }
        rebuilt.versions = Versions {
            generation: next,
            tools: if tools_same { was.tools } else { next },
            prompts: if prompts_same { was.prompts } else { next },
            resources: if resources_same { was.resources } else { next },
        };
        let versions = rebuilt.versions;
        self.current.store(Arc::new(rebuilt));
        self.versions.send_replace(versions);
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
        let mut watches: Vec<_> = self.targets.iter().map(|t| t.watch_offer()).collect();
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
            let now = self.load();
            tracing::info!(
                generation,
                tools = now.len(),
                prompts = now.prompts.len(),
                resources = now.resources.len(),
                templates = now.templates.len(),
                "catalog rebuilt"
            );
        }
    }
}
