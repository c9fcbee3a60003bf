-- One GET per request in the Upstash path form: GET /get/<BENCH_KEY>, no body.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/get/" .. (os.getenv("BENCH_KEY") or "bench:v100")
wrk.headers = common.headers()
wrk.headers["Content-Type"] = nil

done = common.done
