#!/usr/bin/env python3
"""ECS calls go through the proxy HTTP_PROXY / HTTPS_PROXY name (as the
official agent reads them: from the environment or ecs.config, a bare
HOST:PORT, HTTP_PROXY for https too unless HTTPS_PROXY is set, lowercase
spellings, NO_PROXY), with its password when it has one; IMDS and the
official agent's introspection endpoint never do.  tests/emulators/fwdproxy.py
is the proxy and records what crossed it; moto (IAM on) behind the recording
ECS proxy checks the signatures survived the trip."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

HOSTD = os.path.join(harness.BUILD, "ecs-hostd")
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "ecs:DescribeClusters", "ecs:ListClusters"], "Resource": "*"}]}
PASSWORD = "s3cret-proxy-pa55"
DESCRIBE = ("ecs", "DescribeClusters", '{"clusters":["default"]}')


def tool(imds, endpoint, *args, env=None):
    return harness.aws_tool(dict({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url, "ECS_BACKEND_HOST": endpoint,
                                  "ECS_LOGLEVEL": "debug"}, **(env or {})), *args)


def hostport(url):
    return url.split("://", 1)[1].rstrip("/")


def ecs_through(fwd, since, ecs_hostport):
    """The ECS requests the proxy forwarded since the mark."""
    return [e for e in fwd.control.log(since=since) if e["host"] == ecs_hostport and not e["tunnel"]]


def main(tap):
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds, \
            harness.AwsProxy(moto.endpoint) as ecs, harness.FwdProxy() as fwd, harness.FwdProxy() as fwd2:
        inst = moto.run_instance(instance_type="m5.large")
        _, creds = moto.role_credentials("ecs-hostd-proxied", POLICY)
        imds.serve_instance(inst, role="ecs-hostd-proxied", creds=creds)
        moto.create_cluster("default")
        ecs_hp, imds_hp = hostport(ecs.url), hostport(imds.url)

        # HTTP_PROXY as ecs.config writes it (HOST:PORT), no NO_PROXY at all.
        mark, imds_mark = fwd.control.log_mark(), imds.control.log_mark()
        p, r = tool(imds, ecs.url, *DESCRIBE, env={"HTTP_PROXY": fwd.hostport})
        tap.ok(p.returncode == 0 and r.get("error") == 0, "HTTP_PROXY=HOST:PORT: the signed call succeeds",
               p.stdout + p.stderr[-800:])
        through = ecs_through(fwd, mark, ecs_hp)
        tap.ok(len(through) == 1 and through[0]["method"] == "POST" and through[0]["url"] == ecs.url + "/"
               and through[0]["headers"].get("x-amz-target", "").endswith(".DescribeClusters")
               and through[0]["status"] == 200,
               "the ECS call went through the proxy, in absolute form", fwd.control.log(since=mark))
        tap.eq([e["host"] for e in fwd.control.log(since=mark) if e["host"] != ecs_hp], [],
               "nothing else went through the proxy")
        paths = [e["path"] for e in imds.control.log(since=imds_mark)]
        tap.ok("/latest/api/token" in paths and "/latest/dynamic/instance-identity/document" in paths
               and any(x.startswith("/latest/meta-data/iam/security-credentials/") for x in paths),
               "IMDS (token, identity document, role credentials) was reached directly", paths)
        tap.ok(not fwd.control.log(host=imds_hp), "IMDS never went through the proxy (plain http, no NO_PROXY)")
        tap.ok(creds.secret_access_key not in p.stdout + p.stderr and creds.session_token not in p.stdout + p.stderr,
               "no secret in the output")

        # The lowercase spelling, and the uppercase one winning over it.
        mark = fwd.control.log_mark()
        p, r = tool(imds, ecs.url, *DESCRIBE, env={"http_proxy": fwd.url})
        tap.ok(r.get("error") == 0 and len(ecs_through(fwd, mark, ecs_hp)) == 1,
               "http_proxy (lowercase) is honoured too", p.stderr[-500:])
        mark, mark2 = fwd.control.log_mark(), fwd2.control.log_mark()
        p, r = tool(imds, ecs.url, *DESCRIBE, env={"HTTP_PROXY": fwd2.url, "http_proxy": fwd.url})
        tap.ok(r.get("error") == 0 and len(ecs_through(fwd2, mark2, ecs_hp)) == 1
               and not ecs_through(fwd, mark, ecs_hp), "HTTP_PROXY wins over http_proxy", p.stderr[-500:])

        # NO_PROXY: the ECS endpoint reached directly.
        mark, ecs_mark = fwd.control.log_mark(), ecs.control.log_mark()
        p, r = tool(imds, ecs.url, *DESCRIBE, env={"HTTP_PROXY": fwd.hostport, "NO_PROXY": "example.com,127.0.0.1"})
        tap.ok(r.get("error") == 0 and not fwd.control.log(since=mark) and len(ecs.control.log(since=ecs_mark)) == 1,
               "NO_PROXY naming the endpoint: reached directly", p.stderr[-500:])

        # A proxy that wants credentials, given in the URL: used, never shown.
        fwd.control.set_auth("hostd:" + PASSWORD)
        mark = fwd.control.log_mark()
        p, r = tool(imds, ecs.url, *DESCRIBE, env={"HTTP_PROXY": "http://hostd:%s@%s" % (PASSWORD, fwd.hostport)})
        tap.ok(r.get("error") == 0 and [e["proxy_user"] for e in ecs_through(fwd, mark, ecs_hp)] == ["hostd"],
               "the proxy's user and password from the URL are sent to it", p.stderr[-500:])
        tap.ok(PASSWORD not in p.stdout + p.stderr, "the proxy password is not in the output")
        p, r = tool(imds, ecs.url, *DESCRIBE, env={"HTTP_PROXY": "http://hostd:wrong-%s@%s" % (PASSWORD, fwd.hostport)})
        tap.ok(p.returncode == 1 and r.get("status") == 407 and PASSWORD not in p.stdout + p.stderr,
               "a wrong proxy password: the 407 is the error, the password not in it", p.stdout[-500:])
        fwd.control.set_auth(None)

        # https endpoints: a CONNECT tunnel to HTTPS_PROXY, else to HTTP_PROXY.
        # (The ECS proxy speaks no TLS, so the call then fails; the tunnel is
        # what is checked.)
        https = "https://%s/" % ecs_hp
        mark, mark2 = fwd.control.log_mark(), fwd2.control.log_mark()
        p, r = tool(imds, https, *DESCRIBE, env={"HTTPS_PROXY": fwd2.hostport, "HTTP_PROXY": fwd.hostport})
        tunnels = [e for e in fwd2.control.log(since=mark2) if e["tunnel"]]
        tap.ok(tunnels and tunnels[0]["url"] == ecs_hp and not fwd.control.log(since=mark),
               "an https endpoint: CONNECT through HTTPS_PROXY, not HTTP_PROXY", fwd2.control.log(since=mark2))
        mark = fwd.control.log_mark()
        p, r = tool(imds, https, *DESCRIBE, env={"http_proxy": fwd.hostport})
        tap.ok([e["url"] for e in fwd.control.log(since=mark) if e["tunnel"]][:1] == [ecs_hp],
               "without HTTPS_PROXY, HTTP_PROXY serves https too (as the official agent)", fwd.control.log(since=mark))

    # The daemon, with the proxy in ecs.config as the ECS documentation writes
    # it, and a password: registers through it; IMDS and the introspection
    # endpoint (auto mode asks it first) go direct.
    with harness.Stack(cluster="default") as s, harness.FwdProxy(auth="ecs:" + PASSWORD) as fwd:
        conf = os.path.join(s.tmpdir, "ecs.config")
        with open(conf, "w") as f:
            f.write("HTTP_PROXY=http://ecs:%s@%s\nNO_PROXY=169.254.169.254,169.254.170.2,/var/run/docker.sock\n"
                    % (PASSWORD, fwd.hostport))
        env = {k: v for k, v in s.daemon_env(ECS_HOSTD_MODE="auto").items() if v is not None}
        r = subprocess.run([HOSTD, "--check-config", "-c", conf], env=dict(env, PATH=os.environ["PATH"]),
                           capture_output=True, text=True, timeout=30)
        line = [x for x in r.stdout.splitlines() if x.startswith("HTTP_PROXY=")]
        tap.ok(line and line[0].split() == ["HTTP_PROXY=http://ecs:********@%s" % fwd.hostport, "#", conf + ":1"],
               "--check-config shows the proxy from ecs.config with its password masked", line)
        tap.ok(PASSWORD not in r.stdout + r.stderr, "--check-config never shows the password")
        # The same two lines in the daemon's own configuration file.
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "auto",
                                   "HTTP_PROXY": "http://ecs:%s@%s" % (PASSWORD, fwd.hostport),
                                   "NO_PROXY": "169.254.169.254,169.254.170.2,/var/run/docker.sock"})
        s.proxy.control.wait_request("RegisterContainerInstance", status=200, timeout=30)
        ecs_hp = hostport(s.proxy.url)
        ops = [e["headers"].get("x-amz-target", "").rsplit(".", 1)[-1] for e in fwd.control.log() if e["host"] == ecs_hp]
        tap.ok("RegisterContainerInstance" in ops, "the daemon's ECS calls went through the proxy", ops)
        others = sorted({e["host"] for e in fwd.control.log() if e["host"] != ecs_hp})
        tap.eq(others, [], "nothing else did: not IMDS, not the introspection endpoint")
        tap.ok(s.imds.control.log(path="/latest/dynamic/instance-identity/document"), "IMDS was asked directly")
        d.stop()
        tap.ok(PASSWORD not in d.output() and s.creds.secret_access_key not in d.output(),
               "the daemon's log has neither the proxy password nor the AWS secret")


harness.run_tests(main)
