#!/usr/bin/env bash
# Writes the hand-written seeds of tests/fuzz/corpus/ (run once; the corpus is committed).
# Bodies and requests are the README / docs/api.md examples; envelopes are encoded by protoc
# from text format, so they are what the real encoder would write.
# Usage: tests/fuzz/make_seeds.sh   (from anywhere; overwrites seed-* files only)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpus="$here/corpus"
mkdir -p "$corpus"/{fuzz_http_request,fuzz_json_body,fuzz_identifiers,fuzz_envelope,fuzz_config}

# --- JSON bodies: "route|body"
bodies=(
  'population/verify|{"citizen_id":"001300000313","full_name":"VŨ  THỊ CHI","date_of_birth":"2000-04-11","gender":"female","purpose":"telecom-subscriber-registration"}'
  'population/verify|{"citizen_id":"001300000313","date_of_birth":"2000-04-12","purpose":"telecom-subscriber-registration"}'
  'population/verify|{"citizen_id":"12345","date_of_birth":"01/05/1999"}'
  'population/verify|{"citizen_id":"001300000313","full_name":"Vu Thi Chi","date_of_birth":"2000","gender":"nữ","purpose":"telecom-subscriber-registration","on_behalf_of":"officer-17","procedure_code":"1.001234"}'
  'population/verify|{"citizen_id":"123456789","full_name":"Nguyễn Văn An","purpose":"x"}'
  'population/lookup|{"citizen_id":"001300000313","fields":["full_name","permanent_address"],"purpose":"residence-confirmation"}'
  'population/lookup|{"citizen_id":"001300000313","purpose":"x"}'
  'insurance/verify|{"citizen_id":"074205000288","health_insurance_card":"DN4740000007919","valid_on":"2026-06-30","purpose":"hospital-admission"}'
  'insurance/lookup|{"social_insurance_number":"0000007919","purpose":"hospital-admission"}'
  'insurance/lookup|{"citizen_id":"074205000288","fields":["status","coverage_end"],"purpose":"hospital-admission"}'
  'vehicle/lookup|{"plate_number":"30B101234","purpose":"traffic-fine"}'
  'vehicle/lookup|{"citizen_id":"001300000313","purpose":"asset-declaration","fields":["plate_number"]}'
  'vehicle/verify|{"plate_number":"30B1-012.34","citizen_id":"001300000313","purpose":"vehicle-transfer"}'
  'citizen-profile|{"citizen_id":"001300000313","purpose":"residence-registration","registries":["population","vehicle"]}'
  'audit/access-log|{"citizen_id":"001300000313","purpose":"citizen-self-service","page_size":5,"page_token":"42"}'
)
i=0
for entry in "${bodies[@]}"; do
  route="${entry%%|*}"
  body="${entry#*|}"
  i=$((i + 1))
  printf '%s' "$body" > "$corpus/fuzz_json_body/seed-body-$i"
  # Byte 0 = 0: the whole request arrives at once.
  {
    printf '\0'
    printf 'POST /v1/%s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n' "$route"
    printf 'Authorization: Bearer demo-key-for-local-use-only\r\n'
    printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
      "$(printf '%s' "$body" | wc -c)" "$body"
  } > "$corpus/fuzz_http_request/seed-request-$i"
done

