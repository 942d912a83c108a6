//! Building the targets from the validated config: get each HTTP target's OpenAPI document
//! (inline, local file, or API Gateway's GetExport), select its operations (all with an
//! `operationId` for `openApiSchema`; `toolFilters`/`toolOverrides` for `apiGateway`), derive
//! the tools, and resolve outbound credentials. Problems that need the document (a filter
//! matching nothing, an operation with no name) are reported with their config path,
//! alongside the static ones.

mod aws;

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::Value;

use super::api_gateway::{self, Export};
use super::aws::env_endpoint;
use super::http::{HttpAdapter, Route as HttpRoute};
use super::mcp_server::client::Upstream;
use super::mcp_server::{MAX_TOOLS, McpAdapter, parse_tool_schema};
use super::s3::{MAX_S3_SCHEMA_BYTES, S3};
use super::select::Selected;
use super::tool::{Listing, Tool, ToolSet};
use super::{Adapter, Route, Target};
use crate::common::budget::Budget;
use crate::common::names::{sanitize_tool_name, tool_name, valid_tool_name};
use crate::config::{
    Config, CredentialSettings, DocumentSource, Env, McpServerSettings, Problems, TargetKind,
    TargetSettings,
};
use crate::outbound::{self, ApiKey, AwsCredentials};
use crate::targets::openapi::{self, Document, Operation};

/// The result of building every target.
pub struct Built {
    pub targets: Vec<Target>,
    pub warnings: Vec<String>,
}

/// What every target shares: the pooled client, the in-flight byte budget, the reply limit.
#[derive(Clone, Debug)]
pub struct Shared {
    pub client: crate::net::Client,
    pub budget: Budget,
    pub max_response_bytes: usize,
    /// Where MCP servers' resource updates go.
    pub updates: super::surface::Updates,
}

