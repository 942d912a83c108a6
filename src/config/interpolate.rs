//! `${VAR}` interpolation from the environment, applied to every string value of the parsed
//! config tree (never to the raw text, so a value can't change the file's structure).
//!
//! Forms: `${VAR}`, `${VAR:-default}` (default when unset or empty), and `$${` for a literal
//! `${`. Values are substituted verbatim; only the variable's *name* ever appears in errors.
//!
//! An `inlinePayload` is a document, not a config value: it is interpolated only when the
//! whole string is one reference (`inlinePayload: ${PETSTORE_DOC}`). Inside a pasted document
//! `${...}` is left alone: API Gateway exports carry `${stageVariables.x}`, and a reference in
//! a description would otherwise publish an environment value in `tools/list`.

use serde_json::Value;

use super::{Env, Problems};

/// Replaces `${...}` in every string of `value`, reporting unset variables at their path.
pub fn interpolate_tree(value: &mut Value, path: &str, env: &dyn Env, problems: &mut Problems) {
    match value {
        // A pasted document keeps its `${...}` unless it is one reference as a whole.
        Value::String(s)
            if (path == "inlinePayload" || path.ends_with(".inlinePayload"))
                && !is_one_reference(s) => {}
        Value::String(s) if s.contains('$') => match interpolate(s, env) {
            Ok(new) => *s = new,
            Err(msg) => problems.push(path, msg),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{i}]"), env, problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                interpolate_tree(item, &child, env, problems);
            }
        }
        _ => {}
    }
}

/// Whether `s` is exactly one `${NAME}` or `${NAME:-default}`.
fn is_one_reference(s: &str) -> bool {
    let Some(inner) = s
        .trim()
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
    else {
        return false;
    };
    let name = inner.split_once(":-").map_or(inner, |(n, _)| n);
    !inner.contains('}')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Interpolates one string.
pub fn interpolate(input: &str, env: &dyn Env) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| "unterminated `${` (write `$${` for a literal `${`)".to_string())?;
            let expr = &tail[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{name}}}` is not a valid variable reference: names use letters, digits and `_`"
                ));
            }
            match (env.var(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"
                    ));
                }
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    #[test]
    fn forms() {
        let env = MapEnv::from([("A", "1"), ("EMPTY", "")]);
        assert_eq!(interpolate("x${A}y", &env).unwrap(), "x1y");
        assert_eq!(interpolate("${B:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(interpolate("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(interpolate("$${A} $5", &env).unwrap(), "${A} $5");
        assert!(is_one_reference("${DOC}") && is_one_reference("${DOC:-x}"));
        assert!(!is_one_reference("${DOC:-{}}"));
        assert!(!is_one_reference("{\"x\": \"${stageVariables.url}\"}"));
        assert!(
            interpolate("${B}", &env)
                .unwrap_err()
                .contains("`B` is not set")
        );
        assert!(
            interpolate("${A", &env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(interpolate("${A B}", &env).is_err());
    }

    /// review S13: documents pasted inline keep their `${...}`.
    #[test]
    fn inline_documents_are_interpolated_only_as_a_whole() {
        let env = MapEnv::from([("DOC", "{\"a\": 1}"), ("SECRET", "s3cret")]);
        let mut tree = serde_json::json!({
            "targets": [{"openApiSchema": {"inlinePayload": "${DOC}"}},
                        {"openApiSchema": {"inlinePayload": "{\"description\": \"${SECRET} ${stageVariables.u}\"}"}}],
            "description": "${SECRET}"
        });
        let mut problems = Problems::default();
        interpolate_tree(&mut tree, "", &env, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            tree["targets"][0]["openApiSchema"]["inlinePayload"],
            "{\"a\": 1}"
        );
        assert_eq!(
            tree["targets"][1]["openApiSchema"]["inlinePayload"],
            "{\"description\": \"${SECRET} ${stageVariables.u}\"}"
        );
        assert_eq!(tree["description"], "s3cret");
    }
}
