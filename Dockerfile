# syntax=docker/dockerfile:1
# Build: docker build -t mcp-gateway .
# Run:   docker run -p 8080:8080 -v $PWD/my-gateway.yaml:/etc/mcp-gateway/gateway.yaml mcp-gateway
# The image's default config is the petstore example (it needs the example backend to answer).

FROM rust:1.95-slim-bookworm AS build
# jemalloc's build (tikv-jemalloc-sys) runs configure and make.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src examples/petstore \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && echo 'fn main() {}' > examples/petstore/backend.rs \
 && cargo build --release --locked --bin mcp-gateway \
 && rm -rf src examples
COPY src src
COPY examples examples
RUN touch src/lib.rs src/main.rs && cargo build --release --locked --bin mcp-gateway

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mcp
COPY --from=build /src/target/release/mcp-gateway /usr/local/bin/mcp-gateway
COPY examples/petstore/gateway.yaml examples/petstore/petstore-export.json /etc/mcp-gateway/
USER 10001
ENV MCP_GATEWAY_CONFIG=/etc/mcp-gateway/gateway.yaml \
    MCP_GATEWAY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["mcp-gateway", "health", "--url", "http://127.0.0.1:8080/health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["mcp-gateway"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
