#!/usr/bin/env python3
"""The recording proxy forwards requests unchanged (Host, headers, body), logs
them with their operation, and answers each fault kind as documented; it
answers Auto Scaling's lifecycle actions itself once upstream has verified
them, after botocore's model check, from the actions a test registered.  The
upstream here is a small echo server that plays moto's part for those
actions (500 for a good signature, 403 for a bad one), so this runs without
moto; test_autoscaling.py runs it against moto."""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from awsproxy import ControlError  # noqa: E402

TARGET = "AmazonEC2ContainerServiceV20141113."
LIFECYCLE = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")
MOTO_500 = b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
SIG = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/us-east-1/autoscaling/aws4_request, SignedHeaders=host, Signature=%s"
NS = "{http://autoscaling.amazonaws.com/doc/2011-01-01/}"


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        if urllib.parse.parse_qs(body).get("Action", [""])[0] in LIFECYCLE:
            # moto's part: a good signature reaches the action it lacks; a bad one does not
            if (self.headers.get("Authorization") or "").endswith("Signature=bad"):
                status, data = 403, (b'<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error><Code>'
                                     b'SignatureDoesNotMatch</Code><Message>no</Message><Type>Sender</Type></Error>'
                                     b'</Errors></ErrorResponse>')
            else:
                status, data = 500, MOTO_500
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
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

    lifecycle(tap, proxy)

    proxy.stop()
    up.shutdown()
    up.server_close()
    tap.eq(harness.children_left(), [], "no child process left")


