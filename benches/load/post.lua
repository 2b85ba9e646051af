-- wrk script: POST one OpenAI chat completion per request (non-stream).
-- stream.lua sets STREAM = true and loads this file.
-- Env: BENCH_MODEL (default bench-model), BENCH_KEY (default sk-bench).
-- done() prints one machine-readable RESULT line that run.sh parses.

local stream = (STREAM == true)
local model = os.getenv("BENCH_MODEL") or "bench-model"
local key = os.getenv("BENCH_KEY") or "sk-bench"

-- 18 words: the mock echoes them, giving a ~0.6 KB completion or a ~22-event SSE stream,
-- close to the fixed answers BASELINE.md measured with.
local prompt = "the quick brown fox jumps over the lazy dog while seven tired engineers measure one more proxy hop tonight"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
if stream then wrk.headers["Accept"] = "text/event-stream" end
wrk.body = '{"model":"' .. model .. '",' ..
  (stream and '"stream":true,' or '') ..
  '"messages":[{"role":"user","content":"' .. prompt .. '"}]}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.max),
    e.status, e.connect, e.read, e.write, e.timeout))
end
