#!/usr/bin/env python3
"""The host collectors against node_exporter, the peer a Prometheus operator
compares them with: both read the same fixture tree (tests/agent/metrics/
fixtures: proc/, sys/, root/, files taken from a real host) and every node_*
family node_exporter writes for a collector must come out of ecs-hostd the
same -- name, HELP, TYPE, label names and values, sample values -- so a
dashboard made for node_exporter works unchanged.  Then `promtool check
metrics` on both exposition formats, and the output against the golden file
(tests/agent/metrics/golden.prom; HOSTD_UPDATE_GOLDEN=1 rewrites it).

Families whose values come from the running kernel rather than the tree
(the clock, uname) are compared without values.

The filesystem collector statfs()es ROOT + each mount point of
proc/1/mounts, as node_exporter does.  Plain directories would give this
machine's free space, which differs from machine to machine and moves
between node_exporter's scrape and ours (other jobs write), so where the
kernel lets an unprivileged user have namespaces (`unshare -rm`), each of
the three scrapes runs in a user and mount namespace of its own in which
ROOT and the mount points under it are fresh tmpfs mounts of fixed sizes
(ROOT_MOUNTS): every value is then the same on every run and machine, is
compared exactly and is kept in the golden file.  Elsewhere (or with
HOSTD_NO_USERNS=1) ROOT is a temporary directory with the same
subdirectories: the five values statfs gives are this machine's and are
compared within STATFS_TOLERANCE, and left out of the golden comparison."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
GOLDEN = os.path.join(HERE, "golden.prom")
TOOL = os.path.join(harness.BUILD, "tests", "metrics-tool")
ROOT = os.path.join(FIXTURES, "root")
# ecs-hostd reads the fixture tree through its configuration, as on a host.
ENV = {"PATH": os.environ["PATH"], "ECS_HOSTD_PROCFS": os.path.join(FIXTURES, "proc"),
       "ECS_HOSTD_SYSFS": os.path.join(FIXTURES, "sys"), "ECS_HOSTD_ROOTFS": ROOT}
for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
    if k in os.environ:
        ENV[k] = os.environ[k]
# The collectors ecs-hostd has, as node_exporter names them.
COLLECTORS = ["cpu", "meminfo", "loadavg", "filesystem", "netdev", "diskstats", "stat", "time", "uname", "vmstat",
              "filefd", "pressure"]
# node_exporter read as ecs-hostd reads: its udev database is not under
# --path.rootfs, it reads netdev from netlink (the live host) by default,
# and Debian's build leaves out ^lo$; ecs-hostd's default leaves out ^veth.
NODE_EXPORTER_FLAGS = ["--path.udev.data=" + os.path.join(FIXTURES, "root", "run", "udev", "data"),
                       "--no-collector.netdev.netlink", "--collector.netdev.device-exclude=^veth"]
# The mount points of proc/1/mounts the filesystem collector keeps that exist
# under ROOT, parents first, and the tmpfs each is in the private namespace:
# sizes in MiB (a multiple of any page size), the inode counts (0: none, as
# vfat and NFS report) of the host the fixture was taken from.  /mnt/gone and
# /mnt/new\012line do not exist: statfs fails (node_exporter 1.5 does not
# decode \012), device_error 1.
ROOT_MOUNTS = [("/", "size=8192m,nr_inodes=4194304"), ("/boot/efi", "size=10m,nr_inodes=0"),
               ("/data", "size=102400m,nr_inodes=6553600"), ("/mnt/efs shared", "size=8388608m,nr_inodes=0"),
               ("/mnt/ro\tarchive", "size=500m,nr_inodes=32000"), ("/run", "size=1557m,nr_inodes=819200"),
               ("/run/user/1000", "size=778m,nr_inodes=199296"), ("/tmp", "size=3892m,nr_inodes=1048576")]
# The values statfs gives; without the private mounts they are this machine's
# and move between two scrapes: compared within 1% or the floor (bytes,
# inodes), far more than a test job writes in the second between the scrapes
# but less than tells a wrong field or unit (free and avail differ by the 5%
# ext4 reserves; f_frsize and f_bsize by a factor).
STATFS_FAMILIES = {"node_filesystem_size_bytes": 256 << 20, "node_filesystem_free_bytes": 256 << 20,
                   "node_filesystem_avail_bytes": 256 << 20, "node_filesystem_files": 10000,
                   "node_filesystem_files_free": 10000}
STATFS_TOLERANCE = 0.01
# Families whose values are the live system's, not the fixture's.
LIVE = {"node_time_seconds", "node_time_zone_offset_seconds", "node_uname_info"}
SKIP = re.compile(r"^(go_|process_|promhttp_|node_exporter_build_info|node_scrape_collector_)")


def families(text):
    """{family: {"help": ..., "type": ..., "samples": sorted [(name, labels, value)]}}."""
    fams, current = {}, None
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+) ?(.*)", line)
        if m:
            current = fams.setdefault(m.group(2), {"samples": []})
            current[m.group(1).lower()] = m.group(3)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if not m or current is None:
            raise ValueError("not an exposition line: %r" % line)
        current["samples"].append((m.group(1), m.group(2) or "", m.group(3)))
    for f in fams.values():
        f["samples"].sort()
    return {k: v for k, v in fams.items() if not SKIP.match(k)}


def private_mounts():
    """Whether this user may have a user and mount namespace with tmpfs mounts."""
    if os.environ.get("HOSTD_NO_USERNS"):
        return False
    p = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "fixture", ROOT],
                       capture_output=True, timeout=30)
    return p.returncode == 0


def in_private_mounts(argv):
    """argv, run in a user and mount namespace of its own where ROOT_MOUNTS are mounted."""
    steps = []
    for mount_point, options in ROOT_MOUNTS:
        path = shlex.quote(ROOT + mount_point.rstrip("/"))
        steps.append("mkdir -p %s && mount -t tmpfs -o %s fixture %s" % (path, options, path))
    # The mounts hide what the tree holds (run/udev/data): a copy goes back on top.
    steps.append("cp -a %s/. %s/" % (shlex.quote(SEED), shlex.quote(ROOT)))
    return (["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", " && ".join(steps) + ' && exec "$@"',
             "sh"] + argv)


def plain_root():
    """A directory with ROOT_MOUNTS' mount points, for ROOT without the private mounts."""
    root = tempfile.mkdtemp(prefix="hostd-rootfs-")
    shutil.copytree(ROOT, root, dirs_exist_ok=True)  # what the tree holds (the udev database)
    for mount_point, _ in ROOT_MOUNTS:
        os.makedirs(root + mount_point, exist_ok=True)
    return root


