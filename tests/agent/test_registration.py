#!/usr/bin/env python3
"""Issue 3: joining the cluster and keeping attributes in sync, against moto
(IAM auth on, the policy in packaging/iam-policy.json) behind the recording
proxy, with the IMDS emulator as the instance and the AWS CLI as observer."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from hostd import HOSTD, Host, custom, ops  # noqa: E402

POLICY = json.load(open(os.path.join(harness.TOP, "packaging", "iam-policy.json")))


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, harness.AwsProxy(moto.endpoint) as proxy:
        inst = moto.run_instance(instance_type="c5.xlarge", az="us-east-1b")
        _, creds = moto.role_credentials("hostd-role", POLICY)
        imds.serve_instance(inst, role="hostd-role", creds=creds)
        moto.create_cluster("lab")
        state = imds.control.state()
        tap.diag("instance %s" % inst.instance_id)

        # ---- register mode --------------------------------------------------
        h = Host(imds, proxy, ECS_CLUSTER="lab", ECS_HOSTD_MODE="register",
                 ECS_INSTANCE_ATTRIBUTES='{"catslike": "catnip", "stack": "prod"}',
                 ECS_CONTAINER_INSTANCE_TAGS='{"owner": "lab5"}', ECS_RESERVED_MEMORY="256")
        h.attr_file("team.json", {"team": "cats", "stack": "lab"})
        h.start()
        h.wait(r"Attribute sync: custom attributes in sync")
        cis = moto.describe_container_instances("lab")
        tap.eq([c["ec2InstanceId"] for c in cis], [inst.instance_id], "register: the instance appears with the right ec2InstanceId")
        arn = cis[0]["containerInstanceArn"] if cis else None
        tap.eq(custom(cis[0]) if cis else None, {"catslike": "catnip", "stack": "lab", "team": "cats"},
               "custom attributes from config and directory (the file overrides) are visible to the AWS CLI")
        reg = ops(proxy, "RegisterContainerInstance")
        tap.eq(len(reg), 1, "one RegisterContainerInstance")
        body = json.loads(reg[0]["body"]) if reg else {}
        res = {r["name"]: r for r in body.get("totalResources", [])}
        ncpu = os.sysconf("SC_NPROCESSORS_ONLN")
        memtotal = int(re.search(r"MemTotal:\s+(\d+) kB", open("/proc/meminfo").read()).group(1))
        tap.eq(res.get("CPU", {}).get("integerValue"), ncpu * 1024, "CPU = online CPUs x 1024")
        tap.eq(res.get("MEMORY", {}).get("integerValue"), memtotal // 1024 - 256, "MEMORY = MemTotal MiB - ECS_RESERVED_MEMORY")
        tap.eq(sorted(res.get("PORTS", {}).get("stringSetValue", [])), sorted(["22", "2375", "2376", "51678", "51679"]),
               "PORTS = the default reserved ports")
        tap.eq(res.get("PORTS_UDP", {}).get("stringSetValue"), [], "PORTS_UDP = ECS_RESERVED_PORTS_UDP (empty)")
        tap.eq(body.get("versionInfo", {}).get("agentVersion"), "ecs-hostd-0.1.0", "versionInfo carries ecs-hostd's version")
        tap.ok(re.fullmatch(r"[0-9a-f]{7,}|unknown", body.get("versionInfo", {}).get("agentHash", "")), "and its git hash")
        builtin = {a["name"]: a.get("value") for a in body.get("attributes", [])}
        tap.eq({k: builtin.get(k) for k in ("ecs.os-type", "ecs.os-family")}, {"ecs.os-type": "linux", "ecs.os-family": "LINUX"},
               "built-in OS attributes")
        tap.eq(builtin.get("ecs.cpu-architecture"), {"x86_64": "x86_64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
               "ecs.cpu-architecture")
        tap.ok(builtin.get("ecs.vpc-id", "").startswith("vpc-") and builtin.get("ecs.subnet-id", "").startswith("subnet-"),
               "ecs.vpc-id and ecs.subnet-id from IMDS", builtin)
        tap.eq(body.get("tags"), [{"key": "owner", "value": "lab5"}], "tags from ECS_CONTAINER_INSTANCE_TAGS")
        tap.eq(json.loads(body.get("instanceIdentityDocument", "{}")).get("instanceId"), inst.instance_id,
               "the identity document comes from IMDS")
        tap.ok(body.get("instanceIdentityDocumentSignature"), "with its signature")

        # ---- restarts ---------------------------------------------------------
        tap.eq(h.stop(), 0, "SIGTERM stops it")
        for i in range(3):
            mark = len(ops(proxy))
            h.start()
            h.wait(r"Reusing container instance %s" % re.escape(arn))
            h.wait(r"Attribute sync: custom attributes in sync: 0 put, 0 deleted")
            h.stop()
        tap.eq(len(moto.describe_container_instances("lab")), 1, "three restarts leave exactly one container instance")
        tap.eq(len(ops(proxy, "RegisterContainerInstance")), 1, "and register nothing again")

        # ---- live attribute changes -----------------------------------------
        h.start()
        h.wait(r"Attribute sync: custom attributes in sync")
        moto.aws("ecs", "put-attributes", "--cluster", "lab", "--attributes",
                 "name=handmade,value=yes,targetId=%s" % arn)
        proxy.control.clear_faults()
        proxy.control.clear_log()
        mark = len(h.proc.output())
        h.attr_file("team.json", {"team": "dogs", "stack": "lab"})
        h.attr_file("more.json", {"color": "blue", "gpu": None})
        h.wait(r"Attribute sync: custom attributes in sync: 3 put, 0 deleted", start=mark)
        puts = [a["name"] for e in ops(proxy, "PutAttributes") for a in json.loads(e["body"])["attributes"]]
        tap.eq(sorted(puts), ["color", "gpu", "team"], "a change in the directory puts exactly the difference")
        tap.ok(all(a.get("targetId") == arn for e in ops(proxy, "PutAttributes") for a in json.loads(e["body"])["attributes"]),
               "with the full ARN as targetId")
        proxy.control.clear_faults()
        proxy.control.clear_log()
        mark = len(h.proc.output())
        os.unlink(os.path.join(h.attrs, "more.json"))
        h.wait(r"Attribute sync: custom attributes in sync: 0 put, 2 deleted", start=mark)
        dels = [a for e in ops(proxy, "DeleteAttributes") for a in json.loads(e["body"])["attributes"]]
        tap.eq(sorted(a["name"] for a in dels), ["color", "gpu"], "removing a file deletes exactly its attributes")
        tap.ok(all("value" not in a and a.get("targetId") == arn for a in dels),
               "DeleteAttributes names the attribute and the full ARN, without a value (as the ECS API asks)", dels)
        # moto deletes a custom attribute only when the request repeats its
        # value (AWS says not to send one), so only the value-less one can be
        # seen gone through the CLI; "color" is checked by the request above.
        ci = moto.describe_container_instances("lab")[0]
        seen = custom(ci)
        seen.pop("color", None)
        tap.eq(seen, {"catslike": "catnip", "stack": "lab", "team": "dogs", "handmade": "yes"},
               "the AWS CLI sees the deletion, and an attribute added with the AWS CLI survives")

        # ---- invalid attributes ---------------------------------------------
        proxy.control.clear_faults()
        proxy.control.clear_log()
        mark = len(h.proc.output())
        h.attr_file("bad.json", {"bad:name": "x"})
        h.wait(r"the configured attributes are invalid", start=mark)
        out = h.proc.output()[mark:]
        tap.match(re.escape(os.path.join(h.attrs, "bad.json")) + r".*bad:name", out,
                  "an invalid attribute is reported with its file and name")
        tap.eq(ops(proxy, "PutAttributes") + ops(proxy, "DeleteAttributes"), [], "and nothing is sent to ECS")
        tap.eq(custom(moto.describe_container_instances("lab")[0]).get("team"), "dogs", "the previous attributes stay")
        os.unlink(os.path.join(h.attrs, "bad.json"))
        h.wait(r"custom attributes in sync: 0 put, 0 deleted", start=len(out) + mark)
        tap.eq(h.stop(), 0, "stopped")

        # --check-config refuses the same mistake at start.
        h.attr_file("bad.json", {"bad:name": "x"})
        h.write_conf()
        cc = harness.subprocess.run([HOSTD, "--check-config", "--config", h.conf], capture_output=True, text=True)
        tap.ok(cc.returncode == 1 and "bad:name" in cc.stderr, "--check-config exits 1 on an invalid attribute", cc.stderr)
        os.unlink(os.path.join(h.attrs, "bad.json"))

        # ---- identity conflicts ---------------------------------------------
        h.keys["ECS_CLUSTER"] = "other"
        p = h.start()
        rc = p.wait(20)
        tap.eq(rc, 5, "a changed cluster exits 5")
        tap.match(r"state\.json says this instance is registered in cluster lab, but ECS_CLUSTER is other", p.output(),
                  "and names the state file and both clusters")
        h.keys["ECS_CLUSTER"] = "lab"

        with open(os.path.join(h.dir, "state", "state.json"), "w") as f:
            f.write("{not json")
        p = h.start()
        h.wait(r"Attribute sync: custom attributes in sync")
        tap.match(r"state\.json is corrupt .*moved it to .*state\.json\.corrupt-\d+", p.output(), "a corrupt state file is set aside")
        tap.match(r"already registered in cluster lab as %s; reusing it" % re.escape(arn), p.output(),
                  "and the existing registration is found again")
        tap.eq(len(moto.describe_container_instances("lab")), 1, "still exactly one container instance")
        h.stop()

        # State written on another EC2 instance (an AMI baked after registration) is discarded.
        with open(os.path.join(h.dir, "state", "state.json"), "w") as f:
            json.dump({"containerInstanceArn": arn.replace(arn.rsplit("/", 1)[1], "0" * 8), "cluster": "lab",
                       "region": "us-east-1", "ec2InstanceId": "i-0123456789abcdef0", "ownedAttributes": []}, f)
        p = h.start()
        h.wait(r"Joined ECS cluster lab as %s" % re.escape(arn))
        tap.match(r"state\.json belongs to EC2 instance i-0123456789abcdef0, this is %s .*discarding it" % inst.instance_id,
                  p.output(), "state from another EC2 instance is discarded")
        h.stop()

        # ECS unreachable at start: retried for as long as it takes, then joined.
        proxy.control.set_down(True)
        p = h.start()
        h.wait(r"Cannot join the cluster yet: .*retrying")
        tap.ok(p.alive(), "ECS unreachable at start: the daemon waits")
        proxy.control.set_down(False)
        h.wait(r"Joined ECS cluster lab as %s" % re.escape(arn), timeout=30)
        tap.ok(True, "and joins once ECS answers")
        h.stop()

        # ---- a named cluster that does not exist ----------------------------
        h2 = Host(imds, proxy, ECS_CLUSTER="nosuch", ECS_HOSTD_MODE="register")
        p = h2.start()
        tap.eq(p.wait(20), 5, "a missing named cluster exits 5")
        tap.match(r"ECS cluster nosuch does not exist in region us-east-1", p.output(), "naming the cluster and region")

        # ---- ECS_CLUSTER unset: "default", created --------------------------
        h3 = Host(imds, proxy, ECS_HOSTD_MODE="register")
        h3.start()
        h3.wait(r"Joined ECS cluster default")
        tap.match(r"Created ECS cluster default", h3.proc.output(), "ECS_CLUSTER unset creates the default cluster")
        tap.eq([c["ec2InstanceId"] for c in moto.describe_container_instances("default")], [inst.instance_id],
               "and registers there")
        h3.stop()

        # ---- least privilege: no ecs:PutAttributes ---------------------------
        weak = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action":
                [a for a in POLICY["Statement"][0]["Action"] if a != "ecs:PutAttributes"]}]}
        _, wcreds = moto.role_credentials("weak-role", weak)
        imds.serve_credentials("weak-role", wcreds)
        h4 = Host(imds, proxy, ECS_CLUSTER="lab", ECS_HOSTD_MODE="register", ECS_INSTANCE_ATTRIBUTES='{"newattr": "1"}')
        h4.start()
        h4.wait(r"Attribute sync: .*PutAttributes")
        tap.match(r"AccessDenied.*the IAM policy must allow ecs:PutAttributes", h4.proc.output(),
                  "a policy without ecs:PutAttributes gives an error naming it")
        h4.stop()
        imds.serve_credentials("hostd-role", creds)

        # ---- companion mode ---------------------------------------------------
        other = moto.run_instance(instance_type="t3.small")
        moto.create_cluster("prod")
        doc = lambda i: json.dumps({"instanceId": i.instance_id, "region": "us-east-1", "availabilityZone": i.availability_zone})
        decoy = moto.ecs("RegisterContainerInstance", cluster="prod", instanceIdentityDocument=doc(other))
        agent_reg = moto.ecs("RegisterContainerInstance", cluster="prod", instanceIdentityDocument=doc(inst))
        agent_arn = agent_reg["containerInstance"]["containerInstanceArn"]
        agent = harness.AgentIntrospection(cluster="prod", arn=agent_arn).start()
        proxy.control.clear_faults()
        proxy.control.clear_log()
        h5 = Host(imds, proxy, ECS_CLUSTER="prod", ECS_HOSTD_MODE="companion", ECS_AGENT_INTROSPECTION_URL=agent.metadata_url,
                  ECS_INSTANCE_ATTRIBUTES='{"catslike": "catnip"}')
        h5.start()
        h5.wait(r"Attribute sync: custom attributes in sync")
        tap.match(r"The official agent registered this instance as %s" % re.escape(agent_arn), h5.proc.output(),
                  "companion: the ARN comes from the introspection endpoint")
        tap.eq(ops(proxy, "RegisterContainerInstance"), [], "companion never registers")
        ci = moto.describe_container_instances("prod", [agent_arn])[0]
        tap.eq(custom(ci), {"catslike": "catnip"}, "and syncs attributes on the agent's container instance")
        h5.stop()

        # Fallback: the agent does not answer; List + Describe, matched on ec2InstanceId.
        proxy.control.clear_faults()
        proxy.control.clear_log()
        h6 = Host(imds, proxy, ECS_CLUSTER="prod", ECS_HOSTD_MODE="companion")
        h6.start()
        h6.wait(r"Joined ECS cluster prod")
        tap.match(r"Found the official agent's registration of %s in cluster prod: %s" % (inst.instance_id, re.escape(agent_arn)),
                  h6.proc.output(), "companion falls back to List + Describe and picks this instance, not the decoy")
        tap.eq(ops(proxy, "RegisterContainerInstance"), [], "still no registration")
        h6.stop()

        # The agent is still starting: companion waits (with backoff) and joins
        # once the agent has registered and answers.
        moto.create_cluster("late")
        agent.control.set_available(False)
        h9 = Host(imds, proxy, ECS_CLUSTER="late", ECS_HOSTD_MODE="companion",
                  ECS_AGENT_INTROSPECTION_URL=agent.metadata_url)
        h9.start()
        h9.wait(r"the official agent has not registered EC2 instance %s in cluster late yet" % inst.instance_id)
        tap.ok(h9.proc.alive(), "companion keeps waiting while the official agent starts")
        late = moto.ecs("RegisterContainerInstance", cluster="late", instanceIdentityDocument=doc(inst))
        late_arn = late["containerInstance"]["containerInstanceArn"]
        agent.control.set_metadata(cluster="late", arn=late_arn)
        agent.control.set_available(True)
        h9.wait(r"Joined ECS cluster late as %s \(companion mode\)" % re.escape(late_arn), timeout=30)
        tap.ok(True, "and joins once the agent has registered")
        h9.stop()
        agent.control.set_metadata(cluster="prod", arn=agent_arn)

        # --check-config says what auto would choose.
        h7c = Host(imds, proxy, ECS_CLUSTER="prod", ECS_AGENT_INTROSPECTION_URL=agent.metadata_url)
        h7c.write_conf()
        cc = harness.subprocess.run([HOSTD, "--check-config", "--config", h7c.conf], capture_output=True, text=True)
        tap.match(r"# ECS_HOSTD_MODE=auto resolves to companion: the official agent at %s answers \(%s\)"
                  % (re.escape(agent.metadata_url), re.escape(agent_arn)), cc.stdout,
                  "--check-config shows auto resolving to companion when the agent answers")
        h7c.keys["ECS_AGENT_INTROSPECTION_URL"] = "http://127.0.0.1:9/v1/metadata"
        h7c.write_conf()
        cc = harness.subprocess.run([HOSTD, "--check-config", "--config", h7c.conf], capture_output=True, text=True)
        tap.match(r"# ECS_HOSTD_MODE=auto resolves to register: nothing answers at http://127.0.0.1:9/v1/metadata",
                  cc.stdout, "and to register when nothing answers")

        # auto: the agent answers -> companion; it does not -> register.
        h7 = Host(imds, proxy, ECS_CLUSTER="prod", ECS_AGENT_INTROSPECTION_URL=agent.metadata_url)
        h7.start()
        h7.wait(r"Joined ECS cluster prod")
        tap.match(r"ECS_HOSTD_MODE=auto: the official agent's introspection endpoint answers; using companion mode",
                  h7.proc.output(), "auto picks companion when the agent answers")
        h7.stop()
        agent.stop()
        h8 = Host(imds, proxy, ECS_CLUSTER="lab", ECS_HOSTD_DATADIR=h.keys["ECS_HOSTD_DATADIR"] + "-auto")
        h8.start()
        h8.wait(r"Joined ECS cluster lab")
        tap.match(r"ECS_HOSTD_MODE=auto: the official agent's introspection endpoint does not answer; using register mode",
                  h8.proc.output(), "auto picks register when nothing answers")
        h8.stop()
        tap.ok(not re.search(r"\[(crit|error)\]", h.proc.output()), "no error logged in the normal run")
        del decoy
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
