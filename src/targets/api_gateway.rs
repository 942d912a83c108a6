//! API Gateway targets: fetching the stage's export with GetExport, and AgentCore's selection
//! rules — `toolFilters` as an allow-list (exact paths or `/prefix/*`, methods merged),
//! `toolOverrides` naming one selected operation each, `{proxy+}` resources and methods that
//! need both IAM and an API key left out with a warning.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::aws::{FetchError, fetch};
use super::select::Selected;
use crate::config::Problems;
use crate::config::model::{ToolFilter, ToolOverride};
use crate::outbound::{AwsCredentials, Request, sigv4};
use crate::targets::openapi::{Document, Operation};

/// What GetExport needs.
pub(super) struct Export<'a> {
    pub client: &'a crate::net::Client,
    pub aws: &'a Arc<AwsCredentials>,
    pub region: &'a str,
    /// `AWS_ENDPOINT_URL_API_GATEWAY` or `AWS_ENDPOINT_URL`, when set.
    pub endpoint: Option<&'a str>,
    pub limit: usize,
    pub timeout: Duration,
}

impl Export<'_> {
    /// GET `/restapis/{id}/stages/{stage}/exports/oas30?extensions=apigateway`, SigV4-signed
    /// for service `apigateway`, at the configured endpoint or the regional one.
    pub(super) async fn get(&self, rest_api_id: &str, stage: &str) -> Result<String, String> {
        let endpoint = match self.endpoint {
            Some(e) => e.to_string(),
            None => format!("https://apigateway.{}.amazonaws.com", self.region),
        };
        let seg = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let url = format!(
            "{}/restapis/{}/stages/{}/exports/oas30?extensions=apigateway",
            endpoint.trim_end_matches('/'),
            seg(rest_api_id),
            seg(stage)
        );
        let url = url::Url::parse(&url)
            .map_err(|e| format!("bad API Gateway endpoint `{endpoint}`: {e}"))?;
        let mut req = Request {
            method: http::Method::GET,
            url,
            headers: http::HeaderMap::new(),
            body: None,
        };
        req.headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let creds = self
            .aws
            .get()
            .await
            .map_err(|e| format!("GetExport: {e}"))?;
        sigv4::sign(&mut req, &creds, self.region, "apigateway")
            .map_err(|e| format!("GetExport: {e}"))?;
        let reply = fetch(self.client, req, self.limit, self.timeout)
            .await
            .map_err(|e| match e {
                FetchError::Build(e) => format!("GetExport: {e}"),
                FetchError::Send(e) => format!("GetExport request to {endpoint} failed: {e}"),
                FetchError::Read(e) => {
                    format!("GetExport response: {}", crate::common::error_chain(&e))
                }
                FetchError::Timeout => {
                    format!("GetExport did not answer within {:?}", self.timeout)
                }
            })?;
        let body = String::from_utf8_lossy(&reply.body);
        if !reply.status.is_success() {
            let excerpt: String = body.chars().take(300).collect();
            return Err(format!(
                "GetExport for REST API `{rest_api_id}` stage `{stage}` failed with HTTP {}: {excerpt}",
                reply.status.as_u16()
            ));
        }
        Ok(body.into_owned())
    }
}

