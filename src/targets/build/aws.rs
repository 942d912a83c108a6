//! Building the AWS-native kinds: a Lambda target's tools from its tool definitions, a Smithy
//! target's from its model, each with the endpoint the AWS SDKs would use
//! (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the target's own `endpoint`, the
//! regional default). Problems name the config field, and for tool definitions the place in
//! the list.

use std::sync::Arc;

use super::{Ctx, Prepared, source_field};
use crate::common::names::{tool_name, valid_tool_name};
use crate::config::{CredentialSettings, DocumentSource, LambdaSettings, Problems, TargetSettings};
use crate::targets::aws::{env_endpoint, regional_endpoint};
use crate::targets::tool::{Listing, Tool};
use crate::targets::{Route, lambda, smithy};

impl Ctx<'_> {
    /// The tools of a Lambda target, from `toolSchema`.
    pub(super) async fn lambda_tools(
        &self,
        t: &TargetSettings,
        l: &LambdaSettings,
    ) -> Result<Vec<Tool>, Problems> {
        let path = format!(
            "{}.targetConfiguration.mcp.lambda.toolSchema{}",
            t.path,
            source_field(&l.tools)
        );
        let mut problems = Problems::default();
        let text = match self.document_text(t, &l.tools).await {
            Ok(text) => text,
            Err(e) => {
                problems.push(path, e);
                return Err(problems);
            }
        };
        let defs = match lambda::tools::definitions(&text) {
            Ok(d) => d,
            Err(located) => {
                let inline = matches!(l.tools, DocumentSource::Inline(_));
                for p in located {
                    if inline {
                        problems.push(format!("{path}{}", p.at), p.message);
                    } else {
                        let at = if p.at.is_empty() {
                            "the list".into()
                        } else {
                            p.at
                        };
                        problems.push(&path, format!("{at}: {}", p.message));
                    }
                }
                return Err(problems);
            }
        };
        let endpoint = env_endpoint(self.env, "Lambda")
            .unwrap_or_else(|| regional_endpoint("lambda", &l.region));
        let url = match lambda::invoke_url(&endpoint, &l.function_arn) {
            Ok(u) => u,
            Err(e) => {
                problems.push(
                    format!("{}.targetConfiguration.mcp.lambda.lambdaArn", t.path),
                    e,
                );
                return Err(problems);
            }
        };
        let gateway_id: Arc<str> = self.config.gateway.name.as_str().into();
        let target_id: Arc<str> = t.name.as_str().into();
        let mut tools = Vec::with_capacity(defs.len());
        for (i, def) in defs.into_iter().enumerate() {
            let full = tool_name(&t.name, &def.name);
            if !valid_tool_name(&full) {
                problems.push(
                    format!("{path}[{i}].name"),
                    format!("tool name `{full}` is longer than the 128 characters MCP allows (target name, `___`, tool name)"),
                );
                continue;
            }
            let mut extra = serde_json::Map::new();
            let structured = def.output_schema.is_some();
            if let Some(o) = def.output_schema {
                extra.insert("outputSchema".into(), o);
            }
            let route = Route::Lambda(lambda::Route {
                url: url.clone(),
                tool_name: full.clone(),
                gateway_id: gateway_id.clone(),
                target_id: target_id.clone(),
                structured,
            });
            let listing = Listing {
                description: def.description,
                input_schema: def.input_schema,
                extra,
            };
            match Tool::new(full, format!("Lambda {}", l.function_arn), listing, route) {
                Ok(tool) => tools.push(tool),
                Err(e) => problems.push(format!("{path}[{i}].inputSchema"), e.to_string()),
            }
        }
        if problems.is_empty() {
            Ok(tools)
        } else {
            Err(problems)
        }
    }

    /// The tools of a Smithy target, one per operation of the model's service.
    pub(super) async fn smithy_tools(
        &self,
        t: &TargetSettings,
        source: &DocumentSource,
        endpoint: Option<&url::Url>,
    ) -> Result<(Prepared, Vec<String>), Problems> {
        let target_path = format!("{}.targetConfiguration.mcp.smithyModel", t.path);
        let path = format!("{target_path}{}", source_field(source));
        let mut problems = Problems::default();
        let imported = match self.document_text(t, source).await {
            Ok(text) => smithy::import(&text).map_err(|e| format!("the Smithy model {e}")),
            Err(e) => Err(e),
        };
        let imported = match imported {
            Ok(i) => i,
            Err(e) => {
                problems.push(path, e);
                return Err(problems);
            }
        };
        let service = &imported.service;
        let region = match &t.credentials {
            CredentialSettings::SigV4 { region, .. } => Some(region.as_str()),
            _ => self.config.gateway.region.as_deref(),
        };
        let base = env_endpoint(self.env, &service.sdk_id)
            .or_else(|| endpoint.map(|e| e.to_string()))
            .or_else(|| {
                let prefix = service.endpoint_prefix.as_deref()?;
                Some(regional_endpoint(prefix, region?))
            });
        let Some(base) = base else {
            problems.push(
                target_path,
                format!(
                    "nowhere to send calls for service {}: set `endpoint`, or AWS_ENDPOINT_URL_{} / AWS_ENDPOINT_URL (an AWS service's regional endpoint also needs a region)",
                    service.id,
                    service.sdk_id.to_ascii_uppercase().replace([' ', '-'], "_")
                ),
            );
            return Err(problems);
        };
        let base = match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => u,
            _ => {
                problems.push(
                    target_path,
                    format!("the endpoint `{base}` is not an absolute http(s) URL"),
                );
                return Err(problems);
            }
        };
        let sdk_id: Arc<str> = service.sdk_id.as_str().into();
        let signing_name = service.signing_name.clone();
        let mut warnings: Vec<String> = imported
            .warnings
            .iter()
            .map(|w| format!("target {}: {w}", t.name))
            .collect();
        let mut tools = Vec::with_capacity(imported.operations.len());
        for op in imported.operations {
            let full = tool_name(&t.name, &op.name);
            if !valid_tool_name(&full) {
                warnings.push(format!(
                    "target {}: operation {} left out: tool name `{full}` is longer than 128 characters",
                    t.name, op.name
                ));
                continue;
            }
            let mut extra = serde_json::Map::new();
            if let Some(a) = op.annotations {
                extra.insert("annotations".into(), a);
            }
            let route = Route::Smithy(smithy::Route {
                endpoint: base.clone(),
                service: sdk_id.clone(),
                call: op.call,
                table: imported.table.clone(),
            });
            let listing = Listing {
                description: op.description,
                input_schema: op.input_schema,
                extra,
            };
            match Tool::new(
                full,
                format!("{} {}", service.sdk_id, op.name),
                listing,
                route,
            ) {
                Ok(tool) => tools.push(tool),
                Err(e) => warnings.push(format!(
                    "target {}: operation {} left out: {e}",
                    t.name, op.name
                )),
            }
        }
        if tools.is_empty() {
            problems.push(
                target_path,
                format!(
                    "the target has no tools: service {} offers no operation that can be served",
                    service.id
                ),
            );
            return Err(problems);
        }
        Ok((
            Prepared::Http {
                tools,
                signing_name,
            },
            warnings,
        ))
    }
}
