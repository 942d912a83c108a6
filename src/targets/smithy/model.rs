//! A Smithy JSON AST, read: its shapes by id, their traits, the prelude's simple types, the
//! one service, its protocol and signing name, and every operation it offers (its own and its
//! resources', recursively, as Smithy's closure defines them).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Why a model cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("is not a Smithy JSON AST: {0}")]
    Shape(String),
    #[error("has no service shape")]
    NoService,
    #[error("has {0} service shapes ({1}); a target serves one")]
    ManyServices(usize, String),
    #[error(
        "defines service {service} with protocol {protocol}, which mcp-gateway does not serve (it serves aws.protocols#restJson1, awsJson1_0 and awsJson1_1)"
    )]
    Protocol { service: String, protocol: String },
    #[error(
        "defines service {0} without a protocol trait (aws.protocols#restJson1, awsJson1_0 or awsJson1_1)"
    )]
    NoProtocol(String),
}

/// The wire protocols served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    RestJson1,
    AwsJson1_0,
    AwsJson1_1,
}

impl Protocol {
    pub fn is_rest(self) -> bool {
        self == Self::RestJson1
    }
}

/// Protocols refused by name, so that a model is never half-served.
const REFUSED: &[&str] = &[
    "aws.protocols#restXml",
    "aws.protocols#awsQuery",
    "aws.protocols#ec2Query",
    "smithy.protocols#rpcv2Cbor",
];

/// A parsed model.
pub struct Model {
    shapes: Map<String, Value>,
}

/// The service of a model.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub protocol: Protocol,
    /// `aws.auth#sigv4` `name`, when the service signs.
    pub signing_name: Option<String>,
    /// `aws.api#service` `sdkId` (else the shape's name): names `AWS_ENDPOINT_URL_<ID>`.
    pub sdk_id: String,
    /// `aws.api#service` `endpointPrefix`, for the regional endpoint of an AWS service.
    pub endpoint_prefix: Option<String>,
}

/// The simple type of a shape or prelude id.
pub fn local_name(id: &str) -> &str {
    id.rsplit('#').next().unwrap_or(id)
}

