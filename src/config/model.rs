//! The config file's shape: serde types that mirror AgentCore's `create_gateway` and
//! `create_gateway_target` requests field for field (camelCase), plus the few self-hosted
//! additions (`server`, `credentialProviders`, `gateway.region`, local files, `invokeUrl`).
//!
//! Fields of AgentCore's API that the gateway does not implement yet are still declared here,
//! as raw JSON, so that validation can refuse them by name instead of ignoring them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

pub use crate::common::names::HttpMethod;

/// The whole file, one raw value per section: each section is deserialized on its own so that
/// a mistake in one does not hide the problems of the others.
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileSpec {
    pub server: Option<Value>,
    pub gateway: Option<Value>,
    pub targets: Option<Value>,
    pub credential_providers: Option<Value>,
    pub iam_callers: Option<Value>,
    pub rate_limits: Option<Value>,
}

/// One `rateLimits` entry: AgentCore's `CreateGatewayRateLimit` request for the file's gateway.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSpec {
    pub rate_limit_id: String,
    pub description: Option<String>,
    pub gateway_identifier: Option<String>,
    pub client_token: Option<String>,
    /// `targetName`, `toolName`, `$.context.jwt.<claim>`, `$.context.iam.principal`,
    /// `$.context.request.header.<name>`, `$.context.request.body.<path>`.
    pub dimension_keys: Vec<String>,
    pub entries: Vec<LimitEntrySpec>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitEntrySpec {
    /// Each dimension key's value: exact, or `*`.
    pub dimensions: std::collections::BTreeMap<String, String>,
    pub requests: Option<Vec<RateConfigSpec>>,
    pub tokens: Option<Value>,
    pub connections: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateConfigSpec {
    pub rate: f64,
    pub period: RatePeriod,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RatePeriod {
    Second,
    Minute,
}

/// `server:` — self-hosted only: where to listen and the limits and timeouts.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ServerSpec {
    pub listen: String,
    /// The gateway's external base URL (`https://mcp.example.com`), for the protected resource
    /// metadata; when absent it is derived from `Host` / `X-Forwarded-*`.
    pub public_url: Option<String>,
    /// Extra `Origin` values accepted on `/mcp`, beside loopback origins.
    pub allowed_origins: Vec<String>,
    /// Read `X-Forwarded-Proto` / `X-Forwarded-Host` (set by a proxy in front) when
    /// `publicUrl` is not set. Off by default: any client can send them.
    pub trust_forwarded_headers: bool,
    pub limits: LimitsSpec,
    pub timeouts: TimeoutsSpec,
    pub egress: EgressSpec,
    pub metrics: MetricsSpec,
    /// Where rate-limit buckets live: absent, in each process; with Redis, shared by every
    /// replica that names the same store and prefix.
    pub rate_limit_store: Option<RateLimitStoreSpec>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitStoreSpec {
    /// `redis://host:port[/db]`.
    pub redis_url: String,
    /// Prefix of the keys (default `mcp-gateway`): replicas of one gateway share it.
    pub key_prefix: Option<String>,
}

/// `server.metrics`: the Prometheus endpoint `/metrics`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsSpec {
    /// Serve `/metrics` and record what it shows (default true).
    pub enabled: bool,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `server.egress`: where the gateway may connect (documents, JWKS, targets, upstreams).
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EgressSpec {
    /// When set, only these networks may be reached.
    pub allow_cidrs: Vec<String>,
    /// Networks never reached (checked after the allow-list; wins over it).
    pub deny_cidrs: Vec<String>,
    /// Cloud metadata addresses (169.254.0.0/16, fd00:ec2::254) are refused unless true.
    pub allow_metadata_addresses: bool,
    /// Credentials go over plain `http://` only to loopback unless true.
    pub allow_plain_http_credentials: bool,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            allowed_origins: Vec::new(),
            trust_forwarded_headers: false,
            limits: LimitsSpec::default(),
            timeouts: TimeoutsSpec::default(),
            egress: EgressSpec::default(),
            metrics: MetricsSpec::default(),
            rate_limit_store: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct LimitsSpec {
    /// Largest accepted HTTP request body on `/mcp`.
    pub max_request_body_bytes: u64,
    /// Largest backend response body read into a tool result.
    pub max_response_body_bytes: u64,
    /// Largest OpenAPI document fetched or read from a file.
    pub max_schema_bytes: u64,
    /// Tools per `tools/list` page.
    pub tools_list_page_size: u64,
    /// Requests handled at once; beyond it the gateway answers 503.
    pub max_concurrent_requests: u64,
    /// Open client connections; beyond it new connections are closed.
    pub max_connections: u64,
    /// Bytes held at once across all requests: request bodies, backend replies and responses
    /// not yet sent. Beyond it new requests get 503.
    pub max_in_flight_bytes: u64,
    /// Response bytes one client connection may leave unread (HTTP/2 streams add up); beyond
    /// it that connection's further responses are 503s.
    pub max_unsent_bytes_per_connection: u64,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 1024 * 1024,
            max_response_body_bytes: 10 * 1024 * 1024,
            max_schema_bytes: 50 * 1024 * 1024,
            tools_list_page_size: 1000,
            max_concurrent_requests: 1024,
            max_connections: 4096,
            max_in_flight_bytes: 256 * 1024 * 1024,
            max_unsent_bytes_per_connection: 32 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct TimeoutsSpec {
    /// Whole backend call (connect, send, read the body) for every target.
    pub target_seconds: f64,
    /// Per-target override of `targetSeconds`, keyed by target name.
    pub per_target: BTreeMap<String, f64>,
    /// Connecting to a backend.
    pub connect_seconds: f64,
    /// Fetching an API Gateway export at start.
    pub export_seconds: f64,
    /// How long a graceful shutdown waits for in-flight calls.
    pub shutdown_grace_seconds: f64,
    /// A client must send a request's headers within this time (slowloris, idle connections).
    pub header_read_seconds: f64,
    /// A client must send a request's body within this time.
    pub request_body_seconds: f64,
    /// A connection with a response to deliver is closed when the client takes none of it
    /// for this long (it stopped reading, or left an HTTP/2 window at zero).
    pub write_stall_seconds: f64,
    /// On shutdown, how long `/ready` is 503 while the listener still accepts.
    pub readiness_drain_seconds: f64,
    /// How often the JWT authorizer re-reads the provider's keys.
    pub jwks_refresh_seconds: f64,
    /// Fetching OIDC discovery and JWKS documents.
    pub jwks_fetch_seconds: f64,
}

impl Default for TimeoutsSpec {
    fn default() -> Self {
        Self {
            target_seconds: 30.0,
            per_target: BTreeMap::new(),
            connect_seconds: 5.0,
            export_seconds: 30.0,
            shutdown_grace_seconds: 30.0,
            header_read_seconds: 10.0,
            request_body_seconds: 30.0,
            write_stall_seconds: 10.0,
            readiness_drain_seconds: 1.0,
            jwks_refresh_seconds: 600.0,
            jwks_fetch_seconds: 10.0,
        }
    }
}

/// `credentialProviders:` — the self-hosted stand-in for AgentCore Identity.
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CredentialProvidersSpec {
    pub api_keys: Vec<ApiKeyProviderSpec>,
}

/// `iamCallers:` — the self-hosted stand-in for IAM with `authorizerType: AWS_IAM`: who may
/// sign requests to the gateway, and the principal each key stands for.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamCallerSpec {
    pub access_key_id: String,
    pub secret_access_key_env: Option<String>,
    pub secret_access_key_file: Option<String>,
    pub principal_arn: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyProviderSpec {
    pub name: String,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<String>,
}

/// `gateway:` — the fields of `create_gateway`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    pub name: String,
    pub description: Option<String>,
    /// Accepted so boto3 requests paste in; the gateway does not assume it (see README).
    pub role_arn: Option<String>,
    pub client_token: Option<String>,
    pub protocol_type: Option<ProtocolType>,
    pub protocol_configuration: Option<ProtocolConfiguration>,
    pub authorizer_type: AuthorizerType,
    pub authorizer_configuration: Option<AuthorizerConfiguration>,
    pub exception_level: Option<ExceptionLevel>,
    pub tags: Option<BTreeMap<String, String>>,
    /// Self-hosted: the AWS region for SigV4 and API Gateway URLs.
    pub region: Option<String>,
    // Recognised, not implemented yet: refused by validation when present.
    pub kms_key_arn: Option<Value>,
    pub interceptor_configurations: Option<Value>,
    pub policy_engine_configuration: Option<Value>,
    pub web_acl_arn: Option<Value>,
    pub waf_configuration: Option<Value>,
    pub custom_transform_configuration: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub enum ProtocolType {
    #[serde(rename = "MCP")]
    Mcp,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolConfiguration {
    pub mcp: Option<McpConfiguration>,
}

#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpConfiguration {
    pub supported_versions: Option<Vec<String>>,
    pub instructions: Option<String>,
    pub search_type: Option<SearchType>,
    pub session_configuration: Option<SessionConfiguration>,
    pub streaming_configuration: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub enum SearchType {
    #[serde(rename = "SEMANTIC")]
    Semantic,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionConfiguration {
    pub session_timeout_in_seconds: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizerType {
    CustomJwt,
    AwsIam,
    None,
    AuthenticateOnly,
}

/// `authorizerConfiguration`: a union with one member.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerConfiguration {
    #[serde(rename = "customJWTAuthorizer")]
    pub custom_jwt_authorizer: Option<CustomJwtAuthorizer>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomJwtAuthorizer {
    pub discovery_url: String,
    pub allowed_audience: Option<Vec<String>>,
    pub allowed_clients: Option<Vec<String>>,
    pub allowed_scopes: Option<Vec<String>>,
    pub custom_claims: Option<Vec<CustomClaim>>,
    pub advertised_scope_mapping: Option<BTreeMap<String, String>>,
    // Recognised, not implemented yet.
    pub private_endpoint: Option<Value>,
    pub private_endpoint_overrides: Option<Value>,
    pub allowed_workload_configuration: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomClaim {
    pub inbound_token_claim_name: String,
    pub inbound_token_claim_value_type: ClaimValueType,
    pub authorizing_claim_match_value: AuthorizingClaimMatchValue,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimValueType {
    String,
    StringArray,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizingClaimMatchValue {
    pub claim_match_value: ClaimMatchValue,
    pub claim_match_operator: ClaimMatchOperator,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMatchValue {
    pub match_value_string: Option<String>,
    pub match_value_string_list: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimMatchOperator {
    Equals,
    Contains,
    ContainsAny,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub enum ExceptionLevel {
    #[serde(rename = "DEBUG")]
    Debug,
}

/// One entry of `targets:` — the fields of `create_gateway_target`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    pub name: String,
    pub description: Option<String>,
    pub gateway_identifier: Option<String>,
    pub client_token: Option<String>,
    pub target_configuration: TargetConfiguration,
    #[serde(default)]
    pub credential_provider_configurations: Vec<CredentialProviderConfiguration>,
    pub metadata_configuration: Option<Value>,
    pub private_endpoint: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetConfiguration {
    pub mcp: Option<McpTargetConfiguration>,
    pub http: Option<Value>,
    pub inference: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpTargetConfiguration {
    pub open_api_schema: Option<SchemaSource>,
    pub api_gateway: Option<ApiGatewaySpec>,
    pub smithy_model: Option<SmithyModelSpec>,
    pub lambda: Option<LambdaSpec>,
    pub mcp_server: Option<McpServerSpec>,
    pub connector: Option<Value>,
}

/// AgentCore's `S3Configuration`: a document in S3.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Spec {
    /// `s3://bucket/key`.
    pub uri: String,
    /// Sent as `x-amz-expected-bucket-owner`: S3 refuses the read if another account owns it.
    pub bucket_owner_account_id: Option<String>,
}

/// `lambda`: a Lambda function whose tools are described by `toolSchema`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaSpec {
    pub lambda_arn: String,
    pub tool_schema: LambdaToolSchema,
}

/// AgentCore's `ToolSchema`: `inlinePayload` is the list of tool definitions itself (not a
/// string), or `s3`; plus the self-hosted `file`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaToolSchema {
    pub inline_payload: Option<Value>,
    pub s3: Option<S3Spec>,
    pub file: Option<String>,
}

/// `smithyModel`: a Smithy JSON AST, inline, in S3 or (self-hosted) in a file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmithyModelSpec {
    pub inline_payload: Option<String>,
    pub s3: Option<S3Spec>,
    pub file: Option<String>,
    /// Self-hosted: where calls go when no `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`
    /// is set (a user's own service; AWS services default to their regional endpoint).
    pub endpoint: Option<String>,
}

/// `mcpServer`: a remote MCP server whose tools the gateway federates.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerSpec {
    pub endpoint: String,
    /// A fixed tool list (`{"tools": [...]}` or `[...]`), instead of asking the server.
    pub mcp_tool_schema: Option<ToolSchemaSource>,
    pub listing_mode: Option<ListingMode>,
    /// 0-1000; lower wins when two targets publish the same resource URI.
    pub resource_priority: Option<i64>,
    /// Self-hosted: which upstream tools are served, and under what names.
    pub mcp_server_tool_configuration: Option<McpServerToolConfiguration>,
}

/// `inlinePayload` or `s3`, plus the self-hosted `file`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolSchemaSource {
    pub inline_payload: Option<String>,
    pub s3: Option<S3Spec>,
    pub file: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListingMode {
    /// Listed at start (and on `list_changed`); served from the gateway's catalog.
    #[default]
    Default,
    /// Listed again from the server whenever a client asks for the first page.
    Dynamic,
}

/// Self-hosted curation of an MCP server's tools, in the style of
/// `apiGatewayToolConfiguration`.
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerToolConfiguration {
    /// An allow-list; absent means every tool. Each names a tool, or a prefix ending in `*`.
    pub tool_filters: Option<Vec<McpToolFilter>>,
    #[serde(default)]
    pub tool_overrides: Vec<McpToolOverride>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpToolFilter {
    pub tool_name: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpToolOverride {
    /// The upstream's name for the tool.
    pub tool_name: String,
    /// The name it is served under (before the `{target}___` prefix).
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `openApiSchema`: AgentCore's `inlinePayload` or `s3`, plus the self-hosted `file`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaSource {
    pub inline_payload: Option<String>,
    pub s3: Option<S3Spec>,
    pub file: Option<String>,
    /// Self-hosted: the base URL calls go to, instead of the document's `servers[0].url`
    /// (for documents with no `servers`, a relative one, or one that names another host).
    pub server_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewaySpec {
    pub rest_api_id: String,
    pub stage: String,
    pub api_gateway_tool_configuration: ApiGatewayToolConfiguration,
    /// Self-hosted: a local export to use instead of calling GetExport.
    pub export_file: Option<String>,
    /// Self-hosted: the base URL calls go to instead of the stage's invoke URL.
    pub invoke_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewayToolConfiguration {
    pub tool_filters: Vec<ToolFilter>,
    #[serde(default)]
    pub tool_overrides: Vec<ToolOverride>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolFilter {
    pub filter_path: String,
    pub methods: Vec<HttpMethod>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolOverride {
    pub name: String,
    pub description: Option<String>,
    pub path: String,
    pub method: HttpMethod,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialProviderConfiguration {
    pub credential_provider_type: CredentialProviderType,
    pub credential_provider: Option<CredentialProvider>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CredentialProviderType {
    GatewayIamRole,
    Oauth,
    ApiKey,
    CallerIamCredentials,
    JwtPassthrough,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialProvider {
    pub api_key_credential_provider: Option<ApiKeyCredentialProvider>,
    pub iam_credential_provider: Option<IamCredentialProvider>,
    pub oauth_credential_provider: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCredentialProvider {
    pub provider_arn: String,
    pub credential_parameter_name: Option<String>,
    pub credential_prefix: Option<String>,
    pub credential_location: Option<CredentialLocation>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CredentialLocation {
    Header,
    QueryParameter,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IamCredentialProvider {
    pub service: String,
    pub region: Option<String>,
}
