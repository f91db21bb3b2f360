#!/usr/bin/env python3
"""The daemon under packaging/systemd/ecs-hostd.service, started by a real systemd.

No systemd runs as PID 1 on this machine (nor on every developer's), so the
test boots one: systemd-nspawn runs /usr/lib/systemd/systemd as PID 1 of a
container whose root is a scratch tree with the host's /usr mounted
read-only, into which `make install DESTDIR=... PREFIX=/opt/ecs-hostd` put the
daemon and the unit (only ExecStart's path differs from a /usr install).
The container shares the host's network, so the daemon reaches the Stack's
emulators (moto behind the recording proxy, the IMDS emulator) on loopback;
commands run inside it through nsenter.

Two boots: with the system user that packaging/systemd/ecs-hostd.sysusers
makes (as the packages do), and without it (DynamicUser= makes one).  Each
checks that the unit starts (Type=notify, the watchdog), joins the cluster,
serves /metrics with the host's mount table, keeps its state private, reloads,
drains on a Spot notice and runs the drain hook inside the sandbox.  The hook
is a probe that records what the sandbox lets it do; the real manager's
`systemd-analyze security` scores the running unit.  The static boot also
runs the README's drop-in for a data directory of the operator's choice; the
dynamic one then starts the unit as the packages leave a host, with no
cluster configured, and checks that it stays up and says why it joins
nothing.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

PREFIX = "/opt/ecs-hostd"
HOOK = PREFIX + "/libexec/drain-probe"
BOOT_TIMEOUT = 60  # seconds for the container's systemd to reach its target

# The drain hook: what the sandbox lets a child of the daemon do, as JSON in
# the state directory (the one place it may write).
PROBE = r'''#!/usr/bin/python3
import ctypes, errno, json, os, re, resource, socket
libc = ctypes.CDLL(None, use_errno=True)
r = {}

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def call(rc):
    return "ok" if rc != -1 and rc != ctypes.c_void_p(-1).value else errno.errorcode[ctypes.get_errno()]

status = open("/proc/self/status").read()
for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Umask"):
    r[k] = re.search(r"^%s:\s*(\S+)" % k, status, re.M).group(1)
r["uid"], r["gid"] = os.getuid(), os.getgid()
r["env"] = sorted(os.environ)
r["write /usr"] = attempt(lambda: open("/usr/probe", "w"))
r["write /etc"] = attempt(lambda: open("/etc/ecs/probe", "w"))
r["write /var/tmp"] = attempt(lambda: open("/var/tmp/probe", "w").close())
r["write state"] = attempt(lambda: open("/var/lib/ecs-hostd/probe-write", "w").close())
r["read /home"] = attempt(lambda: os.listdir("/home/someone"))
r["write /home"] = attempt(lambda: open("/home/someone/probe", "w"))
r["/tmp"] = sorted(os.listdir("/tmp"))
r["/dev"] = sorted(os.listdir("/dev"))
r["/proc/1/mounts"] = attempt(lambda: open("/proc/1/mounts").read())
r["read /proc/kmsg"] = attempt(lambda: open("/proc/kmsg").close())
r["write /sys/fs/cgroup"] = attempt(lambda: os.mkdir("/sys/fs/cgroup/probe"))
r["write /proc/sys"] = attempt(lambda: open("/proc/sys/kernel/domainname", "w").write("x"))
r["AF_PACKET"] = attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
r["AF_INET"] = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
r["AF_NETLINK"] = attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close())
r["unshare(CLONE_NEWNS)"] = call(libc.unshare(0x00020000))
r["unshare(CLONE_NEWUSER)"] = call(libc.unshare(0x10000000))
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
r["mmap W+X"] = call(libc.mmap(None, 4096, 0x2 | 0x4, 0x22, -1, 0))
r["personality"] = call(libc.personality(0x0400000))
r["sethostname"] = call(libc.sethostname(b"probe", 5))
r["setpriority"] = call(libc.setpriority(0, 0, 19))
r["RLIMIT_CORE"] = list(resource.getrlimit(resource.RLIMIT_CORE))
r["chown"] = attempt(lambda: os.chown("/var/lib/ecs-hostd/probe-write", 0, 0))
json.dump(r, open("/var/lib/ecs-hostd/probe.json", "w"), indent=1)
print("drain-probe: recorded the sandbox")
'''


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


class Container:
    """A systemd booted by systemd-nspawn on a scratch root (host's /usr, ro)."""

    def __init__(self, root, name):
        self.root, self.name = root, name
        self.proc = None
        self.init = None

    def boot(self):
        self.proc = harness.Process(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--machine=" + self.name,
             "-D", self.root, "--bind-ro=/usr", "--console=pipe", "-b", "systemd.unit=ecs-hostd-test.target"],
            name="nspawn-" + self.name).start()

        def init_pid():
            # nspawn -> its outer child -> the container's PID 1 (systemd)
            for c in children(self.proc.pid):
                for g in children(c) + [c]:
                    if comm(g) == "systemd":
                        return g
            if not self.proc.alive():
                raise harness.WaitAbort("systemd-nspawn exited: " + self.proc.output()[-2000:])
            return None

        self.init = harness.wait_until(init_pid, 20, what="the container's systemd")
        harness.wait_until(lambda: self.run("systemctl", "is-system-running").stdout.strip()
                           in ("running", "degraded"), BOOT_TIMEOUT, interval=0.2,
                           what="the container's systemd to finish booting")
        return self

    def run(self, *argv, timeout=60):
        return subprocess.run(["nsenter", "-t", str(self.init), "-m", "-p", "-u", "-i", "-r", "-w",
                               "--", *argv], capture_output=True, text=True, timeout=timeout)

    def show(self, unit, *props):
        out = self.run("systemctl", "show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit="ecs-hostd.service"):
        return self.run("journalctl", "-u", unit, "-o", "cat", "--no-pager").stdout

    def stop(self):
        if self.proc:
            self.proc.stop(timeout=30)  # SIGTERM: nspawn halts the container


def make_root(d, static_user):
    """The container's root: the daemon installed as an operator would, an
    /etc of a few files, the units of the test."""
    root = os.path.join(d, "root")
    for sub in ("usr", "etc/systemd/system", "var/lib", "var/tmp", "run", "tmp", "proc", "sys", "dev",
                "home/someone", "opt"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + link):
            os.symlink(os.readlink("/" + link), os.path.join(root, link))
    shutil.copy("/usr/lib/os-release", os.path.join(root, "etc", "os-release"))
    files = {
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "etc/group": "root:x:0:\nnogroup:x:65534:\n",
        "etc/nsswitch.conf": "passwd: files systemd\ngroup: files systemd\nshadow: files\nhosts: files dns\n",
        "etc/machine-id": "",
        "etc/hosts": "127.0.0.1 localhost\n",
        "tmp/host-file": "the host's /tmp\n",
        "etc/systemd/system/ecs-hostd-test.target":
            "[Unit]\nDescription=ecs-hostd under test\nRequires=basic.target\nAfter=basic.target\n",
    }
    for path, text in files.items():
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    # The sysusers.d file goes to /etc/sysusers.d: the container's /usr is the host's.
    sysusers = "/etc/sysusers.d" if static_user else "/etc/no-sysusers.d"
    p = subprocess.run(["make", "-C", harness.TOP, "--no-print-directory", "install", "B=" + harness.BUILD,
                        "DESTDIR=" + root, "PREFIX=" + PREFIX, "UNITDIR=/etc/systemd/system",
                        "SYSUSERSDIR=" + sysusers], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("make install failed: " + (p.stdout + p.stderr)[-2000:])
    os.makedirs(os.path.join(root, PREFIX.lstrip("/"), "libexec"))
    with open(os.path.join(root, HOOK.lstrip("/")), "w") as f:
        f.write(PROBE)
    os.chmod(os.path.join(root, HOOK.lstrip("/")), 0o755)
    return root


def configure(root, stack, port, datadir=None):
    """ecs.config for the Stack's endpoints; the installed example
    ecs-hostd.conf stays as it is (every key commented out)."""
    keys = stack.daemon_config(datadir=datadir or "/var/lib/ecs-hostd", attributes_dir="/etc/ecs/attributes.d")
    keys.update({"ECS_HOSTD_MODE": "register", "ECS_LOGLEVEL": "debug", "ECS_HOSTD_DRAIN_HOOK": HOOK,
                 "ECS_HOSTD_METRICS_LISTEN": "127.0.0.1:%d" % port, "ECS_HOSTD_METRICS_COLLECTORS": "filesystem,uname"})
    with open(os.path.join(root, "etc", "ecs", "ecs.config"), "w") as f:
        f.write("".join("%s=%s\n" % kv for kv in keys.items()))
    os.makedirs(os.path.join(root, "etc", "ecs", "attributes.d"), exist_ok=True)


def check_running(tap, c, label, want_user):
    st = c.show("ecs-hostd.service", "ActiveState", "SubState", "StatusText", "MainPID", "NRestarts",
                "WatchdogUSec", "Type")
    tap.ok(st.get("ActiveState") == "active" and st.get("SubState") == "running" and st.get("Type") == "notify",
           f"{label}: the unit is active (running), Type=notify", (st, c.journal()[-1500:]))
    tap.ok(st.get("StatusText", "").startswith("Joined ECS cluster"),
           f"{label}: the daemon tells systemd what it does (STATUS=)", st.get("StatusText"))
    tap.ok(st.get("NRestarts") == "0" and st.get("WatchdogUSec") == "30s",
           f"{label}: no restart, the watchdog armed at 30 s and fed", st)
    pid = int(st.get("MainPID") or 0)
    ps = c.run("ps", "-o", "user:32=,uid=", "-p", str(pid)).stdout.split()
    tap.ok(len(ps) == 2 and ps[0] == "ecs-hostd" and int(ps[1]) != 0 and want_user(int(ps[1])),
           f"{label}: the daemon runs as the user ecs-hostd, not root", ps)
    sec = c.run("systemd-analyze", "security", "--no-pager", "ecs-hostd.service")
    m = re.search(r"Overall exposure level for ecs-hostd.service: (\d+\.\d+)", sec.stdout)
    tap.ok(m and float(m.group(1)) <= 2.0,
           f"{label}: systemd-analyze security of the running unit: exposure {m.group(1) if m else '?'} (at most 2.0)",
           sec.stdout[-800:] + sec.stderr)
    return pid


def check_metrics(tap, port, label):
    code, _, body = harness.http_get("http://127.0.0.1:%d/metrics" % port)
    body = body.decode(errors="replace")
    ro = dict(re.findall(r'^node_filesystem_readonly\{[^}]*mountpoint="([^"]+)"[^}]*\} (\S+)$', body or "", re.M))
    # The sandbox mounts / read-only; the host's table (/proc/1/mounts, the
    # container's PID 1 here) says rw.  /home is statfs'ed, not hidden.
    tap.ok(code == 200 and ro.get("/") == "0" and "/usr" in ro,
           f"{label}: /metrics shows the host's mount table (/ read-write) though the sandbox has it read-only",
           (code, ro))
    errs = re.findall(r'^node_filesystem_device_error\{[^}]*mountpoint="([^"]+)"[^}]*\} 1$', body or "", re.M)
    tap.ok(not errs, f"{label}: statfs works on every mount point the collector reports", errs)


def check_state(tap, root, label, uid, where="var/lib/private/ecs-hostd"):
    path = os.path.join(root, where)
    st = os.stat(path)
    tap.ok(st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o700
           and os.path.exists(os.path.join(path, "state.json")),
           f"{label}: state.json kept in /{where}, owned by the service user, mode 0700",
           (st.st_uid, uid, oct(st.st_mode), os.listdir(path)))


def check_drain(tap, c, stack, root, label, uid):
    stack.imds.control.spot_notice()
    harness.wait_until(lambda: any(ci.get("status") == "DRAINING" for ci in stack.container_instances()), 20,
                       what="DRAINING")
    tap.ok(True, f"{label}: a Spot notice drains the container instance")
    # The probe writes to the StateDirectory=, whatever ECS_HOSTD_DATADIR is.
    probe = os.path.join(root, "var/lib/private/ecs-hostd", "probe.json")
    harness.wait_until(lambda: os.path.exists(probe) and os.path.getsize(probe) > 0, 20, what="the hook's probe")
    time.sleep(0.2)
    with open(probe) as f:
        r = json.load(f)
    bad = {}

    def want(key, ok):
        if not ok(r.get(key)):
            bad[key] = r.get(key)

    want("uid", lambda v: v == uid)
    for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
        want(k, lambda v: int(v, 16) == 0)
    want("NoNewPrivs", lambda v: v == "1")
    want("Seccomp", lambda v: v == "2")
    want("Umask", lambda v: v == "0077")
    want("env", lambda v: not any(k.startswith("AWS_") or k == "NOTIFY_SOCKET" for k in v))
    for k in ("write /usr", "write /etc", "write /home"):
        want(k, lambda v: v == "EROFS")
    want("write /var/tmp", lambda v: v == "ok")
    want("write state", lambda v: v == "ok")
    want("read /home", lambda v: v == "ok")
    want("/tmp", lambda v: "host-file" not in v)
    want("/dev", lambda v: not any(re.match(r"(sd|vd|nvme|xvd|mem$|kmsg$|port$)", d) for d in v))
    want("/proc/1/mounts", lambda v: v == "ok")
    want("write /proc/sys", lambda v: v in ("EROFS", "EACCES", "EPERM"))
    want("read /proc/kmsg", lambda v: v in ("EACCES", "EPERM", "ENOENT"))
    want("write /sys/fs/cgroup", lambda v: v in ("EROFS", "EACCES", "EPERM"))
    want("AF_PACKET", lambda v: v == "EAFNOSUPPORT")
    want("AF_INET", lambda v: v == "ok")
    want("AF_NETLINK", lambda v: v == "ok")
    want("unshare(CLONE_NEWNS)", lambda v: v == "EPERM")
    want("unshare(CLONE_NEWUSER)", lambda v: v == "EPERM")
    want("mmap W+X", lambda v: v == "EPERM")
    want("personality", lambda v: v == "EPERM")
    want("sethostname", lambda v: v == "EPERM")
    want("setpriority", lambda v: v == "EPERM")
    want("chown", lambda v: v == "EPERM")
    want("RLIMIT_CORE", lambda v: v == [0, 0])
    if os.environ.get("VERBOSE") == "1":
        tap.diag(json.dumps(r, indent=1))
    tap.ok(not bad, f"{label}: the drain hook runs in the sandbox as the service user: no capability, "
           "no new privileges, seccomp, read-only system and /home, private /tmp and /dev, no namespaces, "
           "no W+X memory, no personality, no nice or chown, no core, umask 0077", bad or r)
    log = c.journal()
    tap.ok("drain-probe: recorded the sandbox" in log, f"{label}: the hook's output is in the journal", log[-800:])


def check_reload(tap, c, label):
    before = c.journal().count("Configuration reloaded")
    p = c.run("systemctl", "reload", "ecs-hostd.service")
    ok = p.returncode == 0 and harness.wait_until(
        lambda: c.journal().count("Configuration reloaded") > before or None, 10, what="the reload")
    st = c.show("ecs-hostd.service", "ActiveState", "NRestarts")
    tap.ok(ok and st.get("ActiveState") == "active" and st.get("NRestarts") == "0",
           f"{label}: systemctl reload (ExecReload in the sandbox) reloads without a restart",
           (p.returncode, p.stderr, st))


def check_journal_clean(tap, c, label):
    log = c.journal()
    bad = [l for l in log.splitlines() if re.search(r"Permission denied|Read-only file system|Operation not permitted|"
                                                    r"Cannot write the data directory|Bad system call", l)]
    tap.ok(not bad and "Joined ECS cluster" in log, f"{label}: the journal shows the join and no sandbox denial",
           bad or log[-1500:])


def check_unconfigured(tap, c, root, stack, port, label):
    """As just after the package's install: no cluster configured anywhere,
    auto mode, no official agent.  The unit starts and stays up, saying why
    it joins nothing, rather than crash-looping or registering anywhere."""
    keys = stack.daemon_config(datadir="/var/lib/ecs-hostd", attributes_dir="/etc/ecs/attributes.d")
    keys.pop("ECS_CLUSTER", None)
    keys.update({"ECS_HOSTD_MODE": "auto", "ECS_HOSTD_METRICS_LISTEN": "127.0.0.1:%d" % port})
    with open(os.path.join(root, "etc", "ecs", "ecs.config"), "w") as f:
        f.write("".join("%s=%s\n" % kv for kv in keys.items()))
    # The identity the runs above saved is in another cluster: a fresh host has none.
    c.run("rm", "-rf", "/var/lib/private/ecs-hostd", "/var/lib/ecs-hostd")
    registered = len(stack.container_instances())
    clusters = stack._active_clusters()
    p = c.run("systemctl", "start", "ecs-hostd.service")
    want = "Waiting for a cluster: no cluster configured: ECS_CLUSTER is not set"
    try:
        harness.wait_until(lambda: c.show("ecs-hostd.service", "StatusText").get("StatusText", "")
                           .startswith(want), 30, what="the STATUS= of an unconfigured host")
        ok = p.returncode == 0
    except TimeoutError:
        ok = False
    time.sleep(2)  # long enough for a failing unit's restart (RestartSec=5 aside) to show
    st = c.show("ecs-hostd.service", "ActiveState", "SubState", "NRestarts", "StatusText")
    tap.ok(ok and st.get("ActiveState") == "active" and st.get("NRestarts") == "0",
           f"{label}, no cluster configured: the unit runs, no restart, and STATUS= says what is missing",
           (p.stderr, st, c.journal()[-1200:]))
    tap.ok("Not joining a cluster: no cluster configured" in c.journal(),
           f"{label}, no cluster configured: the journal says it too", c.journal()[-1200:])
    tap.ok(len(stack.container_instances()) == registered and stack._active_clusters() == clusters,
           f"{label}, no cluster configured: nothing registered, no cluster created", (registered, clusters))
    c.run("systemctl", "stop", "ecs-hostd.service")


def boot(tap, d, static_user):
    label = "system user" if static_user else "dynamic user"
    root = make_root(os.path.join(d, "static" if static_user else "dynamic"), static_user)
    port = harness.free_port()
    custom = "/srv/ecs-hostd" if static_user else None
    with harness.Stack(cluster="sandbox") as stack:
        configure(root, stack, port, datadir=custom)
        if custom:
            # The README's drop-in for ECS_HOSTD_DATADIR outside /var/lib.
            dropin = os.path.join(root, "etc/systemd/system/ecs-hostd.service.d")
            os.makedirs(dropin)
            with open(os.path.join(dropin, "datadir.conf"), "w") as f:
                f.write("[Service]\nReadWritePaths=%s\n" % custom)
        c = Container(root, "ecs-hostd-test-%d-%s" % (os.getpid(), "s" if static_user else "d"))
        try:
            c.boot()
            if custom:
                # As the README says: made once, owned by the service's system user.
                p = c.run("install", "-d", "-o", "ecs-hostd", "-g", "ecs-hostd", "-m", "0700", custom)
                tap.ok(p.returncode == 0, f"{label}: systemd-sysusers made the user ecs-hostd at boot", p.stderr)
            p = c.run("systemctl", "start", "ecs-hostd.service")
            tap.ok(p.returncode == 0, f"{label}: systemctl start ecs-hostd returns once the daemon is READY",
                   p.stderr + c.journal()[-1500:])
            harness.wait_until(lambda: c.show("ecs-hostd.service", "StatusText").get("StatusText", "")
                               .startswith("Joined ECS cluster"), 30, what="the join")
            uid = int(c.run("id", "-u", "ecs-hostd").stdout.strip() or -1) if static_user else None
            want_user = (lambda u: u == uid) if static_user else (lambda u: 61184 <= u <= 65519)
            pid = check_running(tap, c, label, want_user)
            uid = uid if static_user else int(c.run("ps", "-o", "uid=", "-p", str(pid)).stdout)
            check_metrics(tap, port, label)
            check_reload(tap, c, label)
            harness.wait_until(lambda: c.show("ecs-hostd.service", "StatusText").get("StatusText", "")
                               .startswith("Joined ECS cluster"), 30, what="the join after the reload")
            state = custom.lstrip("/") if custom else "var/lib/private/ecs-hostd"
            check_state(tap, root, label, uid, state)
            check_drain(tap, c, stack, root, label, uid)
            check_journal_clean(tap, c, label)
            p = c.run("systemctl", "stop", "ecs-hostd.service")
            st = c.show("ecs-hostd.service", "ActiveState", "Result")
            tap.ok(p.returncode == 0 and st.get("Result") == "success",
                   f"{label}: systemctl stop: a clean exit", (p.stderr, st))
            if not static_user:
                check_unconfigured(tap, c, root, stack, port, label)
        except Exception:
            if c.init:
                tap.diag("the daemon's journal:\n" + c.journal()[-3000:])
                tap.diag(c.run("systemctl", "status", "--no-pager", "ecs-hostd.service").stdout[-1500:])
            raise
        finally:
            c.stop()


def main(tap):
    if os.geteuid() != 0 or not shutil.which("systemd-nspawn") or not shutil.which("nsenter"):
        tap.ok(False, "systemd-nspawn and nsenter, as root (tools/install-deps.sh installs systemd-container)",
               "euid=%d nspawn=%s" % (os.geteuid(), shutil.which("systemd-nspawn")))
        return
    with tempfile.TemporaryDirectory(prefix="hostd-sandbox-") as d:
        boot(tap, d, static_user=True)
        boot(tap, d, static_user=False)


if __name__ == "__main__":
    harness.run_tests(main)
