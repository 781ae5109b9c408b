-- wrk script: POST /v1/population/verify for real seeded subjects.
-- SUBJECTS_FILE holds JSON lines from `lgsp seed --samples N`; each request picks the next.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("LGSP_API_KEY") or "demo-key-for-local-use-only")

local bodies = {}
local i = 0

function init(args)
  local path = os.getenv("SUBJECTS_FILE") or "run/bench-subjects.jsonl"
  for line in io.lines(path) do
    local id = line:match('"citizen_id":"(%d+)"')
    local name = line:match('"full_name":"([^"]+)"')
    local dob = line:match('"date_of_birth":"([^"]+)"')
    bodies[#bodies + 1] = string.format(
      '{"citizen_id":"%s","full_name":"%s","date_of_birth":"%s","purpose":"benchmark"}', id, name, dob)
  end
end

function request()
  i = i % #bodies + 1
  return wrk.format(nil, "/v1/population/verify", nil, bodies[i])
end

-- Non-2xx answers are printed so a fast run full of errors is not mistaken for a good one.
function done(summary, latency, requests)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g: %.2f ms\n", p, latency:percentile(p) / 1000.0))
  end
end