def our_default(key):
    """A configuration key's default, as `ecs-hostd --list-keys` prints it."""
    out = subprocess.run([os.path.join(harness.BUILD, "ecs-hostd"), "--list-keys"], capture_output=True,
                         text=True, timeout=30).stdout
    m = re.search(r"^\| `%s` \| `([^`]*)` \|" % key, out, re.M)
    return m.group(1).replace("\\|", "|")


def node_exporter(collectors, root, wrap, flags=NODE_EXPORTER_FLAGS):
    exe = harness.resolve_tool("prometheus-node-exporter", "HOSTD_NODE_EXPORTER")
    port = harness.free_port()
    # Both leave out the same mounts: ecs-hostd's defaults (node_exporter's and the ECS agent's volumes).
    excludes = ["--collector.filesystem.mount-points-exclude=" +
                our_default("ECS_HOSTD_METRICS_FILESYSTEM_MOUNT_POINTS_EXCLUDE"),
                "--collector.filesystem.fs-types-exclude=" + our_default("ECS_HOSTD_METRICS_FILESYSTEM_FS_TYPES_EXCLUDE")]
    args = [exe, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
            "--path.procfs=" + os.path.join(FIXTURES, "proc"), "--path.sysfs=" + os.path.join(FIXTURES, "sys"),
            "--path.rootfs=" + root] + excludes + flags + ["--collector." + c for c in collectors]
    p = harness.Process(wrap(args), name="node_exporter").start()
    try:
        harness.wait_until(lambda: harness.http_get("http://127.0.0.1:%d/metrics" % port)[0] == 200, 10,
                           what="node_exporter")
        return harness.http_get("http://127.0.0.1:%d/metrics" % port)[2].decode()
    finally:
        p.stop()


