//! The catalog: every tool, prompt, resource and resource template the gateway serves, as
//! one immutable snapshot behind an [`ArcSwap`](arc_swap::ArcSwap). Readers load the current snapshot without a
//! lock and keep it for the whole request, so a call that started on generation N finishes
//! on N even if the catalog is rebuilt meanwhile. Each list is sorted by its key (name, URI
//! or URI template: a deterministic order), found by key in O(1), and written from the
//! pre-serialised listings. Cursors name the last item of a page, not an offset, so paging
//! stays correct when items come and go between pages.
//!
//! Resources keep their URIs, so two targets may serve one: the lower `resourcePriority`
//! wins, then the target whose name sorts first (see [`Catalog::new`]); the same rule, after
//! the more specific template, routes a URI that only a template describes.
//!
//! [`Live`] owns the swap: it rebuilds the snapshot when any target's offer changes, bumps
//! the generation, and tells subscribers which lists changed (the sessions that listen for
//! `notifications/*/list_changed`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::value::RawValue;

use crate::targets::surface::{Prompt, Resource, Template};
use crate::targets::{Target, Tool};

mod live;
pub use live::Live;

/// One item and the target that serves it.
#[derive(Debug)]
pub struct Owned<T> {
    pub item: Arc<T>,
    pub target: Arc<Target>,
}

impl<T> Clone for Owned<T> {
    fn clone(&self) -> Self {
        Self {
            item: self.item.clone(),
            target: self.target.clone(),
        }
    }
}

/// One tool and the target that serves it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tool: Arc<Tool>,
    pub target: Arc<Target>,
}

/// What a list holds: a key it is sorted, paged and found by, and a listing written as is.
pub trait Listed {
    fn key(&self) -> &str;
    fn listing(&self) -> &RawValue;
}

impl Listed for Entry {
    fn key(&self) -> &str {
        &self.tool.name
    }
    fn listing(&self) -> &RawValue {
        self.tool.listing()
    }
}

impl Listed for Owned<Prompt> {
    fn key(&self) -> &str {
        &self.item.name
    }
    fn listing(&self) -> &RawValue {
        &self.item.listing
    }
}

impl Listed for Owned<Resource> {
    fn key(&self) -> &str {
        &self.item.uri
    }
    fn listing(&self) -> &RawValue {
        &self.item.listing
    }
}

impl Listed for Owned<Template> {
    fn key(&self) -> &str {
        &self.item.uri_template
    }
    fn listing(&self) -> &RawValue {
        &self.item.listing
    }
}

fn owned<T>(item: &Arc<T>, target: &Arc<Target>) -> Owned<T> {
    Owned {
        item: item.clone(),
        target: target.clone(),
    }
}

/// Items sorted by key (one per key), found by key in O(1), paged by cursor.
#[derive(Debug)]
pub struct Sorted<E> {
    items: Vec<E>,
    index: HashMap<Arc<str>, usize>,
}

impl<E> Default for Sorted<E> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<E: Listed> Sorted<E> {
    /// `items` in key order; of several with one key, the first in `rank` order is kept.
    fn new(mut items: Vec<E>, rank: impl Fn(&E, &E) -> std::cmp::Ordering) -> Self {
        items.sort_by(|a, b| a.key().cmp(b.key()).then_with(|| rank(a, b)));
        items.dedup_by(|later, first| later.key() == first.key());
        let index = items
            .iter()
            .enumerate()
            .map(|(i, e)| (Arc::from(e.key()), i))
            .collect();
        Self { items, index }
    }

    pub fn get(&self, key: &str) -> Option<&E> {
        self.index.get(key).map(|&i| &self.items[i])
    }

    pub fn items(&self) -> &[E] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Up to `count` listings after the item named by `cursor` (from the start without one),
    /// and the cursor of the next page when more follow.
    pub fn page(&self, cursor: Option<&Cursor>, count: usize) -> (Vec<&RawValue>, Option<Cursor>) {
        let start = match cursor {
            None => 0,
            Some(c) => self.items.partition_point(|e| e.key() <= c.after.as_str()),
        };
        let end = start.saturating_add(count.max(1)).min(self.items.len());
        let page: Vec<&RawValue> = self.items[start..end].iter().map(E::listing).collect();
        let next = (end < self.items.len()).then(|| Cursor {
            after: self.items[end - 1].key().to_string(),
        });
        (page, next)
    }

    /// Whether `other` lists the same items from the same targets, byte for byte.
    fn same_as(&self, other: &Self, target: impl Fn(&E) -> *const Target) -> bool {
        self.items.len() == other.items.len()
            && self
                .items
                .iter()
                .zip(&other.items)
                .all(|(a, b)| target(a) == target(b) && a.listing().get() == b.listing().get())
    }
}

/// What some target may offer, for the capabilities the gateway advertises: a target whose
/// upstream has not said yet counts as offering everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources {
    pub prompts: bool,
    pub resources: bool,
    pub completions: bool,
    pub logging: bool,
    /// Some upstream offers the tasks extension (known, not assumed).
    pub tasks: bool,
    /// Some upstream takes task-augmented `tools/call` (2025-11-25; known, not assumed).
    pub task_calls: bool,
    /// Some upstream takes resource subscriptions (known, not assumed).
    pub subscribe: bool,
}

