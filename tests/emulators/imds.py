#!/usr/bin/env python3
"""EC2 instance metadata service (IMDS) emulator for ecs-hostd's tests.

Serves what IMDS and amazon-ec2-metadata-mock (AEMM) serve -- IMDSv1/v2 with
token TTL and expiry, text/plain bodies, directory listings, the Spot,
rebalance, Auto Scaling and maintenance paths, instance-role credentials, the
identity document and, when instance metadata tags are on (off by default,
as on EC2), the instance's tags -- and adds a JSON control interface under /_control/ (a
prefix IMDS never uses) to change answers, inject faults and read a request log.
Invariant: control requests never touch the request log, the faults or tokens;
everything an IMDS client sees is decided by the state behind one lock.

Run: imds.py [--host 127.0.0.1] [--port 0] [--port-file F] [--require-v2]
It prints `PORT=<n>` as its first stdout line once it accepts connections.
Standard library only.
"""

import argparse
import base64
import calendar
import copy
import fnmatch
import hashlib
import json
import os
import re
import secrets
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import CONTROL, ControlClient, ControlError, ThreadServer, control_log, handle_control, serve  # noqa: E402

TOKEN_PATH = "/latest/api/token"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600  # seconds, IMDS's upper bound for a token
META = "/latest/meta-data"
DYN = "/latest/dynamic"
MAC_PLACEHOLDER = "{mac}"

# AEMM's defaults (pkg/config/defaults): what an instance looks like until a
# test says otherwise.  "{mac}" stands for the current value of "mac".
DEFAULT_METADATA = {
    "ami-id": "ami-0a887e401f7654935",
    "ami-launch-index": "0",
    "ami-manifest-path": "(unknown)",
    "block-device-mapping/ami": "/dev/xvda",
    "block-device-mapping/root": "/dev/xvda",
    "hostname": "ip-172-16-34-43.ec2.internal",
    "instance-id": "i-1234567890abcdef0",
    "instance-life-cycle": "on-demand",
    "instance-type": "m4.xlarge",
    "local-hostname": "ip-172-16-34-43.ec2.internal",
    "local-ipv4": "172.16.34.43",
    "mac": "0e:49:61:0f:c3:11",
    "network/interfaces/macs/{mac}/device-number": "0",
    "network/interfaces/macs/{mac}/interface-id": "eni-0f95d3625f5c521cc",
    "network/interfaces/macs/{mac}/local-hostname": "ip-172-16-34-43.ec2.internal",
    "network/interfaces/macs/{mac}/local-ipv4s": "172.16.34.43",
    "network/interfaces/macs/{mac}/mac": "0e:49:61:0f:c3:11",
    "network/interfaces/macs/{mac}/owner-id": "515336597381",
    "network/interfaces/macs/{mac}/security-group-ids": "sg-0b07f8f6cb485d4df",
    "network/interfaces/macs/{mac}/subnet-id": "subnet-0ac62554",
    "network/interfaces/macs/{mac}/subnet-ipv4-cidr-block": "192.0.2.0/24",
    "network/interfaces/macs/{mac}/vpc-id": "vpc-d295a6a7",
    "network/interfaces/macs/{mac}/vpc-ipv4-cidr-block": "192.0.2.0/24",
    "placement/availability-zone": "us-east-1a",
    "placement/availability-zone-id": "use1-az4",
    "placement/region": "us-east-1",
    "public-hostname": "ec2-192-0-2-54.compute-1.amazonaws.com",
    "public-ipv4": "192.0.2.54",
    "reservation-id": "r-046cb3eca3e201d2f",
    "security-groups": "ura-launch-wizard-harry-1",
    "services/domain": "amazonaws.com",
    "services/partition": "aws",
}

DEFAULT_ROLE = "baskinc-role"
DEFAULT_IDENTITY = {
    "accountId": "123456789012",
    "architecture": "x86_64",
    "billingProducts": None,
    "devpayProductCodes": None,
    "kernelId": None,
    "marketplaceProductCodes": None,
    "pendingTime": "2019-10-31T07:02:24Z",
    "ramdiskId": None,
    "version": "2017-09-30",
}

ERROR_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

