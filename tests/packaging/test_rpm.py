#!/usr/bin/env python3
"""make rpm: packaging/rpm/ecs-hostd.spec, for Amazon Linux 2023, built here
with rpmbuild from make dist's tarball (--nodeps: the build dependencies
are AL2023's names, which Debian does not have).

- the spec names AL2023's packages (dnf names, no Debian -dev), uses
  %systemd_post/%systemd_preun/%systemd_postun_with_restart, and takes
  cJSON from its upstream release tarball as an extra Source;
- make rpm builds it; `rpm -qlp` lists the same files as the .deb's
  `dpkg -c`, each format's own files aside (the .rpm's licenses and
  build-id links, the .deb's changelog and copyright);
- cJSON is bundled: Provides bundled(cjson) = the spec's version, no
  libcjson among the requirements or in the binaries' NEEDED, and the
  bundled copy works (ecs-place parses an instance file with it);
- the configuration is %config(noreplace); the scriptlets make the user
  and enable, stop and restart the unit as systemd's macros do;
- the extracted binaries run: --version names HEAD.
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

SPEC = os.path.join(harness.TOP, "packaging", "rpm", "ecs-hostd.spec")
RPM_OWN = re.compile(r"^/usr/share/licenses/ecs-hostd/|^/usr/lib/\.build-id/")


def rpmq(rpm, *args):
    return subprocess.run(["rpm", "-qp", *args, rpm], capture_output=True, text=True).stdout


def test_spec(tap):
    with open(SPEC) as f:
        spec = f.read()
    brs = re.findall(r"^BuildRequires:\s*(\S+)", spec, re.M)
    tap.ok(brs and not [b for b in brs if b.endswith("-dev")] and
           {"libcurl-devel", "openssl-devel", "systemd-devel", "libmicrohttpd-devel", "pcre2-devel",
            "zlib-devel", "libyaml-devel", "gnutls-devel", "libxcrypt-devel", "systemd-rpm-macros"} <= set(brs),
           "BuildRequires: AL2023's dnf names of every build dependency but cJSON", brs)
    tap.ok(all(re.search(r"^%%%s ecs-hostd\.service$" % m, spec, re.M)
               for m in ("systemd_post", "systemd_preun", "systemd_postun_with_restart")),
           "the scriptlets use %systemd_post, %systemd_preun and %systemd_postun_with_restart")
    ver = re.search(r"^%global cjson_version\s+(\S+)", spec, re.M).group(1)
    tap.ok(re.search(r"^Source1:\s+https://github\.com/DaveGamble/cJSON/archive/v%\{cjson_version\}/", spec, re.M)
           and re.search(r"^Provides:\s+bundled\(cjson\) = %\{cjson_version\}$", spec, re.M),
           "cJSON %s from its upstream release tarball (Source1), Provides: bundled(cjson)" % ver)
    tap.ok(re.search(r"^Version:\s+%s$" % re.escape(packages.version()), spec, re.M),
           "the spec's Version is the Makefile's, " + packages.version())
    return ver


def test_build(tap):
    p = packages.make("rpm")
    rpms = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(harness.BUILD, "rpm", "RPMS")) for f in fs
            if f.endswith(".rpm")]
    tap.ok(p.returncode == 0 and len(rpms) == 1, "make rpm builds one .rpm: %s" % [os.path.basename(r) for r in rpms],
           (p.stdout + p.stderr)[-3000:])
    if rpms:
        tap.diag("%s: %d KiB" % (os.path.basename(rpms[0]), os.path.getsize(rpms[0]) // 1024))
    return rpms[0] if p.returncode == 0 and rpms else None


def test_contents(tap, rpm, cjson_version):
    lines = rpmq(rpm, "--qf", "[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]").splitlines()
    files = sorted(l.split()[-1] for l in lines if l.startswith("-") and not RPM_OWN.match(l.split()[-1]))
    tap.ok(files == packages.expected_files(), "rpm -qlp: exactly make install's files, as the .deb lists them",
           {"missing": sorted(set(packages.expected_files()) - set(files)),
            "extra": sorted(set(files) - set(packages.expected_files()))})
    deb = packages.deb_path()
    if os.path.exists(deb):
        debs = sorted(set(packages.deb_files(deb)) - set(packages.DEB_OWN))
        tap.ok(files == debs, "rpm -qlp and dpkg -c list the same files (each format's own aside)",
               {"rpm only": sorted(set(files) - set(debs)), "deb only": sorted(set(debs) - set(files))})
    conf = [l for l in lines if l.endswith(" /etc/ecs/ecs-hostd.conf")]
    tap.ok(conf and conf[0].split()[1] == "cn", "/etc/ecs/ecs-hostd.conf is %config(noreplace)", conf)
    provides = rpmq(rpm, "--provides")
    requires = rpmq(rpm, "--requires")
    tap.ok("bundled(cjson) = %s" % cjson_version in provides.splitlines() and "cjson" not in requires.lower(),
           "Provides: bundled(cjson) = %s; no libcjson required" % cjson_version, (provides, requires))
    need = ["libcurl.so.4", "libmicrohttpd.so.12", "libsystemd.so.0", "libcrypto.so.3", "libpcre2-8.so.0",
            "libz.so.1", "libyaml-0.so.2", "libgnutls.so.30", "libcrypt.so.1"]
    tap.ok(all(n in requires for n in need) and "systemd" in requires.split(),
           "Requires: the shared libraries the binaries link, and systemd", requires)
    scripts = rpmq(rpm, "--scripts")
    tap.ok(re.search(r"postinstall.*systemd-sysusers /usr/lib/sysusers\.d/ecs-hostd\.conf.*"
                     r"install-system-units ecs-hostd\.service", scripts, re.S) and
           re.search(r"preuninstall.*remove-system-units ecs-hostd\.service", scripts, re.S) and
           re.search(r"postuninstall.*mark-restart-system-units ecs-hostd\.service", scripts, re.S),
           "scriptlets: the user, then enable on install, stop and disable on removal, restart on upgrade",
           scripts)


def test_binaries(tap, rpm):
    with tempfile.TemporaryDirectory(prefix="hostd-rpm-") as d:
        subprocess.run("rpm2cpio '%s' | cpio -idm --quiet" % rpm, shell=True, cwd=d, check=True)
        needed = subprocess.run(["readelf", "-d", d + "/usr/sbin/ecs-hostd", d + "/usr/bin/ecs-place"],
                                capture_output=True, text=True).stdout
        tap.ok("NEEDED" in needed and "cjson" not in needed.lower(),
               "neither binary needs a shared libcjson (readelf -d)", needed)
        env = {"PATH": "/usr/bin:/bin"}
        p = subprocess.run([d + "/usr/sbin/ecs-hostd", "--version"], capture_output=True, text=True, env=env)
        want = "ecs-hostd %s (%s)" % (packages.version(), packages.head())
        tap.ok(p.returncode == 0 and p.stdout.strip() == want, "the .rpm's ecs-hostd --version: " + want,
               (p.returncode, p.stdout, p.stderr))
        p = subprocess.run([d + "/usr/sbin/ecs-hostd", "--check-config", "-c", d + "/etc/ecs/ecs-hostd.conf"],
                           capture_output=True, text=True, env=env, timeout=30)
        tap.ok(p.returncode == 0 and "ECS_CLUSTER=default" in p.stdout,
               "the .rpm's ecs-hostd --check-config accepts the shipped example", (p.returncode, p.stderr))
        fixture = os.path.join(harness.TOP, "tests", "placement", "fixtures", "lab5-instances.json")
        p = subprocess.run([d + "/usr/bin/ecs-place", "filter", "--instances", fixture, "--output", "text",
                            "attribute:ecs.os-type == linux"], capture_output=True, text=True, env=env)
        arns = p.stdout.split()
        tap.ok(p.returncode == 0 and arns and all(a.startswith("arn:aws:ecs:") for a in arns),
               "the .rpm's ecs-place reads an instance file with the bundled cJSON (%d instances)" % len(arns),
               (p.returncode, p.stdout[:300], p.stderr))


def main(tap):
    missing = [t for t in ("rpmbuild", "rpm2cpio", "cpio", "readelf") if not shutil.which(t)]
    if missing:
        tap.ok(False, "the rpm tools are installed (tools/install-deps.sh): missing " + " ".join(missing))
        return
    ver = test_spec(tap)
    rpm = test_build(tap)
    if rpm:
        test_contents(tap, rpm, ver)
        test_binaries(tap, rpm)


if __name__ == "__main__":
    harness.run_tests(main)
