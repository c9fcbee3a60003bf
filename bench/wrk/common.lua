-- Shared by every scenario script. The runner sets:
--   BENCH_TOKEN   bearer token of the gateway
--   BENCH_WRK_DIR this folder (scripts load this file with dofile)
--   BENCH_CLOSE   1: "Connection: close" on every request, so each one opens a new TCP (and TLS)
--                 connection, as the first request of a cold serverless instance does
-- done() prints one machine-readable line, "BENCH_RESULT {json}", that bench/lib/wrk.mjs parses.
local M = {}

M.token = os.getenv("BENCH_TOKEN") or "none"

-- Headers of every request: the same a serverless caller of the Upstash SDK sends.
function M.headers()
  local headers = {
    ["Authorization"] = "Bearer " .. M.token,
    ["Content-Type"] = "application/json",
  }
  -- wrk reconnects after a response that closes the connection. Its latency clock starts when a request
  -- is written, so connect and TLS handshake count in requests/s but not in p50/p99.
  if os.getenv("BENCH_CLOSE") == "1" then
    headers["Connection"] = "close"
  end
  return headers
end

-- A JSON array of strings, for command bodies: ["GET","k"].
function M.command(...)
  local parts = {}
  for i, arg in ipairs({ ... }) do
    parts[i] = '"' .. arg .. '"'
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- CPU ticks (user + system, all threads) wrk itself used: /proc/self/stat fields 14 and 15.
local function cpu_ticks()
  local file = io.open("/proc/self/stat", "r")
  if not file then return -1 end
  local stat = file:read("*a")
  file:close()
  local fields = {}
  for field in stat:sub(stat:find("%)[^)]*$") + 2):gmatch("%S+") do
    fields[#fields + 1] = field
  end
  return tonumber(fields[12]) + tonumber(fields[13])
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"cpu_ticks":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, cpu_ticks()))
end

return M
