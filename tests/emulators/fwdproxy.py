#!/usr/bin/env python3
"""A small recording forward proxy, as HTTP_PROXY / HTTPS_PROXY name one.

Plain http arrives in absolute form (`POST http://host:port/path HTTP/1.1`)
and is forwarded to that host with the same Host header and body (so SigV4
signatures still verify); https arrives as `CONNECT host:port` and is
tunnelled byte for byte.  Every proxied request is logged (its target, its
headers, whether proxy credentials came and who they named -- never the
password), so a test can tell what went through the proxy and what did not.
Optionally it requires Basic proxy authentication (407 otherwise).  A request
in origin form is not a proxy request: 400, except the control API under
/_control/.  Standard library only.

Run: fwdproxy.py [--auth USER:PASS] [--port-file F]
"""

import argparse
import base64
import os
import select
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import CONTROL, ControlClient, ControlError, Handler as BaseHandler, ThreadServer, control_log, forward, handle_control, serve  # noqa: E402

UPSTREAM_TIMEOUT = 30.0  # seconds
TUNNEL_IDLE = 60.0  # seconds without traffic before a CONNECT tunnel is closed


class State:
    def __init__(self, auth=None):
        self.lock = threading.Lock()
        self.auth = auth  # "user:pass" or None
        self.log = []
        self.log_seq = 0

    def add(self, entry):
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)
            if len(self.log) > 100000:
                del self.log[: len(self.log) - 100000]
        return entry


def basic_user(header):
    """(user, password) of a Basic Proxy-Authorization value, or (None, None)."""
    try:
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return None, None
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        return user, password
    except (ValueError, UnicodeDecodeError):
        return None, None


class Handler(BaseHandler):
    name = "fwdproxy"

    def do_CONNECT(self):
        entry = self.entry(self.path, True)
        if not self.authorized(entry):
            return
        host, _, port = self.path.rpartition(":")
        try:
            up = socket.create_connection((host.strip("[]"), int(port)), timeout=UPSTREAM_TIMEOUT)
        except (OSError, ValueError) as e:
            return self.answer(502, ("fwdproxy: upstream unreachable: %s: %s" % (self.path, e)).encode(), entry)
        entry["status"] = 200
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            self.tunnel(up, entry)
        finally:
            up.close()
            entry["done"] = True

    def tunnel(self, up, entry):
        client = self.connection
        while True:
            ready, _, _ = select.select([client, up], [], [], TUNNEL_IDLE)
            if not ready:
                return
            for s in ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                (up if s is client else client).sendall(data)
                entry["bytes_up" if s is client else "bytes_down"] += len(data)

    def dispatch(self):
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        if not url.scheme:
            if url.path == CONTROL or url.path.startswith(CONTROL + "/"):
                return handle_control(self, url, body)
            return self.answer(400, b"fwdproxy: not a proxy request (origin form)", None)
        entry = self.entry(self.path, False)
        entry["body"] = body.decode(errors="replace")
        if not self.authorized(entry):
            return
        if url.scheme != "http":
            return self.answer(400, b"fwdproxy: only http:// in absolute form (https: CONNECT)", entry)
        self.forward(url, body, entry)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def entry(self, target, tunnel):
        user, _ = basic_user(self.headers.get("Proxy-Authorization"))
        url = urllib.parse.urlsplit(target if not tunnel else "//" + target)
        return self.server.state.add({
            "time": time.time(),
            "method": self.command,
            "url": target,
            "host": url.netloc,
            "path": url.path if not tunnel else None,
            "tunnel": tunnel,
            "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "proxy-authorization"},
            "proxy_user": user,
            "status": None,
            "bytes_up": 0,
            "bytes_down": 0,
            "done": False,
            "seq": None,
        })

    def authorized(self, entry):
        want = self.server.state.auth
        if not want:
            return True
        user, password = basic_user(self.headers.get("Proxy-Authorization"))
        if user is not None and "%s:%s" % (user, password) == want:
            return True
        self.close_connection = True
        self.answer(407, b"fwdproxy: proxy authentication required", entry,
                    [("Proxy-Authenticate", 'Basic realm="fwdproxy"')])
        return False

    def forward(self, url, body, entry):
        target = (url.path or "/") + ("?" + url.query if url.query else "")
        status, headers, data = forward("fwdproxy", url.hostname, url.port or 80, self.command, target,
                                        self.headers, body, UPSTREAM_TIMEOUT)
        self.answer(status, data, entry, headers)

    def answer(self, status, data, entry, headers=()):
        # Recorded before it is sent: a client holding the answer finds it logged.
        if entry is not None:
            entry["status"] = status
            entry["done"] = True
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def control_locked(self, st, method, parts, req, query):
        what = parts[0] if parts else ""
        if what == "state" and method == "GET":
            return {"auth": bool(st.auth), "log_seq": st.log_seq}
        if what == "config" and method == "POST":
            if "auth" in req:
                if req["auth"] is not None and ":" not in str(req["auth"]):
                    raise ControlError("auth is USER:PASS or null")
                st.auth = req["auth"]
            return {"auth": bool(st.auth)}
        if what == "log":
            return control_log(st, method, query)
        raise ControlError("no control endpoint %s %s/%s" % (method, CONTROL, "/".join(parts)))


class FwdProxyServer(ThreadServer):
    """The proxy in a thread of this process."""

    def __init__(self, auth=None, host="127.0.0.1", port=0, verbose=False):
        super().__init__(Handler, State(auth), "fwdproxy", host, port, verbose)


class FwdProxyControl(ControlClient):
    """Client of the proxy's control interface; log entries filter on "host"
    (the target's host:port)."""

    name = "fwdproxy"
    key = "host"

    def set_auth(self, auth):
        """Require Basic proxy credentials "USER:PASS" (None: none)."""
        return self._call("POST", "/config", {"auth": auth})

    def log(self, since=0, host=None):
        return self._log(since, host)

    def wait_request(self, host=None, since=0, status=None, count=1, timeout=10.0, interval=0.02, done=True):
        return self._wait(host, since, status, count, timeout, interval, done)


def main(argv=None):
    ap = argparse.ArgumentParser(description="recording forward proxy (absolute-URI http, CONNECT)")
    ap.add_argument("--auth", help="require Basic proxy credentials USER:PASS")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    srv = FwdProxyServer(args.auth, args.host, args.port, args.verbose)
    return serve(srv.httpd, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
