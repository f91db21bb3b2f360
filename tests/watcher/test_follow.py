#!/usr/bin/env python3
"""Drain to empty: after a Spot notice's drain is confirmed, ecs-hostd
follows the container instance until its tasks are gone or the deadline
passes, on a real host stack (moto with IAM on behind the recording proxy,
the IMDS emulator).  Tasks are started with the AWS CLI (`aws ecs run-task`
on the host's container instance) and stopped by the test, as ECS would.

- the host empties before the deadline: the story in the log (tasks left by
  group, fewer, "empty after N s, M s before the deadline"), the empty hook
  with the outcome, the metrics;
- one task never stops: named at the deadline (its group and ARN), the hook
  says "deadline" and which task;
- tasks stopping in a burst; ECS throttling while following: still empty,
  and the calls stay within the budget;
- a restart in the middle: the new run follows on from the ledger;
- a policy without ecs:ListTasks / ecs:DescribeTasks: counts only, said once;
- the journal gets the lines with their fields (event id, tasks left,
  seconds to the deadline)."""
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

EMPTY_HOOK = """#!/bin/sh
env | grep '^ECS_HOSTD_' | sort > "%s"
"""
FOLLOW_OPS = ("DescribeContainerInstances", "ListTasks", "DescribeTasks")


def setup(s, d):
    """Join, register two task definitions; returns the container instance ARN."""
    arn = d.wait_log(r"Joined ECS cluster \S+ as (\S+)", timeout=60).group(1)
    for family in ("web", "api"):
        s.register_task_definition(family)
    return arn


def run_tasks(s, arn, group, family, count):
    """aws ecs run-task on the cluster (ours is its only instance); the task ARNs."""
    return s.run_tasks(family, count, group, on=arn)


def stop(s, task):
    s.stop_task(task)


def spot(s, seconds):
    s.imds.control.spot_notice("terminate", time=harness.iso8601(time.time() + seconds))


def empty_hook(d):
    path = os.path.join(d.dir, "empty-hook.sh")
    with open(path, "w") as f:
        f.write(EMPTY_HOOK % os.path.join(d.dir, "empty-hook.env"))
    os.chmod(path, 0o755)
    return path


def hook_env(d, timeout=15):
    path = os.path.join(d.dir, "empty-hook.env")
    harness.wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout, what="the empty hook ran")
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)


def follow_calls(s, since):
    return [e for e in s.proxy.control.log(since=since) if e.get("operation") in FOLLOW_OPS]


def empties(tap, moto):
    with harness.Stack(cluster="follow", moto=moto) as s:
        d = s.daemon(config={"ECS_HOSTD_MODE": "register"})
        d.configure({"ECS_HOSTD_EMPTY_HOOK": empty_hook(d)})
        d.start()
        arn = setup(s, d)
        web = run_tasks(s, arn, "service:web", "web", 3)
        api = run_tasks(s, arn, "service:api", "api", 1)
        mark, pmark = d.mark(), s.proxy.control.log_mark()
        spot(s, 60)
        m = d.wait_log(r"spot terminate at \S+: (\d+) tasks left \(([^)]*)\), (\d+) s to the deadline", start=mark)
        tap.eq((m.group(1), m.group(2)), ("4", "service:web x3, service:api x1"),
               "after DRAINING: the tasks left, by group, most first")
        _, _, text = d.scrape()
        left = re.search(r"^ecs_hostd_drain_tasks_left (\S+)$", text, re.M)
        to = re.search(r"^ecs_hostd_drain_seconds_to_deadline (\S+)$", text, re.M)
        tap.ok(left and float(left.group(1)) == 4 and to and 0 < float(to.group(1)) <= 60,
               "metrics while following: 4 tasks left, the seconds to the deadline",
               [x for x in text.splitlines() if "ecs_hostd_drain_" in x and "#" not in x])
        for t in web:
            stop(s, t)
        d.wait_log(r": 1 task left \(service:api x1\)", start=mark, timeout=20)
        tap.ok(True, "fewer tasks left, said as they go: 1 task left (service:api x1)")
        t0 = time.monotonic()
        stop(s, api[0])
        m = d.wait_log(r"\[notice\]: spot terminate at \S+: empty after (\d+) s, (\d+) s before the deadline",
                       start=mark, timeout=20)
        lag = time.monotonic() - t0
        tap.ok(int(m.group(2)) > 0, "empty, before the deadline: %s" % m.group(0).split(": ", 2)[2])
        tap.diag("from the last task stopped to 'empty' in the log: %.2f s" % lag)
        env = hook_env(d)
        tap.eq((env.get("ECS_HOSTD_FOLLOW_RESULT"), env.get("ECS_HOSTD_TASKS_LEFT"),
                env.get("ECS_HOSTD_TASKS_LEFT_ARNS"), env.get("ECS_HOSTD_EVENT_KIND")),
               ("empty", "0", "", "spot"), "the empty hook ran with the outcome")
        tap.ok(int(env.get("ECS_HOSTD_SECONDS_TO_DEADLINE", "-1")) > 0 and env.get("ECS_HOSTD_CONTAINER_INSTANCE_ARN") == arn,
               "its environment has the time left and the container instance", env)
        calls = follow_calls(s, pmark)
        tap.ok(0 < len(calls) <= 30, "the follow made %d ECS calls (budget: 5 at once, then one every 2 s)"
               % len(calls), [c["operation"] for c in calls])
        _, _, text = d.scrape()
        tap.ok(re.search(r"^ecs_hostd_drain_follows_total\{result=\"empty\"\} 1$", text, re.M)
               and re.search(r"^ecs_hostd_last_drain_time_to_empty_seconds \d", text, re.M)
               and re.search(r"^ecs_hostd_drain_tasks_left 0$", text, re.M) is None,
               "metrics: one follow ended empty, its time to empty; nothing followed any more",
               [x for x in text.splitlines() if "follow" in x or "tasks_left" in x or "to_empty" in x])
        with open(os.path.join(d.datadir, "notices.json")) as f:
            ledger = json.load(f)["notices"]
        tap.ok(ledger and ledger[0].get("follow") == "empty" and ledger[0].get("drainedAt"),
               "the ledger remembers the follow is over", ledger)
        tap.ok(d.stop() == 0, "it stops normally")


