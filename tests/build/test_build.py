#!/usr/bin/env python3
"""The build as a new user meets it.

- First run on a fresh machine: a copy of the tree is built with a
  pkg-config that knows no package until the dependency step has run (as on
  a machine without the -dev packages, before tools/install-deps.sh).
  `make demo` must work on that first try, so the package flags must be read
  after the dependencies are installed; a plain `make` must say what is
  missing instead of failing on headers.
- Each binary links only what it uses (the NEEDED entries of the ELF files).
- `make check-plain` fails when a test fails (its output is piped into tee).
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

# Absent until the dependency step creates the marker file.
SHIM = """#!/bin/sh
[ -e "%s" ] && exec "%s" "$@"
for a in "$@"; do case "$a" in -*) ;; *) echo "Package $a was not found in the pkg-config search path." >&2 ;; esac; done
exit 1
"""


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return {line.split("[")[1].split("]")[0] for line in out.splitlines() if "(NEEDED)" in line}


def copy_tree(dst):
    """The tracked files and the untracked ones git does not ignore, as they are now."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=harness.TOP, capture_output=True, text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        src = os.path.join(harness.TOP, f)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, f))


def make(tree, *args, env):
    return subprocess.run(["make", "-C", tree, "--no-print-directory", *args], env=env,
                          capture_output=True, text=True, timeout=900)


def test_first_run(tap, d):
    tree, shim_dir, marker = os.path.join(d, "tree"), os.path.join(d, "bin"), os.path.join(d, "deps-installed")
    copy_tree(tree)
    os.makedirs(shim_dir)
    real = shutil.which("pkg-config")
    with open(os.path.join(shim_dir, "pkg-config"), "w") as f:
        f.write(SHIM % (marker, real))
    os.chmod(os.path.join(shim_dir, "pkg-config"), stat.S_IRWXU)
    env = dict(os.environ, PATH=shim_dir + ":" + os.environ["PATH"], CFLAGS="-O0", MAKEFLAGS="-j2")
    env.pop("MAKELEVEL", None)

    p = make(tree, "all", env=env)
    tap.ok(p.returncode != 0 and "pkg-config cannot find: " in p.stdout and "libcurl" in p.stdout
           and "run 'make deps'" in p.stdout,
           "before the dependencies, `make` names the missing packages and the command that installs them",
           (p.returncode, p.stdout[-600:], p.stderr[-600:]))

    p = make(tree, "demo", "DEPS=touch " + marker, "DEMO=true", env=env)
    tap.ok(p.returncode == 0, "the first `make demo` on a fresh machine builds and links after installing "
           "the dependencies", (p.stdout + p.stderr)[-1500:])
    v = subprocess.run([os.path.join(tree, "build", "ecs-hostd"), "--version"], capture_output=True, text=True) \
        if p.returncode == 0 else None
    tap.ok(v is not None and v.returncode == 0 and v.stdout.startswith("ecs-hostd "),
           "and the daemon it built runs", v and (v.stdout, v.stderr))


def test_links(tap):
    hostd, place = needed(os.path.join(harness.BUILD, "ecs-hostd")), needed(os.path.join(harness.BUILD, "ecs-place"))
    tap.ok({"libcurl.so.4", "libcjson.so.1", "libsystemd.so.0", "libcrypto.so.3"} <= hostd,
           "ecs-hostd links libcurl, cJSON, libsystemd and libcrypto", sorted(hostd))
    tap.ok({"libpcre2-8.so.0", "libmicrohttpd.so.12", "libz.so.1"} <= hostd,
           "ecs-hostd links PCRE2, libmicrohttpd and zlib (the metrics endpoint)", sorted(hostd))
    tap.ok({"libyaml-0.so.2", "libgnutls.so.30", "libcrypt.so.1"} <= hostd,
           "ecs-hostd links libyaml, GnuTLS and libxcrypt (the endpoint's web configuration, TLS, bcrypt)",
           sorted(hostd))
    tap.ok("libxml2.so.2" in hostd, "ecs-hostd links libxml2 (the Auto Scaling client's XML answers)",
           sorted(hostd))
    tap.ok({"libcjson.so.1", "libpcre2-8.so.0"} <= place, "ecs-place links cJSON and PCRE2", sorted(place))
    tap.ok(not any(n.startswith(("libcurl", "libsystemd", "libmicrohttpd", "libcrypto", "libz.", "libyaml",
                                 "libgnutls", "libcrypt.", "libxml2")) for n in place),
           "ecs-place links no libcurl, libsystemd, libmicrohttpd, libcrypto, zlib, libyaml, GnuTLS, libxcrypt "
           "or libxml2", sorted(place))


def test_check_fails(tap, d):
    """A failing test must fail `make check-plain`, whose output goes through tee."""
    tree = os.path.join(d, "tree")
    env = dict(os.environ, CFLAGS="-O0", MAKEFLAGS="-j2")
    env.pop("MAKELEVEL", None)
    with open(os.path.join(tree, "tests", "run-suite"), "w") as f:
        f.write("#!/bin/sh\necho 'plain: 0 passed, 1 failed'\nexit 1\n")
    p = make(tree, "check-plain", env=env)
    tap.ok(p.returncode != 0 and "plain: 0 passed, 1 failed" in p.stdout,
           "`make check-plain` exits non-zero when a test fails", (p.returncode, p.stdout[-300:]))


def main(tap):
    test_links(tap)
    with tempfile.TemporaryDirectory(prefix="hostd-build-") as d:
        test_first_run(tap, d)
        test_check_fails(tap, d)


if __name__ == "__main__":
    harness.run_tests(main)
