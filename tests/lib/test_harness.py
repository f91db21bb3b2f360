#!/usr/bin/env python3
"""The harness is real: moto enforces SigV4, session tokens and IAM policies;
STS credentials served by the IMDS emulator work with the real AWS CLI exactly
as far as the role's policy allows; a registered container instance matches
the EC2 instance the emulator describes; every process is gone at the end."""

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import AwsApi, AwsError, Credentials  # noqa: E402

LIST_ONLY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}]}


def flip_last(s):
    """s with its last character changed (never equal to s)."""
    return s[:-1] + ("A" if s[-1] != "A" else "B")


class QuietTap(harness.Tap):
    """A Tap that records (ok, name, why) instead of printing: for running
    a case inside this test without mixing its lines into ours."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def ok(self, cond, name, why=""):
        self.n += 1
        self.failed += 0 if cond else 1
        self.lines.append((bool(cond), name, str(why)))
        return bool(cond)

    def diag(self, msg):
        pass


def refused(case):
    """The CaseError validate_case raises for a case dict ('' when accepted)."""
    try:
        harness.validate_case(case)
        return ""
    except harness.CaseError as e:
        return str(e)


def case_language(tap):
    """Validation, placeholders, counts, arithmetic and the matching rules."""
    ok_steps = [{"start": True}, {"wait_log": "x"}, {"expect_log": "y", "count": 1, "name": "y logged"}]
    tap.eq(refused({"name": "n", "steps": ok_steps}), "", "a well-formed case is accepted")
    bad = [
        ({"name": "n", "steps": ok_steps, "stak": {}}, "unknown case keys: stak"),
        ({"name": "n", "steps": [{"start": True, "expect_log": "x"}]}, "one action per step"),
        ({"name": "n", "steps": [{"start": True}, {"expect_log": "x", "cuont": 1}]}, r"step 2 \(expect_log\): unknown keys cuont"),
        ({"name": "n", "steps": [{"imds": {"spto": {}}}, {"expect_running": True}]}, r"step 1 \(imds\): unknown keys spto"),
        ({"name": "n", "steps": [{"start": True}, {"mark": True}, {"signal": "HUP"}, {"expect_running": True}]}, "step 2: nothing reads this mark"),
        ({"name": "n", "steps": [{"start": True}, {"wait_log": "x"}]}, "the last step waits"),
        ({"name": "n", "steps": [{"start": True}, {"expect_log": "x", "since": "now"}]}, 'since "now" is for waits'),
        ({"name": "n", "steps": [{"wait_log": "x", "name": "a wait is no check"}, {"expect_running": True}]}, r"unknown keys name"),
    ]
    for case, why in bad:
        tap.match(why, refused(case), "a case file is refused: %s" % why.replace("\\", ""))

    c = harness.Case.__new__(harness.Case)
    c.captures = {"arn": "arn:aws:ecs:x/1", "n": 7}
    tap.ok(
        c.subst({"a": "{arn}", "b": "{n}", "c": "{n * 1024}", "d": ["x-{arn}"]}) == {"a": "arn:aws:ecs:x/1", "b": 7, "c": 7168, "d": ["x-arn:aws:ecs:x/1"]}
        and c.subst("as {arn}, \\d{3}", regex=True) == "as arn:aws:ecs:x/1, \\d{3}"
        and c.subst("~{arn}") == "~arn:aws:ecs:x/1"
        and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c.subst("{time+90}")),
        "placeholders: typed when alone, escaped in regexes, with arithmetic and {time+N}",
    )
    try:
        c.subst("{arnn}")
        tap.ok(False, "an unknown placeholder is an error", "accepted")
    except harness.CaseError as e:
        tap.match(r"unknown placeholder \{arnn\}.*known: arn, n", str(e), "an unknown placeholder is an error naming the known ones")
    cm = harness.count_mismatch
    tap.ok(
        cm(3, 3) is None and cm(2, 3) == "2 matches, want 3" and cm(4, ">= 4") is None and cm(3, ">= 4") == "3 matches, want >= 4"
        and cm(5, "<= 2 * 3") is None and harness.arith("1 < 2 <= 2") is True,
        "counts: an integer is exact, 'OP EXPR' compares; arithmetic chains comparisons",
    )
    try:
        harness.arith("__import__('os').getpid()")
        tap.ok(False, "arithmetic refuses anything else", "evaluated")
    except harness.CaseError:
        tap.ok(True, "arithmetic refuses anything else")
    mm = harness.subset_mismatch
    body = {"totalResources": [{"name": "CPU", "integerValue": 4096}, {"name": "PORTS", "stringSetValue": ["22"]}], "hash": "5c34962b"}
    tap.ok(
        mm(body, {"totalResources": {"CPU": {"integerValue": 4096}}, "hash": "~[0-9a-f]{7,}"}) is None
        and mm(body, {"totalResources": {"GPU": {}}}) == "$.totalResources.GPU: missing"
        and mm(body, {"hash": "~[0-9]+"}) is not None,
        "subset_mismatch: name-keyed lists match a dict by name; '~' strings are regexes",
    )


STUB = ["sh", "-c", 'echo "run $$: $*"; trap "echo bye; exit 0" TERM; while :; do sleep 0.05; done', "stub"]


def daemon_fixture(tap, moto):
    """Stack.daemon's directory, files and process handling, with a stub
    program (sh) in front of the real binary's arguments."""
    with harness.Stack(moto=moto, cluster="fixture") as s:
        d = s.daemon(config={"ECS_HOSTD_MODE": "register", "ECS_LOGLEVEL": "debug"}, hook="exit 3", notify=True, wrapper=STUB)
        d.configure({"ECS_LOGLEVEL": None, "ECS_HOSTD_POLL_INTERVAL_MS": 200})
        with open(d.conf) as f:
            lines = f.read().splitlines()
        tap.ok(
            lines[0] == "ECS_CLUSTER=fixture" and "ECS_BACKEND_HOST=%s" % s.proxy.url in lines
            and "AWS_EC2_METADATA_SERVICE_ENDPOINT=%s" % s.imds.url in lines and "ECS_HOSTD_DATADIR=%s" % d.datadir in lines
            and not any(line.startswith("ECS_LOGLEVEL=") for line in lines)
            and lines[d.config_line("ECS_HOSTD_POLL_INTERVAL_MS") - 1] == "ECS_HOSTD_POLL_INTERVAL_MS=200"
            and d.keys["ECS_HOSTD_DRAIN_HOOK"].startswith(d.dir) and d.dir.startswith(s.tmpdir),
            "Daemon: its own configuration file (Stack's endpoints and its directories), keys changed and dropped, config_line",
            lines,
        )
        d.attr_file("team.json", {"team": "cats"})
        d.write_state("{not json")
        hook = harness.subprocess.run([d.keys["ECS_HOSTD_DRAIN_HOOK"]], capture_output=True, text=True,
                                      env={"ECS_HOSTD_EVENT_KIND": "spot", "PATH": os.environ["PATH"]})
        with open(os.path.join(d.attributes_dir, "team.json")) as f, open(os.path.join(d.datadir, "state.json")) as g:
            tap.ok(
                json.load(f) == {"team": "cats"} and g.read() == "{not json" and hook.returncode == 3
                and hook.stdout == "hook says hello\n" and d.hook_lines()[0].startswith("kind=spot action= ") and len(d.hook_lines()) == 3,
                "Daemon: attr_file, write_state, and the recording hook (three lines, hello, then the case's lines)",
                (hook.returncode, hook.stdout, d.hook_lines()),
            )
        d.start()
        first = d.wait_log(r"run (\d+): .*--config %s" % re.escape(d.conf)).group(1)
        mark = d.mark()
        rc = d.restart()
        second = d.wait_log(r"run (\d+):", start=mark).group(1)
        tap.ok(
            rc == 0 and first != second and d.output().count("bye") == 1
            and d.output().index("run %s" % first) < mark <= d.output().index("bye") < d.output().index("run %s" % second)
            and len(d.runs) == 2 and d.alive(),
            "Daemon: restart returns the exit status; output() keeps every run, so marks stay valid",
            d.output(),
        )
        socket_ = harness.socket.socket(harness.socket.AF_UNIX, harness.socket.SOCK_DGRAM)
        socket_.sendto(b"READY=1\nSTATUS=Joined", d.notify.path)
        socket_.close()
        tap.eq(d.notify.lines(), ["READY=1", "STATUS=Joined"], "Notify: a datagram's lines, as systemd reads them")
        d.send_signal("KILL")
        t = time.monotonic()
        try:
            d.wait_log("never printed", timeout=20, start=d.mark())
            tap.ok(False, "Daemon.wait_log fails at once when the run exits", "matched")
        except harness.WaitAbort as e:
            tap.ok(time.monotonic() - t < 5 and "exited (-9)" in str(e), "Daemon.wait_log fails at once when the run exits", str(e)[:300])
        # The stand-in's shell becomes a sleep that never reaps its child.
        z = s.daemon(name="zombie", wrapper=["sh", "-c", "sleep 0.05 & exec sleep 30", "stub"]).start()
        try:
            zombies = harness.wait_until(z.zombies, 5, what="a zombie")
        except TimeoutError:
            zombies = []
        tap.ok(len(zombies) == 1, "Daemon.zombies() sees a child its process has not reaped", zombies)
        s.register_other_instance()
    after = moto.ecs("DescribeClusters", clusters=["fixture"])["clusters"]
    left = moto.ecs("ListContainerInstances", cluster="fixture")["containerInstanceArns"]
    tap.ok(
        [c["status"] for c in after] == ["INACTIVE"] and left == [],
        "a Stack on a shared moto empties and deletes the cluster it made when it stops",
        (after, left),
    )


