//! The JSON-RPC/MCP request decoder and dispatcher: any body, with header sets of both eras,
//! must produce a response (or 202), never a panic. The first byte picks the headers.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mcp_gateway::auth::Principal;
use mcp_gateway::config::{self, MapEnv};
use mcp_gateway::http::AppState;

fn state() -> &'static (tokio::runtime::Runtime, std::sync::Arc<AppState>) {
    static STATE: OnceLock<(tokio::runtime::Runtime, std::sync::Arc<AppState>)> = OnceLock::new();
    STATE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let yaml = "gateway: {name: fuzz, authorizerType: NONE}\ntargets: []\n";
        let env = MapEnv::default();
        let config = config::load_str(yaml, false, std::path::Path::new("."), &env).unwrap();
        let gateway = rt
            .block_on(mcp_gateway::Gateway::build(config, &env))
            .unwrap();
        (rt, gateway.state)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, state) = state();
    let (selector, body) = data.split_first().unwrap_or((&0, &[]));
    let mut headers = http::HeaderMap::new();
    let version = [
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        "2026-07-28",
        "1999-01-01",
    ][*selector as usize % 5];
    if selector & 0x08 != 0 {
        headers.insert(
            "mcp-protocol-version",
            http::HeaderValue::from_static(version),
        );
    }
    if selector & 0x10 != 0 {
        headers.insert("mcp-method", http::HeaderValue::from_static("tools/call"));
        headers.insert(
            "mcp-name",
            http::HeaderValue::from_static("=?base64?dF9fX3g=?="),
        );
    }
    if selector & 0x20 != 0 {
        headers.insert(
            "mcp-session-id",
            http::HeaderValue::from_static(
                "AgAAAABrATJdLxg6TmRJOvPzd_dF7aUCNhAbkTp-N9L2agOmGNV-j90YjtjhulekwA",
            ),
        );
    }
    let principal = Principal::anonymous();
    let _ = rt.block_on(state.mcp.handle_post(&headers, body, &principal, None));
});
