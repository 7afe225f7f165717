-- Shared by every wrk script of bench/scim-bench.sh: thread numbering, the id list, status
-- counting (a benchmark of error responses is worthless, so every non-2xx is counted and the
-- first body kept), and one machine-readable result line that the shell script parses.
local M = {}

local threads = {}

-- Main Lua state: number the threads so that writers can take disjoint slices of the ids.
function M.setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Thread state. Globals so that done() can read them through thread:get().
function M.init()
  thread_count = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  token = os.getenv("BENCH_TOKEN") or ""
  base = os.getenv("BENCH_BASE") or ""
  counter = 0
  non2xx = 0
  statuses = {}
  sample = ""
  math.randomseed(os.time() + 7919 * thread_index)
end

-- The seeded user ids, user i on line i + 1.
function M.load_user_ids()
  local ids = {}
  local path = os.getenv("BENCH_USERS_FILE")
  for line in io.lines(path) do
    ids[#ids + 1] = line
  end
  return ids
end

function M.user_name(index)
  return string.format("bench.user%06d", index)
end

function M.headers(with_body)
  local h = { ["Authorization"] = "Bearer " .. token, ["Accept"] = "application/scim+json" }
  if with_body then
    h["Content-Type"] = "application/scim+json"
  end
  return h
end

function M.response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if sample == "" then
      sample = key .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function M.done(summary, latency, requests)
  local non_2xx, issued = 0, 0
  local merged = {}
  local first_sample = ""
  for _, thread in ipairs(threads) do
    non_2xx = non_2xx + (thread:get("non2xx") or 0)
    issued = issued + (thread:get("counter") or 0)
    for status, n in pairs(thread:get("statuses") or {}) do
      merged[status] = (merged[status] or 0) + n
    end
    local s = thread:get("sample") or ""
    if first_sample == "" then
      first_sample = s
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    parts[#parts + 1] = status .. ":" .. n
  end
  table.sort(parts)
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d issued=%d statuses=%s\n",
    summary.requests, summary.requests / seconds, latency:percentile(50), latency:percentile(99),
    latency.max, non_2xx, socket_errors, issued, table.concat(parts, ",")))
  if first_sample ~= "" then
    io.write("BENCH_SAMPLE " .. string.gsub(first_sample, "\n", " ") .. "\n")
  end
end

-- Installs the wrk hooks; `make_request` builds one request from the thread's counter.
function M.install(make_request, thread_init)
  setup = M.setup
  init = function(args)
    M.init()
    if thread_init then
      thread_init()
    end
  end
  request = function()
    counter = counter + 1
    return make_request()
  end
  response = M.response
  done = M.done
end

return M
