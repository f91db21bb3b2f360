#!/usr/bin/env python3
"""Recording, fault-injecting HTTP proxy in front of moto (or any AWS endpoint).

The daemon talks to the proxy as its ECS endpoint; the proxy forwards each
request unchanged (Host included, so SigV4 signatures still verify upstream),
records what was sent (operation, headers, JSON body) and what came back, and
can answer instead of upstream: AWS JSON errors (throttling, 5xx, AccessDenied),
delays, dropped or reset connections, garbage, or "down" (every connection
dropped).  moto ignores much of RegisterContainerInstance's request, so tests
check what the daemon sent here.  Control: JSON under /_control/ (ECS uses
POST / only).  Standard library only.

Run: awsproxy.py --upstream http://127.0.0.1:PORT [--port-file F]
"""

import argparse
import fnmatch
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import CONTROL, ControlClient, ControlError, Handler as BaseHandler, ThreadServer, control_log, forward, handle_control, serve  # noqa: E402

FAULT_KINDS = ("error", "throttle", "status", "delay", "drop", "reset", "garbage")
UPSTREAM_TIMEOUT = 30.0  # seconds


def operation_of(headers, body):
    """The API operation a request calls: JSON protocols name it in
    X-Amz-Target, query protocols in the Action form field."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    try:
        form = urllib.parse.parse_qs(body.decode())
        return form.get("Action", [""])[0]
    except UnicodeDecodeError:
        return ""


class State:
    def __init__(self, upstream):
        self.lock = threading.Lock()
        self.upstream = urllib.parse.urlsplit(upstream)
        self.down = False
        self.faults = []
        self.fault_seq = 0
        self.log = []
        self.log_seq = 0

    def add_fault(self, spec):
        kind = spec.get("kind", "error")
        if kind not in FAULT_KINDS:
            raise ControlError("unknown fault kind %r (one of %s)" % (kind, ", ".join(FAULT_KINDS)))
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ControlError("count must be a positive integer or null (always)")
        if kind == "throttle":
            kind, status, code, msg = "error", 400, "ThrottlingException", "Rate exceeded"
        else:
            status = int(spec.get("status", 500 if kind in ("error", "status") else 200))
            code = spec.get("code", "ServerException")
            msg = spec.get("message", "Service unavailable (injected)")
        self.fault_seq += 1
        f = {
            "id": self.fault_seq,
            "kind": kind,
            "operation": spec.get("operation", "*"),
            "match": spec.get("match"),  # top-level JSON body fields that must be equal
            "status": int(spec.get("status", status)),
            "code": spec.get("code", code),
            "message": spec.get("message", msg),
            "body": spec.get("body"),
            "delay_ms": int(spec.get("delay_ms", 0)),
            "count": count,
            "remaining": count,
            "hits": 0,
        }
        if kind == "delay" and not f["delay_ms"]:
            raise ControlError("a delay fault needs delay_ms")
        self.faults.append(f)
        return f

    def take_fault(self, op, body):
        for f in self.faults:
            if f["remaining"] == 0 or not fnmatch.fnmatchcase(op, f["operation"]):
                continue
            if f["match"] and not (isinstance(body, dict) and all(body.get(k) == v for k, v in f["match"].items())):
                continue
            if f["remaining"] is not None:
                f["remaining"] -= 1
            f["hits"] += 1
            return dict(f)
        return None


class Handler(BaseHandler):
    name = "awsproxy"

    def dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urllib.parse.urlsplit(self.path)
        if url.path == CONTROL or url.path.startswith(CONTROL + "/"):
            return handle_control(self, url, body)
        self.proxy(body)

    # --- the proxy side -------------------------------------------------
    def proxy(self, body):
        st = self.server.state
        t0 = time.time()
        op = operation_of(self.headers, body)
        text = body.decode(errors="replace")
        try:
            parsed = json.loads(text) if text.strip().startswith("{") else None
        except ValueError:
            parsed = None
        entry = {
            "time": t0,
            "method": self.command,
            "path": self.path,
            "operation": op,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": text,
            "json": parsed,
            "fault": None,
            "status": None,
            "response": None,
            "duration_ms": None,
            "done": False,  # logged on arrival, completed when answered
            "seq": None,
        }
        with st.lock:
            down = st.down
            fault = None if down else st.take_fault(op, parsed)
            st.log_seq += 1
            entry["seq"] = st.log_seq
            st.log.append(entry)
            if len(st.log) > 100000:
                del st.log[: len(st.log) - 100000]
        try:
            if down:
                entry["fault"] = "down"
                self.drop(reset=False)
            elif fault and fault["kind"] not in ("delay",):
                entry["fault"] = fault["id"]
                if fault["delay_ms"]:
                    time.sleep(fault["delay_ms"] / 1000.0)
                self.injected(fault, entry)
            else:
                if fault:
                    entry["fault"] = fault["id"]
                    time.sleep(fault["delay_ms"] / 1000.0)
                self.forward(body, entry)
        finally:
            # Done even when the client left before the answer (a held
            # request it gave up on): the log must not show it in progress.
            with st.lock:
                entry["duration_ms"] = round((time.time() - t0) * 1000.0, 3)
                entry["done"] = True

    def forward(self, body, entry):
        up = self.server.state.upstream
        status, headers, data = forward("awsproxy", up.hostname, up.port or 80, self.command, self.path,
                                        self.headers, body, UPSTREAM_TIMEOUT)
        self.reply(status, headers, data, entry)

    def injected(self, f, entry):
        kind = f["kind"]
        if kind == "error":
            data = json.dumps({"__type": f["code"], "message": f["message"]}).encode()
            self.reply(f["status"], [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", "injected-%d" % f["id"])], data, entry)
        elif kind == "status":
            self.reply(f["status"], [("Content-Type", "text/plain")], (f["body"] or "").encode(), entry)
        elif kind == "garbage":
            data = (f["body"] or '{"containerInstance": {"containerInstanceArn": \x00\xff').encode("latin-1", "replace")
            self.reply(f["status"], [("Content-Type", "application/x-amz-json-1.1")], data, entry)
        elif kind in ("drop", "reset"):
            self.drop(reset=kind == "reset")

    def reply(self, status, headers, data, entry):
        # Recorded before it is sent: a client holding the answer finds it logged.
        entry["status"] = status
        entry["response"] = data.decode(errors="replace")
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self, reset):
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- the control side -------------------------------------------------
    def control_locked(self, st, method, parts, req, query):
        what = parts[0] if parts else ""
        if what == "state" and method == "GET":
            return {"down": st.down, "faults": [dict(f) for f in st.faults], "log_seq": st.log_seq, "upstream": st.upstream.geturl()}
        if what == "config" and method == "POST":
            if "down" in req:
                st.down = bool(req["down"])
            return {"down": st.down}
        if what == "faults":
            if method == "POST":
                return st.add_fault(req)
            if method == "GET":
                return {"faults": [dict(f) for f in st.faults]}
            if method == "DELETE":
                st.faults = [f for f in st.faults if len(parts) > 1 and str(f["id"]) != parts[1]]
                return {"faults": [dict(f) for f in st.faults]}
        if what == "log":
            return control_log(st, method, query)
        raise ControlError("no control endpoint %s %s/%s" % (method, CONTROL, "/".join(parts)))


class AwsProxyServer(ThreadServer):
    """The proxy in a thread of this process."""

    def __init__(self, upstream, host="127.0.0.1", port=0, verbose=False):
        super().__init__(Handler, State(upstream), "awsproxy", host, port, verbose)


class AwsProxyControl(ControlClient):
    """Client of the proxy's control interface."""

    name = "proxy"
    key = "operation"

    def fault(self, kind="error", operation="*", count=1, **kw):
        """Answer requests for operations matching the glob instead of upstream:
        kind error (status, code, message) | throttle | status | delay (delay_ms,
        then forwarded) | drop | reset | garbage; count=None means always;
        match={"cluster": "x"} limits it to requests whose JSON body has those
        top-level values (e.g. to answer what real ECS answers where moto differs)."""
        body = {"kind": kind, "operation": operation, "count": count}
        body.update(kw)
        return self._call("POST", "/faults", body)

    def throttle(self, operation="*", count=1, **kw):
        """HTTP 400 ThrottlingException "Rate exceeded", as ECS throttles."""
        return self.fault("throttle", operation, count, **kw)

    def error(self, operation="*", code="ServerException", message="injected", status=500, count=1, **kw):
        """An AWS JSON error {"__type": code, "message": message} with HTTP status."""
        return self.fault("error", operation, count, code=code, message=message, status=status, **kw)

    def clear_faults(self):
        return self._call("DELETE", "/faults")

    def set_down(self, down=True):
        """Down: every connection is closed without an answer (ECS unreachable)."""
        return self._call("POST", "/config", {"down": down})

    def log(self, since=0, operation=None):
        return self._log(since, operation)

    def wait_request(self, operation=None, since=0, status=None, count=1, timeout=10.0, interval=0.02, done=True):
        """Wait until `count` requests for `operation` (answered `status`) are
        logged after `since`; returns those entries.  done=False also counts
        requests still in progress.  TimeoutError otherwise."""
        return self._wait(operation, since, status, count, timeout, interval, done)

    def requests(self, operation, since=0):
        """The parsed JSON bodies the client sent for one operation."""
        return [e["json"] for e in self.log(since, operation)]


def main(argv=None):
    ap = argparse.ArgumentParser(description="recording, fault-injecting proxy for AWS endpoints")
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5000 (moto)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    srv = AwsProxyServer(args.upstream, args.host, args.port, args.verbose)
    return serve(srv.httpd, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
