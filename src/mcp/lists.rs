//! `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list`: one page of
//! the live catalog, written in one pass from the pre-serialised listings (a page of 10,000
//! tools is never parsed or copied). The cursor names the last item of the page.

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::jsonrpc::{self, Id, RpcError};
use super::{Era, LIST_TTL_MS, McpService};
use crate::catalog::Cursor;

/// The lists a client can page through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl List {
    /// The field of the result that holds the items.
    fn field(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources => "resources",
            Self::Templates => "resourceTemplates",
        }
    }
}

/// One page of a list result.
struct Page<'a> {
    field: &'static str,
    items: Vec<&'a RawValue>,
    next_cursor: Option<String>,
    /// The 2026-07-28 fields: `resultType`, `ttlMs`, `cacheScope`.
    modern: bool,
}

impl Serialize for Page<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(self.field, &self.items)?;
        if let Some(c) = &self.next_cursor {
            map.serialize_entry("nextCursor", c)?;
        }
        if self.modern {
            map.serialize_entry("resultType", "complete")?;
            map.serialize_entry("ttlMs", &LIST_TTL_MS)?;
            // The lists are the same for every principal.
            map.serialize_entry("cacheScope", "public")?;
        }
        map.end()
    }
}

impl McpService {
    /// The response to a list request: one page.
    pub(super) async fn list(
        &self,
        id: &Id,
        params: &Map<String, Value>,
        era: &Era<'_>,
        list: List,
    ) -> Result<Vec<u8>, RpcError> {
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(
                Cursor::decode(c)
                    .ok_or_else(|| RpcError::new(jsonrpc::INVALID_PARAMS, "Invalid cursor"))?,
            ),
            Some(_) => {
                return Err(RpcError::new(
                    jsonrpc::INVALID_PARAMS,
                    "`cursor` must be a string",
                ));
            }
        };
        // `listingMode: DYNAMIC` targets are listed again for each first page.
        if cursor.is_none() && self.catalog.has_dynamic() {
            self.catalog.refresh_dynamic().await;
        }
        let catalog = self.catalog.load();
        let (items, next) = match list {
            List::Tools => catalog.tools().page(cursor.as_ref(), self.page_size),
            List::Prompts => catalog.prompts.page(cursor.as_ref(), self.page_size),
            List::Resources => catalog.resources.page(cursor.as_ref(), self.page_size),
            List::Templates => catalog.templates.page(cursor.as_ref(), self.page_size),
        };
        // The listings, their commas, and room for the envelope and the page's other fields.
        let size = items.iter().map(|t| t.get().len() + 1).sum::<usize>() + 512;
        let page = Page {
            field: list.field(),
            items,
            next_cursor: next.map(|c| c.encode()),
            modern: era.modern,
        };
        Ok(jsonrpc::success_sized(id, &page, size))
    }
}
