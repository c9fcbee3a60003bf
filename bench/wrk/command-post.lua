-- One command per request through `POST /`: ["<BENCH_CMD>","<BENCH_KEY>"(,"<value>")].
-- BENCH_KEY (default bench:v100) picks the seeded value size; BENCH_CMD=SET writes a 100 B value.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local cmd = os.getenv("BENCH_CMD") or "GET"
local key = os.getenv("BENCH_KEY") or "bench:v100"

wrk.method = "POST"
wrk.path = "/"
wrk.headers = common.headers()
if cmd == "SET" then
  wrk.body = common.command("SET", key, string.rep("s", 100))
else
  wrk.body = common.command(cmd, key)
end

done = common.done
