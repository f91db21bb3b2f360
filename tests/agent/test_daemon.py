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
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecs:DescribeClusters"], "Resource": "*"}]}


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
    with harness.MotoServer() as moto, harness.ImdsEmulator(require_v2=True) as imds:
        inst = moto.run_instance()
        _, creds = moto.role_credentials("hostd-role", POLICY)
        imds.serve_instance(inst, role="hostd-role", creds=creds)
        moto.create_cluster("demo")
        with open(conf, "w") as f:
            f.write("ECS_CLUSTER=demo\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n" % (moto.endpoint, imds.url))

        # IMDS is failing when the daemon starts: it waits and says so.
        imds.control.fault(kind="status", status=500, path="*", count=None)
        notify = Notify(d)
        p = harness.Process([HOSTD, "--config", conf], clean_env=True,
                            env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}).start()
        tap.ok(notify.wait("READY=1"), "READY=1 once the loop runs, even while IMDS is down")
        tap.ok(notify.wait("STATUS=Waiting for IMDS"), "STATUS= says it waits for IMDS", notify.poll())
        tap.ok(notify.wait("WATCHDOG=1", 3), "WATCHDOG=1 pings when WATCHDOG_USEC is set")
        imds.control.clear_faults()
        tap.ok(notify.wait("STATUS=Connected to ECS cluster demo in us-east-1", 15),
               "after IMDS recovers it reaches the cluster", notify.poll()[-3:])
        tap.match(r"ECS cluster demo in us-east-1 is ACTIVE", p.output(), "the log says the cluster is ACTIVE")
        tap.match(r"EC2 instance %s \(m5.large\) in us-east-1a" % inst.instance_id, p.output(),
                  "the log names the instance from the identity document")
        tap.ok(creds.secret_access_key not in p.output() and creds.session_token not in p.output(),
               "no secret in the log")

        # SIGHUP with a broken file: errors named, old configuration kept, still running.
        with open(conf, "a") as f:
            f.write("ECS_HOSTD_POLL_INTERVAL_MS=5\nECS_HOSTD_MODEE=register\n")
        p.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "keeping the previous one" in p.output(), 5, what="reload refusal")
        out = p.output()
        tap.match(r"%s:4: ECS_HOSTD_POLL_INTERVAL_MS" % conf, out, "reload error names file:line and key")
        tap.match(r"%s:5: .*ECS_HOSTD_MODEE.*did you mean ECS_HOSTD_MODE" % conf, out, "every error is reported")
        tap.ok(p.alive(), "a bad reload does not stop the daemon")

        # SIGHUP with a good file: reloaded, and the clients rebuilt.
        with open(conf, "w") as f:
            f.write("ECS_CLUSTER=demo\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\nECS_LOGLEVEL=debug\n"
                    % (moto.endpoint, imds.url))
        mark = len(p.output())
        p.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "ECS cluster demo" in p.output()[mark:], 10, what="reconnect after reload")
        tap.match(r"Configuration reloaded", p.output()[mark:], "a good reload is applied")
        tap.ok(notify.has("RELOADING=1"), "RELOADING=1 is sent")

        # SIGTERM: STOPPING=1, exit 0, promptly.
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        tap.eq(rc, 0, "SIGTERM exits 0")
        tap.ok(time.time() - t0 < 5, "and promptly")
        tap.ok(notify.has("STOPPING=1"), "STOPPING=1 is sent")

        # The cluster does not exist: reported, not a crash (registration decides more in issue 3).
        with open(conf, "w") as f:
            f.write("ECS_CLUSTER=nosuch\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n" % (moto.endpoint, imds.url))
        p = harness.Process([HOSTD, "--config", conf], clean_env=True).start()
        ok = True
        try:
            p.wait_output(r"ECS cluster nosuch does not exist in us-east-1", 10)
        except Exception:  # noqa: BLE001
            ok = False
        tap.ok(ok, "a missing cluster is reported by name and region", p.output()[-500:])
        p.send_signal(signal.SIGINT)
        tap.eq(p.wait(10), 0, "SIGINT exits 0")

        # Valgrind-clean: a whole start (IMDS, STS credentials, a signed ECS
        # call), a reload and a stop with no memory error and no definite
        # leak.  Only for the plain build: ASan and valgrind do not mix.
        if not harness.BUILD.rstrip("/").endswith("asan"):
            with open(conf, "w") as f:
                f.write("ECS_CLUSTER=demo\nECS_BACKEND_HOST=%s\nAWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n"
                        % (moto.endpoint, imds.url))
            vlog = os.path.join(d, "valgrind.log")
            p = harness.Process(["valgrind", "--error-exitcode=99", "--leak-check=full",
                                 "--errors-for-leak-kinds=definite", "--log-file=" + vlog,
                                 HOSTD, "--config", conf], clean_env=True).start()
            p.wait_output(r"ECS cluster demo in us-east-1 is ACTIVE", 60)
            p.send_signal(signal.SIGHUP)
            p.wait_output(r"Configuration reloaded", 30)
            harness.wait_until(lambda: p.output().count("ECS cluster demo in us-east-1 is ACTIVE") >= 2, 60,
                               what="reconnect under valgrind")
            p.send_signal(signal.SIGTERM)
            rc = p.wait(60)
            summary = open(vlog).read()
            tap.ok(rc == 0 and "ERROR SUMMARY: 0 errors" in summary,
                   "valgrind: no memory error or definite leak over start, reload and stop",
                   "exit %s; %s" % (rc, summary[-1500:]))
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