FAULT_KINDS = ("status", "delay", "garbage", "body", "oversize", "drop", "reset", "truncate")
TAGS = "tags/instance"  # under meta-data/, when instance metadata tags are on
# What EC2 allows of a tag key once its tags are in instance metadata (the
# key is a path segment): letters, digits and + - = . , _ : @; not "." or
# "..", not "_index".
TAG_KEY = re.compile(r"[A-Za-z0-9+\-=.,_:@]{1,128}")
GARBAGE = b'\x00\xff{"action": "terminate", "time": \xfe\xfd<html>'


def iso8601(t):
    """Epoch seconds to IMDS's ISO 8601 form, e.g. 2017-09-18T08:22:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def maintenance_date(t):
    """Epoch seconds to the maintenance-event form, e.g. 21 Jan 2019 09:00:43 GMT."""
    g = time.gmtime(t)
    return "%d %s" % (g.tm_mday, time.strftime("%b %Y %H:%M:%S GMT", g))


def parse_time(value, default_in=None):
    """A time from a control request: a number is seconds from now (negative
    for the past), a string is ISO 8601 UTC; None takes now + default_in."""
    now = time.time()
    if value is None:
        return None if default_in is None else now + default_in
    if isinstance(value, (int, float)):
        return now + value
    s = str(value).strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S+00:00"):
        try:
            return calendar.timegm(time.strptime(s, fmt))
        except ValueError:
            pass
    raise ValueError("bad time %r: use seconds from now or YYYY-MM-DDTHH:MM:SSZ" % value)


def error_page(status):
    """The XHTML error page IMDS (and AEMM) send with 4xx/5xx answers."""
    title = "%d - %s" % (status, ERROR_TITLES.get(status, "Error"))
    return (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        " <head>\n  <title>%s</title>\n </head>\n <body>\n  <h1>%s</h1>\n </body>\n</html>\n" % (title, title)
    ).encode()


class State:
    """Everything the emulator answers; every access holds self.lock."""

    def __init__(self, require_v2=False):
        self.lock = threading.Lock()
        self.initial_require_v2 = require_v2
        self.reset()

    def reset(self):
        self.metadata = dict(DEFAULT_METADATA)
        self.identity = dict(DEFAULT_IDENTITY)
        self.identity_raw = None  # str served verbatim instead of the built document
        self.signature = None  # None: derived from the document
        self.user_data = None
        now = time.time()
        self.role = DEFAULT_ROLE
        self.credentials = {
            "Code": "Success",
            "LastUpdated": iso8601(now),
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIAEMULATOREXAMPLE1",
            "SecretAccessKey": "v/emulator/secret/key/example",
            "Token": "emulator-session-token",
            "Expiration": iso8601(now + 6 * 3600),
        }
        self.spot = None  # {"action", "time"} (time: epoch)
        self.spot_instance_action = False
        self.termination_time = None  # epoch
        self.rebalance = None  # epoch
        self.asg_state = None
        self.tags_enabled = False  # instance metadata tags, off by default as on EC2
        self.tags = {}
        self.scheduled = []  # maintenance events, dicts in IMDS's JSON form
        self.history = []
        self.event_seq = 0
        self.require_v2 = self.initial_require_v2
        self.token_put_status = None  # 403/404/405: token PUT refused (v1 only)
        self.max_ttl = MAX_TTL
        self.enabled = True
        self.tokens = {}  # token -> (expiry monotonic, ttl)
        self.faults = []
        self.fault_seq = 0
        self.log = []
        self.log_seq = 0
        self.conn_seq = 0

    # --- what IMDS serves -------------------------------------------------
    def document(self):
        md = self.metadata
        doc = dict(self.identity)
        doc.setdefault("availabilityZone", md.get("placement/availability-zone"))
        doc.setdefault("imageId", md.get("ami-id"))
        doc.setdefault("instanceId", md.get("instance-id"))
        doc.setdefault("instanceType", md.get("instance-type"))
        doc.setdefault("privateIp", md.get("local-ipv4"))
        doc.setdefault("region", md.get("placement/region"))
        return json.dumps(doc, indent=2, sort_keys=True)

    def document_text(self):
        return self.identity_raw if self.identity_raw is not None else self.document()

    def signature_text(self):
        if self.signature is not None:
            return self.signature
        # Not a real RSA signature (nothing in the tests can verify one), but
        # tied to the document and shaped like IMDS's: 256 bytes, base64,
        # wrapped at 76 columns.
        seed = self.document_text().encode()
        raw = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(8))
        b64 = base64.b64encode(raw).decode()
        return "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))

    def meta_tree(self):
        """Flat map of every path served under /latest/meta-data/ right now."""
        mac = self.metadata.get("mac", "")
        tree = {k.replace(MAC_PLACEHOLDER, mac): v for k, v in self.metadata.items()}
        if self.role:
            tree["iam/security-credentials/" + self.role] = json.dumps(self.credentials, indent=2)
            tree["iam/info"] = json.dumps(
                {
                    "Code": "Success",
                    "LastUpdated": self.credentials.get("LastUpdated", iso8601(time.time())),
                    "InstanceProfileArn": "arn:aws:iam::%s:instance-profile/%s"
                    % (self.identity.get("accountId", "123456789012"), self.role),
                    "InstanceProfileId": "AIPA5BOGHHXZELSK34VU4",
                },
                indent=2,
            )
        if self.spot and self.spot_instance_action:
            tree["spot/instance-action"] = json.dumps(
                {"action": self.spot["action"], "time": iso8601(self.spot["time"])}
            )
        if self.termination_time is not None:
            tree["spot/termination-time"] = iso8601(self.termination_time)
        if self.rebalance is not None:
            tree["events/recommendations/rebalance"] = json.dumps({"noticeTime": iso8601(self.rebalance)})
        if self.asg_state is not None:
            tree["autoscaling/target-lifecycle-state"] = self.asg_state
        if self.tags_enabled:
            for k, v in self.tags.items():
                tree[TAGS + "/" + k] = v
        tree["events/maintenance/scheduled"] = json.dumps(self.scheduled, indent=2)
        tree["events/maintenance/history"] = json.dumps(self.history, indent=2)
        return tree

    def dyn_tree(self):
        return {
            "instance-identity/document": self.document_text(),
            "instance-identity/signature": self.signature_text(),
            "instance-identity/pkcs7": self.signature_text(),
            "instance-identity/rsa2048": self.signature_text(),
        }

    def lookup(self, path):
        """(status, body) for a GET of an IMDS path."""
        if self.tags_enabled and path.rstrip("/") == META + "/" + TAGS:
            return 200, "\n".join(sorted(self.tags))  # listed even when empty
        if self.tags_enabled and path.rstrip("/") == META + "/tags":
            return 200, "instance/"
        if path in ("/", ""):
            return 200, "latest"
        if path in ("/latest", "/latest/"):
            cats = ["dynamic", "meta-data"] + (["user-data"] if self.user_data is not None else [])
            return 200, "\n".join(cats)
        if path == "/latest/user-data":
            return (200, self.user_data) if self.user_data is not None else (404, None)
        for prefix, tree in ((META, self.meta_tree), (DYN, self.dyn_tree)):
            if path == prefix or path.startswith(prefix + "/"):
                return self._lookup_tree(tree(), path[len(prefix) :].strip("/"))
        return 404, None

    @staticmethod
    def _lookup_tree(tree, rel):
        if rel in tree:
            return 200, tree[rel]
        pre = rel + "/" if rel else ""
        children = []
        for k in tree:
            if k.startswith(pre):
                rest = k[len(pre) :]
                name = rest.split("/", 1)[0] + ("/" if "/" in rest else "")
                if name not in children:
                    children.append(name)
        if not children:
            return 404, None
        return 200, "\n".join(sorted(children))

    # --- tokens ---------------------------------------------------------
    def new_token(self, ttl):
        tok = base64.b64encode(secrets.token_bytes(40)).decode()
        self.tokens[tok] = (time.monotonic() + ttl, ttl)
        return tok

    def token_valid(self, tok):
        ent = self.tokens.get(tok)
        if ent is None:
            return False
        if time.monotonic() >= ent[0]:
            del self.tokens[tok]
            return False
        return True

    # --- faults ---------------------------------------------------------
    def take_fault(self, method, path):
        for f in self.faults:
            if f["remaining"] == 0:
                continue
            if f["method"] and f["method"] != method:
                continue
            if f["regex"]:
                if not re.fullmatch(f["regex"], path):
                    continue
            elif not fnmatch.fnmatchcase(path, f["path"]):
                continue
            if f["remaining"] is not None:
                f["remaining"] -= 1
            f["hits"] += 1
            return dict(f)
        return None

    def add_fault(self, spec):
        kind = spec.get("kind", "status")
        if kind not in FAULT_KINDS:
            raise ControlError("unknown fault kind %r (one of %s)" % (kind, ", ".join(FAULT_KINDS)))
        count = spec.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ControlError("count must be a positive integer or null (always)")
        if spec.get("regex"):
            re.compile(spec["regex"])
        status = int(spec.get("status", 500 if kind == "status" else 200))
        self.fault_seq += 1
        f = {
            "id": self.fault_seq,
            "kind": kind,
            "path": spec.get("path", "*"),
            "regex": spec.get("regex"),
            "method": spec.get("method"),
            "status": status,
            "delay_ms": int(spec.get("delay_ms", 0)),
            "body": spec.get("body"),
            "size": int(spec.get("size", 2 * 1024 * 1024)),
            "count": count,
            "remaining": count,
            "hits": 0,
        }
        if kind == "delay" and not f["delay_ms"]:
            raise ControlError("a delay fault needs delay_ms")
        self.faults.append(f)
        return f

    # --- control-side helpers ---------------------------------------------
    def set_tags(self, spec):
        """Instance metadata tags on or off, and tags set (None deletes one)."""
        if "enabled" in spec:
            self.tags_enabled = bool(spec["enabled"])
        tags = spec.get("tags") or {}
        if not isinstance(tags, dict):
            raise ControlError("tags must be an object of key: value (null deletes)")
        bad = [k for k in tags if not TAG_KEY.fullmatch(k) or k in (".", "..", "_index")]
        if bad:
            raise ControlError("tag keys %s cannot be in instance metadata (letters, digits and + - = . , _ : @ only; "
                               "not '.', '..' or '_index')" % ", ".join(map(repr, bad)))
        if spec.get("replace"):
            self.tags = {}
        for k, v in tags.items():
            if v is None:
                self.tags.pop(k, None)
            else:
                self.tags[k] = str(v)
        return {"enabled": self.tags_enabled, "tags": dict(self.tags)}

    def add_event(self, spec):
        self.event_seq += 1
        code = spec.get("code", "system-reboot")
        nb = parse_time(spec.get("not_before"), 14 * 86400)
        na = parse_time(spec.get("not_after"), None)
        if na is None:
            na = nb + 7 * 86400
        nbd = parse_time(spec.get("not_before_deadline"), None)
        if nbd is None:
            nbd = nb + 21 * 86400
        ev = {
            "Code": code,
            "Description": spec.get("description", "The instance is scheduled for " + code),
            "EventId": spec.get("event_id", "instance-event-%017x" % (0x1234567890ABCDE0 + self.event_seq)),
            "NotAfter": maintenance_date(na),
            "NotBefore": maintenance_date(nb),
            "NotBeforeDeadline": maintenance_date(nbd),
            "State": spec.get("state", "active"),
        }
        self.scheduled.append(ev)
        return ev

    def end_event(self, event_id, state):
        for i, ev in enumerate(self.scheduled):
            if ev["EventId"] == event_id:
                ev = self.scheduled.pop(i)
                ev["State"] = state
                if state == "canceled":
                    ev["Description"] = "Canceled - " + ev["Description"]
                elif state == "completed":
                    ev["Description"] = "Completed - " + ev["Description"]
                self.history.append(ev)
                return ev
        raise ControlError("no scheduled event %r" % event_id)

    def snapshot(self):
        return {
            "metadata": dict(self.metadata),
            "identity_document": self.document_text(),
            "role": self.role,
            "credentials": dict(self.credentials),
            "spot": (
                {"action": self.spot["action"], "time": iso8601(self.spot["time"]), "instance_action": self.spot_instance_action}
                if self.spot
                else None
            ),
            "termination_time": iso8601(self.termination_time) if self.termination_time is not None else None,
            "rebalance": iso8601(self.rebalance) if self.rebalance is not None else None,
            "asg_state": self.asg_state,
            "tags": {"enabled": self.tags_enabled, "tags": dict(self.tags)},
            "scheduled": copy.deepcopy(self.scheduled),
            "history": copy.deepcopy(self.history),
            "config": self.config(),
            "tokens": len(self.tokens),
            "faults": [dict(f) for f in self.faults],
            "log_seq": self.log_seq,
        }

    def config(self):
        return {
            "require_v2": self.require_v2,
            "token_put_status": self.token_put_status,
            "max_ttl": self.max_ttl,
            "enabled": self.enabled,
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as IMDS: clients reuse one connection
    # An answer leaves in one write, as from AEMM (Go's net/http buffers a
    # small response and flushes it once): http.server's default unbuffered
    # writer sends the headers and the body as two segments, which costs the
    # client an extra wakeup per request.  handle_one_request() flushes after
    # each request; faults that must send part of an answer flush themselves.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def version_string(self):
        return "EC2ws"

    def log_message(self, fmt, *args):  # the request log replaces stderr chatter
        if self.server.verbose:
            sys.stderr.write("imds: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.conn_seq += 1
            self.conn_id = self.server.state.conn_seq

    # Every method funnels here so unknown ones get IMDS's 405, not http.server's 501.
    def do_GET(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urllib.parse.urlsplit(self.path)
        if url.path == CONTROL or url.path.startswith(CONTROL + "/"):
            handle_control(self, url, body)
        else:
            self.imds(url.path)

    # --- the IMDS side --------------------------------------------------
    def imds(self, path):
        st = self.server.state
        t0 = time.time()
        tok = self.headers.get(TOKEN_HEADER)
        entry = {
            "time": t0,
            "method": self.command,
            "path": path,
            "query": urllib.parse.urlsplit(self.path).query,
            "headers": {k.lower(): v for k, v in self.headers.items()},  # names lower-cased
            "token": tok is not None,
            "token_valid": None,
            "client_port": self.client_address[1],
            "conn": self.conn_id,
            "fault": None,
            "status": None,  # set when answered; stays None when dropped
            "bytes": 0,
            "dropped": False,
            "duration_ms": None,
            "done": False,  # the request is logged on arrival, completed later
            "seq": None,
        }
        with st.lock:
            fault = st.take_fault(self.command, path)
            st.log_seq += 1
            entry["seq"] = st.log_seq
            st.log.append(entry)
            if len(st.log) > 100000:  # bound memory in long benchmarks
                del st.log[: len(st.log) - 100000]
        if fault:
            entry["fault"] = fault["id"]
            if fault["delay_ms"]:
                time.sleep(fault["delay_ms"] / 1000.0)
            if fault["kind"] != "delay":
                self.apply_fault(fault, entry)
                self.finish_log(entry, t0)
                return
        with st.lock:
            status, body, headers = self.answer(st, path, tok, entry)
        self.send(status, body, headers, entry)
        self.finish_log(entry, t0)

    def answer(self, st, path, tok, entry):
        if not st.enabled:
            return 403, None, {}
        if path == TOKEN_PATH:
            if self.command != "PUT":
                return 405, None, {"Allow": "PUT"}
            if self.headers.get("X-Forwarded-For") is not None:
                return 403, None, {}
            if st.token_put_status:
                return st.token_put_status, None, {}
            raw = self.headers.get(TTL_HEADER)
            try:
                ttl = int(raw) if raw is not None and raw.strip().isdigit() else -1
            except ValueError:
                ttl = -1
            if ttl < 1 or ttl > MAX_TTL:
                return 400, None, {}
            ttl = min(ttl, st.max_ttl)
            return 200, st.new_token(ttl), {TTL_HEADER: str(ttl)}
        if self.command not in ("GET", "HEAD"):
            return 405, None, {"Allow": "GET, HEAD"}
        if tok is not None:
            ok = st.token_valid(tok)
            entry["token_valid"] = ok
            if not ok:
                return 401, None, {}
        elif st.require_v2:
            return 401, None, {}
        status, text = st.lookup(path)
        return status, text, {}

    def send(self, status, body, headers, entry):
        if body is None:
            data = error_page(status) if status >= 400 else b""
            ctype = "text/html"
        else:
            data = body.encode() if isinstance(body, str) else body
            ctype = "text/plain"
        # Recorded before it is sent: a client holding the answer finds it logged.
        entry["status"] = status
        entry["bytes"] = len(data)
        self.send_response(status, ERROR_TITLES.get(status))
        self.send_header("Content-Type", headers.pop("Content-Type", ctype))
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def apply_fault(self, f, entry):
        kind = f["kind"]
        if kind == "status":
            body = f["body"]
            self.send(f["status"], body, {}, entry)
        elif kind == "garbage":
            self.send(f["status"], f["body"].encode("latin-1") if f["body"] else GARBAGE, {}, entry)
        elif kind == "body":
            self.send(f["status"], f["body"] or "", {}, entry)
        elif kind == "oversize":
            self.send(f["status"], b"x" * f["size"], {}, entry)
        elif kind == "truncate":
            data = (f["body"] or "truncated body " * 8).encode()
            self.send_response(f["status"])
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data) * 2))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.drop(entry, reset=False)
            entry["status"] = f["status"]
        elif kind in ("drop", "reset"):
            self.drop(entry, reset=kind == "reset")

    def drop(self, entry, reset):
        """Close the connection without (the rest of) an answer; reset sends RST."""
        self.close_connection = True
        try:
            if reset:
                # Linger 0 makes close() send RST; closing here (the real close
                # happens when finish() drops the file objects) keeps
                # socketserver from sending a FIN first.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        entry["dropped"] = True

    def finish_log(self, entry, t0):
        with self.server.state.lock:
            entry["duration_ms"] = round((time.time() - t0) * 1000.0, 3)
            entry["done"] = True

    # --- the control side -------------------------------------------------
    def control_locked(self, st, method, parts, req, query):
        what = parts[0] if parts else ""
        if what == "state" and method == "GET":
            return st.snapshot()
        if what == "reset" and method == "POST":
            st.reset()
            return {"ok": True}
        if what == "config" and method == "POST":
            for k, v in req.items():
                if k == "require_v2":
                    st.require_v2 = bool(v)
                elif k == "token_put_status":
                    if v not in (None, 403, 404, 405):
                        raise ControlError("token_put_status must be null, 403, 404 or 405")
                    st.token_put_status = v
                elif k == "max_ttl":
                    if not isinstance(v, int) or not 1 <= v <= MAX_TTL:
                        raise ControlError("max_ttl must be 1..21600")
                    st.max_ttl = v
                elif k == "enabled":
                    st.enabled = bool(v)
                else:
                    raise ControlError("unknown config key %r" % k)
            return st.config()
        if what == "metadata" and method == "POST":
            for k, v in req.items():
                k = k.strip("/")
                if v is None:
                    st.metadata.pop(k, None)
                else:
                    st.metadata[k] = str(v)
            return {"metadata": dict(st.metadata)}
        if what == "user-data" and method == "POST":
            st.user_data = req.get("data")
            return {"ok": True}
        if what == "identity" and method == "POST":
            if "document" in req:
                doc = req["document"] or {}
                if req.get("replace"):
                    st.identity = dict(doc)
                else:
                    st.identity.update(doc)
            if "raw" in req:
                st.identity_raw = req["raw"]
            if "signature" in req:
                st.signature = req["signature"]
            return {"document": st.document_text(), "signature": st.signature_text()}
        if what == "credentials":
            if method == "DELETE":
                st.role = None
                return {"role": None}
            if method == "POST":
                if "role" in req:
                    st.role = req["role"]
                creds = req.get("credentials")
                if creds is not None:
                    now = time.time()
                    full = {
                        "Code": "Success",
                        "LastUpdated": iso8601(now),
                        "Type": "AWS-HMAC",
                        "Expiration": iso8601(now + 6 * 3600),
                    }
                    full.update(creds)
                    st.credentials = full
                return {"role": st.role, "credentials": st.credentials}
        if what == "spot":
            if method == "DELETE":
                st.spot = None
                st.spot_instance_action = False
                if req.get("keep_termination_time") is not True:
                    st.termination_time = None
                return {"spot": None}
            if method == "POST":
                t = parse_time(req.get("time"), 120)
                st.spot = {"action": req.get("action", "terminate"), "time": t}
                st.spot_instance_action = bool(req.get("instance_action", True))
                if req.get("termination_time", True):
                    st.termination_time = t
                return st.snapshot()["spot"] | {"termination_time": iso8601(t)}
        if what == "termination-time":
            if method == "DELETE":
                st.termination_time = None
                return {"termination_time": None}
            if method == "POST":
                st.termination_time = parse_time(req.get("time"), 120)
                return {"termination_time": iso8601(st.termination_time)}
        if what == "rebalance":
            if method == "DELETE":
                st.rebalance = None
                return {"rebalance": None}
            if method == "POST":
                st.rebalance = parse_time(req.get("noticeTime", req.get("time")), 0)
                return {"noticeTime": iso8601(st.rebalance)}
        if what == "asg":
            if method == "DELETE":
                st.asg_state = None
                return {"state": None}
            if method == "POST":
                st.asg_state = str(req.get("state", "Terminated"))
                return {"state": st.asg_state}
        if what == "tags":
            if method == "POST":
                return st.set_tags(req)
            if method == "GET":
                return {"enabled": st.tags_enabled, "tags": dict(st.tags)}
            if method == "DELETE":
                st.tags = {}
                return {"enabled": st.tags_enabled, "tags": {}}
        if what == "maintenance":
            if method == "DELETE":
                st.scheduled, st.history = [], []
                return {"scheduled": [], "history": []}
            if method == "POST" and len(parts) == 1:
                return st.add_event(req)
            if method == "POST" and len(parts) == 3 and parts[2] in ("cancel", "complete"):
                return st.end_event(parts[1], "canceled" if parts[2] == "cancel" else "completed")
            if method == "GET":
                return {"scheduled": st.scheduled, "history": st.history}
        if what == "faults":
            if method == "POST":
                return st.add_fault(req)
            if method == "GET":
                return {"faults": [dict(f) for f in st.faults]}
            if method == "DELETE":
                if len(parts) > 1:
                    st.faults = [f for f in st.faults if str(f["id"]) != parts[1]]
                else:
                    st.faults = []
                return {"faults": [dict(f) for f in st.faults]}
        if what == "tokens":
            if method == "POST" and parts[1:] == ["expire"]:
                n = len(st.tokens)
                st.tokens.clear()
                return {"expired": n}
            if method == "GET":
                now = time.monotonic()
                return {"tokens": [{"ttl": ttl, "remaining": round(exp - now, 3)} for exp, ttl in st.tokens.values()]}
        if what == "log":
            return control_log(st, method, query)
        raise ControlError("no control endpoint %s %s/%s" % (method, CONTROL, "/".join(parts)))


class ImdsServer(ThreadServer):
    """The emulator in a background thread of this process."""

    def __init__(self, host="127.0.0.1", port=0, require_v2=False, verbose=False):
        super().__init__(Handler, State(require_v2=require_v2), "imds", host, port, verbose)


class ImdsControl(ControlClient):
    """Client of the control interface (what tests call)."""

    name = "IMDS emulator"
    key = "path"

    # state and switches
    def reset(self):
        return self._call("POST", "/reset", {})

    def config(self, require_v2=None, token_put_status=..., max_ttl=None, enabled=None):
        body = {}
        if require_v2 is not None:
            body["require_v2"] = require_v2
        if token_put_status is not ...:
            body["token_put_status"] = token_put_status
        if max_ttl is not None:
            body["max_ttl"] = max_ttl
        if enabled is not None:
            body["enabled"] = enabled
        return self._call("POST", "/config", body)

    def require_v2(self, on=True):
        return self.config(require_v2=on)

    # what is served
    def set_metadata(self, values=None, **kw):
        """Keys are paths under /latest/meta-data/ ("placement/region"); None deletes."""
        body = dict(values or {})
        body.update({k.replace("_", "-"): v for k, v in kw.items()})
        return self._call("POST", "/metadata", body)

    def set_instance(self, instance_id=None, instance_type=None, az=None, ami=None, private_ip=None, account_id=None):
        """Serve one EC2 instance: metadata paths and identity document agree."""
        md = {}
        if instance_id:
            md["instance-id"] = instance_id
        if instance_type:
            md["instance-type"] = instance_type
        if az:
            md["placement/availability-zone"] = az
            md["placement/region"] = az[:-1]
        if ami:
            md["ami-id"] = ami
        if private_ip:
            md["local-ipv4"] = private_ip
        self.set_metadata(md)
        if account_id:
            self.set_identity(document={"accountId": account_id})
        return self.state()["identity_document"]

    def set_identity(self, document=None, raw=..., signature=..., replace=False):
        body = {}
        if document is not None:
            body["document"] = document
            body["replace"] = replace
        if raw is not ...:
            body["raw"] = raw
        if signature is not ...:
            body["signature"] = signature
        return self._call("POST", "/identity", body)

    def set_credentials(self, role=None, access_key_id=None, secret_access_key=None, token=None, expiration=None, **extra):
        creds = dict(extra)
        if access_key_id is not None:
            creds["AccessKeyId"] = access_key_id
        if secret_access_key is not None:
            creds["SecretAccessKey"] = secret_access_key
        if token is not None:
            creds["Token"] = token
        if expiration is not None:
            creds["Expiration"] = expiration if isinstance(expiration, str) else iso8601(parse_time(expiration))
        body = {"credentials": creds}
        if role is not None:
            body["role"] = role
        return self._call("POST", "/credentials", body)

    def remove_role(self):
        return self._call("DELETE", "/credentials")

    def set_user_data(self, data):
        return self._call("POST", "/user-data", {"data": data})

    # notices
    def spot_notice(self, action="terminate", time=None, instance_action=True, termination_time=True):
        return self._call(
            "POST", "/spot", {"action": action, "time": time, "instance_action": instance_action, "termination_time": termination_time}
        )

    def withdraw_spot(self, keep_termination_time=False):
        return self._call("DELETE", "/spot", {"keep_termination_time": keep_termination_time})

    def set_termination_time(self, time=None):
        return self._call("POST", "/termination-time", {"time": time})

    def clear_termination_time(self):
        return self._call("DELETE", "/termination-time")

    def rebalance(self, notice_time=None):
        return self._call("POST", "/rebalance", {"noticeTime": notice_time})

    def withdraw_rebalance(self):
        return self._call("DELETE", "/rebalance")

    def asg_state(self, state="Terminated"):
        return self._call("POST", "/asg", {"state": state})

    def clear_asg_state(self):
        return self._call("DELETE", "/asg")

    # instance tags
    def set_tags(self, tags=None, enabled=True, replace=False):
        """Instance metadata tags on (or off), and these tags ({key: value,
        key: None to delete}; replace=True drops the others)."""
        return self._call("POST", "/tags", {"enabled": enabled, "tags": tags or {}, "replace": replace})

    def set_asg_group(self, group, enabled=True):
        """The tag Auto Scaling gives its instances, aws:autoscaling:groupName."""
        return self.set_tags({"aws:autoscaling:groupName": group}, enabled=enabled)

    def tags(self):
        return self._call("GET", "/tags")

    def add_maintenance(self, code="system-reboot", not_before=None, not_after=None, not_before_deadline=None, **kw):
        body = {"code": code, "not_before": not_before, "not_after": not_after, "not_before_deadline": not_before_deadline}
        body.update(kw)
        return self._call("POST", "/maintenance", body)

    def cancel_maintenance(self, event_id):
        return self._call("POST", "/maintenance/%s/cancel" % urllib.parse.quote(event_id, safe=""))

    def complete_maintenance(self, event_id):
        return self._call("POST", "/maintenance/%s/complete" % urllib.parse.quote(event_id, safe=""))

    def clear_maintenance(self):
        return self._call("DELETE", "/maintenance")

    # faults, tokens, log
    def fault(self, kind="status", path="*", count=1, **kw):
        """Inject a fault on requests whose path matches the glob `path` (or
        `regex=`): kind status|delay|garbage|body|oversize|drop|reset|truncate;
        status=N, delay_ms=D, body=S, size=B, method=M; count=None means always."""
        body = {"kind": kind, "path": path, "count": count}
        body.update(kw)
        return self._call("POST", "/faults", body)

    def clear_faults(self, fault_id=None):
        return self._call("DELETE", "/faults" + ("/%d" % fault_id if fault_id else ""))

    def expire_tokens(self):
        return self._call("POST", "/tokens/expire", {})["expired"]

    def tokens(self):
        return self._call("GET", "/tokens")["tokens"]

    def log(self, since=0, path=None):
        """Request log entries after sequence number `since` (optionally for one path)."""
        return self._log(since, path)

    def wait_request(self, path=None, since=0, status=None, count=1, timeout=10.0, interval=0.02, done=True):
        """Wait until `count` requests (for `path`, answered `status`) are logged
        after `since`; returns those entries.  done=False also counts requests
        still in progress (e.g. held by a delay fault).  TimeoutError otherwise."""
        return self._wait(path, since, status, count, timeout, interval, done)


def main(argv=None):
    ap = argparse.ArgumentParser(description="EC2 instance metadata service emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--require-v2", action="store_true", help="answer 401 to GETs without a token")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)
    srv = ImdsServer(args.host, args.port, require_v2=args.require_v2, verbose=args.verbose)
    return serve(srv.httpd, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
