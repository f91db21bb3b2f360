#!/usr/bin/env python3
"""A fault-injecting pass-through in front of moto_server, for ECS tests.

Every request is forwarded unchanged (same Host header, so moto still checks
the client's SigV4 signature) unless a fault matches it; then the proxy
answers itself: an AWS error (e.g. 400 ThrottlingException), a 5xx, garbage,
a delay, or a dropped connection.  Each request is logged with its time,
X-Amz-Target, the status returned and its headers (Authorization and the
security token are reduced to "present").  Control under /_control/ as in
the IMDS emulator.  Standard library only.

Run: ecsproxy.py --upstream http://127.0.0.1:PORT [--port-file F]
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
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HIDDEN = {"authorization", "x-amz-security-token"}


class State:
    def __init__(self, upstream):
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.faults = []
        self.log = []
        self.seq = 0

    def take_fault(self, target):
        with self.lock:
            for f in self.faults:
                if f["remaining"] == 0 or not fnmatch.fnmatchcase(target or "", f["target"]):
                    continue
                if f["remaining"] is not None:
                    f["remaining"] -= 1
                f["hits"] += 1
                return dict(f)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def reply(self, status, body, ctype="application/x-amz-json-1.1"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/_control/"):
            return self.control(self.path[len("/_control/"):], body)
        target = self.headers.get("X-Amz-Target", "")
        entry = {
            "time": time.time(),
            "method": self.command,
            "target": target,
            "operation": target.rsplit(".", 1)[-1] if target else "",
            "headers": {k.lower(): ("present" if k.lower() in HIDDEN else v) for k, v in self.headers.items()},
            "body": body.decode(errors="replace")[:4000],
            "fault": None,
        }
        f = st.take_fault(target)
        try:
            if f:
                entry["fault"] = f["kind"]
                entry["status"] = self.apply(f)
            else:
                entry["status"] = self.forward(body)
        finally:
            with st.lock:
                st.seq += 1
                entry["seq"] = st.seq
                st.log.append(entry)

    def apply(self, f):
        if f["delay_ms"]:
            time.sleep(f["delay_ms"] / 1000.0)
        if f["kind"] == "error":
            self.reply(f["status"], json.dumps({"__type": f["code"], "message": f["message"]}))
            return f["status"]
        if f["kind"] == "garbage":
            self.reply(f["status"], f["body"] or "\x00\xffnot json<<", "text/html")
            return f["status"]
        if f["kind"] == "drop":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return None
        if f["kind"] == "delay":
            return self.forward_again()
        raise ValueError(f["kind"])

    def forward_again(self):
        return self.forward(self._body)

    def forward(self, body):
        st = self.server.state
        self._body = body
        req = urllib.request.Request(st.upstream + self.path, data=body, method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in ("content-length", "connection", "accept-encoding"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        self.reply(status, data, ctype or "application/x-amz-json-1.1")
        return status

    def control(self, what, body):
        st = self.server.state
        req = json.loads(body or b"{}")
        with st.lock:
            if self.command == "POST" and what == "faults":
                f = {
                    "kind": req.get("kind", "error"),
                    "target": req.get("target", "*"),
                    "status": int(req.get("status", 400)),
                    "code": req.get("code", "ThrottlingException"),
                    "message": req.get("message", "Rate exceeded"),
                    "body": req.get("body"),
                    "delay_ms": int(req.get("delay_ms", 0)),
                    "remaining": req.get("count", 1),
                    "hits": 0,
                }
                st.faults.append(f)
                out = f
            elif self.command == "DELETE" and what == "faults":
                st.faults = []
                out = {}
            elif self.command == "GET" and what == "log":
                out = {"log": list(st.log)}
            elif self.command == "DELETE" and what == "log":
                st.log = []
                out = {}
            else:
                return self.reply(404, json.dumps({"error": "unknown control " + what}), "application/json")
        self.reply(200, json.dumps(out), "application/json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    httpd.daemon_threads = True
    httpd.state = State(a.upstream)
    port = httpd.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(a.port_file + ".tmp", a.port_file)
    print("PORT=%d" % port, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
