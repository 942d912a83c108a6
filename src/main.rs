//! The `mcp-gateway` command: argument parsing only; everything else is in the library.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_gateway::config::{self, ConfigError, ProcessEnv};
use mcp_gateway::telemetry::{self, LogFormat};
use mcp_gateway::{Gateway, http};

/// A self-hosted MCP gateway: serves the operations of your REST APIs (API Gateway stages or
/// any OpenAPI document) as MCP tools, configured with AgentCore Gateway's own API shapes.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "human",
        env = "MCP_GATEWAY_LOG_FORMAT"
    )]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway: MCP on http://<listen>/mcp, plus /health, /ready and /metrics.
    Serve {
        /// The config file (YAML or JSON).
        #[arg(
            long,
            short,
            env = "MCP_GATEWAY_CONFIG",
            default_value = "config/gateway.yaml"
        )]
        config: PathBuf,
        /// Listen address, overriding `server.listen` (e.g. 0.0.0.0:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Exit 0 if a running gateway answers its health check (for container HEALTHCHECKs).
    Health {
        /// The health endpoint to probe.
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
    /// Check a config file and its OpenAPI documents, and print the tools it would serve.
    Validate {
        /// The config file (YAML or JSON).
        #[arg(
            long,
            short,
            env = "MCP_GATEWAY_CONFIG",
            default_value = "config/gateway.yaml"
        )]
        config: PathBuf,
    },
    /// Print the config file's JSON Schema (for editors: `config/gateway.schema.json`).
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    #[cfg(not(target_env = "msvc"))]
    return_freed_memory();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve { config, listen } => serve(config, listen).await,
            Command::Validate { config } => validate(config).await,
            Command::Health { url } => health(&url).await,
            Command::Schema => {
                let schema = config::schema::json_schema();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&schema).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
        }
    })
}

/// Loads the config (with `--listen` applied) and builds the gateway, printing every problem
/// on failure.
async fn load(
    path: &std::path::Path,
    listen: Option<std::net::SocketAddr>,
) -> Result<Gateway, ExitCode> {
    let loaded = config::load_file_partial(path, &ProcessEnv).map(|(mut config, problems)| {
        if let (Some(c), Some(addr)) = (config.as_mut(), listen) {
            c.server.listen = addr;
        }
        (config, problems)
    });
    let result = match loaded {
        Ok(partial) => Gateway::load(partial, &ProcessEnv).await,
        Err(e) => Err(e),
    };
    result.map_err(|e| {
        let hint = if matches!(e, ConfigError::Read { .. }) {
            "\n(hint: pass --config FILE or set MCP_GATEWAY_CONFIG)"
        } else {
            ""
        };
        eprintln!("error: {e}{hint}");
        ExitCode::from(2)
    })
}

async fn serve(path: PathBuf, listen: Option<std::net::SocketAddr>) -> ExitCode {
    let gateway = match load(&path, listen).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    for w in &gateway.warnings {
        tracing::warn!("{w}");
    }
    let addr = gateway.config.server.listen;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    if gateway.state.authorizer.is_open() && !local.ip().is_loopback() {
        tracing::warn!(
            %local,
            "authorizerType is NONE and the gateway listens beyond loopback: anyone who can reach it can call every tool"
        );
    }
    tracing::info!(
        gateway = %gateway.config.gateway.name,
        tools = gateway.catalog().len(),
        "listening on http://{local}/mcp"
    );
    gateway.start();
    let served = http::serve(
        listener,
        gateway.state.clone(),
        shutdown_signal(),
        gateway.limits(),
    )
    .await;
    if !gateway
        .tasks
        .shutdown(gateway.config.server.shutdown_grace)
        .await
    {
        tracing::warn!("some background tasks did not stop within the shutdown grace");
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn validate(path: PathBuf) -> ExitCode {
    let gateway = match load(&path, None).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    for w in &gateway.warnings {
        println!("warning: {w}");
    }
    let catalog = gateway.catalog();
    println!("{} is valid: {} tool(s)", path.display(), catalog.len());
    for e in catalog.entries() {
        let t = &e.tool;
        let (method, route) = t.origin.split_once(' ').unwrap_or(("", &t.origin));
        println!(
            "{:<48} {:<7} {:<32} {}",
            t.name, method, route, t.description
        );
    }
    ExitCode::SUCCESS
}

async fn health(url: &str) -> ExitCode {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("unhealthy: HTTP {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Has jemalloc hand freed pages back to the system within about a second, from a
/// background thread, rather than keep them for reuse (its default keeps them ten seconds,
/// and only purges when the program allocates): what a large import frees at start-up, and
/// the buffers of large `tools/list` pages, do not stay resident. Runs before the runtime
/// starts its threads, so every arena they use is created with these settings.
#[cfg(not(target_env = "msvc"))]
fn return_freed_memory() {
    use tikv_jemalloc_ctl::{Access, AsName};
    const DECAY_MS: isize = 1_000;
    let set = || -> tikv_jemalloc_ctl::Result<()> {
        b"arenas.dirty_decay_ms\0".name().write(DECAY_MS)?;
        b"arena.0.dirty_decay_ms\0".name().write(DECAY_MS)?;
        tikv_jemalloc_ctl::background_thread::write(true)
    };
    if let Err(e) = set() {
        tracing::warn!("memory freed at start-up may stay resident: tuning jemalloc failed: {e}");
    }
}

/// jemalloc, tuned above to return freed memory promptly.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
