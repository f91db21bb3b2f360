"""What the packaging tests share: building the .deb (and the .rpm) with
make, and the file list both packages must hold.

The list is what `make install` installs, as each package format lays it
out: man pages compressed, and the format's own files (the .deb's
changelog.gz and copyright, the .rpm's license) left to each format.
"""
import os
import re
import subprocess

import harness

TOP = harness.TOP

# Every file either package installs, but its format's own.
FILES = [
    "/etc/ecs/ecs-hostd.conf",
    "/usr/bin/ecs-place",
    "/usr/lib/systemd/system/ecs-hostd.service",
    "/usr/lib/sysusers.d/ecs-hostd.conf",
    "/usr/sbin/ecs-hostd",
    "/usr/share/doc/ecs-hostd/README.md",
    "/usr/share/doc/ecs-hostd/iam-policy.json",
    "/usr/share/man/man1/ecs-place.1.gz",
    "/usr/share/man/man5/ecs-hostd.conf.5.gz",
    "/usr/share/man/man8/ecs-hostd.8.gz",
]
DEB_OWN = ["/usr/share/doc/ecs-hostd/changelog.gz", "/usr/share/doc/ecs-hostd/copyright"]


def user_data_files():
    d = os.path.join(TOP, "packaging", "user-data")
    out = []
    for root, _, names in os.walk(d):
        for n in names:
            out.append("/usr/share/doc/ecs-hostd/user-data/" + os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


def expected_files():
    return sorted(FILES + user_data_files())


def version():
    with open(os.path.join(TOP, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def head():
    return subprocess.run(["git", "-C", TOP, "rev-parse", "--short=8", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def make(*args, timeout=1200):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None), env.pop("MAKELEVEL", None)
    return subprocess.run(["make", "-C", TOP, "--no-print-directory", "B=" + harness.BUILD, *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def deb_path():
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    with open(os.path.join(TOP, "packaging", "debian", "changelog")) as f:
        ver = re.match(r"^\S+ \(([^)]+)\)", f.readline()).group(1)
    return os.path.join(harness.BUILD, "deb", "ecs-hostd_%s_%s.deb" % (ver, arch))


def deb_files(deb):
    """The regular files of the .deb, /lib/ as /usr/lib/ (Debian 12's
    systemd puts units in /lib/systemd/system, merged /usr makes them one)."""
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    files = []
    for line in out.splitlines():
        f = line.split()
        if f[0].startswith("-"):
            p = f[5][1:]
            files.append("/usr" + p if p.startswith("/lib/") else p)
    return sorted(files)
