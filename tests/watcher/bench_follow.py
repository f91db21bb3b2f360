#!/usr/bin/env python3
"""make bench: what following a drain to empty costs and how quickly it
sees the end, on moto (IAM on) behind the recording proxy and the IMDS
emulator, with tasks started by `aws ecs run-task` and stopped by the bench.

1. The ECS calls one drained host makes over a two-minute follow (a Spot
   notice 120 s ahead, six tasks stopping one every 15 s, one standalone
   task that never stops, so the follow runs to the deadline); goal: at most
   60.  Beside it, what a watcher polling the same three calls every second
   would make (arithmetic, not a run: 3 x 120).
2. The delay from the last task's StopTask answer (the aws CLI returning) to
   "empty" in the daemon's log, over BENCH_FOLLOWS drains of one host (the
   host set ACTIVE again between them); goal: under 2 s.

Not a test: it prints figures, ratios and which goals are met."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

N = int(os.environ.get("BENCH_FOLLOWS", "10"))
FOLLOW_OPS = ("DescribeContainerInstances", "ListTasks", "DescribeTasks")


def run_tasks(s, family, count, group=None):
    return s.run_tasks(family, count, group)


def stop(s, task):
    s.stop_task(task)


def follow_calls(s, mark):
    return [e for e in s.proxy.control.log(since=mark) if e.get("operation") in FOLLOW_OPS]


def two_minutes(s, d):
    """Calls made over a two-minute follow that runs to its deadline."""
    web = run_tasks(s, "web", 6, "service:web")
    stuck = run_tasks(s, "api", 1)[0]
    mark, pmark = d.mark(), s.proxy.control.log_mark()
    t0 = time.time()
    s.imds.control.spot_notice("terminate", time=harness.iso8601(t0 + 120))
    d.wait_log(r": 7 tasks left", start=mark)
    for t in web:
        time.sleep(max(0.0, t0 + 15 * (web.index(t) + 1) - time.time()))
        stop(s, t)
    d.wait_log(r"still running at the deadline", start=mark, timeout=150)
    calls = follow_calls(s, pmark)
    stop(s, stuck)
    by_op = {op: sum(1 for c in calls if c["operation"] == op) for op in FOLLOW_OPS}
    return len(calls), by_op


def one_drain(s, d, i):
    """Seconds from the last StopTask answer to 'empty' in the log."""
    tasks = run_tasks(s, "web", 2, "service:web")
    mark = d.mark()
    s.imds.control.spot_notice("terminate", time=harness.iso8601(time.time() + 300 + i))
    d.wait_log(r": 2 tasks left", start=mark)
    stop(s, tasks[0])
    d.wait_log(r": 1 task left", start=mark)
    time.sleep(0.5 + (i % 5) * 0.45)  # the last stop at every phase of the follower's rhythm
    stop(s, tasks[1])
    answered = time.monotonic()
    harness.wait_until(lambda: "empty after" in d.output()[mark:], 30, interval=0.005, what="empty")
    lag = time.monotonic() - answered
    s.imds.control.withdraw_spot()
    s.aws("ecs", "update-container-instances-state", "--cluster", s.cluster, "--container-instances",
          d.arn, "--status", "ACTIVE")
    return lag


def main():
    with harness.MotoServer() as moto, harness.Stack(cluster="bench-follow", moto=moto) as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register"})
        d.arn = d.wait_log(r"Joined ECS cluster \S+ as (\S+)", timeout=60).group(1)
        for family in ("web", "api"):
            s.register_task_definition(family, memory=32, cpu=32)
        lags = [one_drain(s, d, i) for i in range(N)]
        total, by_op = two_minutes(s, d)
        d.stop()

    naive = 3 * 120
    print("ECS calls over a two-minute follow (6 tasks stopping one every 15 s, 1 never stopping):")
    print("  ecs-hostd: %d (%s); goal at most 60: %s"
          % (total, ", ".join("%s %d" % kv for kv in by_op.items()), "met" if total <= 60 else "MISSED"))
    print("  the same three calls every second: %d (arithmetic); ecs-hostd makes %.2fx of it" % (naive, total / naive))
    lags.sort()
    print("last StopTask answered -> 'empty' in the log, %d drains: p50 %.2f s, max %.2f s; goal under 2 s: %s"
          % (N, statistics.median(lags), lags[-1], "met" if lags[-1] < 2.0 else "MISSED"))
    print("  each: %s" % " ".join("%.2f" % x for x in lags))


if __name__ == "__main__":
    main()
