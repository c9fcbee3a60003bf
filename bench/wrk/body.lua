-- One request through `POST <BENCH_PATH>` (default /) with the JSON body BENCH_BODY, as given.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/"
wrk.headers = common.headers()
wrk.body = os.getenv("BENCH_BODY")

done = common.done
