//! Leaves shared by the importer, the request builder, the credentials and the HTTP layer:
//! rules and tools that more than one step of a request must agree on. Nothing here imports
//! anything of the crate, so any module may import it without an arrow running back up the
//! request's path.

pub mod budget;
pub mod encode;
pub mod headers;
pub mod names;
pub mod random;
pub mod uri_template;
pub mod version;

/// An error and its causes on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