def case_run(tap, moto):
    """A case run without a daemon: a check that passes, one that fails with
    its reason, a wait that times out, and the checks after it, each one line."""
    d = tempfile.mkdtemp(prefix="hostd-case-")
    path = os.path.join(d, "01-sample.json")
    with open(path, "w") as f:
        f.write("""{
  // comment lines are allowed
  "name": "a sample",
  "stack": {"cluster": "sample"},
  "steps": [
    {"imds": {"spot": {"action": "stop", "time": 60}}},
    {"expect_ecs": {"count": 0}, "name": "empty cluster"},
    {"expect_requests": {"operation": "RegisterContainerInstance", "count": 1}, "name": "wants a registration"},
    {"wait_imds": {"path": "/latest/meta-data/spot/instance-action"}, "timeout": 0.3},
    {"expect_numbers": "1 < 2", "name": "after the failed wait"},
    {"expect_running": true, "name": "also not reached"}
  ]
}
""")
    qt = QuietTap()
    harness.Case(path).run(qt, moto)
    shutil.rmtree(d, ignore_errors=True)
    got = [(ok, name) for ok, name, _ in qt.lines]
    whys = [why for _, _, why in qt.lines]
    tap.ok(
        got == [(True, "01-sample: empty cluster"), (False, "01-sample: wants a registration"),
                (False, "01-sample: after the failed wait"), (False, "01-sample: also not reached")]
        and whys[1] == "0 requests, want 1" and whys[2].startswith("step 4 (wait_imds) failed: TimeoutError")
        and whys[3] == "not reached (an earlier step failed)",
        "a case: one TAP line per check, with the reason; after a failed wait the checks left fail as not reached",
        qt.lines,
    )