/// Builds all targets; `Err` carries every problem found.
pub async fn build(config: &Config, env: &dyn Env, shared: &Shared) -> Result<Built, Problems> {
    let needs_aws = config.targets.iter().any(|t| {
        matches!(t.credentials, CredentialSettings::SigV4 { .. })
            || sources(&t.kind)
                .any(|s| matches!(s, DocumentSource::ApiGatewayExport | DocumentSource::S3(_)))
    });
    let aws = if needs_aws {
        Some(Arc::new(
            AwsCredentials::discover(env, config.gateway.region.as_deref()).await,
        ))
    } else {
        None
    };
    let ctx = Ctx {
        config,
        env,
        http: &shared.client,
        aws: aws.clone(),
    };
    let results = join_all(config.targets.iter().map(|t| ctx.prepare(t))).await;
    let mut built = Built {
        targets: Vec::new(),
        warnings: Vec::new(),
    };
    let mut problems = Problems::default();
    for (settings, result) in config.targets.iter().zip(results) {
        let prepared = match result {
            Ok((prepared, warnings)) => {
                built.warnings.extend(warnings);
                prepared
            }
            Err(p) => {
                problems.extend(p);
                Prepared::Http {
                    tools: Vec::new(),
                    signing_name: None,
                }
            }
        };
        let credentials = match &settings.credentials {
            CredentialSettings::None => outbound::Credentials::None,
            CredentialSettings::ApiKey {
                key,
                parameter_name,
                prefix,
                location,
                ..
            } => match ApiKey::new(*location, parameter_name, prefix, key) {
                Some(k) => outbound::Credentials::ApiKey(k),
                None => {
                    problems.push(
                        format!("{}.credentialProviderConfigurations[0]", settings.path),
                        "the API key cannot be sent with this parameter name and location",
                    );
                    outbound::Credentials::None
                }
            },
            CredentialSettings::SigV4 { service, region } => {
                let signing_name = match &prepared {
                    Prepared::Http { signing_name, .. } => signing_name.clone(),
                    Prepared::Mcp { .. } => None,
                };
                match service.clone().or(signing_name) {
                    Some(service) => outbound::Credentials::SigV4 {
                        service,
                        region: region.clone(),
                        aws: aws.clone().expect("discovered when a target signs"),
                    },
                    None => {
                        if problems.is_empty() {
                            problems.push(
                                format!("{}.credentialProviderConfigurations[0]", settings.path),
                                "the Smithy model has no `aws.auth#sigv4` trait to say what to sign for: name the service in `credentialProvider.iamCredentialProvider.service`",
                            );
                        }
                        outbound::Credentials::None
                    }
                }
            }
        };
        if !matches!(credentials, outbound::Credentials::None) {
            let urls: Vec<String> = match &prepared {
                Prepared::Http { tools, .. } => {
                    let mut urls: Vec<String> = tools
                        .iter()
                        .filter_map(|t| match &t.route {
                            Route::Http(r) => Some(r.base_url.clone()),
                            Route::Smithy(r) => Some(r.endpoint.to_string()),
                            Route::Lambda(r) => Some(r.url.to_string()),
                            Route::Mcp(_) => None,
                        })
                        .collect();
                    urls.dedup();
                    urls
                }
                Prepared::Mcp { settings, .. } => vec![settings.endpoint.to_string()],
            };
            let plain = urls.iter().find(|u| {
                url::Url::parse(u).is_ok_and(|u| !shared.client.egress().credentials_allowed(&u))
            });
            if let Some(u) = plain {
                let host = url::Url::parse(u)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default();
                problems.push(
                    format!("{}.credentialProviderConfigurations[0]", settings.path),
                    format!("the target's credentials would travel over plain http to {host}: use https, or set server.egress.allowPlainHttpCredentials"),
                );
            }
        }
        let (adapter, tools): (Adapter, ToolSet) = match prepared {
            Prepared::Mcp {
                settings: mcp,
                fixed,
            } => {
                let upstream = Upstream::new(
                    mcp.endpoint.clone(),
                    shared.client.clone(),
                    credentials,
                    shared.max_response_bytes,
                    shared.budget.clone(),
                );
                let adapter =
                    McpAdapter::new(upstream, mcp, &settings.name, fixed, shared.updates.clone());
                // Fixed tools (`mcpToolSchema`) are served from the start, as a document's are.
                let tools = match adapter.fixed_tools() {
                    Some((tools, left_out)) => {
                        built.warnings.extend(
                            left_out
                                .into_iter()
                                .map(|w| format!("target {}: {w}", settings.name)),
                        );
                        tools
                    }
                    None => Vec::new().into(),
                };
                (Adapter::Mcp(Arc::new(adapter)), tools)
            }
            Prepared::Http { tools, .. } => {
                let adapter = Adapter::Http(HttpAdapter {
                    credentials,
                    client: shared.client.clone(),
                    max_response_bytes: shared.max_response_bytes,
                    budget: shared.budget.clone(),
                });
                (adapter, tools.into_iter().map(Arc::new).collect())
            }
        };
        built.targets.push(Target::new(
            settings.name.clone(),
            settings.timeout,
            adapter,
            tools,
        ));
    }
    if problems.is_empty() {
        Ok(built)
    } else {
        Err(problems)
    }
}

/// What building needs to know of one target before its adapter exists.
enum Prepared {
    /// The tools derived from the target's document (OpenAPI, API Gateway, Smithy model,
    /// Lambda tool definitions): calls are HTTP requests.
    Http {
        tools: Vec<Tool>,
        /// A Smithy model's `aws.auth#sigv4` name.
        signing_name: Option<String>,
    },
    /// An MCP server; its tools come later from the server, or now from `mcpToolSchema`.
    Mcp {
        settings: McpServerSettings,
        fixed: Option<Vec<Value>>,
    },
}

pub(super) struct Ctx<'a> {
    config: &'a Config,
    env: &'a dyn Env,
    http: &'a crate::net::Client,
    aws: Option<Arc<AwsCredentials>>,
}

