#!/usr/bin/env python3
"""ecs-hostd as systemd runs it: sd_notify (READY, STATUS, WATCHDOG, STOPPING)
on a real notify socket, SIGHUP reloads, SIGTERM stops, and startup waits
out an unavailable IMDS without blocking the loop.  The cases are
tests/scenarios/daemon/*.json (docs/harness.md, "Case files"); a run under
valgrind is code below.  `test_daemon.py 02` runs the cases whose names hold 02."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

VALGRIND = ["valgrind", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite"]


def valgrind_clean(tap, moto):
    """A whole start (IMDS, STS credentials, a signed ECS call), a Spot notice
    drained with its hook, IMDS failing for a while, a reload and a stop,
    under valgrind: no memory error and no definite leak."""
    with harness.Stack(moto=moto, cluster="demo") as s:
        vlog = os.path.join(s.tmpdir, "valgrind.log")
        d = s.daemon(config={"ECS_HOSTD_POLL_INTERVAL_MS": 250}, hook="", wrapper=VALGRIND + ["--log-file=" + vlog])
        d.start()
        d.wait_log(r"Attribute sync: custom attributes in sync", 60)
        s.apply({"imds": {"spot": {"action": "terminate", "time": 110}}})
        d.wait_log(r"Drain hook \[\d+\] for spot/terminate/\S+: hook says hello", 60)
        d.wait_log(r"spot terminate at \S+: empty after \d+ s", 60)  # the follow, its calls and its end
        s.apply({"imds": {"spot": None, "faults": [
            {"kind": "status", "status": 500, "path": "/latest/meta-data/spot/instance-action", "count": 16}]}})
        d.wait_log(r"IMDS answers again", 60)
        d.send_signal("HUP")
        d.wait_log(r"Configuration reloaded", 30)
        d.wait_log(r"Attribute sync: custom attributes in sync", 60, count=2)
        rc = d.stop(timeout=60)
        with open(vlog) as f:
            summary = f.read()
        tap.ok(rc == 0 and "ERROR SUMMARY: 0 errors" in summary,
               "valgrind: no memory error or definite leak over start, join, attribute sync, a drain, its "
               "hook and its follow to empty, failing IMDS reads, reload and stop", "exit %s; %s" % (rc, summary[-1500:]))


def main(tap):
    only = sys.argv[1:]
    with harness.MotoServer() as moto:
        harness.run_cases(tap, "daemon", at_least=4, only=only, moto=moto)
        # ASan and valgrind do not mix: the plain build only.
        if not only and not harness.BUILD.rstrip("/").endswith("asan"):
            valgrind_clean(tap, moto)
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