def main(tap):
    t = time.monotonic()
    moto = harness.MotoServer().start()
    tap.diag("moto_server up and bootstrapped in %.2f s on %s" % (time.monotonic() - t, moto.endpoint))
    imds = harness.ImdsEmulator(require_v2=True).start()

    # Authentication is on once the bootstrap actions are spent.
    try:
        AwsApi(moto.endpoint, Credentials("AKIAUNKNOWNKEY000000", "nope")).query("iam", "ListUsers")
        tap.ok(False, "an unknown access key is rejected after bootstrap", "accepted")
    except AwsError as e:
        tap.eq(e.code, "InvalidClientTokenId", "an unknown access key is rejected after bootstrap")
    who = moto.api().query("sts", "GetCallerIdentity").findtext(".//Arn")
    tap.eq(who, "arn:aws:iam::123456789012:user/" + harness.ADMIN_USER, "admin credentials are accepted")

    # A role allowed only ecs:ListClusters; its STS credentials served as the instance role.
    role_arn, creds = moto.role_credentials("hostd-list-only", LIST_ONLY)
    tap.ok(creds.access_key_id.startswith("ASIA") and creds.session_token, "STS AssumeRole gives temporary credentials", creds.access_key_id)
    inst = moto.run_instance(instance_type="c5.xlarge", az="us-east-1b")
    tap.ok(inst.instance_id.startswith("i-") and inst.availability_zone == "us-east-1b", "run-instances in moto", inst)
    imds.serve_instance(inst, role="hostd-list-only", creds=creds)

    # Fetch them the way an instance does (IMDSv2 required here).
    st, _ = harness.imds_fetch(imds.url, "/latest/meta-data/iam/security-credentials/", use_token=False)
    tap.eq(st, 401, "emulator requires IMDSv2: tokenless GET refused")
    role, got = harness.instance_role_credentials(imds.url)
    tap.eq((role, got.access_key_id, got.secret_access_key, got.session_token), ("hostd-list-only", creds.access_key_id, creds.secret_access_key, creds.session_token), "credentials fetched via token, role listing, role JSON")
    log = imds.control.log()
    tap.ok(
        [(e["method"], e["path"].rsplit("/", 1)[-1] or "/", e["token"]) for e in log][-4:]
        == [("PUT", "token", False), ("GET", "/", True), ("PUT", "token", False), ("GET", "hostd-list-only", True)],
        "the emulator's log shows the instance-style fetch",
        log[-4:],
    )
    doc = json.loads(harness.imds_fetch(imds.url, "/latest/dynamic/instance-identity/document")[1])
    tap.eq(
        (doc["instanceId"], doc["instanceType"], doc["availabilityZone"], doc["imageId"], doc["region"], doc["accountId"]),
        (inst.instance_id, "c5.xlarge", "us-east-1b", inst.ami, "us-east-1", "123456789012"),
        "identity document describes the moto instance",
    )

    # The real AWS CLI with the served credentials.
    moto.create_cluster("harness")
    r = moto.aws_run("ecs", "list-clusters", creds=got)
    clusters = json.loads(r.stdout)["clusterArns"] if r.returncode == 0 else r.stderr
    tap.eq(clusters, ["arn:aws:ecs:us-east-1:123456789012:cluster/harness"], "aws ecs list-clusters with the role's credentials")
    r = moto.aws_run("ecs", "create-cluster", "--cluster-name", "nope", creds=got)
    tap.ok(
        r.returncode != 0
        and "AccessDenied" in r.stderr
        and "assumed-role/hostd-list-only/" in r.stderr
        and "is not authorized to perform: ecs:CreateCluster" in r.stderr,
        "ecs:CreateCluster denied by the role's policy, message names role and action",
        r.stderr,
    )
    r = moto.aws_run("ecs", "list-clusters", creds=got.replace(secret_access_key=flip_last(got.secret_access_key)))
    tap.ok(r.returncode != 0 and "SignatureDoesNotMatch" in r.stderr, "wrong secret key: SignatureDoesNotMatch", r.stderr)
    r = moto.aws_run("ecs", "list-clusters", creds=got.replace(session_token=flip_last(got.session_token)))
    tap.ok(
        r.returncode != 0 and "InvalidClientTokenId" in r.stderr and "security token included in the request is invalid" in r.stderr,
        "wrong session token: InvalidClientTokenId (moto's answer)",
        r.stderr,
    )
    r = moto.aws_run("ecs", "list-clusters", creds=got.replace(session_token=None))
    tap.ok(r.returncode != 0, "STS key without its session token is rejected", r.stderr)

    # Policy changes apply on the next request (tests swap policies this way).
    moto.put_role_policy(
        "hostd-list-only",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecs:ListClusters", "ecs:CreateCluster"], "Resource": "*"}]},
    )
    r = moto.aws_run("ecs", "create-cluster", "--cluster-name", "now-allowed", creds=got)
    tap.ok(r.returncode == 0 and json.loads(r.stdout)["cluster"]["clusterName"] == "now-allowed", "a widened policy applies at once", r.stderr)

    # RegisterContainerInstance with the emulator's document, signed with the role's STS keys.
    _, reg_creds = moto.role_credentials(
        "hostd-register",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecs:RegisterContainerInstance"], "Resource": "*"}]},
    )
    sig = harness.imds_fetch(imds.url, "/latest/dynamic/instance-identity/signature")[1]
    out = AwsApi(moto.endpoint, reg_creds).ecs(
        "RegisterContainerInstance",
        cluster="harness",
        instanceIdentityDocument=json.dumps(doc),
        instanceIdentityDocumentSignature=sig,
    )
    ci_arn = out["containerInstance"]["containerInstanceArn"]
    seen = moto.describe_container_instances("harness")
    tap.ok(
        [c["containerInstanceArn"] for c in seen] == [ci_arn] and seen[0]["ec2InstanceId"] == inst.instance_id,
        "registered instance visible to the aws CLI observer with the right ec2InstanceId",
        seen,
    )
    attrs = {a["name"]: a.get("value") for a in seen[0]["attributes"]}
    tap.eq(
        (attrs.get("ecs.instance-type"), attrs.get("ecs.availability-zone"), attrs.get("ecs.ami-id")),
        ("c5.xlarge", "us-east-1b", inst.ami),
        "moto derives instance-type, AZ and AMI attributes from the EC2 instance",
    )

    # The recording proxy in front of moto: signatures still verify, requests
    # are recorded, faults are answered in ECS's shape.
    proxy = harness.AwsProxy(moto.endpoint).start()
    r = moto.aws_run("ecs", "list-clusters", creds=got, endpoint=proxy.url)
    log = proxy.control.log(operation="ListClusters")
    tap.ok(
        r.returncode == 0 and len(log) == 1 and log[0]["status"] == 200 and log[0]["json"] == {}
        and log[0]["headers"].get("x-amz-security-token") == got.session_token,
        "through the proxy: signed request verified upstream and recorded",
        (r.stderr, log),
    )
    proxy.control.throttle("ListClusters", count=2)
    mark = proxy.control.log_mark()
    r = moto.aws_run("ecs", "list-clusters", creds=got, endpoint=proxy.url, env={"AWS_MAX_ATTEMPTS": "3"})
    tap.ok(
        r.returncode == 0 and [e["status"] for e in proxy.control.log(mark)] == [400, 400, 200],
        "two injected ThrottlingExceptions, retried by the real SDK, then success",
        (r.stderr, [e["status"] for e in proxy.control.log(mark)]),
    )
    proxy.control.error("ListClusters", code="AccessDeniedException", message="injected denial", status=400)
    r = moto.aws_run("ecs", "list-clusters", creds=got, endpoint=proxy.url)
    tap.ok(r.returncode != 0 and "AccessDeniedException" in r.stderr and "injected denial" in r.stderr, "injected JSON error reaches the client", r.stderr)
    proxy.control.set_down(True)
    r = moto.aws_run("ecs", "list-clusters", creds=got, endpoint=proxy.url)
    proxy.control.set_down(False)
    r2 = moto.aws_run("ecs", "list-clusters", creds=got, endpoint=proxy.url)
    tap.ok(r.returncode != 0 and r2.returncode == 0, "proxy down: connection errors; up again: success", r.stderr[-300:])
    AwsApi(proxy.url, reg_creds).ecs(
        "RegisterContainerInstance",
        cluster="harness",
        instanceIdentityDocument=json.dumps(doc),
        instanceIdentityDocumentSignature=sig,
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 8192}],
    )
    proxy.control.error("RegisterContainerInstance", code="ClientException", message="Cluster not found.", status=400, count=None, match={"cluster": "missing"})
    try:
        AwsApi(proxy.url, reg_creds).ecs("RegisterContainerInstance", cluster="missing", instanceIdentityDocument=json.dumps(doc))
        tap.ok(False, "fault with a body match answers ECS's missing-cluster error", "accepted")
    except AwsError as e:
        tap.eq((e.status, e.code, e.message), (400, "ClientException", "Cluster not found."), "fault with a body match answers ECS's missing-cluster error")
    sent = [b for b in proxy.control.requests("RegisterContainerInstance") if b.get("cluster") == "harness"]
    tap.eq(sent[-1]["totalResources"][0]["integerValue"], 8192, "the proxy records request bodies moto ignores")
    proxy.stop()

    # moto asks about resource "*" outside IAM/STS/SQS/S3: an ARN-scoped statement is widened for it.
    scoped = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["autoscaling:CompleteLifecycleAction"],
         "Resource": "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*"},
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": ["arn:aws:iam::*:role/x", "arn:aws:ecs:*:*:cluster/y"]}]}
    tap.eq([st["Resource"] for st in harness.moto_policy(scoped)["Statement"]],
           ["*", "*"], "moto_policy(): an Auto Scaling ARN (and a list holding an ECS one) become \"*\"")
    tap.eq(harness.moto_policy({"Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "arn:aws:iam::*:role/x"}]})
           ["Statement"][0]["Resource"], "arn:aws:iam::*:role/x", "moto_policy(): an IAM ARN stays, moto scopes IAM")
    tap.eq(scoped["Statement"][0]["Resource"], "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*",
           "moto_policy() leaves the caller's policy as it was")
    asg = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1b2c3d4e-0000-4000-8000-000000000001:autoScalingGroupName/web"
    tap.ok(harness.iam_resource_matches(scoped["Statement"][0]["Resource"], asg)
           and not harness.iam_resource_matches(scoped["Statement"][0]["Resource"], asg.replace("autoscaling", "ecs", 1))
           and harness.iam_resource_matches("arn:aws:s3:::b?cket/*", "arn:aws:s3:::bucket/a/b"),
           "iam_resource_matches(): * and ? as IAM reads them")

    # A Stack on the shared moto: instance role with the host policy, served by IMDS.
    pol_file = os.path.join(harness.TOP, "packaging", "iam-policy.json")
    if os.path.exists(pol_file):
        with open(pol_file) as f:
            tap.eq(harness.host_policy(), json.load(f), "host_policy() is packaging/iam-policy.json")
    else:
        tap.eq(harness.host_policy(), harness.ECS_HOST_POLICY, "host_policy() falls back to ECS_HOST_POLICY")
    with harness.Stack(moto=moto, cluster="stacked", policy=harness.ECS_HOST_POLICY) as s:
        role, sc = harness.instance_role_credentials(s.imds.url)
        env = s.daemon_env(ECS_LOGLEVEL="info", ECS_CLUSTER=None)
        r = moto.aws_run("ecs", "list-container-instances", "--cluster", "stacked", creds=sc, endpoint=env["ECS_BACKEND_HOST"])
        tap.ok(
            role == s.role and sc.access_key_id == s.creds.access_key_id and r.returncode == 0
            and json.loads(r.stdout)["containerInstanceArns"] == []
            and env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == s.imds.url and env["ECS_LOGLEVEL"] == "info"
            and "ECS_CLUSTER" in env and env["ECS_CLUSTER"] is None,
            "Stack: cluster, role credentials via IMDS, proxy as ECS endpoint, daemon_env overrides",
            r.stderr,
        )
        old = s.creds
        new_creds = s.rotate_credentials()
        _, served = harness.instance_role_credentials(s.imds.url)
        tap.ok(new_creds.access_key_id != old.access_key_id and served.access_key_id == new_creds.access_key_id, "Stack.rotate_credentials serves fresh STS keys")
        s.set_policy(LIST_ONLY)
        r = moto.aws_run("ecs", "list-container-instances", "--cluster", "stacked", creds=served)
        tap.ok(r.returncode != 0 and "ecs:ListContainerInstances" in r.stderr, "Stack.set_policy narrows the role at once", r.stderr)
        events = s.apply(
            {
                "imds": {
                    "spot": {"action": "stop", "time": 90},
                    "asg": "Terminated",
                    "maintenance": [{"code": "instance-retirement", "not_before": 60}],
                    "faults": [{"kind": "status", "path": "*/rebalance", "status": 500, "count": 1}],
                },
                "ecs": {"faults": [{"kind": "throttle", "operation": "ListClusters"}]},
            }
        )
        st = s.imds.control.state()
        r = moto.aws_run("ecs", "list-clusters", creds=served, endpoint=s.proxy.url)
        tap.ok(
            st["spot"]["action"] == "stop" and st["asg_state"] == "Terminated" and events[0]["Code"] == "instance-retirement"
            and len(st["faults"]) == 1 and r.returncode != 0 and "ThrottlingException" in r.stderr,
            "Stack.apply sets IMDS answers and ECS faults from a scenario dict",
            (st["spot"], r.stderr),
        )
        try:
            s.apply({"imds": {"spto": {}}})
            tap.ok(False, "a misspelt scenario key is an error", "accepted")
        except ValueError as e:
            tap.match("spto", str(e), "a misspelt scenario key is an error")
        arn = s.official_agent()
        st, _, body = harness.http_get(s.daemon_env()["ECS_AGENT_INTROSPECTION_URL"])
        md = json.loads(body)
        seen = s.container_instances()
        tap.ok(
            st == 200 and md["Cluster"] == "stacked" and md["ContainerInstanceArn"] == arn and md["Version"].startswith("Amazon ECS Agent")
            and [c["ec2InstanceId"] for c in seen] == [s.instance.instance_id],
            "official_agent(): registered in moto, fake introspection answers Cluster/ARN/Version",
            (st, md, seen),
        )
        s.agent.control.set_available(False)
        try:
            harness.http_get(s.agent.metadata_url)
            starting = False
        except OSError:
            starting = True
        s.agent.control.set_available(True, status=503)
        st503 = harness.http_get(s.agent.metadata_url)[0]
        port = s.agent.port
        s.agent.stop()
        try:
            harness.http_get(s.agent.metadata_url)
            refused = False
        except OSError:
            refused = True
        s.agent.start()
        tap.ok(
            starting and st503 == 503 and refused and s.agent.port == port and harness.http_get(s.agent.metadata_url)[0] == 200,
            "fake agent: starting (no answer), 503, stopped (refused), restarted on the same port",
        )
        stack_groups = [s.imds.proc.pgid, s.proxy.proc.pgid, s.agent.proc.pgid]
    tap.ok(not any(harness.group_alive(g) for g in stack_groups) and moto.proc.alive(), "Stack stop: its emulators gone, shared moto kept")

    # Clean environments for children: only what is passed (None removes).
    os.environ["HOSTD_TEST_LEAK"] = "leaked"
    p = harness.Process(["sh", "-c", 'echo "[$HOSTD_TEST_LEAK][$FOO][${AWS_REGION-unset}]"'], env={"FOO": "bar", "AWS_REGION": None}, clean_env=True).start()
    p.wait(5)
    tap.eq(p.output().strip(), "[][bar][unset]", "Process(clean_env=True) passes only the given environment")
    p.stop()

    mm = harness.subset_mismatch
    doc_ = {"cluster": "c", "attributes": [{"name": "a", "value": "1"}], "status": "DRAINING", "x": 1}
    tap.ok(
        mm(doc_, {"cluster": "c", "attributes": [{"name": "a"}], "status": "*"}) is None
        and mm(doc_, {"status": "ACTIVE"}) == "$.status: expected 'ACTIVE', got 'DRAINING'"
        and mm(doc_, {"attributes": []}) is not None and mm(doc_, {"nope": 1}) == "$.nope: missing",
        "subset_mismatch matches listed keys and names the first difference",
    )

    # Case files: refused when they cannot mean anything.
    case_language(tap)
    daemon_fixture(tap, moto)
    case_run(tap, moto)

    # Process control: TERM ignored, a grandchild in the group -- all killed.
    stubborn = harness.Process(["sh", "-c", "trap '' TERM; sleep 300 & echo started; wait"], name="stubborn").start()
    stubborn.wait_output("started", 5)
    t = time.monotonic()
    stubborn.stop(timeout=0.5)
    tap.ok(not harness.group_alive(stubborn.pgid) and time.monotonic() - t < 3, "stop() kills a TERM-ignoring process and its grandchild")
    p = harness.Process(["sh", "-c", "exit 5"], name="exit5").start()
    tap.eq(p.wait(5), 5, "Process.wait returns the exit status")
    p.stop()
    p = harness.Process(["sh", "-c", "echo bye; exit 3"], name="early-exit").start()
    t = time.monotonic()
    try:
        p.wait_output("never printed", timeout=20)
        tap.ok(False, "wait_output on a process that exits fails at once", "matched")
    except harness.WaitAbort as e:
        tap.ok(time.monotonic() - t < 5 and "bye" in str(e), "wait_output on a process that exits fails at once, with its output", str(e))
    tap.ok(p.wait_output("bye", timeout=1) is not None, "wait_output finds a line printed just before exit")
    p.stop()

    imds.stop()
    moto.stop()
    tap.ok(
        not any(harness.group_alive(p.proc.pgid) for p in (moto, imds, proxy)),
        "moto_server, the IMDS emulator and the proxy stopped",
    )
    tap.eq(harness.children_left(), [], "no child process left")
    tap.eq(harness._processes, [], "harness registry empty")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    harness.run_tests(main)
