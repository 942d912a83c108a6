//! Loading the config file: read (YAML or JSON), interpolate `${VAR}`, deserialize each section
//! into the AgentCore-shaped model, then validate everything into an immutable [`Config`].
//!
//! Every problem is collected with its path in the file (`targets[1].targetConfiguration...`)
//! and returned together, so one run shows all of them; nothing is served from a config with a
//! problem. Checks that need the OpenAPI documents (filters, overrides, operation names) run
//! when the targets are built (`crate::targets`), and report into the same [`Problems`].

mod authorizer;
mod credentials;
mod interpolate;
pub mod model;
mod rate_limits;
mod rules;
pub mod schema;
mod targets;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use interpolate::interpolate;
pub use model::HttpMethod;

use crate::common::version::ProtocolVersion;

/// Where environment variables come from: the process, or a map in tests.
pub trait Env: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of variables (tests, embedding).
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl<const N: usize> From<[(&str, &str); N]> for MapEnv {
    fn from(pairs: [(&str, &str); N]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// One thing wrong with the config, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// All problems found in one load.
#[derive(Debug, Clone, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "the configuration has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            let path = if p.path.is_empty() {
                "(top level)"
            } else {
                &p.path
            };
            writeln!(f, "  - {path}: {}", p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid {format}: {message}")]
    Syntax {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{0}")]
    Invalid(#[from] Problems),
}

/// The validated configuration: everything the gateway needs, nothing left to check.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    pub gateway: GatewaySettings,
    pub targets: Vec<TargetSettings>,
    /// `rateLimits`, in file order.
    pub rate_limits: Vec<RateLimitSettings>,
    /// Directory relative file references (`file`, `exportFile`, `apiKeyFile`) resolve against.
    pub base_dir: PathBuf,
    /// Non-fatal remarks found while loading (logged at start).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub allowed_origins: Vec<String>,
    pub trust_forwarded_headers: bool,
    pub max_request_body_bytes: usize,
    pub max_response_body_bytes: usize,
    pub max_schema_bytes: usize,
    pub tools_list_page_size: usize,
    pub max_concurrent_requests: usize,
    pub max_connections: usize,
    pub max_in_flight_bytes: usize,
    pub max_unsent_bytes_per_connection: usize,
    pub connect_timeout: Duration,
    pub header_read_timeout: Duration,
    pub request_body_timeout: Duration,
    pub write_stall_timeout: Duration,
    pub readiness_drain: Duration,
    pub export_timeout: Duration,
    pub shutdown_grace: Duration,
    pub egress: EgressSettings,
    /// `server.metrics.enabled`.
    pub metrics_enabled: bool,
    /// `server.rateLimitStore`: Redis URL and key prefix.
    pub rate_limit_store: Option<(String, String)>,
}

/// `server.egress`, validated.
#[derive(Debug, Clone, Default)]
pub struct EgressSettings {
    pub allow: Vec<ipnet::IpNet>,
    pub deny: Vec<ipnet::IpNet>,
    pub allow_metadata: bool,
    pub allow_plain_http_credentials: bool,
}

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub name: String,
    pub description: Option<String>,
    pub instructions: Option<String>,
    /// Served protocol versions, oldest first.
    pub supported_versions: Vec<ProtocolVersion>,
    pub session_timeout: Duration,
    pub authorizer: AuthorizerSettings,
    /// `exceptionLevel: DEBUG`: error details reach the client.
    pub debug_errors: bool,
    pub region: Option<String>,
}

/// How callers are authenticated.
#[derive(Debug, Clone)]
pub enum AuthorizerSettings {
    None,
    Jwt(JwtSettings),
    Iam(IamSettings),
}

/// `CUSTOM_JWT`: bearer tokens from an OIDC provider, and AgentCore's rules on their claims.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub discovery_url: String,
    pub allowed_audience: Option<Vec<String>>,
    pub allowed_clients: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    pub claim_rules: Vec<ClaimRule>,
    /// The scopes advertised to clients (`allowedScopes` through `advertisedScopeMapping`).
    pub advertised_scopes: Vec<String>,
    pub refresh_interval: Duration,
    pub fetch_timeout: Duration,
}

/// One `customClaims` entry, resolved to what it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    pub claim: String,
    pub check: ClaimCheck,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimCheck {
    /// STRING, EQUALS: the claim is this string.
    Equals(String),
    /// STRING, CONTAINS_ANY: the claim is one of these strings.
    OneOf(Vec<String>),
    /// STRING_ARRAY, CONTAINS: the claim's array contains this string.
    Contains(String),
    /// STRING_ARRAY, CONTAINS_ANY: the claim's array contains at least one of these.
    ContainsAny(Vec<String>),
}

