//! The OpenAPI importer: any document text (3.0, 3.1, API Gateway exports) is parsed, its
//! operations listed and each turned into a tool, in bounded time and memory, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_gateway::targets::openapi::{Document, tool};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = Document::parse(text) else {
        return;
    };
    let (ops, _warnings) = doc.operations();
    for op in &ops {
        let _ = tool::derive(&doc, op);
    }
});
