-- POST /pipeline with BENCH_PIPELINE (default 100) GETs of the 100 B value in one request.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local size = tonumber(os.getenv("BENCH_PIPELINE") or "100")
local key = os.getenv("BENCH_KEY") or "bench:v100"
local commands = {}
for i = 1, size do
  commands[i] = common.command("GET", key)
end

wrk.method = "POST"
wrk.path = "/pipeline"
wrk.headers = common.headers()
wrk.body = "[" .. table.concat(commands, ",") .. "]"

done = common.done
