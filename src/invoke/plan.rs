//! The call plan of one tool: HTTP method, path template and where each argument goes.
//! Built once by the importer (`crate::openapi::tool`); read on every `tools/call`.

use crate::openapi::Location;

#[derive(Debug, Clone)]
pub struct CallPlan {
    pub method: http::Method,
    /// `/pets/{petId}`: placeholders are filled with percent-encoded path arguments.
    pub path_template: String,
    pub bindings: Vec<Binding>,
    /// How the body is encoded, when the operation takes one.
    pub body: Option<BodyEncoding>,
}

/// One argument and its place in the request.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The argument's name in the tool's input schema.
    pub arg: String,
    pub target: ArgTarget,
    pub style: Style,
    pub explode: bool,
    /// A path, query or header parameter whose schema is a string: a number or boolean given
    /// for it means the same request (MCP Inspector's CLI sends `petId=3` as a number), so it
    /// is accepted and sent in its string form.
    pub accepts_scalar: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgTarget {
    Path(String),
    Query(String),
    Header(String),
    /// One property of an object body.
    BodyProperty(String),
    /// The whole body (a body that is not a plain object).
    WholeBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEncoding {
    Json { content_type: String },
    Form,
}

/// OpenAPI parameter serialisation styles the gateway supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Simple,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

impl Style {
    /// The style for a parameter in `location`, defaulting as OpenAPI does; `None` when the
    /// declared style is not one the gateway can produce there.
    pub fn for_parameter(location: Location, declared: Option<&str>) -> Option<Self> {
        match (location, declared) {
            (Location::Path | Location::Header, None | Some("simple")) => Some(Self::Simple),
            (Location::Query, None | Some("form")) => Some(Self::Form),
            (Location::Query, Some("spaceDelimited")) => Some(Self::SpaceDelimited),
            (Location::Query, Some("pipeDelimited")) => Some(Self::PipeDelimited),
            (Location::Query, Some("deepObject")) => Some(Self::DeepObject),
            (Location::Cookie, None | Some("form")) => Some(Self::Form),
            _ => None,
        }
    }
}
