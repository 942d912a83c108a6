//! The call plan of one tool: HTTP method, path template and where each argument goes. The
//! intermediate form that every HTTP-bound kind compiles to (OpenAPI and API Gateway through
//! `crate::targets::openapi::tool`, Smithy later), built once and read on every `tools/call`. It
//! imports nothing: the importers map their own vocabulary onto it.

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
    pub target: Place,
    pub style: Style,
    pub explode: bool,
    /// A path, query or header parameter whose schema is a string: a number or boolean given
    /// for it means the same request (MCP Inspector's CLI sends `petId=3` as a number), so it
    /// is accepted and sent in its string form.
    pub accepts_scalar: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// Where an argument goes in the request.
pub enum Place {
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

/// Parameter serialisation styles (OpenAPI's names) the gateway can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Simple,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}
