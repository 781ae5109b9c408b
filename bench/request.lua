-- wrk script: POST to the population verify or lookup route, or the citizen profile, for
-- real seeded subjects. SUBJECTS_FILE holds population JSON lines from
-- `lgsp seed --samples N`; each request takes the next subject.
-- LGSP_ROUTE: verify (default) | lookup | profile (the three registries measured since the
-- first runs; civil status is left out so figures stay comparable).
local route = os.getenv("LGSP_ROUTE") or "verify"
local paths = {verify = "/v1/population/verify", lookup = "/v1/population/lookup",
               profile = "/v1/citizen-profile"}
local path = paths[route]

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("LGSP_API_KEY") or "demo-key-for-local-use-only")

local bodies = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("SUBJECTS_FILE") or "run/bench-subjects.jsonl") do
    local id = line:match('"citizen_id":"(%d+)"')
    local name = line:match('"full_name":"([^"]+)"')
    local dob = line:match('"date_of_birth":"([^"]+)"')
    if route == "verify" then
      bodies[#bodies + 1] = string.format(
        '{"citizen_id":"%s","full_name":"%s","date_of_birth":"%s","purpose":"benchmark"}', id, name, dob)
    elseif route == "profile" then
      bodies[#bodies + 1] = string.format(
        '{"citizen_id":"%s","purpose":"benchmark","registries":["population","insurance","vehicle"]}', id)
    else
      bodies[#bodies + 1] = string.format('{"citizen_id":"%s","purpose":"benchmark"}', id)
    end
  end
end

function request()
  i = i % #bodies + 1
  return wrk.format(nil, path, nil, bodies[i])
end

-- Non-2xx answers are printed so a fast run full of errors is not mistaken for a good one.
function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g: %.2f ms\n", p, latency:percentile(p) / 1000.0))
  end
end
