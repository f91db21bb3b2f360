#!/usr/bin/env python3
"""The metrics endpoint under abuse, on a real host stack (moto with IAM on
behind the recording proxy, the IMDS emulator), while a Spot notice comes:

- 1,000 connections at once from one address, each trickling a request
  that never ends (slowloris), plus garbage, a 1 MiB header and a POST with
  a body, in a loop;
- meanwhile a Spot notice: the daemon drains, and its watcher keeps its
  rhythm (no poll skipped; IMDS sees the Spot path read about once a
  second), which is what "the endpoint never gets in the watcher's way"
  means, counted rather than timed;
- a scraper from another address (127.0.0.2) is served throughout;
- the daemon's descriptors and memory stay bounded while it lasts, and
  once the abusers leave the endpoint answers everyone again.

The drain latency with and without the flood is printed for the reader."""
import os
import http.client
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

ABUSERS = 1000
SPOT_PATH = "/latest/meta-data/spot/instance-action"


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def private_anon(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return int(re.search(r"^Anonymous:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


class Flood:
    """Abusers on 127.0.0.1 until stop(): ABUSERS slowloris connections
    (re-opened when the server drops them) and, in a loop, garbage, a huge
    header and a POST with a body."""

    def __init__(self, port):
        self.port = port
        self.stop_ = threading.Event()
        self.socks = []
        self.opened = self.refused = self.others = 0
        self.threads = [threading.Thread(target=self.slowloris, daemon=True),
                        threading.Thread(target=self.junk, daemon=True)]

    def connect(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        return s

    def slowloris(self):
        for _ in range(ABUSERS):
            self.socks.append(self.connect())
        self.opened = len(self.socks)
        while not self.stop_.is_set():
            for i, s in enumerate(self.socks):
                try:
                    s.send(b"GET /metrics HTTP/1.1\r\nX-Slow: a" if s.fileno() >= 0 else b"")
                except (BlockingIOError, OSError):
                    s.close()
                    self.refused += 1
                    self.socks[i] = self.connect()
            self.stop_.wait(0.5)
        for s in self.socks:
            s.close()

    def send_once(self, data):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(data)
                s.recv(256)
        except OSError:
            pass
        self.others += 1

    def junk(self):
        big = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
        while not self.stop_.is_set():
            self.send_once(os.urandom(512))
            self.send_once(big)
            self.send_once(b"POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000)
            self.send_once(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 50)

    def start(self):
        for t in self.threads:
            t.start()
        harness.wait_until(lambda: self.opened == ABUSERS, 30, what="the abusers connected")
        return self

    def stop(self):
        self.stop_.set()
        for t in self.threads:
            t.join(30)


def scrape_from(addr, port):
    """GET /healthz from another source address: the status, or 0."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(addr, 0)) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while not data.endswith(b"ok\n") and len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            m = re.match(rb"HTTP/1\.1 (\d+)", data)
            return int(m.group(1)) if m else 0
    except OSError:
        return 0


def metric(port, name):
    """One unlabelled sample of /metrics, asked from 127.0.0.2 (the flood
    comes from 127.0.0.1); NaN when it cannot be had."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=("127.0.0.2", 0))
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
        return float(m.group(1)) if r.status == 200 and m else float("nan")
    except OSError:
        return float("nan")
    finally:
        c.close()


def drain(s, d, when):
    """A Spot notice (its time `when` s ahead: each call a new notice) and
    the drain it brings: (latency s, reads of the Spot path in the 5 s
    from the notice, polls skipped meanwhile)."""
    skipped0 = metric(d.metrics_port, "ecs_hostd_watcher_polls_skipped_total")
    mark, imds_mark = d.mark(), s.imds.control.log_mark()
    t0 = time.monotonic()
    s.imds.control.spot_notice("terminate", time=harness.iso8601(time.time() + when))
    m = d.wait_log(r"DRAINING after ([0-9.]+) s", timeout=60, start=mark)
    time.sleep(max(0.0, 5.0 - (time.monotonic() - t0)))
    polls = len([e for e in s.imds.control.log(since=imds_mark) if e["path"] == SPOT_PATH])
    skipped = metric(d.metrics_port, "ecs_hostd_watcher_polls_skipped_total") - skipped0
    s.imds.control.withdraw_spot()
    return float(m.group(1)), polls, skipped


def main(tap):
    with harness.Stack(cluster="default") as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register"})
        d.wait_log(r"Joined ECS cluster", timeout=60)
        # Baseline: a notice with nobody at the endpoint.
        base, base_polls, _ = drain(s, d, 120)
        fds0, anon0 = fds(d.pid), private_anon(d.pid)
        flood = Flood(d.metrics_port).start()
        time.sleep(2)
        peak_fds, peak_anon = fds(d.pid), private_anon(d.pid)
        tap.ok(peak_fds <= fds0 + 128 + 8, "1,000 connections: the daemon holds at most its 128 (%d fds, %d idle)"
               % (peak_fds, fds0))
        tap.ok(peak_anon - anon0 < 16 << 20, "memory stays bounded (private anonymous %+.1f MiB)"
               % ((peak_anon - anon0) / 1048576.0))
        served = [scrape_from("127.0.0.2", d.metrics_port) for _ in range(5)]
        tap.eq(served, [200] * 5, "a scraper from another address is served during the flood")
        latency, polls, skipped = drain(s, d, 110)
        tap.ok(d.alive(), "the daemon survives the flood and drains (ECS confirmed DRAINING)")
        tap.eq(skipped, 0.0, "no poll skipped while the endpoint is flooded and a notice is drained")
        tap.ok(polls >= base_polls - 1 and polls >= 4,
               "the Spot path is read as often as without the flood (%d in 5 s; %d without)" % (polls, base_polls))
        tap.diag("drain latency, notice to DRAINING confirmed: %.2f s flooded, %.2f s without" % (latency, base))
        peak_fds = max(peak_fds, fds(d.pid))
        flood.stop()
        tap.diag("abusers: %d connections held, %d dropped by the server and re-opened, %d junk requests"
                 % (ABUSERS, flood.refused, flood.others))
        harness.wait_until(lambda: d.http("/healthz")[0] == 200, 30, what="the endpoint answers again")
        tap.ok(True, "after the flood the endpoint answers again")
        harness.wait_until(lambda: fds(d.pid) <= fds0 + 2, 30, what="the connections closed")
        tap.ok(fds(d.pid) <= fds0 + 2, "and its descriptors are back to %d (peak %d)" % (fds0, peak_fds))
        tap.ok(d.stop() == 0, "it stops normally")
        tap.eq(re.findall(r"\[crit\].*", d.output()), [], "nothing critical logged")
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


harness.run_tests(main)
