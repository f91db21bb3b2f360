"""serve.py: what every emulator shares: JSON answers; the control interface
(its dispatch, the request log endpoint, and the client tests call); running
in a thread of a test; and how it runs as a process: announce the port it got
(`PORT=<n>` on stdout, and atomically in --port-file), serve until SIGTERM or
SIGINT, close.  Standard library only."""
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL = "/_control"  # every emulator's control interface lives under this path
# Headers that concern one connection, never forwarded by a proxy (RFC 9110 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
              "transfer-encoding", "te", "trailer", "upgrade"}


class ControlError(Exception):
    """A control request that cannot be carried out: HTTP 400 with this text."""


def reply_json(handler, status, obj, indent=None):
    """Answer a request with a JSON document (control APIs, fake agents)."""
    data = json.dumps(obj, indent=indent).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Handler(BaseHTTPRequestHandler):
    """An emulator's request handler: HTTP/1.1 keep-alive, its name as the
    Server header, stderr chatter only with --verbose, and every method to
    self.dispatch()."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY, Nagle
    # and the client's delayed ACK hold the body back ~40 ms.
    disable_nagle_algorithm = True
    name = "emulator"

    def version_string(self):
        return self.name

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s: %s\n" % (self.name, fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET


def forward(who, host, port, method, target, headers, body, timeout):
    """Send a request on to host:port without the hop-by-hop headers (Host
    and the rest unchanged): (status, [(header, value)], body); 502 with the
    reason when it cannot be reached."""
    sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request(method, target, body=body, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        back = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
        conn.close()
        return resp.status, back, data
    except OSError as e:
        return 502, [("Content-Type", "text/plain")], ("%s: upstream unreachable: %s" % (who, e)).encode()


def serve(httpd, port_file=None):
    port = httpd.server_address[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(port_file + ".tmp", port_file)
    print("PORT=%d" % port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=httpd.shutdown).start())
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    httpd.server_close()
    return 0


# --- the control interface, server side ------------------------------------
def handle_control(handler, url, body):
    """Answer a control request: the JSON object body and the query go to
    handler.control_locked(state, method, path parts, body, query) under the
    state's lock; what it returns is the answer, a ControlError (or a bad
    value) a 400 with the reason."""
    st = handler.server.state
    parts = [p for p in url.path[len(CONTROL) :].split("/") if p]
    try:
        req = json.loads(body) if body.strip() else {}
        if not isinstance(req, dict):
            raise ControlError("the body must be a JSON object")
        with st.lock:
            res = handler.control_locked(st, handler.command, parts, req, urllib.parse.parse_qs(url.query))
        status = 200
    except (ControlError, ValueError, KeyError, TypeError, re.error) as e:
        status, res = 400, {"error": str(e)}
    reply_json(handler, status, res, indent=1)


def control_log(st, method, query):
    """The request log endpoint: GET ?since=N (entries after sequence N),
    DELETE (forget them; sequence numbers go on)."""
    if method == "GET":
        since = int(query.get("since", ["0"])[0])
        return {"log": [e for e in st.log if e["seq"] > since], "last": st.log_seq}
    if method == "DELETE":
        st.log = []
        return {"last": st.log_seq}
    raise ControlError("no control endpoint %s %s/log" % (method, CONTROL))


class ThreadServer:
    """An emulator in a background thread of this process (its own unit
    tests); scenario tests run emulators as processes instead."""

    def __init__(self, handler, state, name, host="127.0.0.1", port=0, verbose=False):
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.httpd.state = state
        self.httpd.verbose = verbose
        self.name = name
        self.port = self.httpd.server_address[1]
        self.url = "http://%s:%d" % (host, self.port)

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, name=self.name, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- the control interface, client side ------------------------------------
class ControlClient:
    """What tests call, common part: JSON calls and the request log, whose
    entries are filtered on the field `key` ("path" for IMDS, "operation"
    for the AWS proxy)."""

    name = "emulator"
    key = "path"

    def __init__(self, url, timeout=5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + CONTROL + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise ControlError("%s %s: %s" % (method, path, e.read().decode(errors="replace"))) from None

    def state(self):
        return self._call("GET", "/state")

    def faults(self):
        return self._call("GET", "/faults")["faults"]

    def _log(self, since, value):
        entries = self._call("GET", "/log?since=%d" % since)["log"]
        return entries if value is None else [e for e in entries if e[self.key] == value]

    def log_mark(self):
        """The current last sequence number: pass it to log(since=...) later."""
        return self.state()["log_seq"]

    def _wait(self, value, since, status, count, timeout, interval, done):
        deadline = time.monotonic() + timeout
        while True:
            got = [e for e in self._log(since, value) if (status is None or e["status"] == status) and (e["done"] or not done)]
            if len(got) >= count:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError("%s: %d of %d requests for %s (status %s) after %.1f s"
                                   % (self.name, len(got), count, value or "any " + self.key, status, timeout))
            time.sleep(interval)

    def clear_log(self):
        return self._call("DELETE", "/log")
