#!/usr/bin/env bash
# Offline checks of the Helm chart (helm/lgsp) and the container image (Dockerfile), where
# neither `helm`, a cluster nor a Docker engine exists. docs/deploy.md says what this does
# and does not prove.
#
#   tests/deploy/check_chart.sh [WORK_DIR] [LGSP_BINARY]
#
# WORK_DIR (default: a temp dir, removed at the end) holds the Go build cache, the renderer
# and the rendered manifests; ctest passes <build>/deploy-check. LGSP_BINARY (default:
# build/lgsp) is copied first, since build/ may be rebuilt meanwhile.
#
# Steps: build the Go renderer (Debian's Go and sprig, no module download); npm ci if
# needed; render with the default values and with values-all.yaml; the coalesced values
# (what Helm validates) against values.schema.json with ajv; each file of
# refused-by-schema/ refused at the place it names; each file of refused-by-chart/ failing
# the render with the message it names; docs/deploy.md's values table against values.yaml;
# every manifest against the Kubernetes schemas (validate.mjs); each lgsp config of the
# ConfigMap run by the real binary with its pod's own command line, in a sandbox holding
# only the files that pod mounts, and each SQLite file it names on a volume claim of that
# pod; the gateway's init script; the Dockerfile's packages against apt and `ldd`. Ends with "deploy checks: N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chart=$root/helm/lgsp

if [ -n "${1:-}" ]; then
  work=$1
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
binary=${2:-$root/build/lgsp}

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
  echo
  echo "deploy checks: $passed passed, $failed failed"
  exit $((failed > 0))
}
started=$(date +%s)

# --- tools -----------------------------------------------------------------------------
for tool in go node npm openssl apt-cache dpkg ldd; do
  if ! command -v "$tool" > /dev/null; then
    fail "$tool is missing (scripts/install-deps.sh installs it)"
    finish
  fi
done
if [ ! -x "$binary" ]; then
  fail "no lgsp binary at $binary (build it, or pass its path as the second argument)"
  finish
fi
rm -rf "${work:?}/bin" "${work:?}/render" "${work:?}/check"
mkdir -p "$work/bin" "$work/render" "$work/check"
cp "$binary" "$work/bin/lgsp"
lgsp=$work/bin/lgsp

# --- the renderer: Debian's Go 1.19 in GOPATH mode over Debian's packaged sources --------
# A GOPATH tree of our own holds the source (with its go.mod, which turns on Go's minimal
# module compatibility, so the /v3 import path of sprig resolves to Debian's copy).
gopath=$work/gopath
rm -rf "$gopath/src/helm-render"
mkdir -p "$gopath/src/helm-render"
cp "$here/helm-render/main.go" "$here/helm-render/go.mod" "$gopath/src/helm-render/"
if unformatted=$(gofmt -l "$here/helm-render") && [ -z "$unformatted" ]; then
  pass "helm-render is gofmt-clean"
else
  fail "gofmt: $unformatted"
