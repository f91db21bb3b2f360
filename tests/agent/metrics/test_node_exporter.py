#!/usr/bin/env python3
"""The host collectors against node_exporter, the peer a Prometheus operator
compares them with: both read the same fixture tree (tests/agent/metrics/
fixtures: proc/, sys/, root/, files taken from a real host) and every node_*
family node_exporter writes for a collector must come out of ecs-hostd the
same -- name, HELP, TYPE, label names and values, sample values -- so a
dashboard made for node_exporter works unchanged.  Then `promtool check
metrics` on both exposition formats, and the output against the golden file
(tests/agent/metrics/golden.prom; HOSTD_UPDATE_GOLDEN=1 rewrites it).

Families whose values come from the running kernel rather than the tree
(the clock, uname) are compared without values."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
GOLDEN = os.path.join(HERE, "golden.prom")
TOOL = os.path.join(harness.BUILD, "tests", "metrics-tool")
# ecs-hostd reads the fixture tree through its configuration, as on a host.
ENV = {"PATH": os.environ["PATH"], "ECS_HOSTD_PROCFS": os.path.join(FIXTURES, "proc"),
       "ECS_HOSTD_SYSFS": os.path.join(FIXTURES, "sys"), "ECS_HOSTD_ROOTFS": os.path.join(FIXTURES, "root")}
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
    if k in os.environ:
        ENV[k] = os.environ[k]
# The collectors ecs-hostd has, as node_exporter names them.
COLLECTORS = ["cpu", "meminfo", "loadavg", "stat", "time", "uname", "vmstat", "filefd", "pressure"]
# Families whose values are the live system's, not the fixture's.
LIVE = {"node_time_seconds", "node_time_zone_offset_seconds", "node_uname_info"}
SKIP = re.compile(r"^(go_|process_|promhttp_|node_exporter_build_info|node_scrape_collector_)")


def families(text):
    """{family: {"help": ..., "type": ..., "samples": sorted [(name, labels, value)]}}."""
    fams, current = {}, None
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)", line)
        if m:
            current = fams.setdefault(m.group(2), {"samples": []})
            current[m.group(1).lower()] = m.group(3)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if not m or current is None:
            raise ValueError("not an exposition line: %r" % line)
        current["samples"].append((m.group(1), m.group(2) or "", m.group(3)))
    for f in fams.values():
        f["samples"].sort()
    return {k: v for k, v in fams.items() if not SKIP.match(k)}


def node_exporter(collectors):
    exe = harness.resolve_tool("prometheus-node-exporter", "HOSTD_NODE_EXPORTER")
    port = harness.free_port()
    args = [exe, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
            "--path.procfs=" + os.path.join(FIXTURES, "proc"), "--path.sysfs=" + os.path.join(FIXTURES, "sys"),
            "--path.rootfs=" + os.path.join(FIXTURES, "root")] + ["--collector." + c for c in collectors]
    p = harness.Process(args, name="node_exporter").start()
    try:
        harness.wait_until(lambda: harness.http_get("http://127.0.0.1:%d/metrics" % port)[0] == 200, 10,
                           what="node_exporter")
        return harness.http_get("http://127.0.0.1:%d/metrics" % port)[2].decode()
    finally:
        p.stop()


def tool(*args):
    p = subprocess.run([TOOL] + list(args), env=ENV, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("metrics-tool: %s" % p.stderr)
    return p.stdout


def compare(tap, theirs, ours):
    for name in sorted(theirs):
        t, o = theirs[name], ours.get(name)
        if o is None:
            tap.ok(False, "%s is written" % name, "node_exporter writes it, ecs-hostd does not")
            continue
        live = name in LIVE
        ts = [(n, l if not live else re.sub(r'"[^"]*"', '""', l), v if not live else "") for n, l, v in t["samples"]]
        os_ = [(n, l if not live else re.sub(r'"[^"]*"', '""', l), v if not live else "") for n, l, v in o["samples"]]
        tap.ok(t.get("help") == o.get("help") and t.get("type") == o.get("type") and ts == os_,
               "%s: as node_exporter writes it (HELP, TYPE, labels%s)" % (name, "" if live else ", values"),
               "node_exporter %r, ecs-hostd %r" % (t, o))
    extra = sorted(set(ours) - set(theirs))
    tap.eq(extra, [], "no node_* family node_exporter does not write")


def promtool_problems(text):
    """promtool check metrics on text: (whether it parsed, its complaints)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    # 0: clean, 3: lint complaints only; anything else: it could not read the text.
    return p.returncode in (0, 3), set(l for l in (p.stdout + p.stderr).splitlines() if l.strip())


def promtool(tap, text, what, allowed):
    """The text parses, and promtool has nothing to say of it that it does not
    say of node_exporter's own output (allowed): node_exporter's meminfo names,
    node_memory_MemTotal_bytes and the rest, are not snake_case, and ours must
    be the same names."""
    parsed, problems = promtool_problems(text)
    tap.ok(parsed and problems <= allowed, "promtool check metrics: %s" % what,
           " | ".join(sorted(problems - allowed)) if parsed else " | ".join(sorted(problems)))


def as_text_format(om):
    """promtool 2.42 reads the text format 0.0.4 only, whatever it is given;
    OpenMetrics is that format but for two spellings, which are put back as
    the text format has them: a counter's HELP and TYPE name its samples'
    name (OpenMetrics leaves out the _total), and an untyped family's TYPE
    says untyped (OpenMetrics says unknown)."""
    counters = set(re.findall(r"^# TYPE (\S+) counter$", om, re.M))
    om = re.sub(r"^# (HELP|TYPE) (\S+)(?= )", lambda m: m.group(0) + ("_total" if m.group(2) in counters else ""),
                om, flags=re.M)
    return re.sub(r"^(# TYPE \S+) unknown$", r"\1 untyped", om, flags=re.M)


def stable(text):
    """What the golden file holds: the text less what changes from run to
    run or host to host (durations; the live families' label values and
    values)."""
    text = re.sub(r"^(node_scrape_collector_duration_seconds\{[^}]*\}) \S+$", r"\1 <duration>", text, flags=re.M)
    live = "|".join(re.escape(f) for f in sorted(LIVE))
    return re.sub(r"^(%s)(\{.*\})? \S+$" % live,
                  lambda m: m.group(1) + re.sub(r'"(?:[^"\\]|\\.)*"', '""', m.group(2) or "") + " <live>",
                  text, flags=re.M)


def main(tap):
    raw = node_exporter(COLLECTORS)
    theirs = families(raw)
    allowed = promtool_problems(raw)[1]
    text = tool(*COLLECTORS)
    compare(tap, theirs, families(text))
    tap.ok(all(re.search(r'^node_scrape_collector_success\{collector="%s"\} 1$' % c, text, re.M) for c in COLLECTORS),
           "every collector succeeds on the fixture tree", text[-600:])
    promtool(tap, text, "text format 0.0.4", allowed)
    om = tool("--openmetrics", *COLLECTORS)
    tap.ok(om.endswith("# EOF\n"), "OpenMetrics ends with # EOF", om[-100:])
    promtool(tap, as_text_format(om), "OpenMetrics 1.0", allowed)
    if os.environ.get("HOSTD_UPDATE_GOLDEN"):
        with open(GOLDEN, "w") as f:
            f.write(stable(text))
    with open(GOLDEN) as f:
        tap.eq(stable(text), f.read(), "the whole output is the golden file's")
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
