-- 90/10 read/write mix through `POST /`: each request is, at random, a GET of the 100 B value (90 %)
-- or a SET of a 100 B value to one of 64 keys (10 %). Requests are formatted once in init(), so the
-- per-request cost in wrk is one random number.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local write_percent = tonumber(os.getenv("BENCH_WRITE_PERCENT") or "10")
local get_request
local set_requests = {}

function init(args)
  local headers = common.headers()
  get_request = wrk.format("POST", "/", headers, common.command("GET", "bench:v100"))
  local value = string.rep("m", 100)
  for i = 1, 64 do
    set_requests[i] = wrk.format("POST", "/", headers, common.command("SET", "bench:w:" .. i, value))
  end
  math.randomseed(os.time())
end

function request()
  if math.random(100) <= write_percent then
    return set_requests[math.random(64)]
  end
  return get_request
end

done = common.done
