#!/usr/bin/env python3
"""The daemon's lifecycle-hook requests (agent/asg-lifecycle.c): this
instance (from IMDS's identity document), the configured hook, the group
from ECS_HOSTD_ASG_NAME or the instance's tag, one attempt at a time with
the module's own retries, one outcome per request, logged once.  Against
moto with IAM auth behind the proxy that answers the lifecycle actions once
moto has verified the signature and the policy; aws-tool asg-lifecycle
drives the module as the daemon builds it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

GROUP, HOOK, ROLE = "web-asg", "ecs-drain", "ecs-hostd-asg"
COMPLETE, HEARTBEAT = "CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, \
            harness.AwsProxy(moto.endpoint) as proxy:
        policy = harness.host_policy()
        inst = moto.run_instance(instance_type="m5.large")
        _, creds = moto.role_credentials(ROLE, policy)
        imds.serve_instance(inst, role=ROLE, creds=creds)
        ctl = proxy.control
        base = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_ENDPOINT_URL_AUTO_SCALING": proxy.url,
                "ECS_HOSTD_ASG_LIFECYCLE_HOOK": HOOK, "ECS_LOGLEVEL": "info"}
        secrets = [creds.secret_access_key, creds.session_token]

        def tool(*args, env=None):
            e = dict(base, **(env or {}))
            p, r = harness.aws_tool({k: v for k, v in e.items() if v is not None}, "asg-lifecycle", *args)
            if any(s and (s in p.stdout or s in p.stderr) for s in secrets):
                tap.ok(False, "no secret in the output or the log")
            return p, r

        def fresh(hook=HOOK):
            ctl.clear_faults()
            ctl.clear_log()
            ctl.clear_lifecycle_actions()
            return ctl.add_lifecycle_action(GROUP, hook, inst.instance_id)

        # Released: the group from the tag, the instance from the identity document.
        imds.control.set_asg_group(GROUP)
        fresh()
        p, r = tool("complete")
        log = ctl.log()
        e = log[0] if log else {}
        tap.ok(p.returncode == 0 and r.get("outcome") == "done" and r.get("attempts") == 1 and r.get("group") == GROUP,
               "complete: done in one attempt, the group read from the instance's tag", (r, p.stderr[-500:]))
        tap.eq(e.get("params"), {"Action": COMPLETE, "Version": "2011-01-01", "AutoScalingGroupName": GROUP,
                                 "LifecycleHookName": HOOK, "InstanceId": inst.instance_id,
                                 "LifecycleActionResult": "CONTINUE"},
               "CONTINUE for this instance (identity document), the configured hook, the tag's group")
        tap.ok(len(log) == 1 and e.get("answered_by") == "proxy" and e.get("upstream_status") == 500,
               "the signed request passed moto's signature and IAM checks before the proxy answered",
               [(x["answered_by"], x.get("upstream_status")) for x in log])
        tap.eq(ctl.lifecycle_actions()[0]["state"], "completed", "the held action is released")
        tap.ok("lifecycle hook %s released for %s in group %s" % (HOOK, inst.instance_id, GROUP) in p.stderr,
               "the log says the hook was released, for which instance and group", p.stderr[-400:])

        # Nothing waiting any more: a clear, final outcome, one request, not retried.
        ctl.clear_log()
        p, r = tool("complete", "30")
        tap.ok(p.returncode == 1 and r.get("outcome") == "no_action" and r.get("attempts") == 1
               and r.get("code") == "ValidationError" and len(ctl.log()) == 1,
               "completed already: no_action after one request, though 30 s were allowed", r)
        lines = [x for x in p.stderr.splitlines() if "found no lifecycle action waiting" in x]
        tap.ok(len(lines) == 1 and "No active Lifecycle Action found with instance ID " + inst.instance_id in lines[0]
               and "not retried" in lines[0], "logged once, with AWS's words, as not retried", p.stderr[-600:])

        # A heartbeat, the group from ECS_HOSTD_ASG_NAME (tags off): no IMDS tag read needed.
        imds.control.set_tags({}, enabled=False)
        fresh()
        p, r = tool("heartbeat", env={"ECS_HOSTD_ASG_NAME": GROUP})
        tap.ok(p.returncode == 0 and r.get("outcome") == "done" and ctl.lifecycle_actions()[0]["heartbeats"] == 1
               and ctl.log()[-1]["params"].get("AutoScalingGroupName") == GROUP,
               "heartbeat: done, the group from ECS_HOSTD_ASG_NAME", (r, p.stderr[-300:]))

        # No group at all: said, and nothing sent.
        ctl.clear_log()
        p, r = tool("complete")
        tap.ok(p.returncode == 1 and r.get("outcome") == "no_group" and r.get("attempts") == 0 and ctl.log() == []
               and "ECS_HOSTD_ASG_NAME" in r.get("message", ""),
               "tags off and no ECS_HOSTD_ASG_NAME: no_group, nothing sent, the message says what to set",
               (r, p.stderr[-300:]))
        imds.control.set_asg_group(GROUP)

        # A hook that holds nothing for us (a wrong name): Auto Scaling's ValidationError, final.
        fresh()
        p, r = tool("complete", "30", env={"ECS_HOSTD_ASG_LIFECYCLE_HOOK": "no-such-hook"})
        tap.ok(p.returncode == 1 and r.get("outcome") == "no_action" and len(ctl.log()) == 1
               and ctl.lifecycle_actions()[0]["state"] == "pending",
               "another hook's name: no_action at once, the real hook still held", r)
        p, r = tool("complete", env={"ECS_HOSTD_ASG_LIFECYCLE_HOOK": "ecs drain"})
        tap.ok(p.returncode == 2 and "ECS_HOSTD_ASG_LIFECYCLE_HOOK" in p.stderr and ctl.log()[-1:] == ctl.log()[:1],
               "a hook name Auto Scaling's rules refuse: a configuration error, nothing sent", p.stderr[-300:])
        fresh()
        ctl.error(COMPLETE, code="ValidationError", message="LifecycleHook not found", status=400, count=1)
        p, r = tool("complete", "30")
        tap.ok(p.returncode == 1 and r.get("outcome") == "refused" and r.get("attempts") == 1 and len(ctl.log()) == 1
               and "LifecycleHook not found" in r.get("message", ""),
               "another ValidationError: refused, one request, AWS's message passed on", r)

        # Throttling: the module's own retries (the client makes one attempt per call).
        fresh()
        ctl.throttle(COMPLETE, count=2)
        p, r = tool("complete", "30")
        log = ctl.log()
        tap.ok(p.returncode == 0 and r.get("outcome") == "done" and r.get("attempts") == 3
               and [x["status"] for x in log] == [400, 400, 200],
               "throttled twice, then done: three attempts", (r, [x["status"] for x in log]))
        waited = log[-1]["time"] - log[0]["time"] if len(log) == 3 else 0
        tap.ok(1.3 < waited < 4, "spaced 0.5 s then 1 s", "%.2f s" % waited)
        tap.eq(sum("; retrying" in x for x in p.stderr.splitlines()), 1, "one retry warning, not one per attempt")
        fresh()
        ctl.throttle(HEARTBEAT, count=None)
        p, r = tool("heartbeat", "2")
        tap.ok(p.returncode == 1 and r.get("outcome") == "gave_up" and r.get("attempts") == len(ctl.log()) >= 2,
               "throttled throughout a 2 s budget: gave_up", (r, len(ctl.log())))

        # The policy without the action: said loudly once, retried every 10 s, then the end.
        moto.put_role_policy(ROLE, harness.policy_without(["autoscaling:" + COMPLETE], policy))
        fresh()
        p, r = tool("complete", "11")
        log = ctl.log()
        tap.ok(p.returncode == 1 and r.get("outcome") == "denied" and r.get("attempts") == 2 and len(log) == 2
               and all(x["answered_by"] == "upstream" and x["status"] == 403 for x in log)
               and ctl.lifecycle_actions()[0]["state"] == "pending",
               "AccessDenied: two attempts 10 s apart in an 11 s budget, denied, nothing released",
               (r, [(x["answered_by"], x["status"]) for x in log]))
        told = [x for x in p.stderr.splitlines() if "the IAM policy must allow autoscaling:" + COMPLETE in x]
        tap.ok(len(told) == 1 and "Cannot send Auto Scaling " + COMPLETE in told[0],
               "the missing permission named once, though denied twice", p.stderr[-800:])
        moto.put_role_policy(ROLE, policy)

        # A bad signature: moto refuses it (after one refresh of the role's keys); never answered.
        fresh()
        bad = "wrong" + creds.secret_access_key[5:]
        secrets.append(bad)
        imds.serve_credentials(ROLE, creds.replace(secret_access_key=bad))
        p, r = tool("complete", "1")
        log = ctl.log()
        tap.ok(p.returncode == 1 and r.get("outcome") == "denied" and r.get("code") == "SignatureDoesNotMatch"
               and log and all(x["answered_by"] == "upstream" and x["status"] == 403 for x in log)
               and ctl.lifecycle_actions()[0]["state"] == "pending",
               "a wrong secret: SignatureDoesNotMatch from moto, denied, the action still held",
               (r, [(x["answered_by"], x["status"]) for x in log]))
        imds.serve_credentials(ROLE, creds)
    tap.eq(harness.children_left(), [], "no child process left")


if __name__ == "__main__":
    harness.run_tests(main)
