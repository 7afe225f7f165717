-- The baseline server's request: the same shape and client-side Lua work as get_user.lua (random
-- id, Authorization header, status counting), against a server that answers a fixed 200.
local bench = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids
bench.install(function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", base .. "/Users/" .. id, bench.headers(false))
end, function()
  ids = bench.load_user_ids()
end)
