//! A tool as a target offers it: its exposed name, its listing (checked and serialised once,
//! up front, so `tools/list` pages are written from ready bytes), where its calls go
//! ([`Route`]), and an argument validator compiled on the tool's first call (a catalog of
//! 10,000 tools does not hold 10,000 compiled validators).

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use serde_json::value::RawValue;

use super::Route;

/// Why a tool's input schema cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    #[error("its input schema is not valid JSON Schema: {0}")]
    NotJsonSchema(Arc<str>),
    #[error("its listing cannot be serialised")]
    Listing(#[source] Arc<serde_json::Error>),
}

/// One tool. Immutable once built; shared by every catalog snapshot that lists it.
pub struct Tool {
    /// The exposed name, `{target}___{tool}`.
    pub name: String,
    pub description: String,
    /// What the tool is at its target, for `validate` output and logs: `GET /pets/{petId}`,
    /// or the upstream's own tool name.
    pub origin: String,
    pub route: Route,
    listing: Box<RawValue>,
    validator: OnceLock<Result<jsonschema::Validator, SchemaError>>,
}

/// A target's tools, as it currently offers them.
pub type ToolSet = Arc<[Arc<Tool>]>;

/// The listing fields of a tool besides its name.
pub struct Listing {
    pub description: String,
    pub input_schema: Value,
    /// Passed through as given (`outputSchema`, `annotations`, `title`, `icons`, `_meta`).
    pub extra: serde_json::Map<String, Value>,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// Checks the input schema against the JSON Schema meta-schema and serialises the listing
    /// (`name`, `description`, `inputSchema`, then the extra fields).
    pub fn new(
        name: String,
        origin: String,
        listing: Listing,
        route: Route,
    ) -> Result<Self, SchemaError> {
        jsonschema::meta::validate(&listing.input_schema)
            .map_err(|e| SchemaError::NotJsonSchema(e.to_string().into()))?;
        let mut fields = serde_json::Map::new();
        fields.insert("name".into(), Value::String(name.clone()));
        fields.insert(
            "description".into(),
            Value::String(listing.description.clone()),
        );
        fields.insert("inputSchema".into(), listing.input_schema);
        for (k, v) in listing.extra {
            if !fields.contains_key(&k) {
                fields.insert(k, v);
            }
        }
        let serialised = serde_json::value::to_raw_value(&fields)
            .map_err(|e| SchemaError::Listing(Arc::new(e)))?;
        Ok(Self {
            name,
            description: listing.description,
            origin,
            route,
            listing: serialised,
            validator: OnceLock::new(),
        })
    }

    /// The listing JSON, as `tools/list` sends it.
    pub fn listing(&self) -> &RawValue {
        &self.listing
    }

    /// The argument validator, compiled on first use.
    pub fn validator(&self) -> Result<&jsonschema::Validator, SchemaError> {
        self.validator
            .get_or_init(|| {
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Schema {
                    input_schema: Value,
                }
                let listing: Schema = serde_json::from_str(self.listing.get())
                    .map_err(|e| SchemaError::Listing(Arc::new(e)))?;
                jsonschema::draft202012::new(&listing.input_schema)
                    .map_err(|e| SchemaError::NotJsonSchema(e.to_string().into()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}
