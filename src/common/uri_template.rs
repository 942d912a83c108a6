//! Whether a URI could have come from an RFC 6570 URI template (the `uriTemplate` of an MCP
//! resource template), so `resources/read` of a URI no upstream listed can be routed to the
//! upstream whose template made it. RFC 6570 defines only expansion; matching is its
//! inverse, decided here by the characters each kind of expression can expand to:
//!
//! - `{var}`: unreserved and percent-encoded characters, and `,` between list items; never
//!   `/`, `?` or `#`;
//! - `{+var}` and `{#var}`: reserved characters too (`#` only for the latter's own prefix);
//! - `{/var}`, `{.var}`, `{;var}`: the operator's prefix, then values of the simple kind,
//!   repeated for lists and explode;
//! - `{?var}` and `{&var}`: a query (`?` or `&` onwards), up to a fragment.
//!
//! Every expression may also expand to nothing (an undefined variable). A template that
//! cannot be parsed matches nothing. Matching backtracks with a step budget, so a hostile
//! template cannot make it slow.

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    parts: Vec<Part>,
    literal_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expr(Op),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Simple,
    Reserved,
    Fragment,
    Label,
    Path,
    PathParam,
    Query,
}

/// Longest template accepted, in bytes.
const MAX_TEMPLATE: usize = 2048;
/// Steps one match may take before it gives up (as no match).
const MAX_STEPS: usize = 20_000;

impl UriTemplate {
    /// `None` for an unclosed or nested brace, an unknown operator, or a template longer
    /// than 2 KiB.
    pub fn parse(template: &str) -> Option<Self> {
        if template.len() > MAX_TEMPLATE {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let close = rest.find('}')?;
                    let body = &rest[1..close];
                    if body.is_empty() || body.contains('{') {
                        return None;
                    }
                    let op = match body.as_bytes()[0] {
                        b'+' => Op::Reserved,
                        b'#' => Op::Fragment,
                        b'.' => Op::Label,
                        b'/' => Op::Path,
                        b';' => Op::PathParam,
                        b'?' | b'&' => Op::Query,
                        b'=' | b',' | b'!' | b'@' | b'|' => return None,
                        _ => Op::Simple,
                    };
                    parts.push(Part::Expr(op));
                    rest = &rest[close + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    if rest[..end].contains('}') {
                        return None;
                    }
                    parts.push(Part::Literal(rest[..end].to_string()));
                    rest = &rest[end..];
                }
            }
        }
        let literal_len = parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.len(),
                Part::Expr(_) => 0,
            })
            .sum();
        Some(Self { parts, literal_len })
    }

    /// How much of the template is literal text: of two templates that match a URI, the one
    /// with more is the more specific.
    pub fn specificity(&self) -> usize {
        self.literal_len
    }

    /// Whether some expansion of the template is `uri`.
    pub fn matches(&self, uri: &str) -> bool {
        let mut steps = 0;
        matches_at(&self.parts, uri.as_bytes(), &mut steps)
    }
}

fn matches_at(parts: &[Part], text: &[u8], steps: &mut usize) -> bool {
    *steps += 1;
    if *steps > MAX_STEPS {
        return false;
    }
    let Some((first, rest)) = parts.split_first() else {
        return text.is_empty();
    };
    match first {
        Part::Literal(l) => text
            .strip_prefix(l.as_bytes())
            .is_some_and(|t| matches_at(rest, t, steps)),
        Part::Expr(op) => {
            // The expansion is a prefix of `text` made only of the characters `op` allows;
            // try every length, the empty expansion first.
            let longest = text
                .iter()
                .enumerate()
                .take_while(|&(i, &c)| allowed(*op, i, c))
                .count();
            (0..=longest).any(|k| {
                (k == 0 || starts_right(*op, text[0])) && matches_at(rest, &text[k..], steps)
            })
        }
    }
}

/// Whether an expansion of `op` may start with `c`.
fn starts_right(op: Op, c: u8) -> bool {
    match op {
        Op::Simple | Op::Reserved => true,
        Op::Fragment => c == b'#',
        Op::Label => c == b'.',
        Op::Path => c == b'/',
        Op::PathParam => c == b';',
        Op::Query => c == b'?' || c == b'&',
    }
}

/// Whether the `i`th byte of an expansion of `op` may be `c`.
fn allowed(op: Op, i: usize, c: u8) -> bool {
    let unreserved = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'%');
    let reserved = matches!(
        c,
        b':' | b'/'
            | b'?'
            | b'#'
            | b'['
            | b']'
            | b'@'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
    );
    // Non-ASCII bytes are taken as they come: clients send IRIs as well as URIs.
    let other = !c.is_ascii();
    match op {
        Op::Simple => unreserved || other || c == b',',
        Op::Reserved => unreserved || reserved || other,
        Op::Fragment => unreserved || reserved || other,
        Op::Label => unreserved || other || c == b',',
        Op::Path => unreserved || other || c == b',' || c == b'/',
        Op::PathParam => unreserved || other || matches!(c, b',' | b';' | b'='),
        Op::Query => (i == 0 || c != b'?') && c != b'#' && (unreserved || reserved || other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(template: &str, uri: &str) -> bool {
        UriTemplate::parse(template).unwrap().matches(uri)
    }

    #[test]
    fn simple_expressions_stop_at_slashes() {
        assert!(m(
            "test://static/resource/{id}",
            "test://static/resource/42"
        ));
        assert!(m("users://{id}/profile", "users://a%20b/profile"));
        assert!(!m(
            "test://static/resource/{id}",
            "test://static/resource/4/2"
        ));
        assert!(!m("test://static/resource/{id}", "test://other/42"));
        // An undefined variable expands to nothing.
        assert!(m("test://static/resource/{id}", "test://static/resource/"));
    }

    #[test]
    fn operators() {
        assert!(m("file:///{+path}", "file:///etc/hosts"));
        assert!(m("repo://{owner}/{name}{/path*}", "repo://a/b/src/main.rs"));
        assert!(m("search://items{?q,limit}", "search://items?q=x&limit=2"));
        assert!(m("search://items{?q}", "search://items"));
        assert!(!m("search://items{?q}", "search://items/extra"));
        assert!(m("doc://x{#section}", "doc://x#intro"));
        assert!(m("host://{.domain*}", "host://.example.com"));
        assert!(m("map://{;x,y}", "map://;x=1;y=2"));
        // Two expressions in a row: the split is found by backtracking.
        assert!(m("pair://{a}{b}", "pair://left"));
    }

    #[test]
    fn bad_templates_are_refused_and_hostile_ones_end() {
        assert!(UriTemplate::parse("a://{unclosed").is_none());
        assert!(UriTemplate::parse("a://{}").is_none());
        assert!(UriTemplate::parse("a://{{x}}").is_none());
        assert!(UriTemplate::parse("a://}").is_none());
        assert!(UriTemplate::parse("a://{=x}").is_none());
        assert!(UriTemplate::parse(&"x".repeat(3000)).is_none());
        // Forty expressions in a row against a long URI with no match at its end: the step
        // budget ends the search.
        let hostile = UriTemplate::parse(&format!("h://{}!", "{+a}".repeat(40))).unwrap();
        assert!(!hostile.matches(&format!("h://{}", "a".repeat(500))));
    }

    #[test]
    fn literal_text_is_the_specificity() {
        let broad = UriTemplate::parse("test://{+rest}").unwrap();
        let narrow = UriTemplate::parse("test://static/resource/{id}").unwrap();
        assert!(narrow.specificity() > broad.specificity());
    }
}
