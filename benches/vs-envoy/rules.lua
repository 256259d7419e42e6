-- wrk script of benches/vs-envoy.sh: rotates three requests, one per rule of the route
-- (the /api/ prefix, the x-user header, and the 90/10 split), all with the Gateway's host.
local requests = {}
local i = 0

function init(args)
  local host = { ["Host"] = "bench.example.com" }
  local canary = { ["Host"] = "bench.example.com", ["x-user"] = "canary" }
  requests[1] = wrk.format("GET", "/api/items", host)
  requests[2] = wrk.format("GET", "/shop", canary)
  requests[3] = wrk.format("GET", "/shop", host)
end

function request()
  i = i % 3 + 1
  return requests[i]
end