/// `AWS_IAM` / `AUTHENTICATE_ONLY`: SigV4-signed callers from `iamCallers`.
#[derive(Debug, Clone)]
pub struct IamSettings {
    pub region: String,
    pub callers: Vec<IamCaller>,
}

#[derive(Debug, Clone)]
pub struct IamCaller {
    pub access_key_id: String,
    pub secret: Secret,
    pub principal_arn: String,
}

#[derive(Debug, Clone)]
pub struct TargetSettings {
    pub name: String,
    pub description: Option<String>,
    /// Path of this target in the file, for messages (`targets[1]`).
    pub path: String,
    pub kind: TargetKind,
    pub credentials: CredentialSettings,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum TargetKind {
    OpenApi {
        source: DocumentSource,
        /// `openApiSchema.serverUrl`: overrides the document's `servers`.
        server_url: Option<String>,
    },
    ApiGateway {
        rest_api_id: String,
        stage: String,
        source: DocumentSource,
        invoke_url: Option<String>,
        filters: Vec<model::ToolFilter>,
        overrides: Vec<model::ToolOverride>,
    },
    McpServer(McpServerSettings),
    Lambda(LambdaSettings),
    Smithy {
        source: DocumentSource,
        /// `endpoint`: where calls go when the environment names no endpoint.
        endpoint: Option<url::Url>,
    },
}

/// A Lambda function target.
#[derive(Debug, Clone)]
pub struct LambdaSettings {
    /// The function's ARN, as given (a qualifier included).
    pub function_arn: String,
    /// The region in the ARN: calls go there.
    pub region: String,
    /// The tool definitions (`toolSchema`).
    pub tools: DocumentSource,
}

/// A remote MCP server target.
#[derive(Debug, Clone)]
pub struct McpServerSettings {
    pub endpoint: url::Url,
    /// `mcpToolSchema`: the tools, fixed, instead of the server's list.
    pub tool_schema: Option<DocumentSource>,
    pub listing_mode: model::ListingMode,
    pub resource_priority: u16,
    /// Allow-list of tool names or `prefix*` patterns; `None` serves every tool.
    pub filters: Option<Vec<String>>,
    pub overrides: Vec<model::McpToolOverride>,
}

/// Where an OpenAPI document comes from.
#[derive(Debug, Clone)]
pub enum DocumentSource {
    Inline(String),
    File(PathBuf),
    /// API Gateway GetExport for the target's API and stage.
    ApiGatewayExport,
    /// `s3`: an object read with GetObject.
    S3(S3Location),
}

/// `s3://bucket/key`, and the account that must own the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    pub owner: Option<String>,
}

/// One rate limit: every request whose dimensions all resolve is counted against the entry
/// that matches them.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub id: String,
    pub keys: Vec<DimensionKey>,
    pub entries: Vec<LimitEntry>,
}

/// What a rate limit is dimensioned by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionKey {
    TargetName,
    ToolName,
    JwtClaim(String),
    IamPrincipal,
    Header(http::HeaderName),
    /// A path into the JSON-RPC request (`params.arguments.region`).
    Body(Vec<String>),
}

/// One entry: a value per key (`None` for `*`) and the allowed rate.
#[derive(Debug, Clone)]
pub struct LimitEntry {
    pub values: Vec<Option<String>>,
    /// Requests per `period`; 0 blocks.
    pub rate: f64,
    pub period: Duration,
}

/// Outbound credentials of one target.
#[derive(Clone)]
pub enum CredentialSettings {
    None,
    ApiKey {
        provider: String,
        key: Secret,
        parameter_name: String,
        prefix: String,
        location: model::CredentialLocation,
    },
    SigV4 {
        /// `None`: the target's kind names the service (a Smithy model's signing name).
        service: Option<String>,
        region: String,
    },
}

impl fmt::Debug for CredentialSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::ApiKey {
                provider,
                parameter_name,
                location,
                ..
            } => f
                .debug_struct("ApiKey")
                .field("provider", provider)
                .field("parameter_name", parameter_name)
                .field("location", location)
                .finish_non_exhaustive(),
            Self::SigV4 { service, region } => f
                .debug_struct("SigV4")
                .field("service", service)
                .field("region", region)
                .finish(),
        }
    }
}

/// A secret value: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads and validates the config file at `path`.
pub fn load_file(path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
    strict(load_file_partial(path, env)?)
}