impl Ctx<'_> {
    async fn prepare(&self, t: &TargetSettings) -> Result<(Prepared, Vec<String>), Problems> {
        match &t.kind {
            TargetKind::McpServer(mcp) => {
                let fixed = match &mcp.tool_schema {
                    None => None,
                    Some(source) => Some(self.tool_schema(t, source).await?),
                };
                Ok((
                    Prepared::Mcp {
                        settings: mcp.clone(),
                        fixed,
                    },
                    Vec::new(),
                ))
            }
            TargetKind::OpenApi { .. } | TargetKind::ApiGateway { .. } => {
                self.http_tools(t).await.map(|(tools, warnings)| {
                    (
                        Prepared::Http {
                            tools,
                            signing_name: None,
                        },
                        warnings,
                    )
                })
            }
            TargetKind::Lambda(l) => self.lambda_tools(t, l).await.map(|tools| {
                (
                    Prepared::Http {
                        tools,
                        signing_name: None,
                    },
                    Vec::new(),
                )
            }),
            TargetKind::Smithy { source, endpoint } => {
                self.smithy_tools(t, source, endpoint.as_ref()).await
            }
        }
    }

    /// The tool definitions of `mcpToolSchema`.
    async fn tool_schema(
        &self,
        t: &TargetSettings,
        source: &DocumentSource,
    ) -> Result<Vec<Value>, Problems> {
        let path = format!(
            "{}.targetConfiguration.mcp.mcpServer.mcpToolSchema{}",
            t.path,
            source_field(source)
        );
        let mut problems = Problems::default();
        let text = match self.document_text(t, source).await {
            Ok(text) => text,
            Err(e) => {
                problems.push(path, e);
                return Err(problems);
            }
        };
        match parse_tool_schema(&text) {
            Ok(tools) if tools.len() <= MAX_TOOLS => Ok(tools),
            Ok(_) => {
                problems.push(path, format!("lists more than {MAX_TOOLS} tools"));
                Err(problems)
            }
            Err(e) => {
                problems.push(
                    path,
                    format!("must be a JSON array of MCP tool definitions, or a tools/list result with `tools`: {e}"),
                );
                Err(problems)
            }
        }
    }

    /// The tools of an OpenAPI or API Gateway target, derived from its document.
    async fn http_tools(&self, t: &TargetSettings) -> Result<(Vec<Tool>, Vec<String>), Problems> {
        let (source, member, source_field) = match &t.kind {
            TargetKind::OpenApi { source, .. } => (source, "openApiSchema", source_field(source)),
            TargetKind::ApiGateway { source, .. } => {
                let field = match source {
                    DocumentSource::File(_) => ".exportFile",
                    _ => "",
                };
                (source, "apiGateway", field)
            }
            _ => return Ok((Vec::new(), Vec::new())),
        };
        let target_path = format!("{}.targetConfiguration.mcp.{member}", t.path);
        let source_path = format!("{target_path}{source_field}");
        let mut problems = Problems::default();
        let text = match self.document_text(t, source).await {
            Ok(text) => text,
            Err(e) => {
                problems.push(source_path, e);
                return Err(problems);
            }
        };
        let parsed = Document::parse(&text);
        drop(text); // a large export should not be held twice, as text and as a tree
        let doc = match parsed {
            Ok(d) => d,
            Err(e) => {
                problems.push(
                    source_path,
                    format!("the OpenAPI document cannot be used: {e}"),
                );
                return Err(problems);
            }
        };
        let (ops, doc_warnings) = doc.operations();
        let mut warnings: Vec<String> = doc_warnings
            .into_iter()
            .map(|w| format!("target {}: {w}", t.name))
            .collect();

        let selected = match &t.kind {
            TargetKind::OpenApi { .. } => ops
                .iter()
                .filter_map(|op| match op.operation_id {
                    Some(id) => Some(Selected {
                        op,
                        name: id.to_string(),
                        description: None,
                        name_path: None,
                    }),
                    None => {
                        warnings.push(format!(
                            "target {}: operation {} skipped: it has no operationId",
                            t.name,
                            op.label()
                        ));
                        None
                    }
                })
                .collect(),
            TargetKind::ApiGateway {
                filters, overrides, ..
            } => {
                let path = format!(
                    "{}.targetConfiguration.mcp.apiGateway.apiGatewayToolConfiguration",
                    t.path
                );
                {
                    let mut left_out = Vec::new();
                    let selected = api_gateway::select(
                        &doc,
                        &ops,
                        filters,
                        overrides,
                        &path,
                        &mut left_out,
                        &mut problems,
                    );
                    warnings.extend(
                        left_out
                            .into_iter()
                            .map(|w| format!("target {}: {w}", t.name)),
                    );
                    selected
                }
            }
            _ => Vec::new(),
        };

        let mut tools: Vec<Tool> = Vec::new();
        let mut names: HashSet<String> = HashSet::new();
        for s in selected {
            let mut name = s.name.clone();
            if !valid_tool_name(&name) {
                let clean = sanitize_tool_name(&name);
                warnings.push(format!(
                    "target {}: operation {}: `{name}` is not a valid MCP tool name; exposed as `{clean}`",
                    t.name,
                    s.op.label()
                ));
                name = clean;
            }
            let full = tool_name(&t.name, &name);
            if !valid_tool_name(&full) {
                let msg = format!(
                    "tool name `{full}` is {} characters long; MCP allows at most 128 (target name, `___`, tool name)",
                    full.chars().count()
                );
                match &s.name_path {
                    Some(p) => problems.push(p.clone(), msg),
                    None => warnings.push(format!(
                        "target {}: operation {} skipped: {msg}",
                        t.name,
                        s.op.label()
                    )),
                }
                continue;
            }
            if names.contains(&full) {
                let msg = format!(
                    "tool name `{full}` is used twice (operation {})",
                    s.op.label()
                );
                match &s.name_path {
                    Some(p) => problems.push(p.clone(), msg),
                    None => {
                        warnings.push(format!("target {}: {msg}; the second is skipped", t.name))
                    }
                }
                continue;
            }
            let prepared = self
                .base_url(t, s.op)
                .and_then(|url| Ok((url, openapi::tool::derive(&doc, s.op)?)));
            let (base_url, derived) = match prepared {
                Ok(p) => p,
                Err(e) => {
                    warnings.push(format!(
                        "target {}: operation {} skipped: {e}",
                        t.name,
                        s.op.label()
                    ));
                    continue;
                }
            };
            warnings.extend(
                derived
                    .warnings
                    .into_iter()
                    .map(|w| format!("target {}: {w}", t.name)),
            );
            let description = s
                .description
                .or_else(|| s.op.description.map(str::to_string))
                .or_else(|| s.op.summary.map(str::to_string))
                .unwrap_or_else(|| name.clone());
            let route = Route::Http(HttpRoute {
                base_url,
                plan: derived.plan,
            });
            let mut extra = serde_json::Map::new();
            if let Some(a) = derived.annotations {
                extra.insert("annotations".into(), a);
            }
            let listing = Listing {
                description,
                input_schema: derived.input_schema,
                extra,
            };
            match Tool::new(full.clone(), s.op.label(), listing, route) {
                Ok(tool) => {
                    names.insert(full);
                    tools.push(tool);
                }
                Err(e) => warnings.push(format!(
                    "target {}: tool {full} ({}) skipped: {e}",
                    t.name,
                    s.op.label()
                )),
            }
        }
        if tools.is_empty() && problems.is_empty() {
            // A target that serves nothing is a configuration problem, not a warning: say why.
            let mut why = if warnings.is_empty() {
                "the document has no operations".to_string()
            } else {
                let shown: Vec<&str> = warnings.iter().take(3).map(String::as_str).collect();
                format!(
                    "{} operation(s) left out, for example: {}",
                    warnings.len(),
                    shown.join("; ")
                )
            };
            if matches!(
                t.kind,
                TargetKind::OpenApi {
                    server_url: None,
                    ..
                }
            ) && warnings.iter().any(|w| w.contains("server"))
            {
                why.push_str("; set `serverUrl` on openApiSchema to say where calls go");
            }
            problems.push(target_path, format!("the target has no tools: {why}"));
        }
        if problems.is_empty() {
            Ok((tools, warnings))
        } else {
            Err(problems)
        }
    }

    async fn document_text(
        &self,
        t: &TargetSettings,
        source: &DocumentSource,
    ) -> Result<String, String> {
        let limit = self.config.server.max_schema_bytes;
        match source {
            DocumentSource::Inline(text) => {
                if text.len() > limit {
                    return Err(format!("the inline document is larger than {limit} bytes"));
                }
                Ok(text.clone())
            }
            DocumentSource::File(path) => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if meta.len() > limit as u64 {
                    return Err(format!("{} is larger than {limit} bytes", path.display()));
                }
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
            DocumentSource::ApiGatewayExport => {
                let TargetKind::ApiGateway {
                    rest_api_id, stage, ..
                } = &t.kind
                else {
                    return Err("GetExport applies to apiGateway targets only".into());
                };
                let region = self
                    .config
                    .gateway
                    .region
                    .as_deref()
                    .ok_or("GetExport needs a region")?;
                let aws = self
                    .aws
                    .as_ref()
                    .ok_or("no AWS credentials for GetExport")?;
                let endpoint = env_endpoint(self.env, "API Gateway");
                let export = Export {
                    client: self.http,
                    aws,
                    region,
                    endpoint: endpoint.as_deref(),
                    limit,
                    timeout: self.config.server.export_timeout,
                };
                export.get(rest_api_id, stage).await
            }
            DocumentSource::S3(loc) => {
                let region = self.config.gateway.region.as_deref().ok_or(
                    "reading from S3 needs a region: set `gateway.region`, AWS_REGION or AWS_DEFAULT_REGION",
                )?;
                let aws = self.aws.as_ref().ok_or("no AWS credentials for S3")?;
                let endpoint = env_endpoint(self.env, "S3");
                let s3 = S3 {
                    client: self.http,
                    aws,
                    region,
                    endpoint: endpoint.as_deref(),
                    limit: limit.min(MAX_S3_SCHEMA_BYTES),
                    timeout: self.config.server.export_timeout,
                };
                s3.get(loc).await
            }
        }
    }

    fn base_url(&self, t: &TargetSettings, op: &Operation) -> Result<String, String> {
        match &t.kind {
            TargetKind::ApiGateway {
                rest_api_id,
                stage,
                invoke_url,
                ..
            } => match (invoke_url, &self.config.gateway.region) {
                (Some(u), _) => Ok(u.clone()),
                (None, Some(region)) => Ok(format!(
                    "https://{rest_api_id}.execute-api.{region}.amazonaws.com/{stage}"
                )),
                (None, None) => Err("no region for the stage URL".into()),
            },
            TargetKind::OpenApi {
                server_url: Some(u),
                ..
            } => Ok(u.clone()),
            TargetKind::OpenApi { .. } => server_url(op.servers),
            _ => Err("only OpenAPI and API Gateway targets have operations".into()),
        }
    }
}

