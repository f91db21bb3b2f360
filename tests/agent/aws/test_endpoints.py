#!/usr/bin/env python3
"""Where the instance role's keys may go.  A region read from the instance
identity document obeys AWS_REGION's rule (it names the endpoint the keys are
signed for and sent to); plain http is allowed only to loopback and IMDS's
addresses, and a signed request over plain http only to loopback.  aws-tool
drives the clients against the IMDS emulator and moto behind the recording
ECS proxy."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "ecs:DescribeClusters", "ecs:ListClusters"], "Resource": "*"}]}
LIST = ("ecs", "ListClusters", "{}")


def tool(imds_url, endpoint, *args, env=None):
    """aws-tool's result and how long it took."""
    e = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_url, "ECS_LOGLEVEL": "debug"}
    if endpoint:
        e["ECS_BACKEND_HOST"] = endpoint
    t0 = time.monotonic()
    p, r = harness.aws_tool(dict(e, **(env or {})), *args)
    return p, r, time.monotonic() - t0


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, \
            harness.AwsProxy(moto.endpoint) as ecs:
        inst = moto.run_instance(instance_type="m5.large")
        _, creds = moto.role_credentials("ecs-hostd-endpoints", POLICY)
        imds.serve_instance(inst, role="ecs-hostd-endpoints", creds=creds)

        # The region from the identity document: checked as a configured one.
        for bad in ("us-east-1.attacker.example/", "US-EAST-1", "us-east-1-"):
            imds.control.set_identity({"region": bad})
            mark = ecs.control.log_mark()
            p, r, _ = tool(imds.url, ecs.url, *LIST)
            tap.ok(p.returncode == 1 and "the instance identity document's region %s is not a region name"
                   % json.dumps(bad) in p.stderr and "set AWS_REGION" in p.stderr,
                   "identity document region %r: an error that says so" % bad, p.stdout + p.stderr[-600:])
            tap.eq(ecs.control.log(since=mark), [], "region %r: nothing was sent to ECS" % bad)
        mark = ecs.control.log_mark()
        p, r, _ = tool(imds.url, ecs.url, *LIST, env={"AWS_REGION": "us-east-1"})
        tap.ok(p.returncode == 0 and r.get("error") == 0 and len(ecs.control.log(since=mark)) == 1,
               "with AWS_REGION set the document's region is not taken, so not in the way", p.stderr[-600:])
        imds.control.set_identity({"region": "us-east-1"})
        p, r, _ = tool(imds.url, ecs.url, *LIST)
        tap.ok(p.returncode == 0 and r.get("error") == 0, "a good region from the document works", p.stderr[-600:])

        # A signed request over plain http to IMDS's address: refused before
        # any traffic (and so at once, not after connect timeouts).
        p, r, took = tool(imds.url, "http://169.254.169.254:1/", *LIST, env={"AWS_REGION": "us-east-1"})
        tap.ok(p.returncode == 1 and "refusing to send a signed request over plain http" in r.get("message", ""),
               "a signed ECS call over plain http to 169.254.169.254 is refused", p.stdout[-600:])
        tap.ok(took < 5, "at once, without trying to connect (%.1f s)" % took)
        tap.ok(creds.secret_access_key not in p.stdout + p.stderr and creds.session_token not in p.stdout + p.stderr,
               "no secret in the output")

        # Plain http to a link-local address that is not IMDS: refused.
        p, r, took = tool("http://169.254.1.1", None, "imds", "/latest/meta-data/instance-id")
        tap.ok(p.returncode == 1 and "refusing plain http" in r.get("error_text", ""),
               "IMDS at another link-local address (169.254.1.1) is refused", p.stdout[-600:])
        tap.ok(took < 5, "at once (%.1f s)" % took)


harness.run_tests(main)
