#!/usr/bin/env python3
"""packaging/user-data/: the EC2 user data examples.

- shellcheck says nothing of ecs-hostd-user-data.sh;
- the script, run against a scratch root (ROOT=...) with curl, dnf, apt-get
  and systemctl replaced by stubs that log their arguments: on an AL2023
  root it fetches and dnf-installs the .rpm for the machine, on an Ubuntu
  root the .deb with apt-get; it writes ECS_CLUSTER and
  ECS_INSTANCE_ATTRIBUTES to /etc/ecs/ecs.config (replacing earlier lines,
  keeping the others), adds 51680 to ECS_RESERVED_PORTS (to the one there, or
  to the agent's default list), enables the service and starts it without
  blocking; a second run changes nothing; an unknown OS is refused;
- `ecs-hostd --check-config` reads the ecs.config it wrote: the cluster, the
  attributes and the reserved ports as written;
- `cloud-init schema` accepts both cloud-configs and refuses a broken one;
  what they write is what the script writes, and ecs-hostd reads it; their
  runcmd installs the package and enables and starts the service.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

UD = os.path.join(harness.TOP, "packaging", "user-data")
SCRIPT = os.path.join(UD, "ecs-hostd-user-data.sh")
CLOUD_CONFIGS = ["al2023.cloud-config.yaml", "ubuntu.cloud-config.yaml"]
ATTRS = '{"stack": "lab", "team": "dogs"}'
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "$STUB_LOG"
if [ "$(basename "$0")" = curl ]; then
        while [ $# -gt 0 ]; do [ "$1" = -o ] && { echo package > "$2"; }; shift; done
fi
exit 0
"""
OS_RELEASE = {"al2023": 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nVERSION_ID="2023"\n',
              "ubuntu": 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n'}


def check_config(path):
    p = subprocess.run([harness.binary("ecs-hostd"), "--check-config", "-c", path], capture_output=True,
                       text=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    values = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^([A-Z_]+)=(.*?)\s+# (\S+)", line)
        if m:
            v = m.group(2)  # quoted when it holds blanks or quotes
            values[m.group(1)] = (v[1:-1] if len(v) > 1 and v[0] == v[-1] == "'" else v, m.group(3))
    return p, values


class Scratch:
    def __init__(self, d, os_name, config=None):
        self.root = os.path.join(d, os_name)
        os.makedirs(os.path.join(self.root, "etc"))
        with open(os.path.join(self.root, "etc", "os-release"), "w") as f:
            f.write(OS_RELEASE.get(os_name, 'ID="plan9"\n'))
        if config is not None:
            os.makedirs(os.path.join(self.root, "etc", "ecs"))
            with open(self.config, "w") as f:
                f.write(config)
        self.bin = os.path.join(d, "bin")
        self.log = os.path.join(d, os_name + ".log")
        os.makedirs(self.bin, exist_ok=True)
        for tool in ("curl", "dnf", "apt-get", "systemctl"):
            with open(os.path.join(self.bin, tool), "w") as f:
                f.write(STUB)
            os.chmod(os.path.join(self.bin, tool), 0o755)

    @property
    def config(self):
        return os.path.join(self.root, "etc", "ecs", "ecs.config")

    def run(self):
        env = {"PATH": self.bin + ":/usr/bin:/bin", "ROOT": self.root, "STUB_LOG": self.log,
               "ECS_CLUSTER": "lab", "ECS_INSTANCE_ATTRIBUTES": ATTRS,
               "ECS_HOSTD_PACKAGES_URL": "https://packages.example/ecs-hostd", "ECS_HOSTD_VERSION": "9.9.9"}
        return subprocess.run(["bash", SCRIPT], capture_output=True, text=True, env=env, timeout=60)

    def calls(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def text(self):
        with open(self.config) as f:
            return f.read()


def test_shellcheck(tap):
    p = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", SCRIPT], capture_output=True, text=True)
    tap.ok(p.returncode == 0 and not p.stdout.strip(), "shellcheck: not a word of ecs-hostd-user-data.sh",
           p.stdout[-2000:])


def test_script(tap, d):
    machine = os.uname().machine
    deb_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)

    al = Scratch(d, "al2023", "ECS_CLUSTER=old\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_RESERVED_PORTS=[22, 2375]\n")
    p = al.run()
    rpm = "ecs-hostd-9.9.9-1.amzn2023.%s.rpm" % machine
    calls = al.calls() if p.returncode == 0 else []
    tap.ok(p.returncode == 0 and calls[:2] == [
        "curl -fsSL --retry 5 -o /tmp/%s https://packages.example/ecs-hostd/%s" % (rpm, rpm),
        "dnf install -y /tmp/" + rpm],
        "AL2023: fetches the .rpm for this machine and installs it with dnf", (p.returncode, p.stderr, calls))
    tap.ok(calls[2:] == ["systemctl enable ecs-hostd", "systemctl restart --no-block ecs-hostd"],
           "AL2023: enables the service and (re)starts it without blocking (cloud-final)", calls)
    text = al.text() if os.path.exists(al.config) else ""
    tap.ok(text == "ECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=lab\nECS_INSTANCE_ATTRIBUTES=%s\n"
           "ECS_RESERVED_PORTS=[22, 2375, 51680]\n" % ATTRS,
           "AL2023: ecs.config: the cluster replaced, the attributes written, 51680 added to the reserved "
           "ports there, the other keys kept", text)
    mode = oct(os.stat(al.config).st_mode & 0o777) if text else None
    tap.ok(mode == "0o644", "ecs.config stays readable by the agent and the ecs-hostd user (0644)", mode)
    p = al.run()
    tap.ok(p.returncode == 0 and al.text() == text, "a second run leaves ecs.config as it was", al.text())

    cp, values = check_config(al.config)
    tap.ok(cp.returncode == 0 and values.get("ECS_CLUSTER", ("",))[0] == "lab" and
           values.get("ECS_RESERVED_PORTS", ("",))[0] == "[22, 2375, 51680]" and
           "lab" in values.get("ECS_INSTANCE_ATTRIBUTES", ("",))[0],
           "ecs-hostd --check-config reads the ecs.config the script wrote", (cp.returncode, values, cp.stderr))

    ub = Scratch(d, "ubuntu")
    p = ub.run()
    deb = "ecs-hostd_9.9.9_%s.deb" % deb_arch
    calls = ub.calls() if p.returncode == 0 else []
    tap.ok(p.returncode == 0 and calls == [
        "curl -fsSL --retry 5 -o /tmp/%s https://packages.example/ecs-hostd/%s" % (deb, deb),
        "apt-get install -y /tmp/" + deb, "systemctl enable ecs-hostd", "systemctl restart --no-block ecs-hostd"],
        "Ubuntu: fetches the .deb for this architecture, installs it with apt-get, enables and starts it",
        (p.returncode, p.stderr, calls))
    text = ub.text() if os.path.exists(ub.config) else ""
    tap.ok(text == "ECS_CLUSTER=lab\nECS_INSTANCE_ATTRIBUTES=%s\nECS_RESERVED_PORTS=[22, 2375, 2376, 51678, "
           "51679, 51680]\n" % ATTRS,
           "Ubuntu: /etc/ecs/ecs.config made, with the agent's default reserved ports and 51680", text)

    other = Scratch(d, "plan9")
    p = other.run()
    tap.ok(p.returncode != 0 and "unsupported OS 'plan9'" in p.stderr and not os.path.exists(other.log),
           "another OS is refused, nothing installed", (p.returncode, p.stderr))


def test_cloud_configs(tap, d):
    for name in CLOUD_CONFIGS:
        path = os.path.join(UD, name)
        p = subprocess.run(["cloud-init", "schema", "-c", path], capture_output=True, text=True)
        tap.ok(p.returncode == 0 and "Valid cloud-config" in p.stdout, "cloud-init schema: %s is valid" % name,
               p.stdout + p.stderr)
        with open(path) as f:
            text = f.read()
        cfg = yaml.safe_load(text)
        files = {w["path"]: w for w in cfg.get("write_files", [])}
        ecs = files.get("/etc/ecs/ecs.config", {})
        conf = os.path.join(d, name + ".ecs.config")
        with open(conf, "w") as f:
            f.write(ecs.get("content", ""))
        cp, values = check_config(conf)
        tap.ok(text.startswith("#cloud-config\n") and ecs.get("append") is True and cp.returncode == 0 and
               values.get("ECS_CLUSTER", ("",))[0] == "catsndogsECScluster" and
               values.get("ECS_RESERVED_PORTS", ("",))[0] == "[22, 2375, 2376, 51678, 51679, 51680]" and
               "stack" in values.get("ECS_INSTANCE_ATTRIBUTES", ("",))[0],
               "%s appends the cluster, the attributes and 51680 among the reserved ports to ecs.config, "
               "and ecs-hostd reads them" % name, (ecs, values, cp.stderr))
        run = [c if isinstance(c, str) else " ".join(c) for c in cfg.get("runcmd", [])]
        installer = "dnf install -y /tmp/ecs-hostd.rpm" if "al2023" in name else "apt-get install -y /tmp/ecs-hostd.deb"
        tap.ok(any(installer in c for c in run) and "systemctl enable ecs-hostd" in run and
               "systemctl restart --no-block ecs-hostd" in run,
               "%s installs the package (%s), enables and starts the service" % (name, installer.split()[0]), run)
        broken = os.path.join(d, "broken-" + name)
        with open(broken, "w") as f:
            f.write(text.replace("append: true", "append: sometimes"))
        p = subprocess.run(["cloud-init", "schema", "-c", broken], capture_output=True, text=True)
        tap.ok(p.returncode != 0 and "append" in p.stdout + p.stderr,
               "cloud-init schema refuses %s with a broken key" % name, p.stdout + p.stderr)


def main(tap):
    missing = [t for t in ("shellcheck", "cloud-init") if not shutil.which(t)]
    if missing:
        tap.ok(False, "the tools are installed (tools/install-deps.sh): missing " + " ".join(missing))
        return
    test_shellcheck(tap)
    with tempfile.TemporaryDirectory(prefix="hostd-userdata-") as d:
        test_script(tap, d)
        test_cloud_configs(tap, d)


if __name__ == "__main__":
    harness.run_tests(main)
