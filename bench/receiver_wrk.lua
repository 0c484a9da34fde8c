-- wrk script for `receiver.py --generator wrk`: sends the benchmark's notifications in turn.
--
-- The only argument (after `--`) is a file that receiver.py writes: the realistic Google and
-- Graph requests, each as "<length>\n" followed by that many bytes of a complete HTTP/1.1
-- request. They are read once per thread, so sending one costs wrk nothing but the write.
-- done() prints one parseable line of counts and latencies for receiver.py.

local requests = {}
local index = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local position = 1
  while position <= #data do
    local newline = assert(data:find("\n", position, true))
    local length = tonumber(data:sub(position, newline - 1))
    requests[#requests + 1] = data:sub(newline + 1, newline + length)
    position = newline + length + 1
  end
  assert(#requests > 0, "no requests in " .. args[1])
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    "calbridge-wrk requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d "
      .. "p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors.connect, errors.read, errors.write, errors.status,
    errors.timeout, latency:percentile(50), latency:percentile(99)
  ))
end