# --- HTTP: framing the examples above do not show.
h="$corpus/fuzz_http_request"
body='{"citizen_id":"001300000313","purpose":"x","gender":"male"}'
len=$(printf '%s' "$body" | wc -c)
{ printf '\0POST /v1/population/verify?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json; charset=utf-8\r\n'
  printf 'Transfer-Encoding: chunked\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n'
  printf '%x\r\n%s\r\n0\r\n\r\n' "$len" "$body"; } > "$h/seed-chunked"
{ printf '\x07POST /v1/vehicle/lookup HTTP/1.1\r\nHost: a\r\nContent-Type: Application/JSON\r\nContent-Length: %d\r\n\r\n%s' \
    "$len" "$body"
  printf 'POST /v1/citizen-profile HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$len" "$body"; } > "$h/seed-pipelined-in-pieces"
printf '\0POST /v1/insurance/lookup HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
  "$len" "$body" > "$h/seed-expect-continue"
printf '\0GET /v1/population/verify HTTP/1.0\r\n\r\n' > "$h/seed-get-http10"
printf '\0POST /v1/population/verify HTTP/1.1\r\nHost: a\r\nContent-Length: 70000\r\n\r\n{' > "$h/seed-body-too-large"
{ printf '\0POST /v1/audit/access-log HTTP/1.1\r\nHost: a\r\nX-Filler: '
  head -c 8300 /dev/zero | tr '\0' 'a'; printf '\r\n\r\n'; } > "$h/seed-headers-too-large"

# --- identifiers: one string per file, for every parser in domain/.
ids=(001300000313 074205000288 079099123456 001 000000000000 '0013000003131' 123456789
     30B101234 30B1-012.34 29A-123.45 29A12345 '29a 123 45' 51F1-1234 51F11234 '29 A-1234'
     0000007919 DN4740000007919 dn4740000007919 HC1010123456789
     2000-04-11 2024-02-29 2023-02-29 0000-01-01
     'Nguyễn Văn An' 'NGUYỄN  Văn An' $'Nguye\xcc\x82\xcc\x83n Va\xcc\x86n An' 'Đặng Thị Dung'
     'ǅ ß ﬁ' $'\xc3\x28' male female)
i=0
for s in "${ids[@]}"; do
  i=$((i + 1))
  printf '%s' "$s" > "$corpus/fuzz_identifiers/seed-$i"
done

# --- envelopes: protoc text format -> the wire bytes the encoder writes.
proto_dir="$root/bus"
enc() { protoc --proto_path="$proto_dir" --encode="lgsp.bus.v1.$1" envelope.proto > "$corpus/fuzz_envelope/seed-$2"; }
enc Request request-verify <<'P'
request_id: "0af7651916cd43dd8448eb211c80319c" registry: "population" operation: OPERATION_VERIFY
citizen_id: "001300000313" purpose: "telecom" partner_id: "demo-ministry" deadline_unix_ms: 1767225600000
claims { full_name: "Vũ Thị Chi" date_of_birth: "2000-04-11" gender: "female" }
name_matching: NAME_MATCHING_DIACRITIC_INSENSITIVE required_grade: GRADE_PARTIAL
P
enc Request request-lookup <<'P'
request_id: "r2" registry: "vehicle" operation: OPERATION_LOOKUP plate_number: "30B1-012.34"
fields: "plate_number" fields: "brand" purpose: "traffic-fine" on_behalf_of: "officer" procedure_code: "1.2"
P
enc Request request-insurance <<'P'
registry: "insurance" operation: OPERATION_VERIFY social_insurance_number: "0000007919"
claims { health_insurance_card: "DN4740000007919" valid_on: "2026-06-30" owner_citizen_id: "001300000313" }
P
enc Reply reply-verify <<'P'
request_id: "r1" status: STATUS_OK
verify { subject_found: true match: true fields { field: "full_name" grade: GRADE_EXACT }
         fields { field: "gender" grade: GRADE_MISMATCH } facts { key: "valid_on_date" value: true }
         facts { key: "in_good_standing" value: false } }
source { registry: "population" as_of_unix_ms: 1767225600000 }
subject_citizen_ids: "001300000313"
P
enc Reply reply-citizen <<'P'
request_id: "r1" status: STATUS_OK
citizen { full_name: "Vũ Thị Chi" date_of_birth: "2000-04-11" gender: "female" place_of_origin: "Hà Nội"
          permanent_address { province: "Hà Nội" district: "Ba Đình" commune: "Phúc Xá" } id_card_issue_date: "2021-01-01" }
P
enc Reply reply-insurance <<'P'
status: STATUS_OK insurance { social_insurance_number: "0000007919" health_insurance_card: "DN4740000007919"
  status: "active" coverage_start: "2025-01-01" coverage_end: "2026-12-31"
  registered_hospital { province: "Bình Dương" facility_code: "74001" } benefit_level: 4 citizen_id: "074205000288" }
P
enc Reply reply-vehicles <<'P'
status: STATUS_OK vehicles { vehicles { plate_number: "30B1-012.34" owner_citizen_id: "001300000313"
  vehicle_type: "motorbike" brand: "Honda" model: "Wave" colour: "red" engine_number: "E1" chassis_number: "C1"
  registration_date: "2020-02-02" status: "registered" } }
P
enc Reply reply-error <<'P'
request_id: "r9" status: STATUS_BACKEND_ERROR detail: "population backend: database is locked"
P
enc AuditEvent audit <<'P'
event_id: "e1" time_unix_ms: 1767225600000 request_id: "r1" partner_id: "demo-ministry"
operation: "population.verify" subject_hashes: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
purpose: "telecom" fields_released: "population.full_name" outcome: "ok" http_status: 200 latency_us: 1234
P
enc RequestBundle request-bundle <<'P'
requests { request_id: "b1" registry: "population" operation: OPERATION_VERIFY citizen_id: "001300000313"
  purpose: "telecom" partner_id: "demo-telecom" deadline_unix_ms: 1767225600000
  claims { full_name: "Vu Thi Chi" } traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
requests { request_id: "b2" registry: "population" operation: OPERATION_LOOKUP citizen_id: "001300000314"
  fields: "full_name" purpose: "residence" partner_id: "demo-ministry" }
P
enc ReplyBundle reply-bundle <<'P'
replies { request_id: "b2" status: STATUS_NOT_FOUND }
replies { request_id: "b1" status: STATUS_OK verify { subject_found: true match: true
  fields { field: "full_name" grade: GRADE_PARTIAL } } }
P
printf 'lgsp.replies:3' > "$corpus/fuzz_envelope/seed-reply-to"

# --- config: the shipped dev profile, and sections dev.yaml does not use.
c="$corpus/fuzz_config"
cp "$root/config/dev.yaml" "$c/seed-dev.yaml"
cat > "$c/seed-tls-jwt.yaml" <<'Y'
gateway:
  listen: "[::]:8443"
  tls: {cert_file: /nonexistent/cert.pem, key_file: /nonexistent/key.pem, min_version: "1.3",
        key_password_env: LGSP_FUZZ_UNSET, client_ca_file: /nonexistent/ca.pem}
auth:
  jwt: {issuer: "https://idp.example", audiences: [lgsp], jwks_file: /nonexistent/jwks.json, clock_skew_s: 30}
registries:
  population: {backend: postgres, postgres_dsn_env: LGSP_FUZZ_UNSET, pool_size: 8}
  vehicle: {backend: postgres, postgres_dsn: "host=db dbname=vehicle"}
audit: {enabled: false, store: {backend: sqlite, sqlite_path: /tmp/a.db}}
partners:
  - id: p1
    name: P1
    api_key_sha256: [c54f9cedd4187948c7b98354ac0786702442311b60640caabb47cf806f31811e]
    client_cert_sha256: ["AB:CD"]
    client_cert_subjects: ["CN=evn-gw,O=EVN,C=VN"]
    oauth_client_ids: [evn]
    purposes: [billing]
    rate_limit: {requests_per_second: 10, burst: 20}
    operation_limits: {population.verify: {requests_per_second: 1}}
    daily_quota: 1000
    operations: [population.verify, audit.access-log]
    fields: {population: [full_name]}
    name_matching: diacritic-insensitive
    required_grade: partial
Y
cat > "$c/seed-errors.yaml" <<'Y'
gateway:
  lisen: 127.0.0.1:8080
  threads: -1
kafka: {bootstrap: "", request_partitions: x}
logging: {level: loud}
seed: {citizens: 0}
partners: [{id: a, demo: maybe, api_key_sha256: [nothex]}, {id: a}]
Y
echo "seeds written under $corpus"
