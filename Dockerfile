# Nocturne in a container: the release binary with its site embedded, run
# as an unprivileged user, its data in /app/data:
#
#   docker build -t nocturne .
#   docker run -p 8080:8080 -v nocturne-data:/app/data nocturne
#
# Written without a container engine to try it on (the machine it was
# written on has only Docker's client): the README says so until someone
# has run it.

FROM rust:1-bookworm AS build
# npm for binaryen's wasm-opt, which `cargo xtask build` installs with the
# other build tools (the wasm target, cargo-leptos, wasm-bindgen-cli).
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo xtask build && cp target/release/nocturne /nocturne

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin nocturne \
 && mkdir -p /app/data \
 && chown nocturne /app/data \
 && chmod 700 /app/data
COPY --from=build /nocturne /usr/local/bin/nocturne
USER nocturne
WORKDIR /app
# Inside the container it listens on every interface; publish the port on
# loopback or behind a TLS proxy (browsers give pages WebCrypto only over
# HTTPS or on localhost).
ENV PORT=8080 NOCTURNE_BIND=0.0.0.0 NOCTURNE_DATA_DIR=/app/data
EXPOSE 8080
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /api/health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["nocturne"]
