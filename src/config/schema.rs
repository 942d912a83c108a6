//! The config file's JSON Schema, generated from the model the loader deserializes
//! ([`super::model`]), so that it cannot drift from it: editors complete and check the file
//! (`# yaml-language-server: $schema=...`), and CI validates the shipped configs against it.
//! What a schema cannot express (files that exist, documents that parse, a tool name's
//! length after joining) stays with `mcp-gateway validate`.
//!
//! Every object is closed (`additionalProperties: false`), as the loader reports unknown
//! fields; fields that take `${VAR}` in any string still take it, since the schema checks the
//! file as written.

use schemars::JsonSchema;
use serde_json::Value;

use super::model::{
    CredentialProvidersSpec, GatewaySpec, IamCallerSpec, RateLimitSpec, ServerSpec, TargetSpec,
};

/// The file: AgentCore's `create_gateway` and `create_gateway_target` requests, and the
/// self-hosted sections.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct File {
    /// Self-hosted: where to listen, limits, timeouts, egress, metrics.
    server: Option<ServerSpec>,
    /// The fields of AgentCore's `create_gateway`.
    gateway: GatewaySpec,
    /// Each a `create_gateway_target` request.
    targets: Option<Vec<TargetSpec>>,
    /// Self-hosted stand-ins for AgentCore Identity's credential providers.
    credential_providers: Option<CredentialProvidersSpec>,
    /// Self-hosted: the SigV4 callers `AWS_IAM` admits.
    iam_callers: Option<Vec<IamCallerSpec>>,
    /// `CreateGatewayRateLimit` requests for this gateway.
    rate_limits: Option<Vec<RateLimitSpec>>,
}

/// The schema, as JSON (draft 2020-12).
pub fn json_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(File)).unwrap_or_default();
    close_objects(&mut schema);
    if let Value::Object(o) = &mut schema {
        o.insert("title".into(), "mcp-gateway configuration".into());
    }
    schema
}

/// Sets `additionalProperties: false` on every object schema that lists properties.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                o.insert("additionalProperties".into(), false.into());
            }
            o.values_mut().for_each(close_objects);
        }
        Value::Array(a) => a.iter_mut().for_each(close_objects),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gateway.schema.json");
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            committed,
            json_schema(),
            "config/gateway.schema.json is stale: run `mcp-gateway schema > config/gateway.schema.json`"
        );
    }

    #[test]
    fn the_schema_checks_what_the_model_takes() {
        let schema = json_schema();
        jsonschema::meta::validate(&schema).unwrap();
        let v = jsonschema::draft202012::new(&schema).unwrap();
        let ok = serde_json::json!({
            "gateway": {"name": "g", "authorizerType": "NONE"},
            "targets": [{"name": "t", "targetConfiguration": {"mcp": {"lambda": {
                "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "toolSchema": {"inlinePayload": [{"name": "x", "description": "d", "inputSchema": {"type": "object"}}]}}}}}]
        });
        assert!(
            v.is_valid(&ok),
            "{:?}",
            v.iter_errors(&ok)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
        let typo =
            serde_json::json!({"gateway": {"name": "g", "authorizerType": "NONE", "colour": 1}});
        assert!(!v.is_valid(&typo));
        let bad_enum = serde_json::json!({"gateway": {"name": "g", "authorizerType": "MAYBE"}});
        assert!(!v.is_valid(&bad_enum));
    }
}
