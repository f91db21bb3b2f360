#!/usr/bin/env python3
"""ecs-hostd as systemd runs it: sd_notify (READY, STATUS, WATCHDOG, STOPPING)
on a real notify socket, SIGHUP reloads, SIGTERM stops, and startup waits
out an unavailable IMDS without blocking the loop."""
import os
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

HOSTD = os.path.join(harness.BUILD, "ecs-hostd")
POLICY = open(os.path.join(harness.TOP, "packaging", "iam-policy.json")).read()


class Notify:
    """A NOTIFY_SOCKET like systemd's: collects the daemon's datagrams."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages = []

    def poll(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def has(self, prefix):
        return any(line.startswith(prefix) for m in self.poll() for line in m.split("\n"))

    def wait(self, prefix, timeout=10):
        try:
            harness.wait_until(lambda: self.has(prefix), timeout, what=prefix)
            return True
        except TimeoutError:
            return False


def main(tap):
    d = tempfile.mkdtemp(prefix="hostd-daemon-")
    conf = os.path.join(d, "ecs-hostd.conf")
    # Keep the daemon's files in the test's directory and away from any real agent.
    local = "ECS_HOSTD_DATADIR=%s\nECS_HOSTD_ATTRIBUTES_DIR=%s\nECS_AGENT_INTROSPECTION_URL=http://127.0.0.1:9/v1/metadata\n" % (
        os.path.join(d, "state"), os.path.join(d, "attributes.d"))
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds:
        inst = moto.run_instance()
        _, creds = moto.role_credentials("hostd-role", POLICY)
        imds.serve_instance(inst, role="hostd-role", creds=creds)
        moto.create_cluster("demo")
        with open(conf, "w") as f:
            f.write("ECS_CLUSTER=demo\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n" % (moto.endpoint, imds.url) + local)

        # IMDS is failing when the daemon starts: it waits and says so.
        imds.control.fault(kind="status", status=500, path="*", count=None)
        notify = Notify(d)
        p = harness.Process([HOSTD, "--config", conf], clean_env=True,
                            env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}).start()
        tap.ok(notify.wait("READY=1"), "READY=1 once the loop runs, even while IMDS is down")
        tap.ok(notify.wait("STATUS=Waiting for IMDS"), "STATUS= says it waits for IMDS", notify.poll())
        tap.ok(notify.wait("WATCHDOG=1", 3), "WATCHDOG=1 pings when WATCHDOG_USEC is set")
        imds.control.clear_faults()
        tap.ok(notify.wait("STATUS=Joined ECS cluster demo as arn:aws:ecs:us-east-1:", 15),
               "after IMDS recovers it joins the cluster", notify.poll()[-3:])
        tap.match(r"Registered EC2 instance %s in cluster demo" % inst.instance_id, p.output(), "the log says so")
        tap.match(r"EC2 instance %s \(m5.large\) in us-east-1a" % inst.instance_id, p.output(),
                  "the log names the instance from the identity document")
        tap.ok(creds.secret_access_key not in p.output() and creds.session_token not in p.output(),
               "no secret in the log")

        # SIGHUP with a broken file: errors named, old configuration kept, still running.
        with open(conf, "a") as f:
            f.write("ECS_HOSTD_POLL_INTERVAL_MS=5\nECS_HOSTD_MODEE=register\n")
        nlines = open(conf).read().count("\n")
        p.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "keeping the previous one" in p.output(), 5, what="reload refusal")
        out = p.output()
        tap.match(r"%s:%d: ECS_HOSTD_POLL_INTERVAL_MS" % (conf, nlines - 1), out, "reload error names file:line and key")
        tap.match(r"%s:%d: .*ECS_HOSTD_MODEE.*did you mean ECS_HOSTD_MODE" % (conf, nlines), out, "every error is reported")
        tap.ok(p.alive(), "a bad reload does not stop the daemon")

        # SIGHUP with a good file: reloaded, and the clients rebuilt.
        with open(conf, "w") as f:
            f.write("ECS_CLUSTER=demo\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\nECS_LOGLEVEL=debug\n"
                    % (moto.endpoint, imds.url) + local)
        mark = len(p.output())
        p.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "Joined ECS cluster demo" in p.output()[mark:], 10, what="rejoin after reload")
        tap.match(r"Reusing container instance", p.output()[mark:], "a reload reuses the container instance")
        tap.match(r"Configuration reloaded", p.output()[mark:], "a good reload is applied")
        tap.ok(notify.has("RELOADING=1"), "RELOADING=1 is sent")

        # SIGTERM: STOPPING=1, exit 0, promptly.
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        tap.eq(rc, 0, "SIGTERM exits 0")
        tap.ok(time.time() - t0 < 5, "and promptly")
        tap.ok(notify.has("STOPPING=1"), "STOPPING=1 is sent")

        # SIGINT stops it too.
        p = harness.Process([HOSTD, "--config", conf], clean_env=True).start()
        p.wait_output(r"Joined ECS cluster demo", 15)
        p.send_signal(signal.SIGINT)
        tap.eq(p.wait(10), 0, "SIGINT exits 0")

        # A terminal error: exit 5, and ECS_LOGLEVEL=warn hides info lines.
        with open(conf, "w") as f:
            f.write("ECS_CLUSTER=nosuch\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\nECS_LOGLEVEL=warn\n"
                    % (moto.endpoint, imds.url) + local.replace("state", "state-nosuch"))
        p = harness.Process([HOSTD, "--config", conf], clean_env=True).start()
        tap.eq(p.wait(20), 5, "a terminal error (missing named cluster) exits 5")
        tap.match(r"\[crit\]: ECS cluster nosuch does not exist in region us-east-1", p.output(),
                  "and says why at crit level")
        tap.ok("[info]" not in p.output(), "ECS_LOGLEVEL=warn hides info lines", p.output()[-500:])

        # Valgrind-clean: a whole start (IMDS, STS credentials, a signed ECS
        # call), a Spot notice drained with its hook, IMDS failing for a
        # while, a reload and a stop with no memory error and no definite
        # leak.  Only for the plain build: ASan and valgrind do not mix.
        if not harness.BUILD.rstrip("/").endswith("asan"):
            hook = os.path.join(d, "hook.sh")
            with open(hook, "w") as f:
                f.write("#!/bin/sh\necho \"drained $ECS_HOSTD_EVENT_ID\"\n")
            os.chmod(hook, 0o755)
            with open(conf, "w") as f:
                f.write("ECS_CLUSTER=demo\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n"
                        "ECS_HOSTD_DRAIN_HOOK=%s\nECS_HOSTD_POLL_INTERVAL_MS=250\n"
                        % (moto.endpoint, imds.url, hook) + local)
            vlog = os.path.join(d, "valgrind.log")
            p = harness.Process(["valgrind", "--error-exitcode=99", "--leak-check=full",
                                 "--errors-for-leak-kinds=definite", "--log-file=" + vlog,
                                 HOSTD, "--config", conf], clean_env=True).start()
            p.wait_output(r"Attribute sync: custom attributes in sync", 60)
            imds.control.spot_notice("terminate", time=110)
            p.wait_output(r"Drain hook \[\d+\] for spot/terminate/\S+: drained spot/terminate/", 60)
            imds.control.withdraw_spot()
            imds.control.fault(kind="status", status=500, path="/latest/meta-data/spot/instance-action", count=16)
            p.wait_output(r"IMDS answers again", 60)
            p.send_signal(signal.SIGHUP)
            p.wait_output(r"Configuration reloaded", 30)
            harness.wait_until(lambda: p.output().count("Attribute sync: custom attributes in sync") >= 2, 60,
                               what="rejoin under valgrind")
            p.send_signal(signal.SIGTERM)
            rc = p.wait(60)
            summary = open(vlog).read()
            tap.ok(rc == 0 and "ERROR SUMMARY: 0 errors" in summary,
                   "valgrind: no memory error or definite leak over start, join, attribute sync, a drain and its "
                   "hook, failing IMDS reads, reload and stop",
                   "exit %s; %s" % (rc, summary[-1500:]))
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
