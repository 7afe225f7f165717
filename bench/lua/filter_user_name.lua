-- GET /Users?filter=userName eq "bench.userNNNNNN" on a random seeded userName per request: the
-- lookup a provisioning client does before every create.
local bench = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local users
bench.install(function()
  local name = bench.user_name(math.random(0, users - 1))
  return wrk.format("GET", base .. "/Users?filter=userName%20eq%20%22" .. name .. "%22",
                    bench.headers(false))
end, function()
  users = tonumber(os.getenv("BENCH_USERS"))
end)
