# metamcp: the gateway, keyadm and mcpc in a small runtime image.
#
#   docker build -t metamcp .
#   docker run --env-file metamcp.env -p 12009:12009 metamcp
#
# The image runs against an external PostgreSQL (DATABASE_URL); it has the PostgreSQL
# client tools (psql, pg_isready) but no server, so the embedded cluster is not used here.
# compose.yaml and deploy/k8s/ run it; tests/replicas.rs runs the same topology with the
# same settings on the test machine (it has no container engine).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin metamcp --bin keyadm --bin mcpc \
    && strip target/release/metamcp target/release/keyadm target/release/mcpc

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         postgresql-client ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/metamcp --create-home \
         --shell /usr/sbin/nologin metamcp
COPY --from=build /src/target/release/metamcp /src/target/release/keyadm \
     /src/target/release/mcpc /usr/local/bin/
# Tool search's model: the binary carries no weights, and without them it refuses to start
# unless METAMCP_TOOL_SEARCH_RETRIEVAL=lexical. The build wrote them here, checked.
COPY --from=build /src/target/models/metamcp-toolsearch-1/model.safetensors \
     /src/target/models/metamcp-toolsearch-1/vocab.txt /usr/local/share/metamcp/model/
USER metamcp
WORKDIR /var/lib/metamcp
ENV METAMCP_LISTEN=0.0.0.0:12009 \
    METAMCP_TOOL_SEARCH_MODEL=/usr/local/share/metamcp/model \
    METAMCP_DATA_DIR=/var/lib/metamcp \
    METAMCP_DRAIN_GRACE=5s \
    RUST_LOG=info
EXPOSE 12009
# SIGTERM drains: /ready turns 503, new connections are served for the grace, then the
# requests in flight finish (METAMCP_DRAIN_TIMEOUT).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:12009/health >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/metamcp"]
