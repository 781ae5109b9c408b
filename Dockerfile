# syntax=docker/dockerfile:1
# The lgsp image: one binary, `lgsp`, for every process of the chart (helm/lgsp):
# `lgsp gateway`, `lgsp connector --registry R`, `lgsp audit writer`, and the tools.
#   docker build -t lgsp:0.1.0 .
# Built on Debian 12 like every other build of the project; the runtime stage has only the
# shared libraries the binary links (tests/deploy/check_chart.sh checks the list against
# `ldd` of a built binary), a shell for the gateway's init container, and no compiler.

FROM debian:12-slim AS build
# What building the `lgsp` target needs (scripts/install-deps.sh also installs the test
# tools, which the image does not need).
ARG BUILD_PACKAGES="\
  build-essential cmake ninja-build pkg-config ca-certificates \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev \
  librdkafka-dev libyaml-cpp-dev prometheus-cpp-dev libprotobuf-dev protobuf-compiler \
  libsqlite3-dev libpqxx-dev libutf8proc-dev libspdlog-dev libfmt-dev libcli11-dev libjemalloc-dev"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $BUILD_PACKAGES \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLGSP_BUILD_TESTS=OFF \
 && cmake --build /build --target lgsp \
 && install -D -m 0755 -s /build/lgsp /out/usr/local/bin/lgsp

FROM debian:12-slim
# The runtime libraries of the binary's direct dependencies; apt brings theirs (libpq5,
# Kerberos, SASL...). ca-certificates: TLS to brokers or PostgreSQL with a public CA.
# libboost-container1.81.0: Boost.JSON's allocator, which a Release build inlines but a
# Debug or sanitizer build (what the test command checks with ldd) links.
ARG RUNTIME_PACKAGES="\
  libboost-json1.81.0 libboost-url1.81.0 libboost-container1.81.0 libssl3 librdkafka1 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
  libprotobuf32 libsqlite3-0 libpqxx-6.4 libutf8proc2 libspdlog1.10 libfmt9 libjemalloc2 \
  ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $RUNTIME_PACKAGES \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 lgsp \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin lgsp
COPY --from=build /out/ /
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# Partner API (TLS), gateway admin, connector admin, audit writer admin.
EXPOSE 8443 9464 9465 9466
ENTRYPOINT ["lgsp"]
CMD ["--help"]