def tool(root, wrap, *args, env=None):
    env = dict(env or ENV, ECS_HOSTD_ROOTFS=root)
    p = subprocess.run(wrap([TOOL] + list(args)), env=env, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("metrics-tool: %s" % p.stderr)
    return p.stdout


def close(floor, a, b):
    a, b = float(a), float(b)
    return abs(a - b) <= max(STATFS_TOLERANCE * max(abs(a), abs(b)), floor)


def compare(tap, theirs, ours, exact):
    """theirs and ours the same; but live families' values, and statfs' unless exact (within the tolerance)."""
    for name in sorted(theirs):
        t, o = theirs[name], ours.get(name)
        if o is None:
            tap.ok(False, "%s is written" % name, "node_exporter writes it, ecs-hostd does not")
            continue
        live, near = name in LIVE, not exact and name in STATFS_FAMILIES

        def strip(samples):
            return [(n, re.sub(r'"[^"]*"', '""', l) if live else l, "" if live or near else v) for n, l, v in samples]
        same = t.get("help") == o.get("help") and t.get("type") == o.get("type") and strip(t["samples"]) == strip(
            o["samples"])
        if same and near:
            same = all(close(STATFS_FAMILIES[name], a[2], b[2]) for a, b in zip(t["samples"], o["samples"]))
        what = "" if live else ", values within %g%%" % (STATFS_TOLERANCE * 100) if near else ", values"
        tap.ok(same, "%s: as node_exporter writes it (HELP, TYPE, labels%s)" % (name, what),
               "node_exporter %r, ecs-hostd %r" % (t, o))
    extra = sorted(set(ours) - set(theirs))
    tap.eq(extra, [], "no node_* family node_exporter does not write")


def promtool_problems(text):
    """promtool check metrics on text: (whether it parsed, its complaints)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    # 0: clean, 3: lint complaints only; anything else: it could not read the text.
    return p.returncode in (0, 3), set(l for l in (p.stdout + p.stderr).splitlines() if l.strip())


def promtool(tap, text, what, allowed):
    """The text parses, and promtool has nothing to say of it that it does not
    say of node_exporter's own output (allowed): node_exporter's meminfo names,
    node_memory_MemTotal_bytes and the rest, are not snake_case, and ours must
    be the same names."""
    parsed, problems = promtool_problems(text)
    tap.ok(parsed and problems <= allowed, "promtool check metrics: %s" % what,
           " | ".join(sorted(problems - allowed)) if parsed else " | ".join(sorted(problems)))


def as_text_format(om):
    """promtool 2.42 reads the text format 0.0.4 only, whatever it is given;
    OpenMetrics is that format but for two spellings, which are put back as
    the text format has them: a counter's HELP and TYPE name its samples'
    name (OpenMetrics leaves out the _total), and an untyped family's TYPE
    says untyped (OpenMetrics says unknown)."""
    counters = set(re.findall(r"^# TYPE (\S+) counter$", om, re.M))
    om = re.sub(r"^# (HELP|TYPE) (\S+)(?= )", lambda m: m.group(0) + ("_total" if m.group(2) in counters else ""),
                om, flags=re.M)
    return re.sub(r"^(# TYPE \S+) unknown$", r"\1 untyped", om, flags=re.M)


def stable(text):
    """What the golden file holds: the text less what changes from run to
    run or host to host (durations; the live families' label values and
    values)."""
    text = re.sub(r"^(node_scrape_collector_duration_seconds\{[^}]*\}) \S+$", r"\1 <duration>", text, flags=re.M)
    live = "|".join(re.escape(f) for f in sorted(LIVE))
    return re.sub(r"^(%s)(\{.*\})? \S+$" % live,
                  lambda m: m.group(1) + re.sub(r'"(?:[^"\\]|\\.)*"', '""', m.group(2) or "") + " <live>",
                  text, flags=re.M)


def without_statfs(text):
    """text with the values statfs gives on this machine left out."""
    return re.sub(r"^((?:%s)\{[^}]*\}) \S+$" % "|".join(STATFS_FAMILIES), r"\1 <statfs>", text, flags=re.M)


# A copy of ROOT's files, made by main(), for the private root's tmpfs.
SEED = None


def main(tap):
    global SEED
    SEED = tempfile.mkdtemp(prefix="hostd-rootfs-seed-")
    shutil.copytree(ROOT, SEED, dirs_exist_ok=True)
    try:
        run(tap)
    finally:
        shutil.rmtree(SEED)


def run(tap):
    private = private_mounts()
    tap.diag("ROOT: %s" % ("tmpfs mounts in private namespaces" if private else "a plain directory (no namespaces)"))
    root, wrap = (ROOT, in_private_mounts) if private else (plain_root(), lambda argv: argv)
    try:
        check(tap, private, root, wrap)
    finally:
        if root != ROOT:
            shutil.rmtree(root)
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


def check(tap, private, root, wrap):
    raw = node_exporter(COLLECTORS, root, wrap)
    theirs = families(raw)
    allowed = promtool_problems(raw)[1]
    text = tool(root, wrap, *COLLECTORS)
    compare(tap, theirs, families(text), private)
    tap.ok(all(re.search(r'^node_scrape_collector_success\{collector="%s"\} 1$' % c, text, re.M) for c in COLLECTORS),
           "every collector succeeds on the fixture tree", text[-600:])
    promtool(tap, text, "text format 0.0.4", allowed)
    om = tool(root, wrap, "--openmetrics", *COLLECTORS)
    tap.ok(om.endswith("# EOF\n"), "OpenMetrics ends with # EOF", om[-100:])
    promtool(tap, as_text_format(om), "OpenMetrics 1.0", allowed)
    # The exclude pattern empty: both write the bridge-mode tasks' veth pairs.
    flags = [f for f in NODE_EXPORTER_FLAGS if "netdev.device-exclude" not in f]
    theirs = families(node_exporter(["netdev"], root, wrap, flags + ["--collector.netdev.device-exclude="]))
    ours = families(tool(root, wrap, "netdev", env=dict(ENV, ECS_HOSTD_METRICS_NETDEV_DEVICE_EXCLUDE="")))
    tap.ok(any('device="veth1234"' in s[1] for s in ours.get("node_network_receive_bytes_total", {}).get(
        "samples", [])), "netdev, the pattern empty: veth1234 is written", ours)
    compare(tap, theirs, ours, True)
    kept = stable(text)
    if os.environ.get("HOSTD_UPDATE_GOLDEN"):
        tap.ok(private, "HOSTD_UPDATE_GOLDEN writes the golden file with the private mounts' values only")
        if private:
            with open(GOLDEN, "w") as f:
                f.write(kept)
    with open(GOLDEN) as f:
        golden = f.read()
    if private:
        tap.eq(kept, golden, "the whole output is the golden file's")
    else:
        tap.eq(without_statfs(kept), without_statfs(golden), "the whole output is the golden file's (but statfs)")


if __name__ == "__main__":
    harness.run_tests(main)
