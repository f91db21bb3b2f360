#!/usr/bin/env python3
"""The daemon's Auto Scaling client (the Query protocol, SigV4 for service
autoscaling, credentials from IMDS, retries, errors) against moto with IAM
authentication on, behind the recording proxy, which answers the lifecycle
actions moto lacks once moto has verified the signature and the policy (see
tests/emulators/awsproxy.py).  aws-tool drives the client as the daemon
builds it (aws-clients: only with ECS_HOSTD_ASG_LIFECYCLE_HOOK set)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

GROUP, HOOK = "web-asg", "ecs-drain"
ROLE = "ecs-hostd-asg"
COMPLETE, HEARTBEAT = "CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"
KIND = {"ok": 0, "throttled": 1, "server": 2, "transport": 3, "auth": 4, "access": 5, "client": 6, "protocol": 8}


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, \
            harness.AwsProxy(moto.endpoint) as proxy, harness.FwdProxy() as fwd:
        policy = harness.host_policy()
        inst = moto.run_instance(instance_type="m5.large")
        _, creds = moto.role_credentials(ROLE, policy)
        imds.serve_instance(inst, role=ROLE, creds=creds)
        ctl = proxy.control
        base = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "AWS_ENDPOINT_URL_AUTO_SCALING": proxy.url,
                "ECS_HOSTD_ASG_LIFECYCLE_HOOK": HOOK, "ECS_LOGLEVEL": "debug"}
        secrets = [creds.secret_access_key, creds.session_token]

        def tool(*args, env=None):
            e = dict(base, **(env or {}))
            p, r = harness.aws_tool({k: v for k, v in e.items() if v is not None}, *args)
            leaked = [s for s in secrets if s and (s in p.stdout or s in p.stderr)]
            if leaked:
                tap.ok(False, "no secret in aws-tool's output", "%d leaked" % len(leaked))
            return p, r

        def fresh():
            ctl.clear_faults()
            ctl.clear_log()
            ctl.clear_lifecycle_actions()
            return ctl.add_lifecycle_action(GROUP, HOOK, inst.instance_id)

        # The IAM policy: exactly the two actions, scoped to Auto Scaling groups.
        asg_statements = [st for st in policy["Statement"] if any(a.startswith("autoscaling:") for a in st["Action"])]
        tap.eq(sorted(a for st in asg_statements for a in st["Action"]), ["autoscaling:" + COMPLETE, "autoscaling:" + HEARTBEAT],
               "packaging/iam-policy.json allows exactly autoscaling:CompleteLifecycleAction and "
               "autoscaling:RecordLifecycleActionHeartbeat")
        arn = ("arn:aws:autoscaling:us-east-1:%s:autoScalingGroup:0f6e3a2b-1c4d-4e5f-8a9b-0c1d2e3f4a5b:"
               "autoScalingGroupName/%s" % (harness.ACCOUNT_ID, GROUP))
        tap.ok(len(asg_statements) == 1 and harness.iam_resource_matches(asg_statements[0]["Resource"], arn)
               and not harness.iam_resource_matches(asg_statements[0]["Resource"],
                                                    "arn:aws:ecs:us-east-1:%s:cluster/default" % harness.ACCOUNT_ID),
               "its Resource covers the group's ARN (IAM's autoScalingGroup type) and nothing outside Auto Scaling",
               asg_statements)

        # Without the hook key the daemon makes no Auto Scaling client.
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id, env={"ECS_HOSTD_ASG_LIFECYCLE_HOOK": None})
        tap.ok(p.returncode == 1 and "no Auto Scaling client: set ECS_HOSTD_ASG_LIFECYCLE_HOOK" in p.stderr
               and ctl.log() == [], "without ECS_HOSTD_ASG_LIFECYCLE_HOOK: no client, nothing sent", p.stderr[-300:])

        # A heartbeat with the instance role's keys and the packaged policy.
        action = fresh()
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id)
        log = ctl.log()
        e = log[0] if log else {}
        tap.ok(p.returncode == 0 and r.get("error") == 0 and r.get("answer") == HEARTBEAT + "Response"
               and r.get("attempts") == 1, "RecordLifecycleActionHeartbeat succeeds with the role's keys and the policy",
               p.stdout + p.stderr[-800:])
        tap.ok(len(log) == 1 and e["answered_by"] == "proxy" and e["upstream_status"] == 500,
               "moto verified the signature and the policy first (its 500 for an action it lacks), then the proxy answered",
               [(x["answered_by"], x["upstream_status"]) for x in log])
        tap.eq(e.get("params"), {"Action": HEARTBEAT, "Version": "2011-01-01", "AutoScalingGroupName": GROUP,
                                 "LifecycleHookName": HOOK, "InstanceId": inst.instance_id},
               "the exact form fields, nothing more")
        tap.eq(e.get("body"), "Action=%s&Version=2011-01-01&AutoScalingGroupName=%s&LifecycleHookName=%s&InstanceId=%s"
               % (HEARTBEAT, GROUP, HOOK, inst.instance_id), "the body as sent, in that order")
        h = e.get("headers", {})
        tap.match(r"^AWS4-HMAC-SHA256 Credential=%s/\d{8}/us-east-1/autoscaling/aws4_request, "
                  r"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$"
                  % creds.access_key_id, h.get("authorization", ""),
                  "SigV4: the role's key, the region from IMDS, service autoscaling, the token signed")
        tap.ok(h.get("content-type") == "application/x-www-form-urlencoded; charset=utf-8"
               and h.get("x-amz-security-token") == creds.session_token and h.get("user-agent") == "ecs-hostd/0.1.0"
               and e["method"] == "POST" and e["path"] == "/",
               "POST / with the form content type, the session token, ecs-hostd's User-Agent", h)
        tap.ok(r.get("request_id") and r["request_id"] in e["response"], "the answer's RequestId reaches the caller",
               r.get("request_id"))
        tap.eq(ctl.lifecycle_actions()[0]["heartbeats"], 1, "the proxy counted the heartbeat")
        tap.eq(r.get("stats", {}).get(HEARTBEAT), {"success": 1}, "opstats: one heartbeat, success")

        # CompleteLifecycleAction CONTINUE releases the instance.
        p, r = tool("asg-complete", GROUP, HOOK, inst.instance_id, "CONTINUE")
        e = ctl.log()[-1]
        got = ctl.lifecycle_actions()[0]
        tap.ok(p.returncode == 0 and r.get("answer") == COMPLETE + "Response" and e["answered_by"] == "proxy"
               and (got["state"], got["result"]) == ("completed", "CONTINUE"),
               "CompleteLifecycleAction CONTINUE succeeds and completes the held action", p.stdout + p.stderr[-500:])
        tap.eq(e["params"], {"Action": COMPLETE, "Version": "2011-01-01", "AutoScalingGroupName": GROUP,
                             "LifecycleHookName": HOOK, "InstanceId": inst.instance_id, "LifecycleActionResult": "CONTINUE"},
               "its exact form fields")

        # Now there is none: AWS's ValidationError reaches the caller, not retried.
        mark = ctl.log_mark()
        p, r = tool("asg-complete", GROUP, HOOK, inst.instance_id, "CONTINUE")
        want = "No active Lifecycle Action found with instance ID " + inst.instance_id
        tap.ok(p.returncode == 1 and r.get("kind") == KIND["client"] and r.get("code") == "ValidationError"
               and r.get("service_message") == want and r.get("attempts") == 1 and len(ctl.log(since=mark)) == 1,
               "an action that is not there: ValidationError with AWS's message, one request", p.stdout)
        tap.eq(r.get("message"), "Auto Scaling %s: ValidationError: %s (HTTP 400)" % (COMPLETE, want),
               "the log line names the action, the code and the message")

        # By token, and ABANDON.
        fresh()
        tok = ctl.add_lifecycle_action(GROUP, HOOK, "i-0fedcba9876543210")["token"]
        p, r = tool("asg-complete", GROUP, HOOK, "-", "ABANDON", tok)
        e = ctl.log()[-1]
        tap.ok(p.returncode == 0 and e["params"].get("LifecycleActionToken") == tok and "InstanceId" not in e["params"]
               and ctl.lifecycle_actions()[1]["result"] == "ABANDON",
               "by LifecycleActionToken alone, ABANDON", (p.stdout, e["params"]))

        # The raw call: what botocore's model refuses comes back as AWS says it.
        fresh()
        p, r = tool("autoscaling", HEARTBEAT, "AutoScalingGroupName=" + GROUP, "LifecycleHookName=ecs drain",
                    "InstanceId=" + inst.instance_id)
        e = ctl.log()[-1]
        tap.ok(p.returncode == 1 and r.get("code") == "ValidationError" and e["body"].endswith(
               "LifecycleHookName=ecs+drain&InstanceId=" + inst.instance_id)
               and r.get("service_message", "").startswith("1 validation error detected: Value 'ecs drain' at "
                                                          "'lifecycleHookName' failed to satisfy constraint"),
               "a hook name with a blank ('+' on the wire, as botocore writes it): the model's ValidationError", (r, e["body"]))

        # The policy without the action: AccessDenied, naming it; not retried.
        moto.put_role_policy(ROLE, harness.policy_without(["autoscaling:" + COMPLETE], policy))
        fresh()
        p, r = tool("asg-complete", GROUP, HOOK, inst.instance_id, "CONTINUE")
        log = ctl.log()
        tap.ok(p.returncode == 1 and r.get("kind") == KIND["access"] and r.get("code") == "AccessDenied"
               and len(log) == 1 and log[0]["answered_by"] == "upstream" and log[0]["status"] == 403
               and ctl.lifecycle_actions()[0]["state"] == "pending",
               "a policy without the action: moto's AccessDenied, one request, nothing completed", p.stdout)
        tap.match(r"the IAM policy must allow autoscaling:CompleteLifecycleAction$", r.get("message", ""),
                  "the message names the missing autoscaling: action")
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id)
        tap.ok(p.returncode == 0, "the other action, still allowed, still works", p.stdout)
        moto.put_role_policy(ROLE, policy)

        # A wrong secret from the instance role: one refresh, then the auth error; never answered.
        fresh()
        imds.serve_credentials(ROLE, creds.replace(secret_access_key="wrong" + creds.secret_access_key[5:]))
        secrets.append("wrong" + creds.secret_access_key[5:])
        p, r = tool("asg-complete", GROUP, HOOK, inst.instance_id, "CONTINUE")
        log = ctl.log()
        tap.ok(p.returncode == 1 and r.get("kind") == KIND["auth"] and r.get("code") == "SignatureDoesNotMatch"
               and len(log) == 2 and all(x["answered_by"] == "upstream" and x["status"] == 403 for x in log),
               "a wrong secret: SignatureDoesNotMatch after one refresh; both requests answered by moto",
               (p.stdout, [(x["answered_by"], x["status"]) for x in log]))
        tap.ok(ctl.lifecycle_actions()[0]["state"] == "pending" and ctl.lifecycle_actions()[0]["heartbeats"] == 0,
               "the proxy never answered it: the action is still pending")
        tap.match(r"^Auto Scaling CompleteLifecycleAction: authentication failed: SignatureDoesNotMatch: .* \(HTTP 403\); "
                  r"check the credentials \(instance-role\)$", r.get("message", ""), "the auth error says what to check")
        imds.serve_credentials(ROLE, creds)
        ctl.clear_log()
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id,
                    env={"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": "x" * 40,
                         "AWS_SESSION_TOKEN": creds.session_token})
        tap.ok(p.returncode == 1 and r.get("kind") == KIND["auth"] and len(ctl.log()) == 1,
               "static keys with a wrong secret: exactly one request", (p.stdout, len(ctl.log())))

        # Throttling injected by the proxy is retried with backoff.
        fresh()
        ctl.throttle(COMPLETE, count=2)
        p, r = tool("asg-complete", GROUP, HOOK, inst.instance_id, "CONTINUE")
        log = ctl.log()
        tap.ok(p.returncode == 0 and r.get("attempts") == 3 and [x["status"] for x in log] == [400, 400, 200]
               and log[-1]["answered_by"] == "proxy" and ctl.lifecycle_actions()[0]["state"] == "completed",
               "two Throttling answers (XML, as Auto Scaling throttles), then success: three attempts",
               (p.stdout, [x["status"] for x in log]))
        waited = log[-1]["time"] - log[0]["time"] if len(log) == 3 else 0
        tap.ok(0.005 < waited < 3.5, "spaced by full-jitter backoff (at most 1 s + 2 s)", "%.3f s" % waited)
        tap.eq((r.get("stats", {}).get(COMPLETE), r.get("stats", {}).get("retries")), ({"success": 1}, 2),
               "opstats: one success, two retries")
        fresh()
        ctl.throttle(HEARTBEAT, count=None)
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id)
        tap.ok(p.returncode == 1 and r.get("kind") == KIND["throttled"] and len(ctl.log()) == 3,
               "throttled throughout: gives up after 3 attempts", p.stdout)
        tap.eq(r.get("message"), "Auto Scaling %s: Throttling: Rate exceeded (HTTP 400) (after 3 attempts)" % HEARTBEAT,
               "the throttling message")
        tap.eq(r.get("stats", {}).get(HEARTBEAT), {"throttled": 1}, "opstats: counted as throttled")

        # 5xx (with an XML error, and an HTML page without one) and a garbled 200 are retried.
        fresh()
        ctl.error(HEARTBEAT, code="InternalFailure", message="busy", status=503, count=1)
        ctl.fault("status", HEARTBEAT, status=500, body="<html>oops</html>")
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id)
        tap.ok(p.returncode == 0 and r.get("attempts") == 3 and [x["status"] for x in ctl.log()] == [503, 500, 200],
               "503 InternalFailure, then a 500 HTML page, then success: three attempts", p.stdout)
        fresh()
        ctl.fault("garbage", COMPLETE)
        p, r = tool("asg-complete", GROUP, HOOK, inst.instance_id, "CONTINUE")
        tap.ok(p.returncode == 0 and r.get("attempts") == 2 and ctl.lifecycle_actions()[0]["state"] == "completed",
               "a garbled 200 (not XML) is retried, and the retry completes the action", p.stdout)
        fresh()
        ctl.fault("garbage", HEARTBEAT, count=None)
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id)
        tap.ok(p.returncode == 1 and r.get("kind") == KIND["protocol"] and len(ctl.log()) == 3
               and "the answer is not a RecordLifecycleActionHeartbeatResponse (not well-formed XML)" in r.get("message", ""),
               "garbled throughout: a protocol error after 3 attempts, saying why", p.stdout)

        # The group from IMDS's tags, then the call with it (what the daemon will do).
        fresh()
        imds.control.set_asg_group(GROUP)
        p, r = tool("asg-group")
        tap.ok(p.returncode == 0 and r.get("group") == GROUP, "the group from the instance's tag in IMDS", p.stdout)
        p, r = tool("asg-heartbeat", r.get("group", "?"), HOOK, inst.instance_id)
        tap.eq(p.returncode, 0, "... names the group the call needs")

        # The endpoint obeys the ECS rules: a signed request never over plain http off loopback.
        for bad in ("http://169.254.169.254:1/", "http://192.0.2.1:1/"):
            t0 = time.monotonic()
            p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id, env={"AWS_ENDPOINT_URL_AUTO_SCALING": bad})
            tap.ok(p.returncode == 1 and r.get("attempts") == 0 and time.monotonic() - t0 < 5
                   and re.search(r"refusing (plain http to a non-local address|to send a signed request over plain http)",
                                 r.get("message", "")),
                   "AWS_ENDPOINT_URL_AUTO_SCALING=%s: refused at once" % bad, p.stdout[-400:])
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id, env={"AWS_ENDPOINT_URL_AUTO_SCALING": "autoscaling.example"})
        tap.ok(p.returncode == 2 and "AWS_ENDPOINT_URL_AUTO_SCALING" in p.stderr and "not an http:// or https:// URL" in p.stderr,
               "an endpoint that is not a URL is a configuration error", p.stderr[-300:])

        # And its proxy: HTTP_PROXY carries the Auto Scaling calls, never IMDS.
        fresh()
        fwd.control.clear_log()
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id, env={"HTTP_PROXY": fwd.hostport})
        hosts = [x["host"] for x in fwd.control.log()]
        tap.ok(p.returncode == 0 and hosts == ["127.0.0.1:%d" % proxy.port] and ctl.log()[-1]["answered_by"] == "proxy",
               "HTTP_PROXY: the Auto Scaling call goes through it (and still verifies at moto), IMDS does not",
               (p.stdout[-300:], hosts))
        fwd.control.clear_log()
        p, r = tool("asg-heartbeat", GROUP, HOOK, inst.instance_id,
                    env={"HTTP_PROXY": fwd.hostport, "NO_PROXY": "127.0.0.1"})
        tap.ok(p.returncode == 0 and fwd.control.log() == [], "NO_PROXY applies to it too", p.stdout[-300:])
    tap.eq(harness.children_left(), [], "no child process left")


if __name__ == "__main__":
    harness.run_tests(main)
