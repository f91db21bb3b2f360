#!/usr/bin/env python3
"""The forward proxy forwards absolute-URI http requests unchanged (Host,
headers, body) and tunnels CONNECT, logs what went through it, refuses
origin-form requests, answers 502 for an unreachable target, and when asked
requires Basic proxy credentials without ever logging the password."""

import base64
import http.client
import json
import os
import socket
import socketserver
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

PASSWORD = "pr0xy-pa55w0rd"


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        data = json.dumps({"method": self.command, "path": self.path, "host": self.headers.get("Host"),
                           "auth": self.headers.get("Authorization"),
                           "proxy_auth": self.headers.get("Proxy-Authorization"), "body": body}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST


class TcpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data)


def serve(server):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def via(proxy, method, url, body=b"", headers=None, auth=None):
    """One absolute-URI request through the proxy: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    h = dict(headers or {})
    if auth:
        h["Proxy-Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request(method, url, body=body, headers=h)
    r = conn.getresponse()
    out = r.status, dict(r.getheaders()), r.read()
    conn.close()
    return out


def connect(proxy, target, auth=None):
    """CONNECT through the proxy: (status line, socket)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    extra = ""
    if auth:
        extra = "Proxy-Authorization: Basic %s\r\n" % base64.b64encode(auth.encode()).decode()
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target, target, extra)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n")[0].decode(), s


def main(tap):
    up = serve(ThreadingHTTPServer(("127.0.0.1", 0), Echo))
    echo = serve(socketserver.ThreadingTCPServer(("127.0.0.1", 0), TcpEcho))
    target = "127.0.0.1:%d" % up
    with harness.FwdProxy() as proxy:
        ctl = proxy.control

        st, _, body = via(proxy, "POST", "http://%s/v1/x?q=1" % target, b'{"a": 1}',
                          {"Host": target, "Authorization": "AWS4-HMAC-SHA256 sig", "Content-Type": "application/json"})
        e = json.loads(body) if st == 200 else {}
        tap.ok(st == 200 and e.get("path") == "/v1/x?q=1" and e.get("host") == target
               and e.get("auth") == "AWS4-HMAC-SHA256 sig" and e.get("body") == '{"a": 1}',
               "absolute-URI POST forwarded: origin-form path, Host, Authorization, body", e)
        log = ctl.log()
        tap.ok(len(log) == 1 and log[0]["method"] == "POST" and log[0]["url"] == "http://%s/v1/x?q=1" % target
               and log[0]["host"] == target and log[0]["path"] == "/v1/x" and not log[0]["tunnel"]
               and log[0]["status"] == 200 and log[0]["done"]
               and log[0]["headers"].get("authorization") == "AWS4-HMAC-SHA256 sig",
               "the request is logged with its target and headers", log)

        # A client configured the usual way (urllib's ProxyHandler) goes through it.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
        with opener.open("http://%s/plain" % target, timeout=5) as r:
            e = json.loads(r.read())
        tap.eq(e.get("path"), "/plain", "urllib with http_proxy set reaches the target through it")
        tap.eq(len(ctl.log(host=target)), 2, "the log filters on the target host:port")

        # Keep-alive: two requests on one connection.
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        statuses = []
        for path in ("/a", "/b"):
            conn.request("GET", "http://%s%s" % (target, path), headers={"Host": target})
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
        conn.close()
        tap.eq(statuses, [200, 200], "two requests on one kept-alive connection")

        # CONNECT: a byte-for-byte tunnel.
        line, s = connect(proxy, "127.0.0.1:%d" % echo)
        s.sendall(b"hello through the tunnel")
        got = s.recv(100)
        s.close()
        tap.ok(line.startswith("HTTP/1.1 200") and got == b"hello through the tunnel", "CONNECT tunnels bytes",
               (line, got))
        harness.wait_until(lambda: ctl.log(host="127.0.0.1:%d" % echo)[0]["done"], 5, what="tunnel closed")
        t = ctl.log(host="127.0.0.1:%d" % echo)[0]
        tap.ok(t["tunnel"] and t["method"] == "CONNECT" and t["bytes_up"] == 24 and t["bytes_down"] == 24,
               "the tunnel is logged with what crossed it", t)

        # Not a proxy request; an unreachable target.
        mark = ctl.log_mark()
        st, _, _ = harness.http_get(proxy.url + "/v1/x")
        tap.eq(st, 400, "an origin-form request is refused")
        tap.eq(ctl.log(since=mark), [], "and not logged")
        closed = harness.free_port()
        st, _, body = via(proxy, "GET", "http://127.0.0.1:%d/" % closed)
        tap.ok(st == 502 and b"unreachable" in body, "an unreachable target gives 502", (st, body))
        line, s = connect(proxy, "127.0.0.1:%d" % closed)
        s.close()
        tap.ok(line.startswith("HTTP/1.1 502"), "so does a CONNECT to one", line)

        # Proxy authentication.
        ctl.set_auth("hostd:" + PASSWORD)
        st, h, _ = via(proxy, "GET", "http://%s/x" % target)
        tap.ok(st == 407 and h.get("Proxy-Authenticate", "").startswith("Basic"),
               "without credentials: 407 with Proxy-Authenticate", (st, h))
        st, _, _ = via(proxy, "GET", "http://%s/x" % target, auth="hostd:wrong")
        tap.eq(st, 407, "wrong credentials: 407")
        line, s = connect(proxy, "127.0.0.1:%d" % echo)
        s.close()
        tap.ok(line.startswith("HTTP/1.1 407"), "CONNECT without credentials: 407", line)
        mark = ctl.log_mark()
        st, _, body = via(proxy, "GET", "http://%s/x" % target, auth="hostd:" + PASSWORD)
        e = json.loads(body) if st == 200 else {}
        tap.ok(st == 200 and e.get("proxy_auth") is None, "right credentials: forwarded, without them", (st, e))
        tap.eq([x["proxy_user"] for x in ctl.log(since=mark)], ["hostd"], "the log names the proxy user")
        tap.ok(PASSWORD not in json.dumps(ctl.log()), "the password is never logged")
        ctl.set_auth(None)
        st, _, _ = via(proxy, "GET", "http://%s/x" % target)
        tap.eq(st, 200, "auth off again")


harness.run_tests(main)