fi
if (cd "$gopath/src/helm-render" &&
    GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$work/gocache" GOFLAGS="" \
      go build -p 1 -o "$work/bin/helm-render" .) > "$work/go-build.log" 2>&1; then
  pass "helm-render builds (go $(go env GOVERSION), sprig and ghodss/yaml from /usr/share/gocode)"
else
  fail "helm-render does not build:"
  sed 's/^/    /' "$work/go-build.log"
  finish
fi

# --- node packages ---------------------------------------------------------------------
# npm ci writes node_modules/.package-lock.json: missing or older than the lock file means
# node_modules is not (or no longer) what the lock file says.
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "npm ci in tests/deploy (node_modules missing or older than package-lock.json)"
  if (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) > "$work/npm.log" 2>&1; then
    pass "npm ci"
  else
    fail "npm ci:"
    sed 's/^/    /' "$work/npm.log"
    finish
  fi
fi

# --- files the chart takes from observability/ -------------------------------------------
# Symlinks, so that the chart carries the very files observability/ tests (Helm follows
# them when it loads or packages the chart).
check_link() { # name-in-chart expected-target
  local name=$1 target=$2
  if [ "$(readlink "$chart/$name")" != "$target" ]; then
    fail "helm/lgsp/$name must be a symlink to $target"
  elif [ -f "$chart/$name" ]; then
    pass "helm/lgsp/$name -> $target resolves"
  else
    fail "helm/lgsp/$name -> $target does not resolve (is ${target#../../../} committed?)"
  fi
}
check_link dashboards/lgsp-overview.json ../../../observability/grafana/lgsp-overview.json
check_link rules/lgsp-alerts.yaml ../../../observability/prometheus/lgsp-alerts.yaml

render() { # out-dir values-file... (the render's stderr goes to out-dir/stderr)
  local out=$1
  shift
  local args=()
  for v in "$@"; do args+=(--values "$v"); done
  mkdir -p "$out"
  "$work/bin/helm-render" --chart "$chart" --out "$out" --release lgsp --namespace lgsp \
    ${args[@]+"${args[@]}"} 2> "$out/stderr"
}

# --- render ----------------------------------------------------------------------------
cases=(default all cluster webhook procedures procedures-cluster)
declare -A case_values=([default]="" [all]="$here/values-all.yaml"
                        [cluster]="$here/values-all.yaml $here/values-cluster.yaml"
                        [webhook]="$here/values-all.yaml $here/values-webhook.yaml"
                        [procedures]="$here/values-all.yaml $here/values-procedures.yaml"
                        [procedures-cluster]="$here/values-all.yaml $here/values-cluster.yaml $here/values-procedures.yaml")
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086 # empty for the default values
  if render "$work/render/$c" ${case_values[$c]}; then
    pass "render ($c values): $(grep -c '^kind:' "$work/render/$c/manifests.yaml") objects"
  else
    fail "render ($c values): $(grep -v '^warning' "$work/render/$c/stderr")"
  fi
done

# The cluster's gateway pods: one config for all, no per-pod numbering, no job volume.
cluster_sts=$(awk '/^kind: StatefulSet/{on=0} /^---/{on=0} /^kind: StatefulSet$/{on=1} on' \
  "$work/render/cluster/manifests.yaml" 2> /dev/null | sed -n '/name: lgsp-gateway$/,$p')
if [ -n "$cluster_sts" ] && ! grep -q 'initContainers:' <<< "$cluster_sts" &&
   ! grep -q 'volumeClaimTemplates:' <<< "$cluster_sts" &&
   grep -q 'cluster:' "$work/render/cluster/manifests.yaml" &&
   ! grep -q '^      instance: ' "$work/render/cluster/manifests.yaml"; then
  pass "render (cluster values): the gateway pods have no init container, no claim template, no instance"
else
  fail "render (cluster values): the gateway StatefulSet still numbers its pods or claims volumes"
fi

# Consents (values-all.yaml): the gateway's config has a consents section on the consent
# store's DSN file, which the gateway pods mount; the default values render neither.
if grep -q '^    consents:$' "$work/render/all/manifests.yaml" &&
   grep -q 'postgres_dsn_file: "/etc/lgsp/consents-db/' "$work/render/all/manifests.yaml" &&
   grep -q 'mountPath: /etc/lgsp/consents-db' "$work/render/all/manifests.yaml" &&
   ! grep -q '^    consents:$\|consents-db' "$work/render/default/manifests.yaml"; then
  pass "render: consents.enabled gives the gateways a consents section and the store's Secret; off, neither"
else
  fail "render: the consents section or the consent store's Secret is wrong (on in values-all, off by default)"
fi

# Webhooks (values-webhook.yaml): each partner's webhook reads its secret (and CA) from its
# own Secret, mounted into the gateway pod where the config says; no other render has one.
webhook_out=$work/render/webhook/manifests.yaml
if grep -q 'secret_file: /etc/lgsp/webhooks/0/secret$' "$webhook_out" &&
   grep -q 'ca_file: /etc/lgsp/webhooks/0/ca.crt$' "$webhook_out" &&
   grep -q 'secret_file: /etc/lgsp/webhooks/1/signing-secret$' "$webhook_out" &&
   grep -q 'mountPath: /etc/lgsp/webhooks/1,' "$webhook_out" &&
   grep -q 'secretName: "lgsp-webhook-water"' "$webhook_out" &&
   grep -q '^      webhook_batch: 100$' "$webhook_out" &&
   ! grep -q 'webhooks/' "$work/render/all/manifests.yaml" "$work/render/default/manifests.yaml"; then
  pass "render: partners' webhooks get secret_file and ca_file from their mounted Secrets; no webhook, no mount"
else
  fail "render: a webhook's secret_file/ca_file or its Secret's mount is wrong (values-webhook.yaml)"
fi

# Procedures (values-procedures.yaml): the gateway's config has a procedures section and
# names the registries its steps use, without their credentials; without a cluster the
# store lies on a claim template of its own, with a cluster in its database (no claim). An
# upstream connector gets its commands and a change outbox: an emptyDir (values-all.yaml),
# or a claim that one pod at a time holds (values-procedures.yaml).
proc_out=$work/render/procedures/manifests.yaml
proc_cluster_out=$work/render/procedures-cluster/manifests.yaml
gateway_config() { # manifests: the ConfigMap's gateway.yaml
  awk '/^  gateway.yaml: \|$/ { on = 1; next } on && /^  [a-z-]+\.yaml: \|$/ { exit } on' "$1" 2> /dev/null || true
}
proc_gw=$(gateway_config "$proc_out")
proc_cluster_gw=$(gateway_config "$proc_cluster_out")
if grep -q '^    procedures:$' <<< "$proc_gw" &&
   grep -q 'sqlite_path: "/var/lib/lgsp/procedures/procedures.db"$' <<< "$proc_gw" &&
   grep -q '^    registries:$' <<< "$proc_gw" &&
   ! grep -q 'registry-db\|upstream-tls\|bearer_token_env\|change_outbox' <<< "$proc_gw" &&
   grep -q '^        name: procedures$' "$proc_out" &&
   grep -q '^    procedures:$' <<< "$proc_cluster_gw" &&
   ! grep -q 'procedures.db' <<< "$proc_cluster_gw" &&
   ! grep -q 'name: procedures$' "$proc_cluster_out" &&
   ! grep -q '^    procedures:$\|procedures.db' "$work/render/default/manifests.yaml" "$work/render/all/manifests.yaml"; then
  pass "render: procedures.enabled gives the gateways a procedures section (its store on a claim of its own, or in the cluster) and their steps' registries without credentials; off, none"
else
  fail "render: the gateways' procedures section, its store or its registries are wrong (values-procedures.yaml)"
fi
# Every gateway names the registries it routes to (their request partitions, their
# exchange-duration series), and nothing about how to reach them: the default render's
# connectors all as `backend: connector`.
default_gw=$(gateway_config "$work/render/default/manifests.yaml")
named=1
for reg in civil-status insurance population vehicle; do
  grep -q "^      $reg: {backend: connector}$" <<< "$default_gw" || named=0
done
gw_registries=$(awk '/^    registries:$/ { on = 1; next } on && !/^      / { exit } on' <<< "$default_gw")
if [ "$named" = 1 ] && [ "$(wc -l <<< "$gw_registries")" = 4 ]; then
  pass "render: the gateways name every connector's registry (backend connector), with nothing about reaching it"
else
  fail "render: the default gateway config does not name each connector's registry as backend connector"
fi
all_out=$work/render/all/manifests.yaml
if grep -q 'change_outbox: "/var/lib/lgsp/change-outbox/civil-status-changes.db"$' "$all_out" &&
   grep -q '"record-death":"/api/v1/ho-tich/khai-tu"' "$all_out" &&
   grep -q 'emptyDir: {sizeLimit: "512Mi"}' "$all_out" &&
   ! grep -q 'Recreate' "$all_out" &&
   grep -q 'change_outbox: "/var/lib/lgsp/change-outbox/civil-status-changes.db"$' "$proc_out" &&
   grep -q 'claimName: lgsp-civil-status-outbox$' "$proc_out" &&
   grep -q '^    type: Recreate$' "$proc_out" &&
   ! grep -q '^ *change_outbox: \|name: change-outbox' "$work/render/default/manifests.yaml"; then
  pass "render: an upstream connector gets its commands, and its change outbox on an emptyDir or (one pod at a time, Recreate) a claim"
else
  fail "render: an upstream connector's commands or change outbox are wrong (values-all.yaml, values-procedures.yaml)"
fi

# --- values against values.schema.json ---------------------------------------------------
validate=(node "$here/validate.mjs")
schema=$chart/values.schema.json
if out=$("${validate[@]}" values "$schema" "$chart/values.yaml" \
           "$work/render/default/values.json=$chart/values.yaml" \
           "$work/render/all/values.json=$here/values-all.yaml" \
           "$work/render/webhook/values.json=$here/values-webhook.yaml" \
           "$work/render/procedures/values.json=$here/values-procedures.yaml" 2>&1); then
  pass "values.yaml, and the coalesced default, values-all, values-webhook and values-procedures values, satisfy values.schema.json"
else
  fail "values against values.schema.json:"
fi
echo "$out"
refused=()
for f in "$here"/refused-by-schema/*.yaml; do
  "$work/bin/helm-render" --chart "$chart" --out "$work/check/schema-$(basename "$f" .yaml)" \
    --values "$f" --values-only
  refused+=("$work/check/schema-$(basename "$f" .yaml)/values.json=$f")
done
if out=$("${validate[@]}" values-invalid "$schema" "${refused[@]}" 2>&1); then
  pass "values.schema.json refuses each of refused-by-schema/ (${#refused[@]}) where it names"
else
  fail "values.schema.json does not refuse refused-by-schema/ as expected:"
fi
echo "$out"

"$work/bin/lgsp" registries --json > "$work/registries.json"
if out=$("${validate[@]}" registry-table "$schema" "$chart/values.yaml" "$work/registries.json" 2>&1); then
  pass "values.schema.json and values.yaml name exactly the registries and operations of \`lgsp registries\`"
else
  fail "the chart and the registry table differ:"
fi
echo "$out"

if out=$("${validate[@]}" doc-values "$chart/values.yaml" "$root/docs/deploy.md" 2>&1); then
  pass "docs/deploy.md's values table has a row for each value of values.yaml, and no other"
else
  fail "docs/deploy.md's values table and values.yaml differ:"
fi
echo "$out"

# --- the chart's own guards (fail/required in templates) ---------------------------------
for f in "$here"/refused-by-chart/*.yaml; do
  name=$(basename "$f" .yaml)
  want=$(sed -n 's/^# expect-error: //p' "$f")
  if render "$work/check/chart-$name" "$f"; then
    fail "refused-by-chart/$name.yaml rendered; the chart must refuse it ($want)"
  elif [ -n "$want" ] && grep -qF -- "$want" "$work/check/chart-$name/stderr"; then
    pass "the chart refuses refused-by-chart/$name.yaml: $want"
  else
    fail "refused-by-chart/$name.yaml failed, but not with \"$want\": $(cat "$work/check/chart-$name/stderr")"
  fi
done

# --- manifests against the Kubernetes schemas ------------------------------------------
for c in "${cases[@]}"; do
  [ -s "$work/render/$c/manifests.yaml" ] || continue
  if out=$("${validate[@]}" manifests "$work/render/$c/manifests.yaml" "$work/check/$c" 2>&1); then
    pass "manifests ($c values) are valid Kubernetes objects and follow the chart's rules"
  else
    fail "manifests ($c values):"
  fi
  echo "$out"
done

# --- the rendered lgsp configs, loaded by the real binary --------------------------------
# A throwaway CA, a server certificate (gateway, Kafka client) and stand-ins for every
# other secret file, created only where the pod mounts a Secret.
pki=$work/check/pki
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lgsp-test-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=lgsp.test" -keyout "$pki/tls.key" \
  -out "$pki/tls.csr" 2> /dev/null
openssl x509 -req -in "$pki/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -out "$pki/tls.crt" 2> /dev/null
: > "$pki/index.txt"
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ndefault_md = sha256\ndefault_crl_days = 2\n' \
  "$pki" > "$pki/ca.cnf"
openssl ca -config "$pki/ca.cnf" -keyfile "$pki/ca.key" -cert "$pki/ca.crt" -gencrl \
  -out "$pki/ca.crl" 2> /dev/null

secret_file() { # path: plausible content chosen by the file's name
  local f=$1
  mkdir -p "$(dirname "$f")"
  case "$f" in
    */tls.crt) cp "$pki/tls.crt" "$f" ;;
    */tls.key) cp "$pki/tls.key" "$f" ;;
    */ca.crt | */client-ca/*) cp "$pki/ca.crt" "$f" ;;
    */client-crl/*) cp "$pki/ca.crl" "$f" ;;
    */tls-key-password/*) echo "unused-password" > "$f" ;;
    */audit-subject-key/*) openssl rand -hex 32 > "$f" ;;
    */audit-signing-key/*) openssl genpkey -algorithm ed25519 -out "$f" 2> /dev/null ;;
    */jwks/* | */citizen-jwks/*) echo '{"keys":[]}' > "$f" ;;
    # A partner's webhook signing secret (>= 32 characters), as `lgsp keys secret` writes it.
    */webhooks/*) openssl rand -hex 32 > "$f" ;;
    # Refused at once on loopback: the process must get past its config and stop at the
    # first connection, never reach another machine.
    */audit-db/* | */registry-db/* | */cluster-db/* | */consents-db/*) echo "host=127.0.0.1 port=1 dbname=lgsp user=lgsp connect_timeout=2" > "$f" ;;
    # One key per file: a credential may name only one partner.
    */partner-keys/*) printf '# test hashes\n%s\n' "$(printf '%s' "test-key-$f" | sha256sum | cut -d' ' -f1)" > "$f" ;;
    *) echo "no stand-in for secret file $f" >&2; return 1 ;;
  esac
}

run_config_check() { # case
  local c=$1 n=0
  local mounts=$work/check/$c/mounts.json
  [ -f "$mounts" ] || return 0
  while IFS='|' read -r workload config files command secret_env; do
    n=$((n + 1))
    local sb=$work/check/$c/sandbox-$n
    rm -rf "$sb"
    mkdir -p "$sb"
    # Only what this pod mounts: a config naming a Secret file its pod lacks fails here.
    for f in $files; do
      case "$f" in
        # A volume claim (a SQLite registry): empty, the file is data, not config.
        pvc:*) mkdir -p "$sb${f#pvc:}" ;;
        # An emptyDir of the pod's own (/tmp, the gateway's copy of the changes topic).
        emptydir:*) mkdir -p "$sb${f#emptydir:}" ;;
        # An envelope key Secret (<prefix>-<domain>): a key for its domain, as
        # `lgsp keys bus` writes it.
        sealkeys:*) local rest=${f#sealkeys:} domain=""
                    for d in audit $("$lgsp" registries --json | grep -o '"name":"[^"]*"' | cut -d'"' -f4); do
                      [ "${rest%-"$d"}" != "$rest" ] && domain=$d
                    done
                    "$lgsp" keys bus "$sb${rest%%:*}" "${domain:?no domain in $rest}" 2> /dev/null
                    # A key the config pins for sealing (mid-rotation) exists too.
                    local pinned
                    pinned=$(sed -n '/^  envelope_seal_keys:/,/^  [a-z_]*:/s/^    '"$domain"': "\{0,1\}\([A-Za-z0-9_-]*\)"\{0,1\}$/\1/p' \
                             "$work/check/$c/config/$(basename "$config")")
                    if [ -n "$pinned" ]; then openssl rand -base64 32 > "$sb${rest%%:*}/$domain.$pinned"; fi ;;
        # A whole Secret (partner key hashes): the keys the config names.
        */\*) mkdir -p "$sb${f%/\*}"
               while read -r g; do
                 secret_file "$sb$g"
               done < <(grep -o "${f%/\*}/[^\" ]*" "$work/check/$c/config/$(basename "$config")") ;;
        *) secret_file "$sb$f" ;;
      esac
    done
    local cfg_src
    if [ "$config" = /run/lgsp/gateway.yaml ]; then
      # What the init container does, with the pod's environment: pod lgsp-gateway-1.
      mkdir -p "$sb/run/lgsp"
      if ! POD_NAME=lgsp-gateway-1 LGSP_REPLY_PARTITIONS=2 \
           LGSP_CONFIG_IN="$work/check/$c/config/gateway.yaml" LGSP_CONFIG_OUT="$sb/run/lgsp/gateway.yaml" \
           sh -ec "$(cat "$work/check/$c/instance.sh")" > "$sb/init.log" 2>&1; then
        fail "$c: the gateway init script: $(cat "$sb/init.log")"
        continue
      fi
      if grep -q '^  instance: 1$' "$sb/run/lgsp/gateway.yaml"; then
        pass "$c: the init script gives pod lgsp-gateway-1 gateway.instance 1"
      else
        fail "$c: the init script did not set gateway.instance 1 for pod lgsp-gateway-1"
      fi
      if POD_NAME=lgsp-gateway-2 LGSP_REPLY_PARTITIONS=2 LGSP_CONFIG_IN="$work/check/$c/config/gateway.yaml" \
         LGSP_CONFIG_OUT="$sb/run/lgsp/refused.yaml" sh -ec "$(cat "$work/check/$c/instance.sh")" > /dev/null 2>&1; then
        fail "$c: the init script accepted pod lgsp-gateway-2 with 2 reply partitions"
      else
        pass "$c: the init script refuses pod lgsp-gateway-2 when kafka.replyPartitions is 2"
      fi
      cfg_src=$sb/run/lgsp/gateway.yaml
    else
      cfg_src=$work/check/$c/config/$(basename "$config")
    fi
    # Every SQLite file the config names (a registry file, the bulk-job and procedure
    # stores) lies on a volume claim of its pod: on the read-only root it could not be
    # written, and on an emptyDir it would not outlive the pod. The exceptions may lie on a
    # writable emptyDir of their own pod (or a claim): the gateway's copy of the changes
    # topic (the `changes` section), rebuilt from the topic when lost, and an upstream
    # connector's change outbox (`change_outbox`), whose loss docs/deploy.md owns up to.
    # The registries in a gateway's config (those procedure steps name, as their connectors
    # have them) are the connectors' files, which the gateway never opens. (The gateway stops at the audit database before
    # it opens its stores, so the run below cannot show this.)
    local section db claim found kind
    while read -r section db; do
      if [ "$section" = registries ] && [ "$(basename "$config")" = gateway.yaml ]; then
        continue
      fi
      found="" kind=""
      for f in $files; do
        case "$f" in
          pvc:*) claim=${f#pvc:}; [ "${db#"$claim"/}" != "$db" ] && found=$claim kind="volume claim" ;;
          emptydir:*) [ "$section" = changes ] || [ "$section" = change_outbox ] || continue
                      claim=${f#emptydir:}; [ "${db#"$claim"/}" != "$db" ] && found=$claim kind="emptyDir" ;;
        esac
      done
      if [ -n "$found" ]; then
        pass "$c: $workload: $db ($section) is on the pod's $kind at $found"
      elif [ "$section" = changes ] || [ "$section" = change_outbox ]; then
        fail "$c: $workload: $db ($section) is on none of the pod's writable volumes (${files})"
      else
        fail "$c: $workload: $db ($section) is on none of the pod's volume claims (${files})"
      fi
    done < <(awk '/^[a-z_]+:/ { section = $1; sub(/:.*/, "", section) }
                  /^ *sqlite_path: / { p = $2; gsub(/"/, "", p); print section, p }
                  /^ *change_outbox: / { p = $2; gsub(/"/, "", p); print "change_outbox", p }' "$cfg_src")
    # The pod's paths, moved into the sandbox; the brokers moved to a refused loopback port
    # (no DNS lookup of an in-cluster name from this machine).
    local cfg=$sb/${config#/}
    mkdir -p "$(dirname "$cfg")"
    sed -e "s#/etc/lgsp/#$sb/etc/lgsp/#g" -e "s#/var/lib/lgsp/#$sb/var/lib/lgsp/#g" \
        -e 's#^  bootstrap: .*#  bootstrap: "127.0.0.1:1"#' "$cfg_src" > "$cfg.tmp"
    mv "$cfg.tmp" "$cfg"
    # The pod's own command line, with the config path moved.
    local args=()
    read -r -a args <<< "$command"
    for i in "${!args[@]}"; do [ "${args[i]}" = "$config" ] && args[i]=$cfg; done
    local rc=0
    # Only the variables the pod takes from its Secrets, with stand-in values.
    local envs=()
    for e in $secret_env; do envs+=("$e=stand-in-secret"); done
    # A registry served by its ministry's system has no database to stop at: its connector
    # runs (Kafka refused) until stopped, once it has loaded its config and opened its
    # upstream client and Kafka clients.
    # (A gateway's config names upstream registries too, with procedures, and the others as
    # `backend: connector`: it still stops at its database.)
    local upstream=0 limit=20
    case "$config" in
      */connector-*.yaml) grep -q '^ *backend: upstream$' "$cfg" && upstream=1 limit=8 ;;
    esac
    (cd "$sb" && env "${envs[@]}" timeout "$limit" "$lgsp" "${args[@]:1}") > "$sb/out.log" 2>&1 || rc=$?
    # Expected: the config loads (exit 2 and "invalid configuration" otherwise), the Kafka
    # clients are created from its properties, and the process stops at its database
    # (refused connection, or a SQLite file that is not there) with exit 1.
    if [ "$upstream" = 1 ] && [ "$rc" -eq 124 ] && ! grep -q "invalid configuration" "$sb/out.log" &&
       grep -q '"event":"connector_admin_listening"' "$sb/out.log"; then
      pass "$c: $workload: lgsp ${args[*]:1:2}... loads its config and serves from the upstream"
    elif [ "$upstream" = 0 ] && [ "$rc" -eq 1 ] && ! grep -q "invalid configuration" "$sb/out.log" &&
       grep -qE 'connection to server at "127.0.0.1", port 1 failed|registry .* does not exist' "$sb/out.log"; then
      pass "$c: $workload: lgsp ${args[*]:1:2}... loads its config and stops at its database"
    else
      fail "$c: $workload: lgsp ${args[*]:1} exited $rc:"
      sed 's/^/    /' "$sb/out.log"
    fi
  done < <(node -e '
    for (const m of require(process.argv[1]))
      console.log([m.workload, m.config, m.files.join(" "), m.command.join(" "), m.env.join(" ")].join("|"));' "$mounts")
}
for c in "${cases[@]}"; do run_config_check "$c"; done

# --- the container image ---------------------------------------------------------------
dockerfile=$root/Dockerfile
arg_list() { # ARG name in the Dockerfile: its quoted, backslash-continued value, one per line
  awk -v name="$1" '
    $0 ~ "^ARG " name "=\"" { on = 1; sub("^ARG " name "=\"", "") }
    on { line = $0; done = (line ~ /"$/); gsub(/["\\]/, " ", line); print line; if (done) on = 0 }
  ' "$dockerfile" | tr ' ' '\n' | sed '/^$/d'
}
mapfile -t runtime < <(arg_list RUNTIME_PACKAGES)
mapfile -t buildpk < <(arg_list BUILD_PACKAGES)
if [ ${#runtime[@]} -eq 0 ] || [ ${#buildpk[@]} -eq 0 ]; then
  fail "Dockerfile: cannot read ARG RUNTIME_PACKAGES / BUILD_PACKAGES"
else
  missing=()
  for p in "${runtime[@]}" "${buildpk[@]}"; do
    apt-cache show "$p" > /dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    pass "Dockerfile: all ${#runtime[@]} runtime and ${#buildpk[@]} build packages exist in apt"
  else
    fail "Dockerfile: not in apt (run apt-get update?): ${missing[*]}"
  fi
  # Every shared library of the built binary must come from a runtime package or from a
  # package apt installs with them (their Depends, recursively).
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
              --no-breaks --no-replaces --no-enhances "${runtime[@]}" 2>/dev/null |
            sed -n 's/^\([a-z0-9][^ <>:]*\).*/\1/p; s/^ *\(Pre\)\{0,1\}Depends: \([^<> ]*\).*/\2/p' |
            sed 's/:any$//' | sort -u)
  uncovered=()
  nlibs=0
  while read -r lib; do
    # The test command builds with AddressSanitizer + UBSan; the image is a Release build,
    # which links neither runtime.
    case "$(basename "$lib")" in libasan.so* | libubsan.so* | libtsan.so*) continue ;; esac
    nlibs=$((nlibs + 1))
    real=$(readlink -f "$lib")
    owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null ||
            dpkg -S "/usr$real" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
    pkg=${owner%%:*}
    pkg=${pkg%%,*}
    if [ -z "$pkg" ] || ! grep -qx -- "$pkg" <<< "$closure"; then
      uncovered+=("$lib (${pkg:-no package})")
    fi
  done < <(ldd "$lgsp" | awk '/=> \// { print $3 } /^[ \t]*\/lib/ { print $1 }')
  if [ ${#uncovered[@]} -eq 0 ] && [ "$nlibs" -gt 0 ]; then
    pass "Dockerfile: the $nlibs shared libraries ldd lists for lgsp all come with its runtime packages"
  else
    fail "Dockerfile: libraries of lgsp no runtime package brings: ${uncovered[*]:-ldd listed nothing}"
  fi
  for port in 8443 9464 9465 9466; do
    grep -qE "^EXPOSE .*\b$port\b" "$dockerfile" || fail "Dockerfile: EXPOSE lacks $port (a chart default)"
  done
  if grep -q '^USER 10001:10001' "$dockerfile" && grep -q '^ENTRYPOINT \["lgsp"\]' "$dockerfile"; then
    pass "Dockerfile: USER 10001:10001 (the chart's runAsUser), ENTRYPOINT [\"lgsp\"], the chart's ports exposed"
  else
    fail "Dockerfile: USER 10001:10001 and ENTRYPOINT [\"lgsp\"] expected"
  fi
fi

echo "(took $(($(date +%s) - started)) s)"
finish
