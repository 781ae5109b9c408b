#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing lgsp need
# (`--bench`: also what the side-by-side benchmark needs).
# Idempotent: packages already installed are skipped, and apt is not touched at all when
# nothing is missing. Runs as root or through sudo; never asks questions (CI has no stdin).
set -euo pipefail

# One list, grouped by need; see ../shared/LIBRARIES.md for why each one.
packages=(
  # toolchain (ccache: a rebuild after a small change recompiles only what changed, in any
  # clone on the machine)
  build-essential cmake ninja-build pkg-config git ca-certificates ccache
  # HTTP, JSON, TLS
  libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
  # Kafka (librdkafka + its mock cluster), config, metrics, envelope
  librdkafka-dev libyaml-cpp-dev prometheus-cpp-dev libprotobuf-dev protobuf-compiler
  # registries (SQLite embedded, PostgreSQL server for tests), Unicode matching, logging, CLI
  libsqlite3-dev libpqxx-dev postgresql libutf8proc-dev libspdlog-dev libfmt-dev libcli11-dev
  # gzip-compressed bulk uploads (zlib inflate); jemalloc, the lgsp binary's allocator
  zlib1g-dev libjemalloc-dev
  # tests and tools
  libgtest-dev libgmock-dev libbenchmark-dev kcat wrk curl jq clang-format clang-tidy
  # test certificates (TLS and mTLS tests create a throwaway CA with the openssl CLI)
  openssl
  # metrics tests: a real Prometheus server (with promtool) scraping the real processes;
  # the query checker is Python with PyYAML
  prometheus python3 python3-yaml
  # deployment checks (tests/deploy/check_chart.sh): an offline Helm renderer built with
  # Debian's Go and sprig, the template library Helm uses
  golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev
  # fuzzing (tests/fuzz, the fuzz preset): clang 14 with libFuzzer and the ASan/UBSan runtimes
  clang libclang-rt-14-dev
)
# Node.js and npm for the npm-based test tools (tests/*/package.json), unless a Node.js is
# already there (the machine's own, newer one must not be swapped for Debian's).
if ! command -v node > /dev/null; then packages+=(nodejs npm); fi
# --bench: what bench/compare.sh adds (nginx as the HTTP ceiling, hey for fixed offered
# loads, perf for the profile, tcmalloc to compare allocators by LD_PRELOAD).
# Not needed to build, run or test.
if [ "${1:-}" = "--bench" ]; then packages+=(nginx-light hey linux-perf libtcmalloc-minimal4); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
