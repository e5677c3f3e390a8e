# qod in a small image, for CodeBuild custom images and GitLab `image:`.
#   docker build -t qod .
#   docker run --rm -v "$PWD:/work" -w /work qod qod run
# The final image has qod, git (for merged-changes, `--base` and the git
# store) and CA certificates (for S3 and HTTPS remotes); nothing else.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/qod

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/qod /usr/local/bin/qod
CMD ["qod", "--help"]
