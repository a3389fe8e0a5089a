-- wrk script for the load benchmark (bench/run.py).
--
-- GET mode (BENCH_MODE=get): the URL given to wrk, with the bearer token.
-- POST mode (BENCH_MODE=post): grades a fresh (test, student) pair on every request, read from
-- BENCH_PAIRS (one "test_id student_id" per line); thread i of n takes pairs i, i+n, i+2n, ...
-- so no pair is graded twice and every request should be a 201.
--
-- BENCH_TOKEN, when not empty, is sent as a bearer token (GET / goes without one).
-- Each thread counts its responses by status class, and 201s apart (every POST must be one);
-- done() prints one JSON line for run.py.

local token = os.getenv("BENCH_TOKEN")
local mode = os.getenv("BENCH_MODE") or "get"
local pairs_file = os.getenv("BENCH_PAIRS")

local threads = {}
local thread_count = 0

function setup(thread)
    thread:set("id", thread_count)
    thread_count = thread_count + 1
    table.insert(threads, thread)
end

function init(args)
    counts = { s2xx = 0, s201 = 0, s3xx = 0, s4xx = 0, s5xx = 0, s409 = 0 }
    if token ~= nil and token ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. token
    end
    if mode == "post" then
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        work = {}
        for line in io.lines(pairs_file) do
            local test_id, student_id = line:match("^(%d+) (%d+)$")
            if test_id then
                table.insert(work, { test_id, student_id })
            end
        end
        step = tonumber(os.getenv("BENCH_THREADS") or "2")
        cursor = id + 1
    end
end

function request()
    if mode ~= "post" then
        return wrk.format()
    end
    local pair = work[cursor]
    if pair == nil then
        -- Out of fresh pairs: reuse the last one (a 409, counted as non-2xx).
        pair = work[#work]
    end
    cursor = cursor + step
    local path = "/api/tests/" .. pair[1] .. "/results/"
    local body = '{"student": ' .. pair[2] .. ', "score": 73.5}'
    return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
    if status == 409 then
        counts.s409 = counts.s409 + 1
    elseif status == 201 then
        counts.s201 = counts.s201 + 1
    end
    if status >= 500 then
        counts.s5xx = counts.s5xx + 1
    elseif status >= 400 then
        counts.s4xx = counts.s4xx + 1
    elseif status >= 300 then
        counts.s3xx = counts.s3xx + 1
    else
        counts.s2xx = counts.s2xx + 1
    end
end

function done(summary, latency, requests)
    local total = { s2xx = 0, s201 = 0, s3xx = 0, s4xx = 0, s5xx = 0, s409 = 0 }
    for _, thread in ipairs(threads) do
        local c = thread:get("counts")
        for k, v in pairs(c) do
            total[k] = total[k] + v
        end
    end
    io.write(string.format(
        'BENCH_JSON {"duration_us": %d, "requests": %d, "s2xx": %d, "s201": %d, "s3xx": %d, "s4xx": %d, "s5xx": %d, '
            .. '"s409": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
            .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
        summary.duration, summary.requests, total.s2xx, total.s201, total.s3xx, total.s4xx, total.s5xx, total.s409,
        summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
    ))
end
