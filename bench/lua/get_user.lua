-- GET /Users/{id} on a random seeded user per request (random, not sequential, so the store's
-- page cache is not flattered).
local bench = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids
bench.install(function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", base .. "/Users/" .. id, bench.headers(false))
end, function()
  ids = bench.load_user_ids()
end)
