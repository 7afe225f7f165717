-- PATCH /Users/{id} replacing the title with a value new on every request (so each one is a real,
-- durable write), on users taken in a stride per thread so two connections rarely race on one.
local bench = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids
local run_tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())
bench.install(function()
  local index = (thread_index + counter * thread_count * 7919) % #ids + 1
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":' ..
      '[{"op":"replace","path":"title","value":"Title ' .. run_tag .. "." .. thread_index .. "." ..
      counter .. '"}]}'
  return wrk.format("PATCH", base .. "/Users/" .. ids[index], bench.headers(true), body)
end, function()
  ids = bench.load_user_ids()
end)
