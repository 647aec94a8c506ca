FROM rust:1.79-bookworm@sha256:4c4b8e4b2a4e4d5c0a2a6e0c7f8e9d0a1b2c3d4e5f60718293a4b5c6d7e8f901 AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked

FROM gcr.io/distroless/cc-debian12@sha256:b6e1e913f633495eeb80a41e03de1a41aa863e9b19902309b180ffdc4b99db2c
COPY --from=build /src/target/release/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
