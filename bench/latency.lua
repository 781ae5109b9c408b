-- wrk script for the ceilings (nginx, bare Beast): plain GET, prints the percentiles
-- bench/compare.sh reads. LGSP_BODY set: POST it as JSON instead.
local body = os.getenv("LGSP_BODY")
if body then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g: %.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