def deadline(tap, moto):
    with harness.Stack(cluster="follow", moto=moto) as s:
        d = s.daemon(config={"ECS_HOSTD_MODE": "register"})
        d.configure({"ECS_HOSTD_EMPTY_HOOK": empty_hook(d)})
        d.start()
        arn = setup(s, d)
        web = run_tasks(s, arn, "service:web", "web", 2)
        stuck = run_tasks(s, arn, None, "api", 1)[0]  # a standalone task: the drain does not stop it
        mark = d.mark()
        spot(s, 36)
        d.wait_log(r": 3 tasks left", start=mark)
        for t in web:  # a burst
            stop(s, t)
        m = d.wait_log(r"\[warn\]: spot terminate at \S+: 1 task left (\d+) s before the deadline: family:api x1",
                       start=mark, timeout=30)
        tap.ok(25 <= int(m.group(1)) <= 30, "30 s before the deadline: what is left, by group", m.group(0))
        m = d.wait_log(r"\[warn\]: spot terminate at \S+: 1 task still running at the deadline: "
                       r"family:api x1 \((\S+)\)", start=mark, timeout=40)
        tap.eq(m.group(1), stuck, "at the deadline: the task that held the host, by ARN")
        env = hook_env(d)
        tap.eq((env.get("ECS_HOSTD_FOLLOW_RESULT"), env.get("ECS_HOSTD_TASKS_LEFT"),
                env.get("ECS_HOSTD_TASKS_LEFT_GROUPS"), env.get("ECS_HOSTD_TASKS_LEFT_ARNS")),
               ("deadline", "1", "family:api x1", stuck), "the empty hook: deadline, and who was left")
        _, _, text = d.scrape()
        tap.ok(re.search(r"^ecs_hostd_drain_follows_total\{result=\"deadline\"\} 1$", text, re.M),
               "metrics: one follow reached the deadline with tasks left")
        tap.ok(d.stop() == 0, "it stops normally")


