#!/usr/bin/env python3
"""The daemon's HTTP endpoint (ECS_HOSTD_METRICS_LISTEN) on a real host
stack: moto (IAM on) behind the recording proxy as ECS, the IMDS emulator.

/healthz is 503 with the reason until the container instance is known,
200 after; /metrics is the host collectors and the ecs_hostd_* families in
the text format (promtool clean), OpenMetrics when Accept asks, gzip when
Accept-Encoding does; the ecs_hostd_* families follow the daemon (the join,
a Spot notice and its drain, the requests it made) and keep counting across
a reload; /v1/metadata has the official agent's shape; HEAD, 405, 404;
`off`, a taken port and a non-loopback address are each said in the log;
the port joins the registered PORTS in register mode, and companion mode
warns when ECS_RESERVED_PORTS lacks it."""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
OM_ACCEPT = ("application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
             "text/plain;version=0.0.4;q=0.3,*/*;q=0.2")  # what Prometheus 3 sends


def sample(text, name, **labels):
    """The value of the sample `name{labels}` (labels in any order; only the
    given ones must match), or None."""
    for line in text.splitlines():
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def before_and_after_join(tap, s):
    """ECS down at start: /healthz says why; then ECS comes back."""
    s.proxy.control.set_down(True)
    d = s.start_daemon(config={"ECS_HOSTD_MODE": "register"})
    harness.wait_until(lambda: d.http("/healthz")[0] != 0, 15, what="the endpoint answers")
    d.wait_log(r"Cannot join the cluster yet")
    status, hdrs, body = d.http("/healthz")
    tap.ok(status == 503 and body.decode().startswith("unhealthy: Waiting to join ECS cluster"),
           "/healthz before the join: 503 naming what it waits for", (status, body))
    status, _, text = d.scrape()
    tap.ok(status == 200 and sample(text, "ecs_hostd_container_instance_known") == 0
           and sample(text, "ecs_hostd_mode", mode="register") == 1,
           "/metrics already answers: container instance not known, mode register", text[-1500:])
    failed = [x for x in text.splitlines() if x.startswith("ecs_hostd_ecs_requests_total{")
              and re.search(r'outcome="(server|transport)_error"\} [1-9]', x)]
    tap.ok(failed and sample(text, "ecs_hostd_ecs_requests_total", outcome="success") in (None, 0),
           "the ECS calls that found ECS down are counted as failed, none as success",
           [x for x in text.splitlines() if "ecs_requests_total" in x])
    s.proxy.control.set_down(False)
    m = d.wait_log(r"Joined ECS cluster \S+ as (\S+)", timeout=90)
    return d, m.group(1)