/// The documents a target kind reads at start.
fn sources(kind: &TargetKind) -> impl Iterator<Item = &DocumentSource> {
    let one = match kind {
        TargetKind::OpenApi { source, .. }
        | TargetKind::ApiGateway { source, .. }
        | TargetKind::Smithy { source, .. } => Some(source),
        TargetKind::Lambda(l) => Some(&l.tools),
        TargetKind::McpServer(m) => m.tool_schema.as_ref(),
    };
    one.into_iter()
}

/// The config field a document came from, for problem paths.
fn source_field(source: &DocumentSource) -> &'static str {
    match source {
        DocumentSource::Inline(_) => ".inlinePayload",
        DocumentSource::File(_) => ".file",
        DocumentSource::S3(_) => ".s3",
        DocumentSource::ApiGatewayExport => "",
    }
}

/// The first server's URL with its variables at their defaults; must be absolute http(s).
fn server_url(servers: Option<&Value>) -> Result<String, String> {
    let server = servers
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .ok_or("the document has no `servers` entry, so there is nowhere to send calls (set `serverUrl`)")?;
    let mut url = server
        .get("url")
        .and_then(Value::as_str)
        .ok_or("`servers[0].url` is missing")?
        .to_string();
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (name, var) in vars {
            let default = var.get("default").and_then(Value::as_str).unwrap_or("");
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(url),
        _ => Err(format!(
            "server URL `{url}` is not an absolute http(s) URL (set `serverUrl`)"
        )),
    }
}