/// Validates a config given as text (YAML, or JSON when `is_json`).
pub fn load_str(
    text: &str,
    is_json: bool,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<Config, ConfigError> {
    strict(load_str_partial(text, is_json, base_dir, env)?)
}

/// A config with its valid parts, and the problems of the rest. The server and gateway
/// sections must be valid for a config to exist; targets with problems are left out of it, so
/// the valid ones can still be checked against their documents in the same run.
pub type Partial = (Option<Config>, Problems);

/// Like [`load_file`], but returns the valid parts alongside the problems.
pub fn load_file_partial(path: &Path, env: &dyn Env) -> Result<Partial, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let is_json = path.extension().is_some_and(|e| e == "json");
    let value = parse_text(&text, is_json).map_err(|(format, message)| ConfigError::Syntax {
        path: path.to_path_buf(),
        format,
        message,
    })?;
    Ok(load_value(value, base_dir, env))
}

/// Like [`load_str`], but returns the valid parts alongside the problems.
pub fn load_str_partial(
    text: &str,
    is_json: bool,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<Partial, ConfigError> {
    let value = parse_text(text, is_json).map_err(|(format, message)| ConfigError::Syntax {
        path: PathBuf::from("<inline>"),
        format,
        message,
    })?;
    Ok(load_value(value, base_dir.to_path_buf(), env))
}

fn strict((config, problems): Partial) -> Result<Config, ConfigError> {
    match config {
        Some(c) if problems.is_empty() => Ok(c),
        _ => Err(problems.into()),
    }
}

/// Parses YAML or JSON text into a JSON tree.
pub fn parse_text(text: &str, is_json: bool) -> Result<Value, (&'static str, String)> {
    if is_json {
        serde_json::from_str(text).map_err(|e| ("JSON", e.to_string()))
    } else {
        yaml_serde::from_str(text).map_err(|e| ("YAML", e.to_string()))
    }
}

fn load_value(mut value: Value, base_dir: PathBuf, env: &dyn Env) -> Partial {
    let mut problems = Problems::default();
    if !value.is_object() {
        problems.push("", "expected a mapping with `gateway:` and `targets:`");
        return (None, problems);
    }
    interpolate::interpolate_tree(&mut value, "", env, &mut problems);
    let file: Option<model::FileSpec> = deserialize_section(&value, "", &mut problems);
    let config = file.and_then(|file| validate::validate(file, base_dir, env, &mut problems));
    (config, problems)
}

/// Deserializes `value` into `T`, reporting every unknown field and the first type error at
/// their paths (prefixed with `prefix`).
pub(crate) fn deserialize_section<T: DeserializeOwned>(
    value: &Value,
    prefix: &str,
    problems: &mut Problems,
) -> Option<T> {
    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
    let de = serde_ignored::Deserializer::new(value, &mut on_unknown);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    for path in unknown {
        let (parent, field) = match path.rsplit_once('.') {
            Some((parent, field)) => (join(prefix, parent), field.to_string()),
            None => (prefix.to_string(), path.clone()),
        };
        problems.push(parent, format!("unknown field `{field}`"));
    }
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let path = if inner == "." {
                prefix.to_string()
            } else {
                join(prefix, &inner)
            };
            problems.push(path, e.into_inner().to_string());
            None
        }
    }
}

fn join(prefix: &str, inner: &str) -> String {
    match (prefix.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_string(),
        (_, true) => prefix.to_string(),
        _ if inner.starts_with('[') => format!("{prefix}{inner}"),
        _ => format!("{prefix}.{inner}"),
    }
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        P::Map { parent, key } => join(&ignored_path(parent), key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Config, ConfigError> {
        load_str(yaml, false, Path::new("."), &MapEnv::default())
    }

    fn problems(yaml: &str) -> Vec<Problem> {
        match load(yaml) {
            Err(ConfigError::Invalid(p)) => p.0,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_are_reported_with_paths_all_at_once() {
        let p = problems(
            r#"
gateway: {name: gw, authorizerType: NONE, colour: red}
targets:
  - name: t1
    targetConfiguration:
      mcp:
        openApiSchema: {inlinePayload: "{}", extra: 1}
    typo: 2
"#,
        );
        let paths: Vec<_> = p
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        assert!(
            paths.contains(&"gateway: unknown field `colour`".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"targets[0]: unknown field `typo`".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(
                &"targets[0].targetConfiguration.mcp.openApiSchema: unknown field `extra`"
                    .to_string()
            ),
            "{paths:?}"
        );
    }

    #[test]
    fn bad_enum_names_path_and_choices() {
        let p = problems("gateway: {name: gw, authorizerType: MAYBE}\n");
        assert_eq!(p[0].path, "gateway.authorizerType");
        assert!(
            p[0].message.contains("unknown variant `MAYBE`"),
            "{}",
            p[0].message
        );
        assert!(p[0].message.contains("NONE"));
    }
}
