#!/usr/bin/env python3
"""The recording proxy forwards requests unchanged (Host, headers, body), logs
them with their operation, and answers each fault kind as documented.  The
upstream here is a small echo server, so this runs without moto."""

import http.client
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from awsproxy import ControlError  # noqa: E402

TARGET = "AmazonEC2ContainerServiceV20141113."


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        data = json.dumps({"path": self.path, "host": self.headers.get("Host"), "auth": self.headers.get("Authorization"), "body": body}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main(tap):
    up = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    up.daemon_threads = True
    threading.Thread(target=up.serve_forever, daemon=True).start()
    proxy = harness.AwsProxy("http://127.0.0.1:%d" % up.server_address[1]).start()
    ctl = proxy.control

    def call(op, body=None, timeout=3.0, headers=None):
        data = json.dumps(body or {}).encode()
        h = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op, "Authorization": "AWS4-HMAC-SHA256 x"}
        h.update(headers or {})
        return harness.http_get(proxy.url + "/", h, timeout, "POST", data)

    st, h, body = call("ListClusters", {"maxResults": 5})
    echo = json.loads(body)
    tap.ok(
        st == 200 and echo["host"] == "127.0.0.1:%d" % proxy.port and echo["auth"] == "AWS4-HMAC-SHA256 x"
        and json.loads(echo["body"]) == {"maxResults": 5} and echo["path"] == "/",
        "forwarded unchanged: Host (for SigV4), Authorization, path, body",
        echo,
    )
    # The proxy finishes the entry after the client has its answer.
    harness.wait_until(lambda: ctl.log()[-1]["done"], 5, what="the ListClusters entry finished")
    e = ctl.log()[-1]
    tap.ok(
        (e["operation"], e["json"], e["status"], e["done"], e["headers"]["x-amz-target"]) == ("ListClusters", {"maxResults": 5}, 200, True, TARGET + "ListClusters")
        and json.loads(e["response"])["host"] == echo["host"],
        "log: operation, parsed body, status, response",
        e,
    )
    st, _, _ = harness.http_get(proxy.url + "/", {"Content-Type": "application/x-www-form-urlencoded"}, 3, "POST", b"Action=AssumeRole&Version=2011-06-15")
    tap.eq(ctl.log()[-1]["operation"], "AssumeRole", "query-protocol requests: operation from Action")

    ctl.throttle("UpdateContainerInstancesState", count=2)
    codes = [call("UpdateContainerInstancesState") for _ in range(3)]
    tap.ok(
        [c[0] for c in codes] == [400, 400, 200] and json.loads(codes[0][2]) == {"__type": "ThrottlingException", "message": "Rate exceeded"}
        and codes[0][1].get("Content-Type") == "application/x-amz-json-1.1",
        "throttle x2: 400 ThrottlingException 'Rate exceeded' (JSON 1.1), then forwarded",
        [c[:1] for c in codes],
    )
    tap.eq(call("ListClusters")[0], 200, "a fault for one operation leaves others alone")
    ctl.error("*", code="ServiceUnavailableException", message="down for a bit", status=503, count=None)
    tap.ok(all(call(op)[0] == 503 for op in ("ListClusters", "PutAttributes")), "error with count null: always, any operation")
    ctl.clear_faults()
    tap.eq(call("ListClusters")[0], 200, "faults cleared")

    ctl.fault("status", "ListClusters", status=502, body="<html>bad gateway</html>")
    st, _, body = call("ListClusters")
    tap.eq((st, body), (502, b"<html>bad gateway</html>"), "status fault with a raw body")
    ctl.fault("garbage", "ListClusters")
    st, _, body = call("ListClusters")
    try:
        json.loads(body)
        ok = False
    except ValueError:
        ok = True
    tap.ok(st == 200 and ok, "garbage fault: 200 with an unparseable body", body[:30])
    ctl.fault("delay", "ListClusters", delay_ms=400)
    t = time.monotonic()
    st = call("ListClusters")[0]
    tap.ok(st == 200 and time.monotonic() - t >= 0.39, "delay fault, then forwarded")
    ctl.fault("delay", "ListClusters", delay_ms=1500)
    try:
        call("ListClusters", timeout=0.3)
        tap.ok(False, "held request: client times out", "answered")
    except OSError:
        inflight = [x for x in ctl.log() if not x["done"]]
        tap.ok(len(inflight) == 1 and inflight[0]["status"] is None, "held request: client times out; logged in progress")
    harness.wait_until(lambda: all(x["done"] for x in ctl.log()), 5, what="the held request")
    for kind, exc in (("drop", http.client.RemoteDisconnected), ("reset", ConnectionResetError)):
        ctl.fault(kind, "ListClusters")
        try:
            call("ListClusters")
            tap.ok(False, "%s fault" % kind, "answered")
        except (http.client.HTTPException, OSError) as e:
            tap.ok(isinstance(e, exc), "%s fault: %s" % (kind, exc.__name__), repr(e))

    ctl.error("RegisterContainerInstance", code="ClientException", message="Cluster not found.", status=400, count=None, match={"cluster": "nope"})
    a = call("RegisterContainerInstance", {"cluster": "nope"})
    b = call("RegisterContainerInstance", {"cluster": "yes"})
    tap.ok(a[0] == 400 and b"Cluster not found." in a[2] and b[0] == 200, "match: only requests whose body has cluster=nope", (a[0], b[0]))
    ctl.clear_faults()

    ctl.set_down(True)
    try:
        call("ListClusters")
        down = False
    except (http.client.HTTPException, OSError):
        down = True
    ctl.set_down(False)
    tap.ok(down and call("ListClusters")[0] == 200 and ctl.log()[-2]["fault"] == "down", "down: connections dropped (logged); up: forwarded")

    mark = ctl.log_mark()
    th = threading.Timer(0.3, call, args=("UpdateContainerInstancesState", {"status": "DRAINING"}))
    th.start()
    got = ctl.wait_request("UpdateContainerInstancesState", since=mark, status=200, timeout=3)
    th.join()
    tap.eq([g["json"]["status"] for g in got], ["DRAINING"], "wait_request returns the request once answered")
    tap.eq(ctl.requests("UpdateContainerInstancesState", since=mark), [{"status": "DRAINING"}], "requests(): the bodies sent")
    try:
        ctl.fault("explode")
        tap.ok(False, "unknown fault kind refused")
    except ControlError as e:
        tap.match("unknown fault kind", str(e), "unknown fault kind refused")

    proxy.stop()
    up.shutdown()
    up.server_close()
    tap.eq(harness.children_left(), [], "no child process left")


if __name__ == "__main__":
    harness.run_tests(main)