def lifecycle(tap, proxy):
    ctl = proxy.control
    group, hook, inst = "web-asg", "ecs-drain", "i-0123456789abcdef0"

    def asg(action, signature="good", **fields):
        form = dict({"Action": action, "Version": "2011-01-01"}, **fields)
        h = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Authorization": SIG % signature}
        st, _, body = harness.http_get(proxy.url + "/", h, 3, "POST", urllib.parse.urlencode(form).encode())
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            root = None
        return st, root, ctl.log()[-1]

    def code_message(root):
        err = root.find(NS + "Error") if root is not None else None
        return (err.findtext(NS + "Code"), err.findtext(NS + "Message")) if err is not None else (None, None)

    fields = dict(AutoScalingGroupName=group, LifecycleHookName=hook, InstanceId=inst)
    st, root, e = asg("CompleteLifecycleAction", LifecycleActionResult="CONTINUE", **fields)
    tap.ok(st == 400 and code_message(root) == ("ValidationError", "No active Lifecycle Action found with instance ID " + inst)
           and root.findtext(NS + "Error/" + NS + "Type") == "Sender" and root.findtext(NS + "RequestId"),
           "no such lifecycle action: AWS's ValidationError, its XML and RequestId", (st, code_message(root)))
    tap.ok((e["answered_by"], e["upstream_status"], e["operation"], e["service"]) == ("proxy", 500, "CompleteLifecycleAction", "autoscaling"),
           "answered by the proxy after upstream's 500 (signature and policy verified)", e)

    a = ctl.add_lifecycle_action(group, hook, inst)
    beats = [asg("RecordLifecycleActionHeartbeat", **fields) for _ in range(2)]
    tap.ok(all(b[0] == 200 and b[1].tag == NS + "RecordLifecycleActionHeartbeatResponse"
               and b[1].find(NS + "RecordLifecycleActionHeartbeatResult") is not None
               and b[1].findtext(NS + "ResponseMetadata/" + NS + "RequestId") for b in beats),
           "heartbeats: 200 with RecordLifecycleActionHeartbeatResponse, its result and RequestId", [b[0] for b in beats])
    st, root, e = asg("CompleteLifecycleAction", LifecycleActionResult="ABANDON", **fields)
    got = ctl.lifecycle_actions()[0]
    tap.ok(st == 200 and root.tag == NS + "CompleteLifecycleActionResponse" and e["lifecycle"] == a["id"],
           "CompleteLifecycleAction on the registered action: 200, logged with its id", (st, e["lifecycle"]))
    tap.eq((got["state"], got["result"], got["heartbeats"]), ("completed", "ABANDON", 2),
           "the registry: completed with its result, after 2 heartbeats")
    tap.eq(e["params"], {"Action": "CompleteLifecycleAction", "Version": "2011-01-01", "AutoScalingGroupName": group,
                         "LifecycleHookName": hook, "InstanceId": inst, "LifecycleActionResult": "ABANDON"},
           "the log has the form fields as sent")
    st, root, e = asg("RecordLifecycleActionHeartbeat", **fields)
    tap.ok(st == 400 and code_message(root)[1] == "No active Lifecycle Action found with instance ID " + inst,
           "after Complete the action is gone (a heartbeat finds none)", (st, code_message(root)))

    t = ctl.add_lifecycle_action(group, hook, "i-0fedcba9876543210", token="b4d9a4b2-1bde-4d58-9a56-0e7a5c7e0d11")
    st, root, _ = asg("CompleteLifecycleAction", AutoScalingGroupName=group, LifecycleHookName=hook,
                      LifecycleActionToken="c4d9a4b2-1bde-4d58-9a56-0e7a5c7e0d11", LifecycleActionResult="CONTINUE")
    tap.eq(code_message(root)[1], "No active Lifecycle Action found with token c4d9a4b2-1bde-4d58-9a56-0e7a5c7e0d11",
           "another token: none found, named by its token")
    st, root, _ = asg("CompleteLifecycleAction", AutoScalingGroupName=group, LifecycleHookName=hook,
                      LifecycleActionToken=t["token"], LifecycleActionResult="CONTINUE")
    tap.ok(st == 200 and ctl.lifecycle_actions()[1]["state"] == "completed", "by its token alone: completed", st)

    ctl.add_lifecycle_action(group, hook, inst)
    before = ctl.lifecycle_actions()
    st, root, e = asg("CompleteLifecycleAction", AutoScalingGroupName=group, LifecycleHookName="ecs drain", InstanceId=inst)
    tap.eq(code_message(root), ("ValidationError", "2 validation errors detected: Value 'ecs drain' at 'lifecycleHookName' "
                                "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                                "[A-Za-z0-9\\-_\\/]+; Value null at 'lifecycleActionResult' failed to satisfy "
                                "constraint: Member must not be null"),
           "botocore's model: a bad hook name and a missing result, in AWS's words")
    tap.ok(st == 400 and e["validation"] and ctl.lifecycle_actions() == before, "logged; the registry is untouched", e["validation"])
    st, root, _ = asg("CompleteLifecycleAction", LifecycleActionResult="continue", **fields)
    tap.eq(code_message(root)[0], "ValidationError", "a result other than CONTINUE or ABANDON")
    st, root, _ = asg("RecordLifecycleActionHeartbeat", Colour="blue", **fields)
    tap.match(r"Value 'blue' at 'Colour' .* not a member", code_message(root)[1] or "", "a field the model does not have")

    st, root, e = asg("CompleteLifecycleAction", signature="bad", LifecycleActionResult="CONTINUE", **fields)
    tap.ok(st == 403 and b"SignatureDoesNotMatch" in e["response"].encode() and e["answered_by"] == "upstream"
           and ctl.lifecycle_actions() == before, "a bad signature: upstream's 403 passed on; never answered, nothing completed",
           (st, e["answered_by"]))

    ctl.throttle("CompleteLifecycleAction", count=1)
    st, root, e = asg("CompleteLifecycleAction", LifecycleActionResult="CONTINUE", **fields)
    tap.ok(st == 400 and code_message(root) == ("Throttling", "Rate exceeded") and e["answered_by"] == "fault"
           and ctl.lifecycle_actions() == before, "throttle on a form: the Query protocol's XML Throttling, nothing completed", (st, code_message(root)))
    ctl.error("RecordLifecycleActionHeartbeat", code="InternalFailure", message="busy", status=503, match={"InstanceId": inst})
    st, root, _ = asg("RecordLifecycleActionHeartbeat", **fields)
    tap.ok(st == 503 and code_message(root) == ("InternalFailure", "busy")
           and root.findtext(NS + "Error/" + NS + "Type") == "Receiver", "an error fault matched on a form field: XML, Receiver for 5xx",
           (st, code_message(root)))
    ctl.fault("garbage", "RecordLifecycleActionHeartbeat")
    st, root, _ = asg("RecordLifecycleActionHeartbeat", **fields)
    tap.ok(st == 200 and root is None, "garbage on a form: 200 that is not XML", st)
    ctl.clear_faults()
    st, _, _ = asg("RecordLifecycleActionHeartbeat", **fields)
    tap.eq(st, 200, "faults cleared: answered again")
    tap.eq([p["Action"] for p in ctl.params("RecordLifecycleActionHeartbeat")][-1:], ["RecordLifecycleActionHeartbeat"],
           "params(): the form fields per operation")
    try:
        ctl._call("POST", "/lifecycle", {"group": group})
        tap.ok(False, "a lifecycle action without hook and instance is refused")
    except ControlError as e:
        tap.match("needs hook, instance", str(e), "a lifecycle action without hook and instance is refused")
    ctl.clear_lifecycle_actions()
    tap.eq(ctl.lifecycle_actions(), [], "the registry cleared")


if __name__ == "__main__":
    harness.run_tests(main)
