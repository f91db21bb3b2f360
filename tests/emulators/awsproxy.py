#!/usr/bin/env python3
"""Recording, fault-injecting HTTP proxy in front of moto (or any AWS endpoint).

The daemon talks to the proxy as its ECS (and Auto Scaling) endpoint; the
proxy forwards each request unchanged (Host included, so SigV4 signatures
still verify upstream), records what was sent (operation, headers, JSON body
or form fields) and what came back, and can answer instead of upstream: AWS
errors (throttling, 5xx, AccessDenied; JSON for JSON protocols, XML for the
Query protocol), delays, dropped or reset connections, garbage, or "down"
(every connection dropped).  moto ignores much of RegisterContainerInstance's
request, so tests check what the daemon sent here.

moto does not implement Auto Scaling's CompleteLifecycleAction and
RecordLifecycleActionHeartbeat; the proxy answers them itself, but only
after moto has verified the request: it is forwarded first, and moto checks
the SigV4 signature and the caller's IAM policy before it finds it cannot do
the action (HTTP 500, an HTML page), so that answer means "verified"; an
auth error from moto (SignatureDoesNotMatch, InvalidClientTokenId,
AccessDenied) goes back to the client as it is.  A verified request is then
checked against botocore's Auto Scaling model (querymodel.py: a
ValidationError as AWS sends it) and against the lifecycle actions a test
registered (pending per group, hook and instance); the answer is AWS's XML.

Control: JSON under /_control/ (the AWS APIs use POST / only).  Standard
library only, plus botocore for the model check.

Run: awsproxy.py --upstream http://127.0.0.1:PORT [--port-file F]
"""

import argparse
import fnmatch
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import CONTROL, ControlClient, ControlError, Handler as BaseHandler, ThreadServer, control_log, forward, handle_control, serve  # noqa: E402

FAULT_KINDS = ("error", "throttle", "status", "delay", "drop", "reset", "garbage")
UPSTREAM_TIMEOUT = 30.0  # seconds
FORM = "application/x-www-form-urlencoded"  # the Query protocol's requests
# Actions moto does not implement, which the proxy answers once moto has
# verified the signature and the policy: service -> its actions.
ANSWERED = {"autoscaling": ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")}
XMLNS = {"autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/"}
LIFECYCLE_RESULTS = ("CONTINUE", "ABANDON")


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


def form_of(headers, body):
    """The form fields of a Query-protocol request (name -> value; a name
    sent twice keeps its last value), or None for anything else."""
    if not (headers.get("Content-Type") or "").lower().startswith(FORM):
        return None
    try:
        return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None


def service_of(headers):
    """The service a SigV4 signature is for (its credential scope), or ""."""
    m = re.search(r"Credential=[^/,]*/\d{8}/[^/,]*/([^/,]*)/aws4_request", headers.get("Authorization") or "")
    return m.group(1) if m else ""


def query_error(service, status, code, message, request_id):
    """An error answer as the Query protocol writes it (Auto Scaling's form)."""
    kind = "Sender" if status < 500 else "Receiver"
    body = ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n'
            "    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n"
            % (XMLNS.get(service, ""), kind, escape(code), escape(message), request_id))
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def query_answer(service, action, request_id):
    """An action's answer with an empty result, as the Query protocol writes it."""
    body = ('<%sResponse xmlns="%s">\n  <%sResult/>\n  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
            "  </ResponseMetadata>\n</%sResponse>\n" % (action, XMLNS.get(service, ""), action, request_id, action))
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def upstream_verified(status, data):
    """moto's answer to an action it lacks, after it checked the signature and
    the policy: HTTP 500 with werkzeug's HTML "Internal Server Error" page
    (its NotImplementedError goes to its log only).  A 2xx would mean moto
    does the action now: verified too.  Anything else (an auth error) is
    moto's answer to pass on."""
    return 200 <= status < 300 or (status == 500 and b"<title>500 Internal Server Error</title>" in data)


