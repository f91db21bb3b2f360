"""ecs-hostd under test: one configuration file and state directory per Host,
the daemon started and stopped through the harness (always reaped)."""
import atexit
import json
import os
import shutil
import signal
import tempfile

import harness

HOSTD = os.path.join(harness.BUILD, "ecs-hostd")


class Host:
    """keys are configuration keys (None drops one); the ECS endpoint is the
    recording proxy, IMDS the emulator, and the introspection URL a closed
    port unless a test names one."""

    def __init__(self, imds, proxy, **keys):
        self.dir = tempfile.mkdtemp(prefix="hostd-")
        atexit.register(shutil.rmtree, self.dir, True)
        self.attrs = os.path.join(self.dir, "attributes.d")
        os.mkdir(self.attrs)
        self.keys = {"ECS_BACKEND_HOST": proxy.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                     "ECS_HOSTD_DATADIR": os.path.join(self.dir, "state"), "ECS_HOSTD_ATTRIBUTES_DIR": self.attrs,
                     "ECS_AGENT_INTROSPECTION_URL": "http://127.0.0.1:9/v1/metadata"}
        self.keys.update(keys)
        self.proc = None
        self.conf = os.path.join(self.dir, "ecs-hostd.conf")

    def write_conf(self):
        with open(self.conf, "w") as f:
            for k, v in self.keys.items():
                if v is not None:
                    f.write("%s=%s\n" % (k, v))

    def start(self):
        self.write_conf()
        self.proc = harness.Process([HOSTD, "--config", self.conf], clean_env=True).start()
        return self.proc

    def output(self):
        return self.proc.output()

    def mark(self):
        return len(self.proc.output())

    def wait(self, pattern, timeout=20, start=0):
        try:
            return self.proc.wait_output(pattern, timeout, start=start)
        except TimeoutError as e:
            raise TimeoutError("%s; the daemon's last lines:\n%s" % (e, self.output()[-1500:])) from None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)

    def attr_file(self, name, obj):
        tmp = os.path.join(self.attrs, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        os.rename(tmp, os.path.join(self.attrs, name))


def ops(proxy, name=None, since=0):
    """The requests the proxy saw, optionally for one ECS operation."""
    return [e for e in proxy.control.log(since) if name is None or e["operation"] == name]


def custom(ci):
    """A container instance's custom attributes (not ecs.*), name -> value."""
    return {a["name"]: a.get("value") for a in ci.get("attributes", []) if not a["name"].startswith("ecs.")}
