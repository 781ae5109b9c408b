-- wrk script: the demo bank's population lookups, each for the next citizen of
-- CONSENTS_FILE (lines "<citizen_id> <consent_id>", written by bench/consents.sh).
-- LGSP_CONSENT=1: purpose credit-scoring with the citizen's consent_id (the consent is
-- checked in the store); 0: purpose fraud-check, which needs no consent (the same lookup
-- without the check).
local with_consent = os.getenv("LGSP_CONSENT") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer demo-bank-key"

local bodies = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("CONSENTS_FILE")) do
    local id, consent = line:match("^(%d+) (%S+)$")
    if with_consent then
      bodies[#bodies + 1] = string.format(
        '{"citizen_id":"%s","purpose":"credit-scoring","consent_id":"%s"}', id, consent)
    else
      bodies[#bodies + 1] = string.format('{"citizen_id":"%s","purpose":"fraud-check"}', id)
    end
  end
end

function request()
  i = i % #bodies + 1
  return wrk.format(nil, "/v1/population/lookup", nil, bodies[i])
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
