//! Rules shared by the sections of the config: AgentCore's name pattern, descriptions,
//! "exactly one of" unions, secrets read from the environment or a file, and the wording for
//! fields the gateway does not support yet. The section validators import these; nothing
//! here imports a section.

use std::path::Path;

use super::{Env, Problems, Secret};

pub(super) const NOT_YET: &str =
    "is not supported yet by mcp-gateway; remove it (it would not be enforced)";

/// AgentCore's name pattern `([0-9a-zA-Z][-]?){1,max}`.
pub(super) fn agentcore_name(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    let mut groups = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            return false;
        }
        groups += 1;
        i += 1;
        if i < bytes.len() && bytes[i] == b'-' {
            i += 1;
        }
    }
    groups >= 1 && groups <= max
}

/// An AWS region name (`us-east-1`, `eu-central-2`): letters, digits and hyphens.
pub(super) fn is_region(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Reads a secret named by exactly one of an environment variable or a file (relative to the
/// config). Problems name the variable or file, never the value.
pub(super) fn read_secret(
    (env_field, var): (&str, Option<&String>),
    (file_field, file): (&str, Option<&String>),
    path: &str,
    base_dir: &Path,
    env: &dyn Env,
    problems: &mut Problems,
) -> Option<Secret> {
    match (var, file) {
        (Some(var), None) => match env.var(var) {
            Some(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => {
                problems.push(
                    format!("{path}.{env_field}"),
                    format!("environment variable `{var}` is not set"),
                );
                None
            }
        },
        (None, Some(file)) => {
            let full = base_dir.join(file);
            match std::fs::read_to_string(&full) {
                Ok(v) if !v.trim().is_empty() => {
                    Some(Secret::new(v.trim_end_matches(['\r', '\n']).to_string()))
                }
                Ok(_) => {
                    problems.push(
                        format!("{path}.{file_field}"),
                        format!("{} is empty", full.display()),
                    );
                    None
                }
                Err(e) => {
                    problems.push(
                        format!("{path}.{file_field}"),
                        format!("cannot read {}: {e}", full.display()),
                    );
                    None
                }
            }
        }
        _ => {
            problems.push(
                path,
                format!("give exactly one of `{env_field}` or `{file_field}` (secrets are never written in the config itself)"),
            );
            None
        }
    }
}

pub(super) fn check_description(d: Option<&str>, path: &str, problems: &mut Problems) {
    if let Some(d) = d
        && (d.is_empty() || d.chars().count() > 200)
    {
        problems.push(path, "must be 1 to 200 characters");
    }
}

/// Checks that exactly one member of an AgentCore union is set; returns its name.
pub(super) fn one_of<'a>(
    members: &[(&'a str, bool)],
    path: &str,
    problems: &mut Problems,
) -> Option<&'a str> {
    let set: Vec<&str> = members
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    match set.as_slice() {
        [one] => Some(one),
        [] => {
            let names: Vec<String> = members.iter().map(|(n, _)| format!("`{n}`")).collect();
            problems.push(path, format!("set one of {}", names.join(", ")));
            None
        }
        many => {
            problems.push(
                path,
                format!("set only one of {} (this is a union)", many.join(", ")),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::agentcore_name;

    #[test]
    fn agentcore_name_pattern() {
        assert!(agentcore_name("api-gateway-target-1", 100));
        assert!(agentcore_name("a", 100));
        assert!(!agentcore_name("a--b", 100));
        assert!(!agentcore_name("-a", 100));
        assert!(!agentcore_name("a_b", 100));
        assert!(!agentcore_name("", 100));
        assert!(agentcore_name("a-", 100));
    }
}
