-- wrk script of bench/serving.py: prints the run's figures as one JSON line after "WRK_JSON ",
-- and, when WRK_DELAY_MS is set, paces each connection (it waits that long before each request).
local pace = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pace then
  delay = function() return pace end
end

done = function(summary, latency, requests)
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "timeouts": %d, "status_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
