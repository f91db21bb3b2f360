#!/usr/bin/env python3
"""Issue 4: the interruption watcher, against the IMDS emulator (IMDSv2
required), moto with IAM auth behind the recording proxy, and the AWS CLI."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from hostd import Host, ops  # noqa: E402

POLICY = json.load(open(os.path.join(harness.TOP, "packaging", "iam-policy.json")))
UPDATE = "UpdateContainerInstancesState"


def status_of(moto, cluster, arn):
    return moto.describe_container_instances(cluster, [arn])[0]["status"]


def activate(moto, cluster, arn):
    moto.aws("ecs", "update-container-instances-state", "--cluster", cluster, "--container-instances", arn,
             "--status", "ACTIVE")


USED_TIMES = set()


def unique_time(in_s):
    """An ISO time `in_s` seconds ahead that no earlier notice used: action
    and time are a notice's identity, and a repeat would (rightly) be taken
    for a notice already handled."""
    t = int(time.time()) + in_s
    while t in USED_TIMES:
        t += 1
    USED_TIMES.add(t)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def spot(ctl, action="terminate", in_s=120):
    return ctl.spot_notice(action, time=unique_time(in_s))


def updates(proxy, since=0, status=None):
    return [e for e in ops(proxy, UPDATE, since) if status is None or e["json"].get("status") == status]


HOOK = """#!/bin/sh
{ echo "kind=$ECS_HOSTD_EVENT_KIND action=$ECS_HOSTD_EVENT_ACTION result=$ECS_HOSTD_DRAIN_RESULT"
  echo "cluster=$ECS_HOSTD_CLUSTER arn=$ECS_HOSTD_CONTAINER_INSTANCE_ARN"
  echo "id=$ECS_HOSTD_EVENT_ID time=$ECS_HOSTD_EVENT_TIME deadline=$ECS_HOSTD_DEADLINE"; } >> "%s"
