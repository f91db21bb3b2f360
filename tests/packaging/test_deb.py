#!/usr/bin/env python3
"""make deb: the .deb debhelper builds from make dist's tarball.

- it builds, and lintian (run by make deb, --info included) says nothing;
- its files are exactly what make install installs (packages.FILES and the
  user data examples), with the Debian changelog and copyright;
- /etc/ecs/ecs-hostd.conf is its one conffile; postinst makes the system
  user (systemd-sysusers), enables the unit and starts it (dh_installsystemd);
  postrm forgets the state on purge;
- Depends names the libraries the binaries link (dpkg-shlibdeps) and a
  systemd-sysusers;
- the binaries extracted with dpkg -x run: --version names the Makefile's
  version and HEAD, --check-config accepts the shipped example, ecs-place
  check parses an expression.
make package-test (tests/packaging/package-test) installs it in a fresh
Debian root.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import packages  # noqa: E402


def control(deb, member):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["dpkg-deb", "-e", deb, d], check=True)
        p = os.path.join(d, member)
        return open(p).read() if os.path.exists(p) else ""


def test_build(tap):
    p = packages.make("deb")
    deb = packages.deb_path()
    tap.ok(p.returncode == 0 and os.path.exists(deb), "make deb builds " + os.path.basename(deb),
           (p.stdout + p.stderr)[-3000:])
    if p.returncode != 0:
        return None
    with open(os.path.join(harness.BUILD, "deb", "lintian.log")) as f:
        lintian = f.read()
    tap.ok(not lintian.strip(), "lintian --info: not a word (no error, warning or info tag)", lintian)
    tap.diag("%s: %d KiB" % (os.path.basename(deb), os.path.getsize(deb) // 1024))
    return deb


def test_contents(tap, deb):
    files = packages.deb_files(deb)
    want = sorted(packages.expected_files() + packages.DEB_OWN)
    tap.ok(files == want, "dpkg -c: exactly make install's files (user data examples included), the "
           "changelog and copyright", {"missing": sorted(set(want) - set(files)),
                                      "extra": sorted(set(files) - set(want))})
    tap.ok(control(deb, "conffiles").split() == ["/etc/ecs/ecs-hostd.conf"],
           "/etc/ecs/ecs-hostd.conf is the one conffile", control(deb, "conffiles"))
    postinst = control(deb, "postinst")
    tap.ok("systemd-sysusers" in postinst and "ecs-hostd.conf" in postinst,
           "postinst makes the ecs-hostd user (systemd-sysusers)", postinst)
    tap.ok("deb-systemd-helper enable 'ecs-hostd.service'" in postinst and
           re.search(r"_dh_action=start.*deb-systemd-invoke \$_dh_action 'ecs-hostd.service'", postinst, re.S),
           "postinst enables the unit and starts it (restarts it on upgrade)", postinst)
    postrm = control(deb, "postrm")
    tap.ok(re.search(r'"purge".*rm -rf /var/lib/private/ecs-hostd /var/lib/ecs-hostd', postrm, re.S),
           "postrm removes the state on purge", postrm)
    dep = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True).stdout
    libs = ["libcjson1", "libcurl4", "libsystemd0", "libssl3", "libmicrohttpd12", "libpcre2-8-0", "zlib1g",
            "libyaml-0-2", "libgnutls30", "libcrypt1"]
    tap.ok(all(re.search(r"\b%s\b" % re.escape(l), dep) for l in libs) and "systemd-sysusers" in dep,
           "Depends: every library the binaries link, and systemd-sysusers", dep)


def test_binaries(tap, deb):
    with tempfile.TemporaryDirectory(prefix="hostd-deb-") as d:
        subprocess.run(["dpkg", "-x", deb, d], check=True)
        tree = sorted("/usr" + p if p.startswith("/lib/") else p
                      for p in ("/" + os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs))
        tap.ok(tree == packages.deb_files(deb), "dpkg -x writes exactly the files dpkg -c lists", tree)
        modes = {p: oct(os.stat(d + p).st_mode & 0o7777) for p in ("/usr/sbin/ecs-hostd", "/usr/bin/ecs-place",
                                                                   "/etc/ecs/ecs-hostd.conf")}
        tap.ok(modes == {"/usr/sbin/ecs-hostd": "0o755", "/usr/bin/ecs-place": "0o755",
                         "/etc/ecs/ecs-hostd.conf": "0o644"}, "the binaries 0755, the configuration 0644", modes)
        env = {"PATH": "/usr/bin:/bin"}
        p = subprocess.run([d + "/usr/sbin/ecs-hostd", "--version"], capture_output=True, text=True, env=env)
        want = "ecs-hostd %s (%s)" % (packages.version(), packages.head())
        tap.ok(p.returncode == 0 and p.stdout.strip() == want, "the packaged ecs-hostd --version: " + want,
               (p.returncode, p.stdout, p.stderr))
        p = subprocess.run([d + "/usr/sbin/ecs-hostd", "--check-config", "-c", d + "/etc/ecs/ecs-hostd.conf"],
                           capture_output=True, text=True, env=env, timeout=30)
        tap.ok(p.returncode == 0 and re.search(r"^ECS_CLUSTER=default\s+# default$", p.stdout, re.M)
               and not p.stderr.strip(), "the packaged ecs-hostd --check-config accepts the shipped example",
               (p.returncode, p.stdout[-800:], p.stderr))
        expr = "attribute:ecs.instance-type =~ t3.*  and not(attribute:ecs.os-type == windows)"
        p = subprocess.run([d + "/usr/bin/ecs-place", "check", expr], capture_output=True, text=True, env=env)
        tap.ok(p.returncode == 0 and p.stdout.strip() ==
               "attribute:ecs.instance-type =~ t3.* and not(attribute:ecs.os-type == windows)",
               "the packaged ecs-place check prints the expression's canonical form", (p.returncode, p.stdout,
                                                                                     p.stderr))
        p = subprocess.run([d + "/usr/bin/ecs-place", "check", "attribute:ecs.instance-type =="],
                           capture_output=True, text=True, env=env)
        tap.ok(p.returncode != 0 and p.stderr.strip(), "and refuses a broken one", (p.returncode, p.stderr))


def main(tap):
    missing = [t for t in ("dpkg-buildpackage", "dh", "lintian") if not shutil.which(t)]
    if missing:
        tap.ok(False, "the .deb tools are installed (tools/install-deps.sh): missing " + " ".join(missing))
        return
    deb = test_build(tap)
    if deb:
        test_contents(tap, deb)
        test_binaries(tap, deb)


if __name__ == "__main__":
    harness.run_tests(main)
