#!/usr/bin/env python3
"""packaging/systemd/ecs-hostd.service, offline: what systemd-analyze says.

- `systemd-analyze security --offline=true --threshold=20`: the exposure
  score, printed, at most 2.0 (the unit's own sandbox, without a manager);
- `systemd-analyze verify` on the unit as `make install` puts it in a scratch
  root (with the host's targets, /bin/kill and the man pages beside it), so
  the binary it starts, the man pages Documentation= names and every
  directive are checked: no output at all;
- the directives issue 12 asks for are there, with their values.
test_sandbox.py runs the daemon under the unit with a real systemd.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

UNIT = os.path.join(harness.TOP, "packaging", "systemd", "ecs-hostd.service")
MAX_EXPOSURE = 2.0

# Directive -> the value it must have (None: present, any value).
REQUIRED = {
    "Type": "notify", "WatchdogSec": None, "Restart": "on-failure", "RestartPreventExitStatus": "5",
    "After": None, "Wants": "network-online.target", "StateDirectory": "ecs-hostd", "LimitCORE": "0",
    "UMask": "0077", "DynamicUser": "yes", "CapabilityBoundingSet": "", "NoNewPrivileges": "yes",
    "ProtectSystem": "strict", "ProtectHome": "read-only", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK", "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native", "PrivateMounts": "yes", "PrivateIPC": "yes", "PrivateUsers": "yes",
    "RestrictRealtime": "yes", "AmbientCapabilities": "", "StateDirectoryMode": "0700",
}


def directives(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z]+)=(.*)$", line.rstrip("\n"))
            if m:
                out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_directives(tap):
    d = directives(UNIT)
    wrong = {k: d.get(k) for k, v in REQUIRED.items() if k not in d or (v is not None and v not in d[k])}
    tap.ok(not wrong, "the unit has every directive issue 12 lists, with its value", wrong)
    tap.ok("ecs.service" in " ".join(d.get("After", [])) and
           not any("ecs.service" in " ".join(d.get(k, [])) for k in ("Requires", "Wants", "BindsTo", "Requisite")),
           "the unit starts after the official agent's ecs.service without requiring it", d.get("After"))
    tap.ok(d.get("SystemCallFilter", [None])[0] == "@system-service" and
           not any("@process" in v and v.startswith("~") for v in d.get("SystemCallFilter", [])),
           "SystemCallFilter=@system-service, fork and exec kept for the drain hook", d.get("SystemCallFilter"))
    tap.ok(d.get("ExecStart") == ["/usr/sbin/ecs-hostd"], "ExecStart is /usr/sbin/ecs-hostd (make install rewrites "
           "it for another SBINDIR)", d.get("ExecStart"))


def test_security(tap):
    p = subprocess.run(["systemd-analyze", "security", "--no-pager", "--offline=true",
                        "--threshold=%d" % (MAX_EXPOSURE * 10), UNIT], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for ecs-hostd.service: (\d+\.\d+)", p.stdout)
    score = float(m.group(1)) if m else None
    left = [re.sub(r"\s{2,}", "  ", l.strip()) for l in p.stdout.splitlines() if l.startswith("✗")]
    tap.diag("systemd-analyze security --offline=true: exposure %s; what is left:" % score)
    for l in left:
        tap.diag("  " + l)
    tap.ok(p.returncode == 0 and score is not None and score <= MAX_EXPOSURE,
           "systemd-analyze security --offline=true: exposure %s, at most %.1f" % (score, MAX_EXPOSURE),
           (p.returncode, p.stdout[-1500:], p.stderr))


def scratch_root(d):
    """`make install` into a root that also has the host's targets and
    /bin/kill, which verify looks for."""
    root = os.path.join(d, "root")
    unitdir = "/usr/lib/systemd/system"
    p = subprocess.run(["make", "-C", harness.TOP, "--no-print-directory", "install", "B=" + harness.BUILD,
                        "DESTDIR=" + root, "UNITDIR=" + unitdir], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("make install: " + (p.stdout + p.stderr)[-2000:])
    host_units = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                                capture_output=True, text=True).stdout.strip() or "/usr/lib/systemd/system"
    for target in glob.glob(os.path.join(host_units, "*.target")):
        shutil.copy(target, os.path.join(root, unitdir.lstrip("/")))
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy(shutil.which("kill", path="/bin:/usr/bin"), os.path.join(root, "bin", "kill"))
    return root


def verify(root, unit):
    env = dict(os.environ, MANPATH=os.path.join(root, "usr", "share", "man"))
    return subprocess.run(["systemd-analyze", "verify", "--root=" + root, unit], capture_output=True, text=True,
                          env=env)


def test_verify(tap):
    with tempfile.TemporaryDirectory(prefix="hostd-verify-") as d:
        root = scratch_root(d)
        p = verify(root, "ecs-hostd.service")
        tap.ok(p.returncode == 0 and not (p.stdout + p.stderr).strip(),
               "systemd-analyze verify: the installed unit, its binary and its man pages, without a word",
               (p.returncode, p.stdout + p.stderr))
        # The check can fail: a misspelt directive and a missing binary are reported.
        path = os.path.join(root, "usr/lib/systemd/system/ecs-hostd.service")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("ProtectSystem=", "ProtectSytem=").replace("/usr/sbin/ecs-hostd", "/usr/sbin/nope"))
        p = verify(root, "ecs-hostd.service")
        out = p.stdout + p.stderr
        tap.ok("ProtectSytem" in out and "/usr/sbin/nope" in out,
               "systemd-analyze verify reports a misspelt directive and a missing binary", out)


def main(tap):
    if not shutil.which("systemd-analyze"):
        tap.ok(False, "systemd-analyze is installed (package systemd)")
        return
    test_directives(tap)
    test_security(tap)
    test_verify(tap)


if __name__ == "__main__":
    harness.run_tests(main)
