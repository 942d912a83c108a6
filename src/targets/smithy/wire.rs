//! Arguments to the wire, shape by shape: what a protocol's JSON serializer does that the
//! arguments do not already say. Member names become their `jsonName` (restJson1 only),
//! timestamps become their `timestampFormat` (epoch seconds unless told otherwise), and a
//! missing `idempotencyToken` is filled with a fresh UUID, as the AWS SDKs do. Everything else
//! goes out as the model's client sent it (already checked against the input schema).
//!
//! A [`Wire`] is compiled once per operation: a subtree with nothing to change is [`Wire::Same`]
//! and costs nothing per call, so a DynamoDB item is sent without a walk.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{Map, Value};

use super::model::{Model, trait_of};
use super::schema::children;

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    EpochSeconds,
    DateTime,
    HttpDate,
}

impl TimeFormat {
    /// The member's (or its target's) `timestampFormat`, else `default`.
    pub fn of(model: &Model, member: &Map<String, Value>, target: &str, default: Self) -> Self {
        match trait_of(model, member, target, "smithy.api#timestampFormat").and_then(Value::as_str)
        {
            Some("epoch-seconds") => Self::EpochSeconds,
            Some("date-time") => Self::DateTime,
            Some("http-date") => Self::HttpDate,
            _ => default,
        }
    }
}

/// How one value goes to the wire.
#[derive(Debug)]
pub enum Wire {
    /// As given.
    Same,
    Timestamp(TimeFormat),
    /// A structure or union with something to change in it.
    Struct(Vec<Field>),
    List(Arc<Wire>),
    Map(Arc<Wire>),
    /// A shape that contains itself, compiled once into the [`Table`].
    Recursive(Arc<str>),
}

/// One member of a structure.
#[derive(Debug)]
pub struct Field {
    /// The member's name in the arguments.
    pub arg: String,
    /// Its name on the wire.
    pub wire: String,
    pub plan: Arc<Wire>,
    /// `idempotencyToken`: filled when the client leaves it out.
    pub token: bool,
}

/// The recursive shapes of a target, by id.
#[derive(Debug, Default)]
pub struct Table(HashMap<Arc<str>, Arc<Wire>>);

/// Compiles plans against one model and protocol.
pub struct Compiler<'m> {
    model: &'m Model,
    json_names: bool,
    /// Whether a shape, or anything it reaches, has something to change.
    needs: HashMap<String, bool>,
    stack: Vec<String>,
    pub table: Table,
}

impl<'m> Compiler<'m> {
    pub fn new(model: &'m Model, json_names: bool) -> Self {
        Self {
            model,
            json_names,
            needs: HashMap::new(),
            stack: Vec::new(),
            table: Table::default(),
        }
    }

    /// The plan for a value of shape `id` bound by a member with traits `member`.
    pub fn plan(&mut self, id: &str, member: &Map<String, Value>) -> Arc<Wire> {
        let model = self.model;
        if model.type_of(id) == Some("timestamp") {
            return Arc::new(Wire::Timestamp(TimeFormat::of(
                model,
                member,
                id,
                TimeFormat::EpochSeconds,
            )));
        }
        if !self.needs(id) {
            return Arc::new(Wire::Same);
        }
        if self.stack.iter().any(|s| s == id) {
            return Arc::new(Wire::Recursive(id.into()));
        }
        self.stack.push(id.to_string());
        let plan = match model.type_of(id) {
            Some("structure" | "union") => {
                let fields = model
                    .members(id)
                    .into_iter()
                    .map(|(name, target, mt)| Field {
                        arg: name.to_string(),
                        wire: self.wire_name(name, mt),
                        plan: self.plan(target, mt),
                        token: mt.contains_key("smithy.api#idempotencyToken"),
                    })
                    .collect();
                Wire::Struct(fields)
            }
            Some("list" | "set") => match model.child(id, "member") {
                Some((t, mt)) => Wire::List(self.plan(t, mt)),
                None => Wire::Same,
            },
            Some("map") => match model.child(id, "value") {
                Some((t, mt)) => Wire::Map(self.plan(t, mt)),
                None => Wire::Same,
            },
            _ => Wire::Same,
        };
        self.stack.pop();
        let plan = Arc::new(plan);
        self.table.0.insert(id.into(), plan.clone());
        plan
    }

    /// The member's name on the wire.
    pub fn wire_name(&self, name: &str, member: &Map<String, Value>) -> String {
        match member.get("smithy.api#jsonName").and_then(Value::as_str) {
            Some(n) if self.json_names => n.to_string(),
            _ => name.to_string(),
        }
    }

