-- The cache API: GET /v1/cache/<BENCH_KEY> -> {"key","value","ttl"} (a GET and a TTL in Redis).
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/v1/cache/" .. (os.getenv("BENCH_KEY") or "bench:cache")
wrk.headers = common.headers()
wrk.headers["Content-Type"] = nil

done = common.done