/// The generation at which each list last changed (and the catalog's own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    pub generation: u64,
    pub tools: u64,
    pub prompts: u64,
    /// Resources and resource templates.
    pub resources: u64,
}

/// A snapshot of everything the gateway lists.
#[derive(Debug, Default)]
pub struct Catalog {
    versions: Versions,
    tools: Sorted<Entry>,
    pub prompts: Sorted<Owned<Prompt>>,
    pub resources: Sorted<Owned<Resource>>,
    pub templates: Sorted<Owned<Template>>,
    pub sources: Sources,
}

impl Catalog {
    /// The snapshot of `targets` as they offer now. Tool and prompt names are distinct
    /// across targets (each carries its target's name as a prefix, and target names are
    /// distinct). Of two targets that serve one resource URI (or template), the lower
    /// `resourcePriority` wins, then the target whose name sorts first.
    pub fn new(generation: u64, targets: &[Arc<Target>]) -> Self {
        let offers: Vec<_> = targets.iter().map(|t| (t, t.offered())).collect();
        let mut tools = Vec::new();
        let mut prompts = Vec::new();
        let mut resources = Vec::new();
        let mut templates = Vec::new();
        let mut sources = Sources::default();
        for (target, offer) in &offers {
            tools.extend(offer.tools.iter().map(|tool| Entry {
                tool: tool.clone(),
                target: (*target).clone(),
            }));
            let extras = &offer.extras;
            prompts.extend(extras.prompts.iter().map(|p| owned(p, target)));
            resources.extend(extras.resources.iter().map(|r| owned(r, target)));
            templates.extend(extras.templates.iter().map(|t| owned(t, target)));
            match offer.extras.caps {
                None => {
                    sources.prompts = true;
                    sources.resources = true;
                    sources.completions = true;
                }
                Some(c) => {
                    sources.prompts |= c.prompts;
                    sources.resources |= c.resources;
                    sources.completions |= c.completions;
                    sources.tasks |= c.tasks;
                    sources.task_calls |= c.task_calls;
                    sources.subscribe |= c.subscribe;
                }
            }
            // Any MCP server may send log messages mid-call (many do without declaring
            // `logging`); the gateway relays them at the level the client set.
            sources.logging |= matches!(target.adapter, crate::targets::Adapter::Mcp(_));
        }
        let by_priority = |a: &Arc<Target>, b: &Arc<Target>| {
            (a.resource_priority(), &a.name).cmp(&(b.resource_priority(), &b.name))
        };
        Self {
            versions: Versions {
                generation,
                tools: generation,
                prompts: generation,
                resources: generation,
            },
            tools: Sorted::new(tools, |_, _| std::cmp::Ordering::Equal),
            prompts: Sorted::new(prompts, |_, _| std::cmp::Ordering::Equal),
            resources: Sorted::new(resources, |a, b| by_priority(&a.target, &b.target)),
            templates: Sorted::new(templates, |a, b| by_priority(&a.target, &b.target)),
            sources,
        }
    }

    pub fn generation(&self) -> u64 {
        self.versions.generation
    }

    pub fn versions(&self) -> Versions {
        self.versions
    }

    pub fn tools(&self) -> &Sorted<Entry> {
        &self.tools
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.tools.get(name)
    }

    /// The names of a tool that exists and of its target (for metrics and rate limits).
    pub fn names(&self, tool: &str) -> Option<(&str, &str)> {
        self.get(tool)
            .map(|e| (e.tool.name.as_str(), e.target.name.as_str()))
    }

    pub fn entries(&self) -> &[Entry] {
        self.tools.items()
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// A page of tools (see [`Sorted::page`]).
    pub fn page(&self, cursor: Option<&Cursor>, count: usize) -> (Vec<&RawValue>, Option<Cursor>) {
        self.tools.page(cursor, count)
    }

    /// The target that serves `uri`: the one that lists it, else the one with a template
    /// that matches it (the lowest `resourcePriority`, then the most literal text, then the
    /// target's name), else the one target that serves resources at all.
    pub fn resource_owner(&self, uri: &str) -> Option<&Arc<Target>> {
        if let Some(r) = self.resources.get(uri) {
            return Some(&r.target);
        }
        let matched = self
            .templates
            .items()
            .iter()
            .filter(|t| t.item.pattern.as_ref().is_some_and(|p| p.matches(uri)))
            .min_by(|a, b| {
                let specific = |t: &Owned<Template>| {
                    std::cmp::Reverse(t.item.pattern.as_ref().map_or(0, |p| p.specificity()))
                };
                (a.target.resource_priority(), specific(a), &a.target.name).cmp(&(
                    b.target.resource_priority(),
                    specific(b),
                    &b.target.name,
                ))
            });
        if let Some(t) = matched {
            return Some(&t.target);
        }
        let mut serving = self
            .resources
            .items()
            .iter()
            .map(|r| &r.target)
            .chain(self.templates.items().iter().map(|t| &t.target));
        let first = serving.next()?;
        serving.all(|t| Arc::ptr_eq(t, first)).then_some(first)
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
