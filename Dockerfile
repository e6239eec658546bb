# Multi-stage build: compile traceblast, ship it alone in a small image.
#   docker build -t traceblast .
#   docker run --rm -v "$PWD:/work" -w /work traceblast gen --count 10k -o corpus.zst
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
RUN cargo build --release --locked --bin traceblast && strip target/release/traceblast

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/traceblast /usr/local/bin/traceblast
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["traceblast"]
CMD ["--help"]
