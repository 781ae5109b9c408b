#!/usr/bin/env bash
# What checking a citizen's consent costs, on the embedded default (`lgsp dev` with
# config/dev.yaml on private ports, 100,000 citizens, audit on): the demo bank's population
# lookups for N citizens, first under purpose credit-scoring with each citizen's consent_id
# (recorded beforehand through the citizen app; every request reads its consent in the
# consent store before anything is published), then under fraud-check, which needs no
# consent: the same lookups without the check. wrk, C connections, S seconds each; prints
# requests per second and the latency distribution of both.
# Usage: bench/consents.sh [N [C [S]]]   (defaults 200, 32, 15; build first: scripts/dev.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
lgsp=$(pwd)/build/lgsp
n=${1:-200}
connections=${2:-32}
seconds=${3:-15}
# shellcheck source=../tests/support/dev_process.sh
. tests/support/dev_process.sh
dev_profile 5 "$work/dev.yaml" "s#citizens: 2000#citizens: 100000#"
start_dev 5
"$lgsp" seed --config "$work/dev.yaml" --samples "$n" 2> /dev/null \
  | grep '"registry":"population"' | sed 's/.*"citizen_id":"\([0-9]*\)".*/\1/' > "$work/ids"

# Each citizen consents, through the citizen app with its own token, to the demo bank's
# credit scoring of its name and date of birth for 90 days.
expires=$(date -u -d '+90 days' +%F)
while read -r id; do
  consent=$(curl -s -X POST http://127.0.0.1:58080/v1/consents \
    -H 'Authorization: Bearer demo-citizen-app-key' -H 'Content-Type: application/json' \
    -H "Citizen-Token: $(citizen_token "$id")" \
    -d '{"citizen_id":"'"$id"'","purpose":"citizen-self-service","consent":{"partner_id":"demo-bank",
         "purpose":"credit-scoring","scope":["population.full_name","population.date_of_birth"],
         "expires_on":"'"$expires"'"}}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["consent_id"])')
  echo "$id $consent"
done < "$work/ids" > "$work/consents"
echo "consents: $(wc -l < "$work/consents") recorded"

for mode in 1 0; do
  label=$([ "$mode" = 1 ] && echo "with consent (credit-scoring)" || echo "without (fraud-check)")
  echo "== lookups $label: $connections connections, ${seconds}s"
  LGSP_CONSENT=$mode CONSENTS_FILE="$work/consents" \
    wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/consent.lua \
    http://127.0.0.1:58080 2>&1 | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|errors"
done