def routes(tap, d, arn, inst):
    status, hdrs, body = d.http("/healthz")
    tap.ok(status == 200 and body == b"ok\n", "/healthz after the join: 200 ok", (status, body))
    status, hdrs, body = d.http("/")
    tap.ok(status == 200 and all(r in body.decode() for r in ("/metrics", "/v1/metadata", "/healthz")),
           "/ lists the routes", body)
    status, hdrs, body = d.http("/v1/metadata")
    meta = json.loads(body) if status == 200 else {}
    tap.ok(hdrs.get("Content-Type") == "application/json" and meta.get("Cluster") == "default"
           and meta.get("ContainerInstanceArn") == arn and meta.get("Version", "").startswith("ecs-hostd 0.1.0"),
           "/v1/metadata: the official agent's shape, with the cluster and container instance", (status, meta))
    status, _, body = d.http("/nowhere")
    tap.ok(status == 404, "an unknown path: 404", (status, body))
    status, hdrs, body = d.http("/metrics", method="POST")
    tap.ok(status == 405 and hdrs.get("Allow") == "GET, HEAD", "POST: 405 with Allow: GET, HEAD", (status, hdrs))
    status, hdrs, body = d.http("/metrics", method="HEAD")
    tap.ok(status == 200 and body == b"" and hdrs.get("Content-Type") == TEXT_TYPE, "HEAD /metrics: 200, no body",
           (status, hdrs))

    status, hdrs, text = d.scrape()
    tap.ok(status == 200 and hdrs.get("Content-Type") == TEXT_TYPE, "/metrics: the text format's Content-Type", hdrs)
    tap.ok(harness.promtool_check(text)[0], "promtool check metrics: the daemon's text format",
           harness.promtool_check(text)[1])
    tap.ok(sample(text, "node_load1") is not None and sample(text, "node_scrape_collector_success",
                                                              collector="loadavg") == 1,
           "the host collectors are in it", text[:800])
    tap.ok(sample(text, "ecs_hostd_build_info", version="0.1.0") == 1, "ecs_hostd_build_info")
    tap.ok(sample(text, "ecs_hostd_container_instance_known") == 1
           and sample(text, "ecs_hostd_container_instance_info", cluster="default", container_instance_arn=arn,
                      ec2_instance_id=inst) == 1,
           "the container instance: known, with cluster, ARN and EC2 instance id",
           [x for x in text.splitlines() if "container_instance" in x])
    tap.ok(sample(text, "ecs_hostd_container_instance_status", status="ACTIVE") == 1
           and sample(text, "ecs_hostd_container_instance_status", status="DRAINING") == 0,
           "status ACTIVE, as ECS said at the join")
    tap.ok(sample(text, "ecs_hostd_ecs_requests_total", operation="RegisterContainerInstance",
                  outcome="success") == 1, "one successful RegisterContainerInstance counted")
    tap.ok((sample(text, "ecs_hostd_imds_requests_total", operation="api/token", outcome="success") or 0) >= 1
           and (sample(text, "ecs_hostd_imds_requests_total", operation="dynamic/instance-identity/document",
                       outcome="success") or 0) >= 1
           and sample(text, "ecs_hostd_imds_requests_total", operation="meta-data/iam/security-credentials/{role}",
                      outcome="success") is not None,
           "IMDS requests by operation (the role name left out)",
           [x for x in text.splitlines() if "imds_requests" in x])
    tap.ok(sample(text, "ecs_hostd_credential_refreshes_total", result="success") >= 1
           and sample(text, "ecs_hostd_credentials_expiration_timestamp_seconds") > time.time(),
           "credential refreshes and the expiry of those in use")
    tap.ok((sample(text, "ecs_hostd_watcher_polls_total") or 0) > 0 and sample(text, "ecs_hostd_watcher_running") == 1
           and sample(text, "ecs_hostd_watcher_blind") == 0, "the watcher polls, and sees")
    tap.ok(sample(text, "ecs_hostd_last_drain_seconds") is None
           and sample(text, "ecs_hostd_last_drain_time_to_empty_seconds") is None
           and sample(text, "ecs_hostd_drain_tasks_left") is None,
           "before any drain: no last-drain figures (not a 0 that reads as a drain in no time)",
           [x for x in text.splitlines() if x.startswith("ecs_hostd_last_drain") or "tasks_left" in x])
    rss, fds = sample(text, "process_resident_memory_bytes"), sample(text, "process_open_fds")
    tap.ok(rss and 1 << 20 < rss < 1 << 30 and fds and 3 <= fds < 100
           and abs(sample(text, "process_start_time_seconds") - time.time()) < 600,
           "process_* as the client libraries write them (RSS, fds, start time)", (rss, fds))

    status, hdrs, om = d.scrape({"Accept": OM_ACCEPT})
    tap.ok(status == 200 and hdrs.get("Content-Type") == OM_TYPE and om.endswith("# EOF\n"),
           "Prometheus 3's Accept: OpenMetrics 1.0, ending with # EOF", (hdrs, om[-60:]))
    # promtool 2.42 lints the text format only (it reads an OpenMetrics
    # counter's family as help-less); Prometheus itself, which asks for
    # OpenMetrics first, is the check for that format.
    with harness.Prometheus(["127.0.0.1:%d" % d.metrics_port]) as prom:
        health = prom.wait_scraped()
        tap.ok(health and health[0][1] == "up" and health[0][2] == "",
               "Prometheus scrapes it (OpenMetrics negotiated): target up, no error", health)
        got = prom.query('ecs_hostd_container_instance_info{job="hostd"}')
        tap.ok(any(dict(k).get("container_instance_arn") == arn for k in got),
               "and queries the container instance from it", got)
        got = prom.query('ecs_hostd_ecs_requests_total{operation="RegisterContainerInstance",outcome="success"}')
        tap.eq(list(got.values()), [1.0], "a counter keeps its value through OpenMetrics")
    status, hdrs, zipped = d.scrape({"Accept-Encoding": "gzip"})
    _, _, raw = d.http("/metrics", {"Accept-Encoding": "gzip"})
    tap.ok(hdrs.get("Content-Encoding") == "gzip" and len(raw) * 3 < len(zipped)
           and sample(zipped, "ecs_hostd_container_instance_known") == 1,
           "Accept-Encoding: gzip: compressed (to under a third), same series", (hdrs, len(raw), len(zipped)))


