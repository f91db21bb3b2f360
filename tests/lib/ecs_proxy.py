"""EcsProxy: tests/emulators/ecsproxy.py in its own process, in front of moto."""
import json
import os
import shutil
import sys
import tempfile
import urllib.request

import harness


class EcsProxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.proc = self.url = None

    def start(self, timeout=10.0):
        d = tempfile.mkdtemp(prefix="hostd-ecsproxy-")
        pf = os.path.join(d, "port")
        self.proc = harness.Process([sys.executable, os.path.join(harness.EMULATORS, "ecsproxy.py"),
                                     "--upstream", self.upstream, "--port-file", pf], name="ecsproxy").start()

        def port():
            if not self.proc.alive():
                raise RuntimeError("ecsproxy exited:\n" + self.proc.output())
            try:
                return int(open(pf).read())
            except (OSError, ValueError):
                return None

        self.url = "http://127.0.0.1:%d" % harness.wait_until(port, timeout, what="ecsproxy's port file")
        shutil.rmtree(d, ignore_errors=True)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _call(self, method, what, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_control/" + what, data=data, method=method)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read() or b"{}")

    def fault(self, kind="error", target="*", count=1, **kw):
        """kind error (status, code, message) | garbage (status, body) | drop | delay (delay_ms)."""
        body = {"kind": kind, "target": target, "count": count}
        body.update(kw)
        return self._call("POST", "faults", body)

    def clear(self):
        self._call("DELETE", "faults")
        self._call("DELETE", "log")

    def log(self):
        return self._call("GET", "log")["log"]
