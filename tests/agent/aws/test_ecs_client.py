#!/usr/bin/env python3
"""The daemon's ECS client (SigV4, credentials from IMDS, retries, errors)
against moto_server with IAM authentication on, behind a fault-injecting
proxy, with the AWS CLI as the observer."""
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

TOOL = os.path.join(harness.BUILD, "tests", "aws-tool")
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "ecs:DescribeClusters", "ecs:ListClusters", "ecs:DescribeContainerInstances"], "Resource": "*"}]}


def tool(imds, endpoint, *args, env=None):
    e = {"PATH": os.environ["PATH"], "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
         "ECS_BACKEND_HOST": endpoint, "ECS_LOGLEVEL": "debug"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(env or {})
    p = subprocess.run([TOOL] + list(args), env=e, capture_output=True, text=True, timeout=120)
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    return p, (lines[0] if lines else {})


def no_secret(tap, name, p, *secrets):
    leaked = [s for s in secrets if s and (s in p.stdout or s in p.stderr)]
    tap.ok(not leaked, name + ": no secret in the output", "leaked %d secret(s)" % len(leaked))


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, harness.AwsProxy(moto.endpoint) as proxy:
        inst = moto.run_instance(instance_type="m5.large")
        role_arn, creds = moto.role_credentials("ecs-hostd-instance", POLICY)
        imds.serve_instance(inst, role="ecs-hostd-instance", creds=creds)
        moto.create_cluster("default")

        # A signed call with STS credentials from the instance role succeeds.
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}')
        tap.ok(p.returncode == 0 and r.get("error") == 0, "signed DescribeClusters with role credentials succeeds",
               p.stdout + p.stderr[-800:])
        clusters = r.get("response", {}).get("clusters", [])
        tap.eq([c.get("clusterName") for c in clusters], ["default"], "the answer names the cluster")
        log = proxy.control.log()
        tap.ok(len(log) == 1 and log[0]["headers"].get("x-amz-security-token") == creds.session_token,
               "the request carried the role's session token", [e["headers"] for e in log])
        tap.match(r"^AWS4-HMAC-SHA256 Credential=%s/\d{8}/us-east-1/ecs/aws4_request, "
                  r"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$"
                  % creds.access_key_id, log[0]["headers"].get("authorization", "") if log else "",
                  "SigV4 Authorization: the role's key, region, service ecs, the token signed")
        tap.eq(log[0]["headers"].get("user-agent"), "ecs-hostd/0.1.0", "User-Agent is ecs-hostd/<version>")
        tap.eq(log[0]["headers"].get("content-type"), "application/x-amz-json-1.1", "JSON 1.1 content type")
        tap.eq(log[0]["headers"].get("x-amz-target"), "AmazonEC2ContainerServiceV20141113.DescribeClusters", "X-Amz-Target")
        tap.ok(any(e["path"] == "/latest/dynamic/instance-identity/document" for e in imds.control.log()),
               "the region came from the identity document (no AWS_REGION set)")
        no_secret(tap, "success", p, creds.secret_access_key, creds.session_token)

        # The real AWS CLI, with the same role credentials, agrees: moto checks both alike.
        out = moto.aws("ecs", "describe-clusters", "--clusters", "default", creds=creds)
        tap.eq([c["clusterName"] for c in out["clusters"]], ["default"], "the AWS CLI with the role's keys sees the same")

        # Wrong secret from the instance role: one refresh, then a clear error.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        imds.serve_credentials("ecs-hostd-instance", creds.replace(secret_access_key="wrong" + creds.secret_access_key[5:]))
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}')
        n = len(proxy.control.log())
        tap.ok(p.returncode == 1 and r.get("kind") == 4, "a wrong secret is an authentication error", p.stdout)
        tap.eq(n, 2, "role keys: one retry with refreshed credentials, no retry storm")
        tap.match(r"^ECS DescribeClusters: authentication failed: \w+", r.get("message", ""), "the error says what failed")
        no_secret(tap, "wrong secret", p, creds.secret_access_key, "wrong" + creds.secret_access_key[5:], creds.session_token)

        # Wrong secret as static keys: exactly one request.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}',
                    env={"AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": "x" * 40,
                         "AWS_SESSION_TOKEN": creds.session_token})
        tap.ok(p.returncode == 1 and len(proxy.control.log()) == 1 and r.get("attempts") == 1,
               "static keys with a wrong secret fail after exactly one request", "%s %d" % (p.stdout, len(proxy.control.log())))

        # Rotated keys: the first role document is stale, the refresh fixes it.
        imds.serve_credentials("ecs-hostd-instance", creds)
        imds.control.fault(kind="body", path="/latest/meta-data/iam/security-credentials/ecs-hostd-instance", count=1,
                           body=json.dumps(creds.replace(session_token="stale-token").imds_json()))
        proxy.control.clear_faults()
        proxy.control.clear_log()
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}')
        tap.ok(p.returncode == 0 and r.get("attempts") == 2, "an auth error with stale role keys refreshes them and succeeds",
               p.stdout + p.stderr[-500:])

        # Two throttling answers, then success, with backoff in between.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        proxy.control.fault(kind="error", status=400, code="ThrottlingException", message="Rate exceeded", count=2)
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}')
        log = proxy.control.log()
        tap.ok(p.returncode == 0 and r.get("attempts") == 3 and len(log) == 3,
               "two ThrottlingExceptions then success: three attempts", p.stdout)
        tap.ok([e["status"] for e in log] == [400, 400, 200], "the third attempt reached moto", [e["status"] for e in log])
        waited = (log[-1]["time"] - log[0]["time"]) if len(log) == 3 else 0
        tap.ok(0.01 < waited < 3.5, "the retries were spaced by full-jitter backoff (at most 1 s + 2 s)",
               "%.3f s between first and last attempt" % waited)

        # Throttled on every attempt: the standard mode's 3 attempts, then an error.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        proxy.control.fault(kind="error", status=400, code="ThrottlingException", message="Rate exceeded", count=None)
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}')
        tap.ok(p.returncode == 1 and r.get("kind") == 1 and len(proxy.control.log()) == 3,
               "throttled throughout: gives up after 3 attempts", p.stdout)
        tap.eq(r.get("message"), "ECS DescribeClusters: ThrottlingException: Rate exceeded (HTTP 400) (after 3 attempts)",
               "the throttling message")

        # 503 then success; garbage then success.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        proxy.control.fault(kind="error", status=503, code="ServiceUnavailable", message="busy", count=1)
        proxy.control.fault(kind="garbage", status=200, count=1)
        p, r = tool(imds, proxy.url, "ecs", "DescribeClusters", '{"clusters":["default"]}')
        tap.ok(p.returncode == 0 and r.get("attempts") == 3, "a 503 and a garbage answer are retried", p.stdout)

        # AccessDenied is not retried and names the policy action.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        p, r = tool(imds, proxy.url, "ecs", "CreateCluster", '{"clusterName":"nope"}')
        tap.ok(p.returncode == 1 and r.get("kind") == 5 and len(proxy.control.log()) == 1,
               "AccessDenied: one request, no retry", p.stdout)
        tap.match(r"ecs:CreateCluster", r.get("message", ""), "the AccessDenied error names ecs:CreateCluster")
        tap.ok(moto.aws("ecs", "list-clusters")["clusterArns"] == [moto.aws("ecs", "describe-clusters", "--clusters",
               "default")["clusters"][0]["clusterArn"]], "and the AWS CLI sees no new cluster")

        # A client error (unknown cluster) is not retried.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        p, r = tool(imds, proxy.url, "ecs", "DescribeContainerInstances",
                    '{"cluster":"missing","containerInstances":["arn:aws:ecs:us-east-1:123456789012:container-instance/missing/x"]}')
        tap.ok(p.returncode == 1 and r.get("kind") == 6 and len(proxy.control.log()) == 1,
               "a client error is returned after one request", p.stdout)

        # Nothing listening: transport errors, retried 3 times.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        p, r = tool(imds, dead, "ecs", "ListClusters", "{}")
        tap.ok(p.returncode == 1 and r.get("kind") == 3 and r.get("attempts") == 3,
               "connection refused: three attempts, then a transport error", p.stdout)

        # Plain http to a non-local endpoint is refused before any traffic.
        p, r = tool(imds, "http://10.1.2.3:8080", "ecs", "ListClusters", "{}")
        tap.ok(p.returncode == 1 and "plain http" in r.get("message", ""), "plain http to a non-local ECS endpoint is refused",
               p.stdout)
    tap.ok(not harness.children_left(), "no server is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