echo "hook says hello"
%s
"""


def write_hook(path, log, tail=""):
    with open(path, "w") as f:
        f.write(HOOK % (log, tail))
    os.chmod(path, 0o755)


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, \
            harness.AwsProxy(moto.endpoint) as proxy:
        inst = moto.run_instance(instance_type="m5.large")
        _, creds = moto.role_credentials("hostd-role", POLICY)
        imds.serve_instance(inst, role="hostd-role", creds=creds)
        imds.control.set_metadata({"instance-life-cycle": "spot"})
        moto.create_cluster("spot")
        ctl = imds.control

        h = Host(imds, proxy, ECS_CLUSTER="spot", ECS_HOSTD_MODE="register", ECS_HOSTD_POLL_INTERVAL_MS="200")
        hooklog = os.path.join(h.dir, "hook.log")
        write_hook(os.path.join(h.dir, "hook.sh"), hooklog)
        h.keys["ECS_HOSTD_DRAIN_HOOK"] = os.path.join(h.dir, "hook.sh")
        h.start()
        h.wait(r"Joined ECS cluster spot as (\S+)")
        arn = re.search(r"Joined ECS cluster spot as (\S+)", h.output()).group(1)
        h.wait(r"Watching IMDS every 200 ms")

        # ---- Spot terminate: one drain, one hook, many polls -----------------
        mark, since = h.mark(), proxy.control.log_mark()
        spot(ctl, "terminate")
        h.wait(r"spot terminate at \S+ \(in 1[0-2]\d s\): container instance %s DRAINING after [0-9.]+ s" % re.escape(arn),
               start=mark)
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "a Spot notice drains: the AWS CLI sees DRAINING")
        h.wait(r"Drain hook for spot/terminate/\S+ finished", start=mark)
        time.sleep(1.5)  # more polls of the same notice
        tap.eq(len(updates(proxy, since)), 1, "the same notice over many polls: one UpdateContainerInstancesState")
        body = updates(proxy, since)[0]["json"] if updates(proxy, since) else {}
        tap.eq(body, {"cluster": "spot", "containerInstances": [arn], "status": "DRAINING"}, "the request names this instance")
        lines = open(hooklog).read().splitlines() if os.path.exists(hooklog) else []
        tap.eq(len(lines), 3, "the hook ran once")
        tap.ok(lines and lines[0] == "kind=spot action=terminate result=confirmed", "hook env: kind, action, result", lines)
        tap.ok(len(lines) > 1 and lines[1] == "cluster=spot arn=%s" % arn, "hook env: cluster and ARN", lines)
        tap.ok(len(lines) > 2 and re.match(r"id=spot/terminate/\S+ time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ deadline=\S+Z$", lines[2]),
               "hook env: id, notice time, deadline", lines)
        tap.match(r"Drain hook \[\d+\] for spot/terminate/\S+: hook says hello", h.output(), "the hook's output is logged")
        polls = [e for e in ctl.log() if e["path"] == "/latest/meta-data/spot/instance-action"]
        tap.ok(all(e["token"] for e in polls) and len({e["conn"] for e in polls}) <= 2,
               "polls carry the IMDSv2 token on one reused connection", {e["conn"] for e in polls})

        # ---- restart mid-notice: remembered, no second hook ----------------
        tap.eq(h.stop(), 0, "stopped during the notice")
        since = proxy.control.log_mark()
        run_since, run_t0 = since, time.time()
        h.start()
        run_mark = h.mark()
        h.wait(r"Remembering spot notice spot/terminate/")
        time.sleep(1.5)
        tap.eq(len(open(hooklog).read().splitlines()), 3, "after a restart mid-notice the hook does not run again")
        tap.eq(updates(proxy, since), [], "and the confirmed drain is not sent again")

        # ---- a new notice (another action and time) is handled anew ---------
        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        spot(ctl, "hibernate", 60)
        h.wait(r"spot hibernate at .*DRAINING after", start=mark)
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "hibernate drains too")
        h.wait(r"Drain hook for spot/hibernate/\S+ finished", start=mark)
        tap.eq(len(open(hooklog).read().splitlines()), 6, "a new notice runs the hook anew")
        ctl.withdraw_spot()

        # ---- garbage and odd inputs ------------------------------------------
        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        ctl.fault(kind="body", status=200, path="/latest/meta-data/spot/instance-action", count=3,
                  body='{"action": "terminate", "time": "soon"}')
        h.wait(r"Ignoring a garbled answer: spot/instance-action", start=mark)
        time.sleep(0.8)
        tap.ok(h.proc.alive() and updates(proxy, since) == [], "garbage in instance-action is logged, never drains, never crashes")
        ctl.fault(kind="body", status=200, path="/latest/meta-data/spot/instance-action", count=1,
                  body='{"action": "reboot", "time": "%s"}' % unique_time(90))
        h.wait(r"spot terminate at .*DRAINING", start=mark)
        tap.match(r"unknown|reboot", h.output()[mark:], "an unknown action is taken as terminate, with a warning")

        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        spot(ctl, "terminate", -30)
        h.wait(r"spot terminate at .*\(in 0 s\).*DRAINING", start=mark)
        tap.ok(True, "a notice whose time is already past still drains")
        ctl.withdraw_spot()

        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        ctl.set_termination_time(-60)
        time.sleep(1.2)
        tap.eq(updates(proxy, since), [], "a lingering past termination-time alone does not drain")
        ctl.set_termination_time(unique_time(100))
        h.wait(r"spot terminate at .*DRAINING", start=mark)
        tap.ok(True, "a future termination-time drains when instance-action is silent")
        ctl.clear_termination_time()

        # ---- rebalance: reported, not drained (default) ----------------------
        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        ctl.rebalance()
        h.wait(r"rebalance recommendation at .*reported only \(not in ECS_HOSTD_DRAIN_ON\)", start=mark)
        time.sleep(0.8)
        tap.eq(updates(proxy, since), [], "a rebalance recommendation is reported, not drained, by default")
        ctl.withdraw_rebalance()

        # ---- Auto Scaling: drain, then undo when back InService --------------
        mark, since = h.mark(), proxy.control.log_mark()
        ctl.asg_state("Terminated")
        h.wait(r"asg Terminated at .*DRAINING after", start=mark)
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "an ASG Terminated lifecycle drains")
        ctl.asg_state("InService")
        h.wait(r"asg Terminated withdrawn: container instance \S+ is ACTIVE again", start=mark)
        tap.eq(status_of(moto, "spot", arn), "ACTIVE", "back InService: the drain ecs-hostd made is undone")
        ctl.fault(kind="body", status=200, path="/latest/meta-data/autoscaling/target-lifecycle-state", count=2, body="Banana")
        h.wait(r"Ignoring a garbled answer: autoscaling/target-lifecycle-state", start=mark)
        tap.eq(status_of(moto, "spot", arn), "ACTIVE", "a junk lifecycle state changes nothing")
        ctl.clear_asg_state()

        # ---- maintenance: instance-stop drains; canceled, undone -------------
        mark, since = h.mark(), proxy.control.log_mark()
        ev = ctl.add_maintenance(code="system-reboot", not_before=3600)
        time.sleep(1.0)
        tap.eq(updates(proxy, since), [], "a system-reboot event does not drain (not in the default codes)")
        ev = ctl.add_maintenance(code="instance-stop", not_before=7200)
        h.wait(r"maintenance instance-stop at .*DRAINING after", start=mark)
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "an instance-stop event drains at once (no lead set)")
        ctl.cancel_maintenance(ev["EventId"] if isinstance(ev, dict) and "EventId" in ev else ev.get("event", {}).get("EventId"))
        h.wait(r"maintenance instance-stop withdrawn: container instance \S+ is ACTIVE again", start=mark)
        tap.eq(status_of(moto, "spot", arn), "ACTIVE", "a canceled event undoes the drain")
        ctl.clear_maintenance()

        # ---- IMDS trouble around a notice ------------------------------------
        activate(moto, "spot", arn)
        mark = h.mark()
        ctl.fault(kind="status", status=500, path="/latest/meta-data/spot/instance-action", count=4)
        ctl.fault(kind="status", status=429, path="/latest/meta-data/spot/instance-action", count=3)
        ctl.expire_tokens()
        spot(ctl, "terminate", 115)
        h.wait(r"spot terminate at .*DRAINING after", start=mark, timeout=30)
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "500 and 429 bursts and an expired token around the notice: still drained")
        ctl.withdraw_spot()

        # ---- IMDS failing for several polls: said once, and when it is back --
        mark = h.mark()
        ctl.fault(kind="status", status=500, path="/latest/meta-data/spot/instance-action", count=24)
        h.wait(r"Cannot read Spot notices from IMDS for 3 polls in a row, so notices may be missed; "
               r"retrying every poll\. Last error: IMDS GET /latest/meta-data/spot/instance-action: HTTP 500",
               start=mark, timeout=30)
        h.wait(r"IMDS answers again: Spot notices are read after [3-9] failed polls", start=mark, timeout=30)
        tap.eq(h.output()[mark:].count("Cannot read Spot notices"), 1,
               "a blind watcher is reported once, then its recovery")

        # ---- ECS throttled three times ---------------------------------------
        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        proxy.control.throttle(UPDATE, 3)
        spot(ctl, "terminate", 110)
        h.wait(r"spot terminate at .*DRAINING after", start=mark)
        tap.eq([e["status"] for e in updates(proxy, since)], [400, 400, 400, 200], "throttled three times, confirmed on the fourth")
        ctl.withdraw_spot()

        # ---- ECS unreachable until shortly before the deadline ---------------
        activate(moto, "spot", arn)
        mark, since = h.mark(), proxy.control.log_mark()
        proxy.control.set_down(True)
        spot(ctl, "terminate", 12)
        time.sleep(6)
        tap.ok(len(updates(proxy, since)) >= 4, "while ECS is unreachable attempts keep coming", len(updates(proxy, since)))
        proxy.control.set_down(False)
        h.wait(r"spot terminate at .*DRAINING after", start=mark, timeout=15)
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "ECS back before the deadline: drained")
        ctl.withdraw_spot()

        # ---- AccessDenied, then the policy is fixed --------------------------
        activate(moto, "spot", arn)
        weak = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action":
                [a for a in POLICY["Statement"][0]["Action"] if a != "ecs:" + UPDATE]}]}
        moto.put_role_policy("hostd-role", weak)
        mark = h.mark()
        spot(ctl, "terminate", 100)
        h.wait(r"Cannot drain container instance .*ecs:UpdateContainerInstancesState.*retrying every 10 s", start=mark)
        moto.put_role_policy("hostd-role", POLICY)
        h.wait(r"spot terminate at .*DRAINING after", start=mark, timeout=20)
        tap.ok(h.output()[mark:].count("Cannot drain container instance") == 1,
               "AccessDenied is logged loudly once, retried slowly, and drains once the policy allows it")
        ctl.withdraw_spot()
        tap.eq(h.stop(), 0, "stopped")
        run = h.output()[run_mark:]
        m = re.search(r"Interruption watcher stopped after (\d+) polls \((\d+) skipped while the previous one ran\): "
                      r"(\d+) failed or garbled IMDS reads, (\d+) notices, (\d+) drains confirmed, (\d+) ECS calls", run)
        tap.ok(m, "the watcher's counters are logged when it stops")
        if m:
            polls, skipped, failed, notices, drained, calls = (int(x) for x in m.groups())
            ticks = (time.time() - run_t0) / 0.2
            tap.ok(ticks / 3 < polls + skipped <= ticks + 1, "counted polls match the 200 ms rhythm", (polls, skipped, ticks))
            tap.ok(failed >= 5, "failed and garbled reads are counted", failed)
            tap.eq(drained, run.count("DRAINING after"), "drains confirmed: as many as the log announced")
            # curl sends a request again on a fresh connection when a reused
            # one dies under it (ECS "down"): one call, two requests.
            sent = updates(proxy, run_since)
            answered = [e for e in sent if e["status"] is not None]
            tap.ok(len(answered) <= calls <= len(sent), "ECS calls: as many as the endpoint answered, at most as many as it saw",
                   (calls, len(answered), len(sent)))
            tap.ok(notices >= drained, "notices counted", (notices, drained))

        # ---- dry run ----------------------------------------------------------
        activate(moto, "spot", arn)
        dry = Host(imds, proxy, ECS_CLUSTER="spot", ECS_HOSTD_MODE="register", ECS_HOSTD_POLL_INTERVAL_MS="200",
                   ECS_HOSTD_DRY_RUN="true", ECS_HOSTD_DATADIR=h.keys["ECS_HOSTD_DATADIR"] + "-dry",
                   ECS_HOSTD_DRAIN_HOOK=h.keys["ECS_HOSTD_DRAIN_HOOK"])
        hook_lines = len(open(hooklog).read().splitlines())
        dry.start()
        dry.wait(r"Joined ECS cluster spot")
        since = proxy.control.log_mark()
        spot(ctl, "terminate", 100)
        dry.wait(r"Dry run: would set container instance \S+ to DRAINING")
        dry.wait(r"Dry run: would run the drain hook")
        time.sleep(0.5)
        tap.ok(updates(proxy, since) == [] and status_of(moto, "spot", arn) == "ACTIVE",
               "dry run: logged, nothing changed in ECS")
        tap.eq(len(open(hooklog).read().splitlines()), hook_lines, "dry run: the hook does not run")
        dry.stop()
        ctl.withdraw_spot()

        # ---- the hook's time limit and failure; polling goes on -------------
        slow = os.path.join(h.dir, "slow-hook.sh")
        write_hook(slow, os.path.join(h.dir, "slow.log"), "sleep 30")
        bad = os.path.join(h.dir, "bad-hook.sh")
        write_hook(bad, os.path.join(h.dir, "bad.log"), "exit 3")
        h2 = Host(imds, proxy, ECS_CLUSTER="spot", ECS_HOSTD_MODE="register", ECS_HOSTD_POLL_INTERVAL_MS="200",
                  ECS_HOSTD_DATADIR=h.keys["ECS_HOSTD_DATADIR"] + "-hook", ECS_HOSTD_DRAIN_HOOK=slow,
                  ECS_HOSTD_DRAIN_HOOK_TIMEOUT="2s")
        h2.start()
        h2.wait(r"Joined ECS cluster spot")
        spot(ctl, "terminate", 100)
        h2.wait(r"DRAINING after")
        h2.wait(r"Running the drain hook")
        t0 = ctl.log_mark()
        h2.proc.send_signal(signal.SIGHUP)  # a reload while the hook runs
        h2.wait(r"Configuration reloaded")
        h2.wait(r"Drain hook for \S+ exceeded its time limit; killing it", timeout=10)
        polled = [e for e in ctl.log(t0) if e["path"] == "/latest/meta-data/spot/instance-action"]
        tap.ok(len(polled) >= 5, "polling goes on while the hook runs", len(polled))
        h2.wait(r"Drain hook for \S+ was killed by signal 9")
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "a hook past its time limit is killed; the drain stands")
        zombies = [l for l in harness.subprocess.run(["ps", "--ppid", str(h2.proc.pid), "-o", "stat="],
                                                     capture_output=True, text=True).stdout.split() if l.startswith("Z")]
        tap.eq(zombies, [], "a hook that outlived a reload is still reaped")
        h2.stop()
        ctl.withdraw_spot()
        activate(moto, "spot", arn)
        h2.keys.update(ECS_HOSTD_DRAIN_HOOK=bad, ECS_HOSTD_DATADIR=h.keys["ECS_HOSTD_DATADIR"] + "-bad")
        h2.start()
        h2.wait(r"Joined ECS cluster spot")
        spot(ctl, "terminate", 100)
        h2.wait(r"Drain hook for \S+ failed with exit status 3")
        tap.eq(status_of(moto, "spot", arn), "DRAINING", "a failing hook does not affect the drain")
        h2.stop()
        ctl.withdraw_spot()

        # ---- ECS slow: polling keeps its rhythm -------------------------------
        activate(moto, "spot", arn)
        h2.keys.update(ECS_HOSTD_DRAIN_HOOK=None, ECS_HOSTD_DATADIR=h.keys["ECS_HOSTD_DATADIR"] + "-slow")
        h2.start()
        h2.wait(r"Joined ECS cluster spot")
        proxy.control.fault("delay", UPDATE, 1, delay_ms=3000)
        spot(ctl, "terminate", 100)
        t0 = ctl.log_mark()
        h2.wait(r"DRAINING after [3-9]\.", timeout=15)
        polled = [e["time"] for e in ctl.log(t0) if e["path"] == "/latest/meta-data/spot/instance-action"]
        gaps = [b - a for a, b in zip(polled, polled[1:])]
        tap.ok(len(polled) >= 10 and max(gaps) < 0.6, "a slow ECS call never delays the next poll",
               "%d polls, largest gap %.2f s" % (len(polled), max(gaps) if gaps else -1))
        h2.stop()
        ctl.withdraw_spot()

        # ---- companion mode with the official agent's registration ----------
        moto.create_cluster("prod")
        doc = json.dumps({"instanceId": inst.instance_id, "region": "us-east-1", "availabilityZone": inst.availability_zone})
        agent_arn = moto.ecs("RegisterContainerInstance", cluster="prod", instanceIdentityDocument=doc)["containerInstance"]["containerInstanceArn"]
        with harness.AgentIntrospection(cluster="prod", arn=agent_arn) as agent:
            c = Host(imds, proxy, ECS_CLUSTER="prod", ECS_HOSTD_MODE="companion", ECS_HOSTD_POLL_INTERVAL_MS="200",
                     ECS_AGENT_INTROSPECTION_URL=agent.metadata_url)
            c.start()
            c.wait(r"Joined ECS cluster prod as %s \(companion mode\)" % re.escape(agent_arn))
            spot(ctl, "terminate", 100)
            c.wait(r"spot terminate at .*container instance %s DRAINING" % re.escape(agent_arn))
            tap.eq(status_of(moto, "prod", agent_arn), "DRAINING", "companion mode drains the official agent's registration")
            c.stop()
            ctl.withdraw_spot()
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
