#!/usr/bin/env python3
"""Fake introspection endpoint of the official ECS agent (port 51678), for
ecs-hostd's companion mode.

GET /v1/metadata answers {"Cluster", "ContainerInstanceArn", "Version"} as the
agent does once registered; GET /v1/tasks answers {"Tasks": []}.  The control
interface (/_control/) sets those values, makes the agent look "starting"
(connections closed without an answer, or a chosen HTTP status) and reads a
request log.  Invariant: the answer depends only on the state behind one lock.
Standard library only.

Run: introspection.py [--port 0] [--port-file F] [--cluster C --arn A]
"""

import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import reply_json, serve  # noqa: E402

CONTROL = "/_control"
AGENT_VERSION = "Amazon ECS Agent - v1.89.2 (e7b1c6c4)"


class State:
    def __init__(self, cluster=None, arn=None):
        self.lock = threading.Lock()
        self.metadata = {"Cluster": cluster or "default", "ContainerInstanceArn": arn, "Version": AGENT_VERSION}
        self.available = True
        self.status = 200
        self.log = []
        self.seq = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY, Nagle
    # and the client's delayed ACK hold the body back ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def reply(self, status, obj):
        reply_json(self, status, obj)

    def dispatch(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith(CONTROL + "/"):
            return self.control(url, body)
        with st.lock:
            st.seq += 1
            entry = {"seq": st.seq, "time": time.time(), "method": self.command, "path": url.path, "status": None}
            st.log.append(entry)
            available, status, md = st.available, st.status, dict(st.metadata)
        if not available:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if url.path in ("/v1/metadata", "/v1/metadata/"):
            code, obj = status, (md if status == 200 else {"error": "agent not ready"})
        elif url.path in ("/v1/tasks", "/v1/tasks/"):
            code, obj = status, {"Tasks": []}
        else:
            code, obj = 404, {"error": "not found"}
        self.reply(code, obj)
        with st.lock:
            entry["status"] = code

    def control(self, url, body):
        st = self.server.state
        what = url.path[len(CONTROL) + 1 :].strip("/")
        try:
            req = json.loads(body) if body.strip() else {}
            with st.lock:
                if what == "metadata" and self.command == "POST":
                    st.metadata.update(req)
                    res = dict(st.metadata)
                elif what == "config" and self.command == "POST":
                    if "available" in req:
                        st.available = bool(req["available"])
                    if "status" in req:
                        st.status = int(req["status"])
                    res = {"available": st.available, "status": st.status}
                elif what == "log" and self.command == "GET":
                    res = {"log": [dict(e) for e in st.log]}
                elif what == "log" and self.command == "DELETE":
                    st.log = []
                    res = {}
                else:
                    raise ValueError("no control endpoint %s %s" % (self.command, url.path))
            self.reply(200, res)
        except ValueError as e:
            self.reply(400, {"error": str(e)})


class IntrospectionControl:
    """Client of the fake agent's control interface."""

    def __init__(self, url, timeout=5.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method, what, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + CONTROL + "/" + what, data=data, method=method)
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return json.loads(r.read())

    def set_metadata(self, cluster=None, arn=..., version=None):
        body = {}
        if cluster is not None:
            body["Cluster"] = cluster
        if arn is not ...:
            body["ContainerInstanceArn"] = arn
        if version is not None:
            body["Version"] = version
        return self._call("POST", "metadata", body)

    def set_available(self, available=True, status=None):
        """available=False: connections closed without an answer (agent starting);
        status: answer /v1/* with this HTTP status instead of 200."""
        body = {"available": available}
        if status is not None:
            body["status"] = status
        return self._call("POST", "config", body)

    def log(self):
        return self._call("GET", "log")["log"]


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake ECS agent introspection endpoint")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cluster")
    ap.add_argument("--arn")
    args = ap.parse_args(argv)
    ThreadingHTTPServer.allow_reuse_address = True
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    httpd.state = State(args.cluster, args.arn)
    port = httpd.server_address[1]
    return serve(httpd, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