def spot_drain(tap, s, d):
    """A Spot notice: the drain shows in the ecs_hostd_* families."""
    when = time.time() + 120
    s.imds.control.spot_notice("terminate", time=harness.iso8601(when))
    d.wait_log(r"DRAINING after", timeout=30)
    _, _, text = d.scrape()
    tap.ok(sample(text, "ecs_hostd_interruption_notices_total", kind="spot") == 1
           and sample(text, "ecs_hostd_interruption_notices_total", kind="rebalance") == 0,
           "one Spot notice counted, by kind")
    tap.ok(sample(text, "ecs_hostd_interruption_notices_pending", kind="spot") == 1
           and abs(sample(text, "ecs_hostd_interruption_time_seconds", kind="spot") - int(when)) <= 1,
           "pending, with the announced time", [x for x in text.splitlines() if "interruption" in x])
    tap.ok(sample(text, "ecs_hostd_drains_total", kind="spot", result="confirmed") == 1
           and sample(text, "ecs_hostd_container_instance_status", status="DRAINING") == 1
           and sample(text, "ecs_hostd_container_instance_status", status="ACTIVE") == 0,
           "the drain confirmed; status DRAINING", [x for x in text.splitlines() if "drain" in x or "status" in x])
    last = sample(text, "ecs_hostd_last_drain_seconds")
    tap.ok(last is not None and 0 < last < 5, "the last drain's latency, notice to DRAINING", last)
    tap.ok(sample(text, "ecs_hostd_ecs_requests_total", operation="UpdateContainerInstancesState",
                  outcome="success") == 1 and sample(text, "ecs_hostd_drain_calls_total") == 1,
           "one UpdateContainerInstancesState, counted twice over (as a request, as a drain call)")
    polls = sample(text, "ecs_hostd_watcher_polls_total")
    mark = d.mark()
    d.send_signal("HUP")
    d.wait_log(r"Joined ECS cluster", start=mark, timeout=30)
    _, _, text = d.scrape()
    tap.ok(sample(text, "ecs_hostd_watcher_polls_total") >= polls
           and sample(text, "ecs_hostd_interruption_notices_total", kind="spot") == 1
           and sample(text, "ecs_hostd_ecs_requests_total", operation="UpdateContainerInstancesState",
                      outcome="success") == 1,
           "after a reload the counters go on (no reset)", (polls, sample(text, "ecs_hostd_watcher_polls_total")))
    tap.ok(d.stop() == 0, "SIGTERM stops it")
    tap.ok(not re.search(r"\[(crit|error)\]", d.output()) or "Cannot join" in d.output(),
           "nothing else went wrong", d.output()[-1500:])


def listen_variants(tap, s):
    d = s.start_daemon(config={"ECS_HOSTD_MODE": "register", "ECS_HOSTD_METRICS_LISTEN": "off"})
    d.wait_log(r"Joined ECS cluster")
    tap.ok(d.http("/healthz")[0] == 0 and "Serving /metrics" not in d.output(),
           "off: nothing listens", d.output()[-600:])
    tap.ok(d.stop() == 0, "off: runs and stops normally")

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    d = s.start_daemon(config={"ECS_HOSTD_MODE": "register", "ECS_HOSTD_METRICS_LISTEN": "127.0.0.1:%d" % port})
    d.wait_log(r"Joined ECS cluster")
    tap.ok(re.search(r"Cannot listen on 127\.0\.0\.1:%d for /metrics: Address already in use" % port, d.output())
           and "The metrics endpoint is off" in d.output(),
           "a taken port: said, and the daemon still joins (draining is its job)", d.output()[-800:])
    d.stop()
    busy.close()

    port = harness.free_port()
    d = s.start_daemon(config={"ECS_HOSTD_MODE": "register", "ECS_HOSTD_METRICS_LISTEN": "0.0.0.0:%d" % port})
    d.wait_log(r"Joined ECS cluster")
    tap.ok(re.search(r"\[warn\]:.*metrics endpoint on 0\.0\.0\.0:%d is reachable from other hosts" % port, d.output()),
           "all addresses: a warning says it is reachable from other hosts", d.output()[-800:])
    tap.ok(harness.http_get("http://127.0.0.1:%d/healthz" % port)[0] == 200, "and it serves")
    d.stop()

    two = [harness.free_port(), harness.free_port()]
    d = s.start_daemon(config={"ECS_HOSTD_MODE": "register",
                               "ECS_HOSTD_METRICS_LISTEN": "127.0.0.1:%d,[::1]:%d" % tuple(two)})
    d.wait_log(r"Joined ECS cluster")
    got = [harness.http_get("http://127.0.0.1:%d/healthz" % two[0])[0],
           harness.http_get("http://[::1]:%d/healthz" % two[1])[0]]
    tap.eq(got, [200, 200], "two addresses, IPv4 and IPv6: both serve")
    d.stop()


def companion_ports(tap):
    with harness.Stack(official_agent=True) as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "companion"})
        d.wait_log(r"Joined ECS cluster")
        tap.ok(re.search(r"\[warn\]: ECS_RESERVED_PORTS does not hold %d, the metrics endpoint's port" % d.metrics_port,
                         d.output()), "companion: warns that ECS_RESERVED_PORTS lacks the port", d.output()[-800:])
        d.stop()
        d = s.daemon(config={"ECS_HOSTD_MODE": "companion"})
        d.start({"ECS_RESERVED_PORTS": "[22, 2375, 2376, 51678, 51679, %d]" % d.metrics_port})
        d.wait_log(r"Joined ECS cluster")
        tap.ok("ECS_RESERVED_PORTS does not hold" not in d.output(), "companion: no warning when it is reserved",
               d.output()[-800:])
        d.stop()


def main(tap):
    with harness.Stack(cluster="default") as s:
        d, arn = before_and_after_join(tap, s)
        routes(tap, d, arn, s.instance.instance_id)
        spot_drain(tap, s, d)
        listen_variants(tap, s)
    companion_ports(tap)
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


harness.run_tests(main)
