#!/usr/bin/env python3
"""An Auto Scaling lifecycle hook held and released on the host: with
ECS_HOSTD_ASG_LIFECYCLE_HOOK set, an Auto Scaling Terminated notice drains
the host, the drain is followed, RecordLifecycleActionHeartbeat holds the
hook while tasks remain, and CompleteLifecycleAction CONTINUE releases it
once the host is empty or ECS_HOSTD_ASG_DRAIN_TIMEOUT has passed.  moto
(IAM on) checks every signature and the policy; the proxy in front of it
answers the two lifecycle actions moto lacks, validated against botocore's
model, and records them.  Tasks are started with `aws ecs run-task` and
stopped by the test, as ECS would.

- released only after the last task stopped, heartbeats meanwhile and
  none after; the ledger and the metrics say so;
- a task that never stops: released at the timeout all the same;
- a restart in the middle: the follow resumes and the hook is released
  once;
- no hook configured: no Auto Scaling call at all."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

GROUP, HOOK = "web-asg", "ecs-drain"
COMPLETE, HEARTBEAT = "CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"


def hooked(s, **extra):
    cfg = {"ECS_HOSTD_MODE": "register", "ECS_HOSTD_ASG_LIFECYCLE_HOOK": HOOK, "ECS_HOSTD_ASG_NAME": GROUP,
           "AWS_ENDPOINT_URL_AUTO_SCALING": s.proxy.url, "ECS_HOSTD_ASG_HEARTBEAT_INTERVAL": "5s"}
    cfg.update(extra)
    return s.daemon(config=cfg)


def setup(s, d):
    arn = d.wait_log(r"Joined ECS cluster \S+ as (\S+)", timeout=60).group(1)
    for family in ("web", "api"):
        s.register_task_definition(family)
    s.proxy.control.clear_lifecycle_actions()
    s.proxy.control.add_lifecycle_action(GROUP, HOOK, s.instance.instance_id)
    return arn


def run_tasks(s, family, count, group=None):
    return s.run_tasks(family, count, group)


def stop(s, task):
    s.stop_task(task)


def calls(s, op, since=0):
    return [e for e in s.proxy.control.log(since=since) if e.get("operation") == op]


def action(s):
    return s.proxy.control.lifecycle_actions()[0]


def ledger(d):
    with open(os.path.join(d.datadir, "notices.json")) as f:
        return json.load(f)["notices"]


def released_when_empty(tap, moto):
    with harness.Stack(cluster="asg-hook", moto=moto) as s:
        d = hooked(s)
        d.start()
        setup(s, d)
        tasks = run_tasks(s, "web", 2, "service:web")
        mark, pmark = d.mark(), s.proxy.control.log_mark()
        s.imds.control.asg_state("Terminated")
        d.wait_log(r"asg Terminated at \S+: 2 tasks left \(service:web x2\)", start=mark)
        d.wait_log(r"Holding Auto Scaling lifecycle hook %s" % HOOK, start=mark)
        harness.wait_until(lambda: action(s)["heartbeats"] >= 2, 20, what="two heartbeats")
        beats = calls(s, HEARTBEAT, pmark)
        tap.ok(len(beats) >= 2 and action(s)["state"] == "pending" and not calls(s, COMPLETE, pmark),
               "held while the tasks remain: heartbeats, no release", action(s))
        gaps = [b["time"] - a["time"] for a, b in zip(beats, beats[1:])]
        tap.ok(all(4.0 <= g <= 7.0 for g in gaps), "a heartbeat every 5 s (ECS_HOSTD_ASG_HEARTBEAT_INTERVAL)", gaps)
        tap.eq(beats[0].get("params", {}).get("AutoScalingGroupName"), GROUP, "for the configured group")
        stop(s, tasks[0])
        d.wait_log(r": 1 task left", start=mark, timeout=20)
        tap.ok(not calls(s, COMPLETE, pmark), "one task left: still held")
        stop(s, tasks[1])
        last_stop = time.time()
        d.wait_log(r"empty after", start=mark, timeout=20)
        done = s.proxy.control.wait_request(COMPLETE, since=pmark, timeout=20)
        tap.ok(done[0]["time"] >= last_stop and done[0].get("params", {}).get("LifecycleActionResult") == "CONTINUE"
               and done[0].get("params", {}).get("InstanceId") == s.instance.instance_id,
               "released with CONTINUE for this instance, after the last task stopped",
               (done[0].get("params"), done[0]["time"] - last_stop))
        tap.eq((action(s)["state"], action(s).get("result")), ("completed", "CONTINUE"), "the hook lets go")
        harness.wait_until(lambda: ledger(d)[0].get("release"), 10, what="the ledger's release")
        tap.eq((ledger(d)[0].get("follow"), ledger(d)[0].get("release")), ("empty", "done"),
               "the ledger: followed to empty, released")
        n = action(s)["heartbeats"]
        time.sleep(6)
        tap.ok(action(s)["heartbeats"] == n and len(calls(s, COMPLETE, pmark)) == 1,
               "no heartbeat after the release, and one release", action(s))
        _, _, text = d.scrape()
        tap.ok(re.search(r'^ecs_hostd_asg_lifecycle_actions_total\{action="complete",outcome="done"\} 1$', text, re.M)
               and re.search(r'^ecs_hostd_asg_lifecycle_actions_total\{action="heartbeat",outcome="done"\} [2-9]', text,
                             re.M),
               "metrics: the heartbeats and the release, by outcome",
               [x for x in text.splitlines() if "asg_lifecycle" in x])
        tap.ok(d.stop() == 0, "it stops normally")


def released_at_timeout(tap, moto):
    with harness.Stack(cluster="asg-hook", moto=moto) as s:
        d = hooked(s, ECS_HOSTD_ASG_DRAIN_TIMEOUT="1m")
        d.start()
        setup(s, d)
        stuck = run_tasks(s, "api", 1)[0]
        mark, pmark = d.mark(), s.proxy.control.log_mark()
        s.imds.control.asg_state("Terminated")
        d.wait_log(r"asg Terminated at \S+: 1 task left", start=mark)
        t0 = time.time()
        m = d.wait_log(r"1 task still running at the deadline: family:api x1 \((\S+)\)", start=mark, timeout=80)
        took = time.time() - t0
        tap.ok(m.group(1) == stuck and 50 <= took <= 70,
               "the deadline is ECS_HOSTD_ASG_DRAIN_TIMEOUT after the drain, naming the task (%.0f s)" % took)
        done = s.proxy.control.wait_request(COMPLETE, since=pmark, timeout=20)
        tap.ok(done and action(s)["state"] == "completed" and action(s)["heartbeats"] >= 8,
               "released at the timeout all the same, after heartbeats all along", action(s))
        harness.wait_until(lambda: ledger(d)[0].get("release"), 10, what="the ledger's release")
        tap.eq((ledger(d)[0].get("follow"), ledger(d)[0].get("release")), ("deadline", "done"),
               "the ledger: deadline, released")
        stop(s, stuck)
        tap.ok(d.stop() == 0, "it stops normally")


def restarted(tap, moto):
    with harness.Stack(cluster="asg-hook", moto=moto) as s:
        d = hooked(s)
        d.start()
        setup(s, d)
        task = run_tasks(s, "web", 1, "service:web")[0]
        mark, pmark = d.mark(), s.proxy.control.log_mark()
        s.imds.control.asg_state("Terminated")
        d.wait_log(r"asg Terminated at \S+: 1 task left", start=mark)
        tap.ok(d.stop() == 0, "stopped in the middle of the drain")
        stop(s, task)
        mark = d.mark()
        d.start()
        d.wait_log(r"Following the drain asg/\S+ left unfinished at the last stop", start=mark, timeout=30)
        d.wait_log(r"empty after", start=mark, timeout=20)
        s.proxy.control.wait_request(COMPLETE, since=pmark, timeout=20)
        tap.eq(action(s)["state"], "completed", "after a restart: followed on to empty, and released")
        mark = d.mark()
        d.restart()
        d.wait_log(r"Joined ECS cluster", start=mark, timeout=60)
        time.sleep(3)
        tap.eq(len(calls(s, COMPLETE, pmark)), 1, "a restart after the release does not release again")
        tap.ok(d.stop() == 0, "it stops normally")


def no_hook(tap, moto):
    with harness.Stack(cluster="asg-hook", moto=moto) as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register", "AWS_ENDPOINT_URL_AUTO_SCALING": s.proxy.url})
        setup(s, d)
        task = run_tasks(s, "web", 1, "service:web")[0]
        mark, pmark = d.mark(), s.proxy.control.log_mark()
        s.imds.control.asg_state("Terminated")
        d.wait_log(r"asg Terminated at \S+: 1 task left", start=mark)
        stop(s, task)
        d.wait_log(r"empty after", start=mark, timeout=20)
        time.sleep(1)
        tap.ok(not calls(s, COMPLETE, pmark) and not calls(s, HEARTBEAT, pmark) and action(s)["state"] == "pending",
               "without ECS_HOSTD_ASG_LIFECYCLE_HOOK: followed, and no Auto Scaling call")
        tap.ok(d.stop() == 0, "it stops normally")


def main(tap):
    with harness.MotoServer() as moto:
        released_when_empty(tap, moto)
        released_at_timeout(tap, moto)
        restarted(tap, moto)
        no_hook(tap, moto)
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


harness.run_tests(main)