def throttled_and_restarted(tap, moto):
    with harness.Stack(cluster="follow", moto=moto) as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register"})
        arn = setup(s, d)
        tasks = run_tasks(s, arn, "service:web", "web", 2)
        mark = d.mark()
        spot(s, 90)
        d.wait_log(r": 2 tasks left", start=mark)
        s.proxy.control.throttle(operation="DescribeContainerInstances", count=4)
        stop(s, tasks[0])
        d.wait_log(r": 1 task left", start=mark, timeout=40)
        tap.ok(len(s.proxy.control.requests("DescribeContainerInstances")) > 0,
               "throttled while following: it slows down and goes on (1 task left seen)")
        tap.ok(d.restart() == 0, "a restart in the middle of the drain")
        m2 = d.mark()
        d.wait_log(r"Following the drain \S+ left unfinished at the last stop", start=m2, timeout=60)
        d.wait_log(r": 1 task left \(service:web x1\)", start=m2, timeout=30)
        tap.ok(True, "the new run follows on from the ledger: 1 task left (service:web x1)")
        stop(s, tasks[1])
        d.wait_log(r"\[notice\]: spot terminate at \S+: empty after", start=m2, timeout=30)
        tap.ok(True, "and sees the host empty")
        tap.eq(len(re.findall(r"DRAINING after", d.output())), 1, "the drain itself was not sent again")
        tap.ok(d.stop() == 0, "it stops normally")


def counts_only(tap, moto):
    policy = harness.policy_without(["ecs:ListTasks", "ecs:DescribeTasks"])
    with harness.Stack(cluster="follow", moto=moto, policy=policy) as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register"})
        arn = setup(s, d)
        tasks = run_tasks(s, arn, "service:web", "web", 2)
        mark = d.mark()
        spot(s, 60)
        d.wait_log(r": 2 tasks left \(2 running, 0 pending\)", start=mark)
        tap.ok(True, "without ecs:ListTasks: the counts, not the names")
        for t in tasks:
            stop(s, t)
        d.wait_log(r"empty after", start=mark, timeout=30)
        said = re.findall(r"following the drain by counts only", d.output()[mark:])
        tap.eq(len(said), 1, "the missing permission is said once")
        tap.ok("ecs:ListTasks" in d.output()[mark:], "naming the action to allow")
        tap.ok(d.stop() == 0, "it stops normally")


def journal(tap, moto):
    """The story's lines carry their fields to the journal: the daemon runs
    with a journal of its own (tests/lib/journal_catcher.py serves the
    native socket in a private mount namespace)."""
    catcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "journal_catcher.py")
    with harness.Stack(cluster="follow", moto=moto) as s:
        jpath = os.path.join(tempfile.mkdtemp(prefix="hostd-journal-"), "journal.jsonl")
        wrapper = ["unshare", "-m", "--propagation", "private", sys.executable, catcher, jpath, "--"]
        d = s.daemon(config={"ECS_HOSTD_MODE": "register"}, wrapper=wrapper)
        d.start()
        arn = setup(s, d)
        tasks = run_tasks(s, arn, "service:web", "web", 2)
        mark = d.mark()
        spot(s, 60)
        d.wait_log(r": 2 tasks left", start=mark)
        for t in tasks:
            stop(s, t)
        d.wait_log(r"empty after", start=mark, timeout=20)
        tap.ok(d.stop() == 0, "it stops normally (journal on)")
        with open(jpath) as f:
            entries = [json.loads(x) for x in f if x.strip()]
        by = {}
        for e in entries:
            by.setdefault(e.get("ECS_HOSTD_EVENT"), []).append(e)
        first = (by.get("follow") or [{}])[0]
        tap.ok(first.get("ECS_HOSTD_TASKS_LEFT") == "2"
               and 0 < int(first.get("ECS_HOSTD_SECONDS_TO_DEADLINE", "-1")) <= 60
               and first.get("ECS_HOSTD_EVENT_ID", "").startswith("spot/terminate/")
               and "2 tasks left (service:web x2)" in first.get("MESSAGE", ""),
               "journal: the first follow line with its event id, tasks left and seconds to the deadline", first)
        empty = (by.get("empty") or [{}])[0]
        tap.ok(empty.get("ECS_HOSTD_TASKS_LEFT") == "0" and empty.get("PRIORITY") == "5"
               and empty.get("ECS_HOSTD_EVENT_ID") == first.get("ECS_HOSTD_EVENT_ID")
               and "empty after" in empty.get("MESSAGE", ""),
               "journal: the empty line, notice level, same event id, no task left", empty)
        tap.ok(len(by.get("drained", [])) == 1, "journal: the drain line carries ECS_HOSTD_EVENT=drained",
               sorted(k for k in by if k))


def main(tap):
    with harness.MotoServer() as moto:
        empties(tap, moto)
        deadline(tap, moto)
        throttled_and_restarted(tap, moto)
        counts_only(tap, moto)
        journal(tap, moto)
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


harness.run_tests(main)
