//! The config loader: any file (YAML, or JSON when the first byte says so) is deserialised and
//! validated into a config or a list of problems, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_gateway::config::{self, MapEnv};

fuzz_target!(|data: &[u8]| {
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let env = MapEnv::from([("KEY", "value"), ("EMPTY", "")]);
    let _ = config::load_str_partial(
        text,
        first & 1 == 1,
        std::path::Path::new("/nonexistent"),
        &env,
    );
});