fn filter_matches(filter: &str, path: &str) -> bool {
    match filter.strip_suffix("/*") {
        Some(prefix) => {
            prefix.is_empty()
                || path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        None => filter == path,
    }
}

/// Applies filters and overrides to the export's operations. Problems are reported under
/// `path` (the target's `apiGatewayToolConfiguration`).
pub(super) fn select<'a>(
    doc: &Document,
    ops: &'a [Operation<'a>],
    filters: &[ToolFilter],
    overrides: &[ToolOverride],
    path: &str,
    warnings: &mut Vec<String>,
    problems: &mut Problems,
) -> Vec<Selected<'a>> {
    let mut chosen = BTreeSet::new();
    for (i, f) in filters.iter().enumerate() {
        let wildcard = f.filter_path.ends_with("/*");
        let mut any = false;
        for (j, m) in f.methods.iter().enumerate() {
            let hits: Vec<usize> = ops
                .iter()
                .enumerate()
                .filter(|(_, op)| op.method == *m && filter_matches(&f.filter_path, op.path))
                .map(|(k, _)| k)
                .collect();
            if hits.is_empty() && !wildcard {
                problems.push(
                    format!("{path}.toolFilters[{i}].methods[{j}]"),
                    format!(
                        "no operation {} {} in the export",
                        m.as_str(),
                        f.filter_path
                    ),
                );
            }
            any |= !hits.is_empty();
            chosen.extend(hits);
        }
        if wildcard && !any {
            problems.push(
                format!("{path}.toolFilters[{i}].filterPath"),
                format!(
                    "`{}` matches no operation of the listed methods in the export",
                    f.filter_path
                ),
            );
        }
    }
    let mut named: Vec<Option<(String, Option<String>, String)>> = vec![None; ops.len()];
    for (i, o) in overrides.iter().enumerate() {
        let op_path = format!("{path}.toolOverrides[{i}]");
        match ops.iter().position(|op| op.path == o.path && op.method == o.method) {
            None => problems.push(
                format!("{op_path}.path"),
                format!("no operation {} {} in the export", o.method.as_str(), o.path),
            ),
            Some(k) if !chosen.contains(&k) => problems.push(
                op_path,
                format!("{} {} is not selected by any toolFilters entry (overrides cannot expose unfiltered operations)", o.method.as_str(), o.path),
            ),
            Some(k) => {
                if named[k].is_some() {
                    problems.push(op_path.clone(), format!("{} {} already has an override", o.method.as_str(), o.path));
                }
                named[k] = Some((o.name.clone(), o.description.clone(), format!("{op_path}.name")));
            }
        }
    }
    let mut out = Vec::new();
    for k in chosen {
        let op = &ops[k];
        if op.path.contains('+') {
            warnings.push(format!(
                "operation {} left out: proxy resources (`{{proxy+}}`) are not supported",
                op.label()
            ));
            continue;
        }
        if needs_iam_and_api_key(doc, op) {
            warnings.push(format!(
                "operation {} left out: it requires both IAM and an API key, which AgentCore does not support",
                op.label()
            ));
            continue;
        }
        let (name, description, name_path) = match named[k].take() {
            Some((n, d, p)) => (Some(n), d, Some(p)),
            None => (op.operation_id.map(str::to_string), None, None),
        };
        let Some(name) = name else {
            problems.push(
                format!("{path}.toolOverrides"),
                format!("operation {} has no operationId: add a toolOverrides entry with a `name` for it", op.label()),
            );
            continue;
        };
        out.push(Selected {
            op,
            name,
            description,
            name_path,
        });
    }
    out
}

/// An operation with a security requirement that combines SigV4 (a scheme with
/// `x-amazon-apigateway-authtype: awsSigv4`) and an API key (`type: apiKey` in the
/// `x-api-key` header), as API Gateway exports an IAM method that also requires a key.
fn needs_iam_and_api_key(doc: &Document, op: &Operation) -> bool {
    let Some(reqs) = op.security.and_then(Value::as_array) else {
        return false;
    };
    let schemes = doc.root.pointer("/components/securitySchemes");
    let kind = |name: &str| {
        let s = schemes.and_then(|s| s.get(name))?;
        let authtype = s
            .get("x-amazon-apigateway-authtype")
            .and_then(Value::as_str)
            .unwrap_or("");
        if authtype.eq_ignore_ascii_case("awsSigv4") {
            return Some(Auth::Iam);
        }
        let is_key = s.get("type").and_then(Value::as_str) == Some("apiKey")
            && s.get("in").and_then(Value::as_str) == Some("header")
            && s.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"));
        is_key.then_some(Auth::ApiKey)
    };
    reqs.iter().filter_map(Value::as_object).any(|req| {
        let kinds: Vec<Auth> = req.keys().filter_map(|k| kind(k)).collect();
        kinds.contains(&Auth::Iam) && kinds.contains(&Auth::ApiKey)
    })
}

#[derive(PartialEq)]
enum Auth {
    Iam,
    ApiKey,
}

#[cfg(test)]
mod tests {
    use super::filter_matches;

    #[test]
    fn wildcards_match_the_prefix_and_below() {
        assert!(filter_matches("/pets/*", "/pets"));
        assert!(filter_matches("/pets/*", "/pets/{petId}"));
        assert!(!filter_matches("/pets/*", "/petshop"));
        assert!(filter_matches("/*", "/anything/at/all"));
        assert!(filter_matches("/pets", "/pets"));
        assert!(!filter_matches("/pets", "/pets/{petId}"));
    }
}
