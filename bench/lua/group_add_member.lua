-- PATCH /Groups/{BENCH_GROUP} adding one user per request. Users come from the index range
-- [BENCH_FIRST_USER, BENCH_USERS), split between threads, each used once: re-adding a member is a
-- no-op without a commit and would flatter the figure. `issued` beyond the range is reported.
local bench = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids, first, group
bench.install(function()
  local index = first + thread_index + (counter - 1) * thread_count
  if index >= #ids then
    -- Out of fresh users: wrap (the shell script flags the run as saturated).
    index = first + (index - first) % (#ids - first)
  end
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":' ..
      '[{"op":"add","path":"members","value":[{"value":"' .. ids[index + 1] .. '"}]}]}'
  return wrk.format("PATCH", base .. "/Groups/" .. group, bench.headers(true), body)
end, function()
  ids = bench.load_user_ids()
  first = tonumber(os.getenv("BENCH_FIRST_USER") or "0")
  group = os.getenv("BENCH_GROUP")
end)
