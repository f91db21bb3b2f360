#!/usr/bin/env python3
"""make bench: the metrics endpoint under the same wrk load as the peers a
Prometheus operator would compare it with, side by side on loopback:

- ecs-hostd (joined to a cluster on the emulators, its watcher polling IMDS);
- node_exporter (Debian's prometheus-node-exporter), restricted to the same
  collectors;
- the floor (build/tests/metrics-floor): a bare poll() loop answering every
  request with one scrape of the same collectors, so the same files read and
  the same text written.

Each round runs wrk -c4 and -c64 against each of them in turn; three rounds,
medians reported.  Then requests/s, p99 latency, the server's CPU time per
request (all threads; what a busy machine does not distort), RSS and private
anonymous memory of each process, the ratios, and the goals (issue 11): at least 10x
node_exporter's requests/s, within 1.5x of the floor, RSS at most half of
node_exporter's, private anonymous memory under 2 MiB; and what the load did
to the watcher (polls skipped).  Not a test: it prints figures and ratios,
and exits non-zero only when a measurement could not be made."""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
LOADS = (4, 64)


def cpu_seconds(pid):
    """User + system CPU of a process, all its threads (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(name, url, conns, pid):
    """(requests/s, p99 ms, server CPU µs per request) of one wrk run."""
    cpu0 = cpu_seconds(pid)
    threads = min(conns, 4)
    p = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % SECONDS, "--latency", url],
                       capture_output=True, text=True, timeout=SECONDS + 30)
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", p.stdout)
    p99 = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s)\b", p.stdout, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", p.stdout)
    if p.returncode != 0 or not rps or not p99:
        raise RuntimeError("wrk %s: %s%s" % (url, p.stdout, p.stderr))
    if errors:
        print("    (%s, -c%d: %s)" % (name, conns, errors.group(0)))
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    n = int(re.search(r"(\d+) requests in", p.stdout).group(1))
    return float(rps.group(1)), float(p99.group(1)) * scale, (cpu_seconds(pid) - cpu0) * 1e6 / max(n, 1)


def memory(pid):
    """(RSS, private anonymous) bytes of a process, from /proc."""
    rss = anon = 0
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
    with open("/proc/%d/smaps_rollup" % pid) as f:
        anon = int(re.search(r"^Anonymous:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024
    return rss, anon


def collectors_of(text):
    return sorted(set(re.findall(r'^node_scrape_collector_success\{collector="([^"]+)"\}', text, re.M)))


def start_node_exporter(collectors):
    port = harness.free_port()
    exe = harness.resolve_tool("prometheus-node-exporter", "HOSTD_NODE_EXPORTER")
    p = harness.Process([exe, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults"]
                        + ["--collector." + c for c in collectors], name="node_exporter").start()
    url = "http://127.0.0.1:%d/metrics" % port
    harness.wait_until(lambda: harness.http_get(url)[0] == 200, 10, what="node_exporter")
    return p, url


def start_floor(collectors):
    port = harness.free_port()
    p = harness.Process([os.path.join(harness.BUILD, "tests", "metrics-floor"), str(port)], name="metrics-floor",
                        env={"ECS_HOSTD_METRICS_COLLECTORS": ",".join(collectors)}).start()
    p.wait_output(r"listening", 10)
    return p, "http://127.0.0.1:%d/metrics" % port


def fmt_bytes(n):
    return "%.1f MiB" % (n / 1048576.0)


def report(results, idle, peak, mem, collectors, skipped):
    print("collectors: %s; wrk %d s per run, %d rounds, medians" % (",".join(collectors), SECONDS, ROUNDS))
    print("%-14s %6s %12s %10s %14s %11s %13s" % ("", "conns", "requests/s", "p99 ms", "CPU/request",
                                                  "RSS", "private anon"))
    for name in ("ecs-hostd", "node_exporter", "floor"):
        for c in LOADS:
            rps, p99, cpu = (statistics.median(r[i] for r in results[name][c]) for i in range(3))
            print("%-14s %6d %12.0f %10.2f %11.0f us %11s %13s" % (name, c, rps, p99, cpu, fmt_bytes(peak[name][0]),
                                                                fmt_bytes(peak[name][1])))
    print()
    for c in LOADS:
        med = {n: statistics.median(r[0] for r in results[n][c]) for n in results}
        vs_ne, vs_floor = med["ecs-hostd"] / med["node_exporter"], med["floor"] / med["ecs-hostd"]
        cpu = {n: statistics.median(r[2] for r in results[n][c]) for n in results}
        print("-c%-3d requests/s: %.1fx node_exporter's (goal >= 10x: %s); the floor does %.2fx ecs-hostd's "
              "(goal <= 1.5x: %s)" % (c, vs_ne, "met" if vs_ne >= 10 else "MISSED", vs_floor,
                                     "met" if vs_floor <= 1.5 else "MISSED"))
        print("      CPU per request: node_exporter spends %.1fx ecs-hostd's, ecs-hostd %.2fx the floor's "
              "(the same ratios measured in work, not in time: robust on a busy machine)"
              % (cpu["node_exporter"] / max(cpu["ecs-hostd"], 1e-9), cpu["ecs-hostd"] / max(cpu["floor"], 1e-9)))
    for when, m in (("idle", idle), ("as the load ends", peak), ("1 s after the load", mem)):
        rss_ratio = m["ecs-hostd"][0] / m["node_exporter"][0]
        print("RSS %s: ecs-hostd %s is %.2fx node_exporter's %s (goal <= 0.5x: %s); private anonymous %s "
              "(goal < 2 MiB: %s)" % (when, fmt_bytes(m["ecs-hostd"][0]), rss_ratio, fmt_bytes(m["node_exporter"][0]),
                                      "met" if rss_ratio <= 0.5 else "MISSED", fmt_bytes(m["ecs-hostd"][1]),
                                      "met" if m["ecs-hostd"][1] < 2 << 20 else "MISSED"))
    print("watcher under the load: %d poll(s) skipped (a round still running when the next was due)" % skipped)


def main():
    with harness.Stack(cluster="bench") as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register", "ECS_LOGLEVEL": "warn"})
        harness.wait_until(lambda: d.http("/healthz")[0] == 200, 60, what="ecs-hostd joined")
        text = d.scrape()[2]
        collectors = collectors_of(text)
        skipped0 = float(re.search(r"^ecs_hostd_watcher_polls_skipped_total (\S+)", text, re.M).group(1))
        ne, ne_url = start_node_exporter(collectors)
        fl, fl_url = start_floor(collectors)
        targets = {"ecs-hostd": (d.pid, d.metrics_url + "/metrics"), "node_exporter": (ne.pid, ne_url),
                   "floor": (fl.pid, fl_url)}
        results = {n: {c: [] for c in LOADS} for n in targets}
        idle = {n: memory(pid) for n, (pid, _) in targets.items()}
        mem, peak = {}, {}
        for _ in range(ROUNDS):
            for name, (pid, url) in targets.items():
                for c in LOADS:
                    results[name][c].append(wrk(name, url, c, pid))
                peak[name] = max(peak.get(name, (0, 0)), memory(pid))
                time.sleep(1)  # the clients gone: what the server keeps
                mem[name] = max(mem.get(name, (0, 0)), memory(pid))
        time.sleep(1.5)  # the watcher's counters after the last load
        text = d.scrape()[2]
        skipped = float(re.search(r"^ecs_hostd_watcher_polls_skipped_total (\S+)", text, re.M).group(1)) - skipped0
        ne.stop()
        fl.stop()
        d.stop()
        report(results, idle, peak, mem, collectors, int(skipped))


if __name__ == "__main__":
    main()
