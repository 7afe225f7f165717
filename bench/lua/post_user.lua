-- POST /Users with a userName and primary email unique per request: run tag + thread + counter.
local bench = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local run_tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())
bench.install(function()
  local name = string.format("bench.new.%s.%d.%d", run_tag, thread_index, counter)
  local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
      '","name":{"givenName":"New","familyName":"User"},"title":"Engineer","active":true,' ..
      '"emails":[{"value":"' .. name .. '@bench.example","type":"work","primary":true}]}'
  return wrk.format("POST", base .. "/Users", bench.headers(true), body)
end)
