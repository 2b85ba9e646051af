-- wrk script: POST one streamed ("stream": true) chat completion per request; wrk reads the
-- chunked SSE body to its end (data: [DONE]) before counting the request as done.
STREAM = true
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "post.lua")