    fn needs(&mut self, id: &str) -> bool {
        if let Some(n) = self.needs.get(id) {
            return *n;
        }
        // Reachability, cycle-safe: search every shape reachable from `id`.
        let mut seen = HashSet::new();
        let mut pending = vec![id.to_string()];
        let mut found = false;
        while let Some(s) = pending.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            if self.changes_itself(&s) {
                found = true;
                break;
            }
            pending.extend(children(self.model, &s));
        }
        self.needs.insert(id.to_string(), found);
        found
    }

    fn changes_itself(&self, id: &str) -> bool {
        let model = self.model;
        match model.type_of(id) {
            Some("timestamp") => true,
            Some("structure" | "union") => model.members(id).into_iter().any(|(_, t, mt)| {
                mt.contains_key("smithy.api#idempotencyToken")
                    || (self.json_names && mt.contains_key("smithy.api#jsonName"))
                    || model.type_of(t) == Some("timestamp")
            }),
            _ => false,
        }
    }
}

/// Why a value cannot go to the wire (the schema let it through, the protocol cannot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

/// `value` in its wire form under `plan`.
pub fn to_wire(plan: &Wire, table: &Table, value: &Value) -> Result<Value, WireError> {
    match plan {
        Wire::Same => Ok(value.clone()),
        Wire::Timestamp(f) => timestamp(value, *f),
        Wire::Recursive(id) => match table.0.get(id) {
            Some(p) => to_wire(p, table, value),
            None => Ok(value.clone()),
        },
        Wire::List(item) => match value {
            Value::Array(items) => items
                .iter()
                .map(|v| to_wire(item, table, v))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        },
        Wire::Map(item) => match value {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_wire(item, table, v)?)))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        },
        Wire::Struct(fields) => {
            let Value::Object(m) = value else {
                return Ok(value.clone());
            };
            let mut out = Map::new();
            for f in fields {
                match m.get(&f.arg) {
                    Some(v) => {
                        out.insert(f.wire.clone(), to_wire(&f.plan, table, v)?);
                    }
                    None if f.token => {
                        out.insert(f.wire.clone(), crate::common::random::uuid().into());
                    }
                    None => {}
                }
            }
            Ok(Value::Object(out))
        }
    }
}

/// A timestamp argument (RFC 3339 text or epoch seconds) in `format`.
pub fn timestamp(value: &Value, format: TimeFormat) -> Result<Value, WireError> {
    let t = match value {
        Value::Number(n) => n
            .as_f64()
            .map(DateTime::from_secs_f64)
            .ok_or_else(|| WireError(format!("{n} is not a time in epoch seconds")))?,
        Value::String(s) => DateTime::from_str(s, Format::DateTime)
            .or_else(|_| DateTime::from_str(s, Format::HttpDate))
            .map_err(|_| WireError(format!("`{s}` is not an RFC 3339 date and time")))?,
        other => return Err(WireError(format!("{other} is not a date and time"))),
    };
    Ok(match format {
        TimeFormat::EpochSeconds => {
            if t.subsec_nanos() == 0 {
                Value::from(t.secs())
            } else {
                serde_json::Number::from_f64(t.as_secs_f64())
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        TimeFormat::DateTime => Value::String(
            t.fmt(Format::DateTime)
                .map_err(|e| WireError(e.to_string()))?,
        ),
        TimeFormat::HttpDate => Value::String(
            t.fmt(Format::HttpDate)
                .map_err(|e| WireError(e.to_string()))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_take_either_form() {
        assert_eq!(
            timestamp(&json!("2024-01-31T12:00:00Z"), TimeFormat::EpochSeconds).unwrap(),
            json!(1706702400)
        );
        assert_eq!(
            timestamp(&json!(1706702400), TimeFormat::HttpDate).unwrap(),
            json!("Wed, 31 Jan 2024 12:00:00 GMT")
        );
        assert_eq!(
            timestamp(&json!(1706702400.5), TimeFormat::DateTime).unwrap(),
            json!("2024-01-31T12:00:00.5Z")
        );
        assert!(timestamp(&json!("yesterday"), TimeFormat::DateTime).is_err());
    }

    #[test]
    fn only_what_changes_is_walked() {
        let model = Model::parse(
            r##"{"smithy": "2.0", "shapes": {
              "ex#In": {"type": "structure", "members": {
                 "plain": {"target": "ex#Plain"},
                 "renamed": {"target": "smithy.api#String", "traits": {"smithy.api#jsonName": "Renamed"}},
                 "when": {"target": "smithy.api#Timestamp", "traits": {"smithy.api#timestampFormat": "date-time"}},
                 "token": {"target": "smithy.api#String", "traits": {"smithy.api#idempotencyToken": {}}}}},
              "ex#Plain": {"type": "structure", "members": {"a": {"target": "smithy.api#String"}}}
            }}"##,
        )
        .unwrap();
        let mut c = Compiler::new(&model, true);
        let plan = c.plan("ex#In", &Map::new());
        let Wire::Struct(fields) = &*plan else {
            panic!("{plan:?}")
        };
        assert!(matches!(*fields[0].plan, Wire::Same));
        let out = to_wire(
            &plan,
            &c.table,
            &json!({"plain": {"a": "x"}, "renamed": "r", "when": 0}),
        )
        .unwrap();
        assert_eq!(out["Renamed"], "r");
        assert_eq!(out["when"], "1970-01-01T00:00:00Z");
        assert_eq!(out["plain"], json!({"a": "x"}));
        assert_eq!(out["token"].as_str().unwrap().len(), 36);
    }
}
