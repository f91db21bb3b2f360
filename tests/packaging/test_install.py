#!/usr/bin/env python3
"""make install, make uninstall, make dist and the man pages, as packagers
and operators meet them.

- `make install DESTDIR=...` puts exactly the expected files, with their
  modes, where the default layout (PREFIX=/usr) says; PREFIX, SBINDIR and the
  other directories move them, and ExecStart follows SBINDIR; the user data
  examples go under DOCDIR/user-data/; an existing ecs-hostd.conf is kept.
- `make uninstall` removes what install put, and the configuration only
  while it is still the example.
- `make dist` gives the same bytes twice, holds HEAD's files and .git-hash,
  and the tree it unpacks to builds outside git with `make all` into a
  daemon whose --version names HEAD's commit.
- Each man page renders without a warning as lintian checks it (`man
  --warnings -E UTF-8 -l -Tutf8 -Z`), has a NAME line whatis can parse
  (lexgrog), and names the Makefile's version.
"""
import hashlib
import os
import re
import stat
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

TOP = harness.TOP
MANPAGES = ["packaging/man/ecs-hostd.8", "packaging/man/ecs-hostd.conf.5", "packaging/man/ecs-place.1"]


def version():
    with open(os.path.join(TOP, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def make(*args, cwd=TOP, env=None, timeout=900):
    e = dict(os.environ, **(env or {}))
    e.pop("MAKEFLAGS", None), e.pop("MAKELEVEL", None)
    return subprocess.run(["make", "-C", cwd, "--no-print-directory", *args], capture_output=True, text=True,
                          env=e, timeout=timeout)


def tree(root):
    """{path below root: (type, mode)} of every file and directory."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out["/" + os.path.relpath(p, root)] = ("d" if stat.S_ISDIR(st.st_mode) else "f",
                                                   oct(stat.S_IMODE(st.st_mode)))
    return out


def files(t):
    return {p: mode for p, (kind, mode) in t.items() if kind == "f"}


def test_install(tap, d):
    root = os.path.join(d, "default")
    p = make("install", "B=" + harness.BUILD, "DESTDIR=" + root, "UNITDIR=/usr/lib/systemd/system")
    tap.ok(p.returncode == 0, "make install DESTDIR=... succeeds", (p.stdout + p.stderr)[-1500:])
    want = {
        "/usr/sbin/ecs-hostd": "0o755",
        "/usr/bin/ecs-place": "0o755",
        "/usr/lib/systemd/system/ecs-hostd.service": "0o644",
        "/usr/lib/sysusers.d/ecs-hostd.conf": "0o644",
        "/etc/ecs/ecs-hostd.conf": "0o644",
        "/usr/share/man/man8/ecs-hostd.8": "0o644",
        "/usr/share/man/man5/ecs-hostd.conf.5": "0o644",
        "/usr/share/man/man1/ecs-place.1": "0o644",
        "/usr/share/doc/ecs-hostd/README.md": "0o644",
        "/usr/share/doc/ecs-hostd/iam-policy.json": "0o644",
    }
    user_data = os.path.join(TOP, "packaging", "user-data")
    for dd, _, names in os.walk(user_data):
        for n in names:
            want["/usr/share/doc/ecs-hostd/user-data/" + os.path.relpath(os.path.join(dd, n), user_data)] = "0o644"
    got = files(tree(root))
    tap.ok(got == want, "make install: the default layout (PREFIX=/usr, /etc/ecs), every file and its mode",
           {"missing": sorted(set(want) - set(got)), "extra": sorted(set(got) - set(want)),
            "mode": {k: (got[k], want[k]) for k in set(got) & set(want) if got[k] != want[k]}})
    with open(os.path.join(root, "etc/ecs/ecs-hostd.conf")) as f, \
            open(os.path.join(TOP, "packaging/ecs-hostd.conf")) as g:
        tap.ok(f.read() == g.read(), "the installed ecs-hostd.conf is the example, every key commented out")
    with open(os.path.join(root, "usr/lib/systemd/system/ecs-hostd.service")) as f:
        unit = f.read()
    tap.ok("\nExecStart=/usr/sbin/ecs-hostd\n" in unit, "the installed unit starts /usr/sbin/ecs-hostd")

    # The unit's default directory: systemd's pkg-config value, else /usr/lib/systemd/system.
    pc = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"], capture_output=True,
                        text=True).stdout.strip() or "/usr/lib/systemd/system"
    r2 = os.path.join(d, "unitdir")
    p = make("install", "B=" + harness.BUILD, "DESTDIR=" + r2)
    tap.ok(p.returncode == 0 and os.path.exists(os.path.join(r2, pc.lstrip("/"), "ecs-hostd.service")),
           "without UNITDIR the unit goes to systemd's systemdsystemunitdir (%s)" % pc, p.stderr[-500:])

    # Another layout: every directory variable honoured, ExecStart follows SBINDIR.
    r3 = os.path.join(d, "local")
    ud = os.path.join(d, "user-data")
    os.makedirs(os.path.join(ud, "al2023"))
    for n in ("README.md", "al2023/user-data.sh"):
        with open(os.path.join(ud, n), "w") as f:
            f.write("#!/bin/sh\n")
    os.chmod(os.path.join(ud, "al2023/user-data.sh"), 0o755)
    p = make("install", "B=" + harness.BUILD, "DESTDIR=" + r3, "PREFIX=/usr/local", "BINDIR=/opt/bin",
             "MANDIR=/opt/man", "DOCDIR=/opt/doc", "SYSCONFDIR=/opt/etc", "UNITDIR=/etc/systemd/system",
             "SYSUSERSDIR=/etc/sysusers.d", "USER_DATA_DIR=" + ud)
    got = files(tree(r3))
    want3 = {"/usr/local/sbin/ecs-hostd", "/opt/bin/ecs-place", "/etc/systemd/system/ecs-hostd.service",
             "/etc/sysusers.d/ecs-hostd.conf", "/opt/etc/ecs/ecs-hostd.conf", "/opt/man/man8/ecs-hostd.8",
             "/opt/man/man5/ecs-hostd.conf.5", "/opt/man/man1/ecs-place.1", "/opt/doc/README.md",
             "/opt/doc/iam-policy.json", "/opt/doc/user-data/README.md", "/opt/doc/user-data/al2023/user-data.sh"}
    tap.ok(p.returncode == 0 and set(got) == want3 and got["/opt/doc/user-data/al2023/user-data.sh"] == "0o644",
           "PREFIX, BINDIR, MANDIR, DOCDIR, SYSCONFDIR, UNITDIR, SYSUSERSDIR and USER_DATA_DIR are honoured; "
           "user data examples keep their folders, mode 0644",
           (p.stderr[-500:], sorted(set(got) ^ want3)))
    with open(os.path.join(r3, "etc/systemd/system/ecs-hostd.service")) as f:
        tap.ok("\nExecStart=/usr/local/sbin/ecs-hostd\n" in f.read(), "ExecStart follows SBINDIR")

    # An operator's configuration survives install and uninstall.
    conf = os.path.join(root, "etc/ecs/ecs-hostd.conf")
    with open(conf, "a") as f:
        f.write("ECS_HOSTD_DRAIN_ON=spot\n")
    p = make("install", "B=" + harness.BUILD, "DESTDIR=" + root, "UNITDIR=/usr/lib/systemd/system")
    with open(conf) as f:
        kept = f.read().endswith("ECS_HOSTD_DRAIN_ON=spot\n")
    tap.ok(p.returncode == 0 and kept and "kept" in p.stdout, "make install keeps a changed ecs-hostd.conf",
           p.stdout[-500:])
    p = make("uninstall", "DESTDIR=" + root, "UNITDIR=/usr/lib/systemd/system")
    left = files(tree(root))
    tap.ok(p.returncode == 0 and list(left) == ["/etc/ecs/ecs-hostd.conf"],
           "make uninstall removes every installed file but the changed configuration", sorted(left))
    p = make("uninstall", "DESTDIR=" + r3, "PREFIX=/usr/local", "BINDIR=/opt/bin", "MANDIR=/opt/man",
             "DOCDIR=/opt/doc", "SYSCONFDIR=/opt/etc", "UNITDIR=/etc/systemd/system",
             "SYSUSERSDIR=/etc/sysusers.d", "USER_DATA_DIR=" + ud)
    left = files(tree(r3))
    tap.ok(p.returncode == 0 and not left and not os.path.exists(os.path.join(r3, "opt/doc")),
           "make uninstall removes the example configuration and the doc folder too", sorted(left))


def test_dist(tap, d):
    if not os.path.exists(os.path.join(TOP, ".git")):
        tap.ok(True, "make dist # SKIP not a git checkout")
        return
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short=8", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    name = "ecs-hostd-%s" % version()
    sums = []
    for n in (1, 2):
        p = make("dist", "B=" + os.path.join(d, "dist%d" % n))
        path = os.path.join(d, "dist%d" % n, name + ".tar.gz")
        tap.ok(p.returncode == 0 and os.path.exists(path), "make dist writes B/%s.tar.gz (run %d)" % (name, n),
               p.stderr[-800:])
        with open(path, "rb") as f:
            sums.append(hashlib.sha256(f.read()).hexdigest())
    tap.ok(sums[0] == sums[1], "make dist is reproducible: the same bytes twice", sums)

    tracked = subprocess.run(["git", "-C", TOP, "ls-tree", "-r", "--name-only", "HEAD"], capture_output=True,
                             text=True).stdout.split()
    with tarfile.open(path) as t:
        members = {m.name for m in t.getmembers() if m.isfile() or m.issym()}
        t.extractall(os.path.join(d, "unpacked"))
    tap.ok(members == {name + "/" + f for f in tracked} | {name + "/.git-hash"},
           "the tarball holds HEAD's files under %s/ and .git-hash" % name,
           sorted(members ^ ({name + "/" + f for f in tracked} | {name + "/.git-hash"}))[:10])
    src = os.path.join(d, "unpacked", name)
    with open(os.path.join(src, ".git-hash")) as f:
        tap.ok(f.read().strip() == head, ".git-hash is HEAD's commit (%s)" % head)

    p = make("all", "-j2", cwd=src, env={"CFLAGS": "-O0"})
    tap.ok(p.returncode == 0, "the unpacked tarball builds with make all, outside git", (p.stdout + p.stderr)[-1500:])
    v = subprocess.run([os.path.join(src, "build", "ecs-hostd"), "--version"], capture_output=True, text=True) \
        if p.returncode == 0 else None
    want = "ecs-hostd %s (%s)\n" % (version(), head)
    tap.ok(v is not None and v.stdout == want, "the daemon built from the tarball says %r" % want.strip(),
           v and (v.stdout, v.stderr))


def test_man(tap):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    for page in MANPAGES:
        path = os.path.join(TOP, page)
        p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path], capture_output=True,
                           text=True, env=env)
        tap.ok(p.returncode == 0 and not p.stderr.strip(), "%s: man --warnings, as lintian runs it, is silent" % page,
               p.stderr[:800])
        p = subprocess.run(["groff", "-ww", "-z", "-man", path], capture_output=True, text=True)
        tap.ok(p.returncode == 0 and not p.stderr.strip(), "%s: groff -ww -z (every warning) is silent" % page,
               p.stderr[:800])
        p = subprocess.run(["man", "-l", path], capture_output=True, text=True, env=env)
        wide = [l for l in p.stdout.splitlines() if len(l) > 80]
        tap.ok(p.returncode == 0 and p.stdout.count("\n") > 20 and not wide,
               "%s: MANWIDTH=80 man -l renders it, no line wider than 80 columns" % page, (p.stderr, wide[:3]))
        # A request line whose argument starts with '"' loses the quotes.
        with open(path) as f:
            eaten = [l for l in f.read().splitlines() if re.match(r'^\.(B|I|BR|RB|BI|IB|IR|RI) .*\s"\w+":', l)]
        tap.ok(not eaten, "%s: no JSON quote that a macro's argument parsing would eat" % page, eaten)
        p = subprocess.run(["lexgrog", path], capture_output=True, text=True)
        base = os.path.basename(page).rsplit(".", 1)[0]
        tap.ok(p.returncode == 0 and (": \"%s - " % base) in p.stdout, "%s: whatis parses its NAME line" % page,
               p.stdout + p.stderr)
        with open(path) as f:
            th = re.search(r'^\.TH \S+ (\d) "[^"]*" "([^"]*)"', f.read(), re.M)
        tap.ok(th and th.group(2) == "ecs-hostd %s" % version() and page.endswith("." + th.group(1)),
               "%s: .TH names its section and ecs-hostd %s" % (page, version()), th and th.groups())


def main(tap):
    test_man(tap)
    with tempfile.TemporaryDirectory(prefix="hostd-install-") as d:
        test_install(tap, d)
        test_dist(tap, d)


if __name__ == "__main__":
    harness.run_tests(main)
