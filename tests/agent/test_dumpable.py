#!/usr/bin/env python3
"""ecs-hostd makes itself non-dumpable before it holds a key, and its unit
forbids core files.  The files of a non-dumpable process's /proc/PID belong
to root (the kernel's rule: no core, no ptrace or /proc/PID/mem by its own
user), so the daemon runs here under an unprivileged user (nobody, when the
test runs as root) and the owner of /proc/PID/status says whether it is
dumpable; a plain program started the same way shows the check tells the
two apart."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

HOSTD = os.path.join(harness.BUILD, "ecs-hostd")
NOBODY = 65534


def as_user(argv):
    """argv run as nobody when we are root, else as ourselves."""
    if os.getuid() != 0:
        return argv, os.getuid()
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None, None
    return [setpriv, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + argv, NOBODY


def proc_owner(pid):
    try:
        return os.stat("/proc/%d/status" % pid).st_uid
    except OSError:
        return None


def main(tap):
    d = tempfile.mkdtemp(prefix="hostd-dumpable-")
    os.chmod(d, 0o777)  # nobody's data directory
    conf = os.path.join(d, "ecs-hostd.conf")
    with open(conf, "w") as f:
        f.write("ECS_HOSTD_DATADIR=%s/state\nECS_HOSTD_ATTRIBUTES_DIR=%s/attributes.d\n" % (d, d))
    os.chmod(conf, 0o644)
    closed = harness.free_port()
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:%d" % closed,
           "ECS_AGENT_INTROSPECTION_URL": "http://127.0.0.1:%d/v1/metadata" % closed,
           "ECS_BACKEND_HOST": "http://127.0.0.1:%d" % closed, "AWS_REGION": "us-east-1"}
    try:
        argv, uid = as_user([HOSTD, "-c", conf])
        if argv is None:
            tap.ok(False, "setpriv is needed to run the daemon unprivileged as root")
            return
        control, _ = as_user(["sleep", "30"])
        c = harness.Process(control, name="sleep", clean_env=True).start()
        p = harness.Process(argv, env=env, name="ecs-hostd", clean_env=True).start()
        try:
            p.wait_output(r"Waiting for IMDS|IMDS", timeout=10)
            tap.eq(proc_owner(c.proc.pid), uid,
                   "a dumpable program's /proc/PID/status belongs to its user (the check discriminates)")
            tap.eq(proc_owner(p.proc.pid), 0,
                   "the daemon's /proc/PID/status belongs to root: it made itself non-dumpable")
            tap.ok(p.alive(), "the daemon runs on", p.output()[-500:])
            tap.ok("non-dumpable" not in p.output(), "no warning that it could not",
                   p.output()[-500:])
        finally:
            p.stop()
            c.stop()
        # --check-config goes through the same start.
        argv, _ = as_user([HOSTD, "--check-config", "-c", conf])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
        tap.ok(r.returncode == 0 and "non-dumpable" not in r.stderr, "--check-config starts alike",
               r.stderr[-300:])
    finally:
        shutil.rmtree(d, ignore_errors=True)

    with open(os.path.join(harness.TOP, "packaging", "systemd", "ecs-hostd.service")) as f:
        unit = [line.strip() for line in f]
    tap.ok("LimitCORE=0" in unit, "the unit forbids core files (LimitCORE=0)")


harness.run_tests(main)