impl Model {
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let mut root: Value = serde_json::from_str(text)?;
        if root.get("smithy").and_then(Value::as_str).is_none() {
            return Err(ModelError::Shape(
                "the `smithy` version field is missing".into(),
            ));
        }
        let shapes = match root.get_mut("shapes").map(Value::take) {
            Some(Value::Object(s)) => s,
            _ => return Err(ModelError::Shape("`shapes` must be an object".into())),
        };
        for (id, shape) in &shapes {
            if !id.contains('#') || shape.get("type").and_then(Value::as_str).is_none() {
                return Err(ModelError::Shape(format!(
                    "shape `{id}` needs a namespace and a `type`"
                )));
            }
        }
        Ok(Self { shapes })
    }

    /// The shape with `id`, if the model defines it.
    pub fn shape(&self, id: &str) -> Option<&Value> {
        self.shapes.get(id)
    }

    /// The type of `id`: the model's own, or the prelude's for `smithy.api#String` and kin
    /// (`PrimitiveInteger` is an `integer`).
    pub fn type_of(&self, id: &str) -> Option<&str> {
        if let Some(s) = self.shapes.get(id) {
            return s.get("type").and_then(Value::as_str);
        }
        let name = id.strip_prefix("smithy.api#")?;
        let name = name.strip_prefix("Primitive").unwrap_or(name);
        Some(match name {
            "String" => "string",
            "Blob" => "blob",
            "Boolean" => "boolean",
            "Byte" => "byte",
            "Short" => "short",
            "Integer" => "integer",
            "Long" => "long",
            "Float" => "float",
            "Double" => "double",
            "BigInteger" => "bigInteger",
            "BigDecimal" => "bigDecimal",
            "Timestamp" => "timestamp",
            "Document" => "document",
            "Unit" => "structure",
            _ => return None,
        })
    }

    /// The service shape: exactly one, with a protocol this gateway serves.
    pub fn service(&self) -> Result<Service, ModelError> {
        let services: Vec<&String> = self
            .shapes
            .iter()
            .filter(|(_, s)| s.get("type").and_then(Value::as_str) == Some("service"))
            .map(|(id, _)| id)
            .collect();
        let id = match services.as_slice() {
            [] => return Err(ModelError::NoService),
            [one] => (*one).clone(),
            many => {
                let names: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                return Err(ModelError::ManyServices(many.len(), names.join(", ")));
            }
        };
        let traits = traits(&self.shapes[&id]);
        let protocol = if traits.contains_key("aws.protocols#restJson1") {
            Protocol::RestJson1
        } else if traits.contains_key("aws.protocols#awsJson1_0") {
            Protocol::AwsJson1_0
        } else if traits.contains_key("aws.protocols#awsJson1_1") {
            Protocol::AwsJson1_1
        } else if let Some(p) = REFUSED
            .iter()
            .find(|p| traits.contains_key(**p))
            .map(|p| p.to_string())
            .or_else(|| traits.keys().find(|k| k.contains(".protocols#")).cloned())
        {
            return Err(ModelError::Protocol {
                service: id,
                protocol: p,
            });
        } else {
            return Err(ModelError::NoProtocol(id));
        };
        let api = traits.get("aws.api#service");
        let text = |v: Option<&Value>, k: &str| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Service {
            protocol,
            signing_name: text(traits.get("aws.auth#sigv4"), "name"),
            sdk_id: text(api, "sdkId").unwrap_or_else(|| local_name(&id).to_string()),
            endpoint_prefix: text(api, "endpointPrefix").or_else(|| text(api, "arnNamespace")),
            id,
        })
    }

    /// Every operation of the service, by id, sorted: its `operations`, and its resources'
    /// lifecycle operations, `operations`, `collectionOperations` and nested resources.
    pub fn operations(&self, service: &str) -> BTreeSet<String> {
        let mut ops = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut pending = vec![service.to_string()];
        while let Some(id) = pending.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(shape) = self.shapes.get(&id) else {
                continue;
            };
            for key in ["operations", "collectionOperations"] {
                for t in targets(shape.get(key)) {
                    ops.insert(t.to_string());
                }
            }
            for key in ["create", "put", "read", "update", "delete", "list"] {
                if let Some(t) = shape
                    .get(key)
                    .and_then(|v| v.get("target"))
                    .and_then(Value::as_str)
                {
                    ops.insert(t.to_string());
                }
            }
            pending.extend(targets(shape.get("resources")).map(str::to_string));
        }
        ops.retain(|id| self.type_of(id) == Some("operation"));
        ops
    }

    /// Members of a structure or union, in model order: (name, target, the member's traits).
    pub fn members<'m>(&'m self, id: &str) -> Vec<(&'m str, &'m str, &'m Map<String, Value>)> {
        let Some(Value::Object(members)) = self.shapes.get(id).and_then(|s| s.get("members"))
        else {
            return Vec::new();
        };
        members
            .iter()
            .filter_map(|(name, m)| Some((name.as_str(), m.get("target")?.as_str()?, traits(m))))
            .collect()
    }

    /// The target of a list's `member` or a map's `value` (`key` for keys).
    pub fn child<'m>(&'m self, id: &str, which: &str) -> Option<(&'m str, &'m Map<String, Value>)> {
        let m = self.shapes.get(id)?.get(which)?;
        Some((m.get("target")?.as_str()?, traits(m)))
    }

    /// The traits of the shape `id` (empty for the prelude).
    pub fn traits_of(&self, id: &str) -> &Map<String, Value> {
        self.shapes.get(id).map_or(empty(), traits)
    }
}

/// The traits of a shape or member.
pub fn traits(shape: &Value) -> &Map<String, Value> {
    shape
        .get("traits")
        .and_then(Value::as_object)
        .unwrap_or_else(|| empty())
}

fn empty() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn targets(list: Option<&Value>) -> impl Iterator<Item = &str> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("target").and_then(Value::as_str))
}

/// A trait of a member, else of its target shape (`documentation`, `range`, `length`, ...).
pub fn trait_of<'m>(
    model: &'m Model,
    member: &'m Map<String, Value>,
    target: &str,
    name: &str,
) -> Option<&'m Value> {
    member
        .get(name)
        .or_else(|| model.traits_of(target).get(name))
}