class State:
    def __init__(self, upstream):
        self.lock = threading.Lock()
        self.upstream = urllib.parse.urlsplit(upstream)
        self.down = False
        self.faults = []
        self.fault_seq = 0
        self.log = []
        self.log_seq = 0
        self.lifecycle = []  # the lifecycle actions a test registered
        self.lifecycle_seq = 0

    def add_lifecycle(self, spec):
        """A lifecycle action Auto Scaling holds for an instance: pending
        until CompleteLifecycleAction; heartbeats are counted."""
        missing = [k for k in ("group", "hook", "instance") if not spec.get(k)]
        if missing:
            raise ControlError("a lifecycle action needs %s" % ", ".join(missing))
        self.lifecycle_seq += 1
        a = {
            "id": self.lifecycle_seq,
            "group": spec["group"],
            "hook": spec["hook"],
            "instance": spec["instance"],
            "token": spec.get("token") or str(uuid.uuid4()),
            "state": "pending",
            "heartbeats": 0,
            "result": None,
            "created": time.time(),
            "completed": None,
        }
        self.lifecycle.append(a)
        return dict(a)

    def find_lifecycle(self, group, hook, instance, token):
        """The pending action a request names: by token when it gives one
        (and then its instance must match too, if given), else by instance."""
        for a in self.lifecycle:
            if a["state"] != "pending" or a["group"] != group or a["hook"] != hook:
                continue
            if token is not None:
                if a["token"] == token and instance in (None, a["instance"]):
                    return a
            elif a["instance"] == instance:
                return a
        return None

    def add_fault(self, spec):
        kind = spec.get("kind", "error")
        if kind not in FAULT_KINDS:
            raise ControlError("unknown fault kind %r (one of %s)" % (kind, ", ".join(FAULT_KINDS)))
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ControlError("count must be a positive integer or null (always)")
        throttle = kind == "throttle"
        if throttle:  # the code is the protocol's: Throttling for the Query protocol
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
            "match": spec.get("match"),  # top-level JSON body fields (or form fields) that must be equal
            "throttle": throttle,
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
        form = form_of(self.headers, body)
        service = service_of(self.headers)
        entry = {
            "time": t0,
            "method": self.command,
            "path": self.path,
            "operation": op,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": text,
            "json": parsed,
            "params": form,  # the form fields of a Query-protocol request
            "service": service,  # the signature's
            "answered_by": None,  # upstream, proxy, fault or down
            "upstream_status": None,  # moto's status, when the proxy answered after it
            "lifecycle": None,  # the id of the lifecycle action a request completed or kept alive
            "validation": None,  # what the model check found wrong (AWS's words), when it did
            "fault": None,
            "status": None,
            "response": None,
            "duration_ms": None,
            "done": False,  # logged on arrival, completed when answered
            "seq": None,
        }
        with st.lock:
            down = st.down
            fault = None if down else st.take_fault(op, parsed if form is None else form)
            st.log_seq += 1
            entry["seq"] = st.log_seq
            st.log.append(entry)
            if len(st.log) > 100000:
                del st.log[: len(st.log) - 100000]
        try:
            if down:
                entry["fault"] = entry["answered_by"] = "down"
                self.drop(reset=False)
            elif fault and fault["kind"] not in ("delay",):
                entry["fault"] = fault["id"]
                entry["answered_by"] = "fault"
                if fault["delay_ms"]:
                    time.sleep(fault["delay_ms"] / 1000.0)
                self.injected(fault, entry, form is not None)
            else:
                if fault:
                    entry["fault"] = fault["id"]
                    time.sleep(fault["delay_ms"] / 1000.0)
                if form is not None and op in ANSWERED.get(service, ()):
                    self.answer_after_upstream(body, entry, service, op, form)
                else:
                    self.forward(body, entry)
        finally:
            # Done even when the client left before the answer (a held
            # request it gave up on): the log must not show it in progress.
            with st.lock:
                entry["duration_ms"] = round((time.time() - t0) * 1000.0, 3)
                entry["done"] = True

    def forward(self, body, entry):
        entry["answered_by"] = "upstream"
        status, headers, data = self.upstream(body)
        self.reply(status, headers, data, entry)

    def upstream(self, body):
        up = self.server.state.upstream
        return forward("awsproxy", up.hostname, up.port or 80, self.command, self.path, self.headers, body,
                       UPSTREAM_TIMEOUT)

    def answer_after_upstream(self, body, entry, service, op, form):
        """An action moto lacks: moto verifies the signature and the policy
        first; then the model check and the lifecycle registry answer."""
        status, headers, data = self.upstream(body)
        entry["upstream_status"] = status
        if not upstream_verified(status, data):
            entry["answered_by"] = "upstream"
            self.reply(status, headers, data, entry)
            return
        entry["answered_by"] = "proxy"
        request_id = str(uuid.uuid4())
        from querymodel import QueryModel  # botocore: only when an action is answered here

        problems = QueryModel(service).validate(op, form)
        if problems:
            entry["validation"] = problems
            self.reply(*query_error(service, 400, "ValidationError", QueryModel.message(problems), request_id), entry)
            return
        self.reply(*self.lifecycle(service, op, form, entry, request_id), entry)

    def lifecycle(self, service, op, form, entry, request_id):
        """CompleteLifecycleAction / RecordLifecycleActionHeartbeat on the
        registry: (status, headers, body)."""
        st = self.server.state
        token, instance = form.get("LifecycleActionToken"), form.get("InstanceId")
        result = form.get("LifecycleActionResult")
        if op == "CompleteLifecycleAction" and result not in LIFECYCLE_RESULTS:
            # The model has no enum here; Auto Scaling takes only these two.
            return query_error(service, 400, "ValidationError",
                               "Invalid value for LifecycleActionResult: %s (CONTINUE or ABANDON)" % result, request_id)
        if token is None and instance is None:
            return query_error(service, 400, "ValidationError",
                               "Either LifecycleActionToken or InstanceId must be specified", request_id)
        with st.lock:
            a = st.find_lifecycle(form.get("AutoScalingGroupName"), form.get("LifecycleHookName"), instance, token)
            if a is None:
                what = "token %s" % token if token is not None else "instance ID %s" % instance
                return query_error(service, 400, "ValidationError", "No active Lifecycle Action found with " + what,
                                   request_id)
            entry["lifecycle"] = a["id"]
            if op == "CompleteLifecycleAction":
                a.update(state="completed", result=result, completed=time.time())
            else:
                a["heartbeats"] += 1
        return query_answer(service, op, request_id)

    def injected(self, f, entry, query=False):
        kind = f["kind"]
        if kind == "error" and query:
            code = "Throttling" if f["throttle"] else f["code"]
            service = entry["service"] or "autoscaling"
            self.reply(*query_error(service, f["status"], code, f["message"], "injected-%d" % f["id"]), entry)
        elif kind == "error":
            data = json.dumps({"__type": f["code"], "message": f["message"]}).encode()
            self.reply(f["status"], [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", "injected-%d" % f["id"])], data, entry)
        elif kind == "status":
            self.reply(f["status"], [("Content-Type", "text/plain")], (f["body"] or "").encode(), entry)
        elif kind == "garbage":
            default = "<%sResponse><\x00\xff" % entry["operation"] if query else '{"containerInstance": {"containerInstanceArn": \x00\xff'
            data = (f["body"] or default).encode("latin-1", "replace")
            ctype = "text/xml" if query else "application/x-amz-json-1.1"
            self.reply(f["status"], [("Content-Type", ctype)], data, entry)
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
        if what == "lifecycle":
            if method == "POST":
                return st.add_lifecycle(req)
            if method == "GET":
                return {"actions": [dict(a) for a in st.lifecycle]}
            if method == "DELETE":
                st.lifecycle = []
                return {"actions": []}
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
        top-level values, or form fields (e.g. to answer what real ECS answers
        where moto differs).  Errors take the request's protocol: JSON
        {"__type", "message"}, or for a form (Query protocol) the XML
        ErrorResponse, throttling as Throttling "Rate exceeded"."""
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

    def params(self, operation, since=0):
        """The form fields the client sent for one Query-protocol operation."""
        return [e["params"] for e in self.log(since, operation)]

    # Auto Scaling lifecycle actions (answered here: moto lacks them)
    def add_lifecycle_action(self, group, hook, instance, token=None):
        """Hold `instance` in a lifecycle action of `hook` in `group` (a
        token is made up unless given); returns the action."""
        return self._call("POST", "/lifecycle", {"group": group, "hook": hook, "instance": instance, "token": token})

    def lifecycle_actions(self):
        """Every action registered: state pending or completed, result, heartbeats."""
        return self._call("GET", "/lifecycle")["actions"]

    def clear_lifecycle_actions(self):
        return self._call("DELETE", "/lifecycle")


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
