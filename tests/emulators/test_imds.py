#!/usr/bin/env python3
"""The IMDS emulator behaves like IMDS/AEMM: tokens and their expiry, v1/v2
switches, every path ecs-hostd reads, notices raised and withdrawn, each
fault kind, and the request log.  Talks to it with urllib/http.client only,
as an instance would, and runs it as a subprocess, as scenario tests do."""

import http.client
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import http_get, imds_fetch  # noqa: E402
from serve import ControlError  # noqa: E402

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOK = "X-aws-ec2-metadata-token"
MD = "/latest/meta-data/"
DATE_RX = r"^\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$"
ISO_RX = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def iso_to_epoch(s):
    import calendar

    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def main(tap):
    imds = harness.ImdsEmulator().start()
    url, ctl = imds.url, imds.control

    def get(path, token=None, timeout=2.0):
        return http_get(url + path, {TOK: token} if token else {}, timeout)

    def put_token(ttl="21600", headers=None):
        h = {TTL: ttl} if ttl is not None else {}
        h.update(headers or {})
        return http_get(url + "/latest/api/token", h, 2.0, "PUT")

    def token(ttl="21600"):
        st, h, body = put_token(ttl)
        assert st == 200, "token PUT answered %d" % st
        return body.decode()

    # --- plain paths, v1 ---------------------------------------------------
    st, h, body = get(MD + "instance-id")
    tap.ok(st == 200 and body == b"i-1234567890abcdef0", "v1 GET instance-id serves AEMM's default", (st, body))
    tap.eq((h.get("Content-Type"), h.get("Server")), ("text/plain", "EC2ws"), "answers are text/plain from EC2ws")
    st, _, body = get(MD)
    listing = body.decode().split("\n")
    tap.ok(
        st == 200 and "instance-id" in listing and "placement/" in listing and "iam/" in listing and not body.endswith(b"\n"),
        "meta-data/ is a newline-separated listing, directories with a slash",
        body[:200],
    )
    st, _, body = get(MD + "placement")
    tap.eq(body.decode().split("\n"), ["availability-zone", "availability-zone-id", "region"], "placement listing (no trailing slash)")
    tap.eq(get(MD + "placement/availability-zone")[2], b"us-east-1a", "placement/availability-zone default")
    tap.eq(get(MD + "instance-type")[2], b"m4.xlarge", "instance-type default")
    mac = get(MD + "mac")[2].decode()
    tap.eq(mac, "0e:49:61:0f:c3:11", "mac default")
    tap.eq(get(MD + "network/interfaces/macs/%s/vpc-id" % mac)[2], b"vpc-d295a6a7", "vpc-id under the mac")
    tap.eq(get(MD + "network/interfaces/macs/%s/subnet-id" % mac)[2], b"subnet-0ac62554", "subnet-id under the mac")
    tap.eq(get(MD + "instance-life-cycle")[2], b"on-demand", "instance-life-cycle default")
    st, h, body = get(MD + "no-such-thing")
    tap.ok(st == 404 and b"404 - Not Found" in body, "unknown path: 404 with IMDS's error page", (st, body[:80]))
    tap.eq(get("/latest/")[2], b"dynamic\nmeta-data", "/latest/ lists the categories")

    # --- tokens --------------------------------------------------------------
    st, h, body = put_token("300")
    tap.ok(st == 200 and len(body) > 20 and h.get(TTL) == "300", "token PUT: 200, token, TTL header echoed", (st, h.get(TTL)))
    tok = body.decode()
    tap.eq(get(MD + "instance-id", tok)[:3:2], (200, b"i-1234567890abcdef0"), "GET with a valid token")
    for bad in (None, "0", "21601", "abc", "-5", ""):
        tap.eq(put_token(bad)[0], 400, "token PUT with TTL %r: 400" % (bad,))
    tap.eq(put_token("21600")[0], 200, "token PUT with TTL 21600 (the maximum): 200")
    tap.eq(put_token("60", {"X-Forwarded-For": "10.0.0.1"})[0], 403, "token PUT with X-Forwarded-For: 403")
    tap.eq(get("/latest/api/token")[0], 405, "GET on the token path: 405")
    tap.eq(http_get(url + MD + "instance-id", {}, 2.0, "POST", b"x")[0], 405, "POST on a metadata path: 405")
    tap.eq(get(MD + "instance-id", "not-a-token")[0], 401, "unknown token: 401 even with v1 allowed")

    short = token("1")
    issued = time.monotonic()
    tap.eq(get(MD + "instance-id", short)[0], 200, "1 s token works at once")
    expired = harness.wait_until(lambda: get(MD + "instance-id", short)[0] == 401, 5, what="token expiry")
    tap.ok(expired and time.monotonic() - issued >= 1.0, "1 s token expires after its second: 401",
           time.monotonic() - issued)
    tap.eq(get(MD + "instance-id", token("1"))[0], 200, "a fresh token works again")

    ctl.config(max_ttl=2)
    st, h, _ = put_token("21600")
    tap.eq(h.get(TTL), "2", "TTL cap: a 21600 s request is granted 2 s (header says so)")
    ctl.config(max_ttl=21600)

    long_tok = token("21600")
    n = ctl.expire_tokens()
    tap.ok(n >= 1 and get(MD + "instance-id", long_tok)[0] == 401, "control expire_tokens: an outstanding token gets 401", n)

    # --- v1 / v2 switches ------------------------------------------------------
    ctl.require_v2(True)
    tap.eq(get(MD + "instance-id")[0], 401, "require-v2: GET without token: 401")
    tap.eq(imds_fetch(url, MD + "instance-id"), (200, "i-1234567890abcdef0"), "require-v2: token flow works")
    ctl.require_v2(False)
    tap.eq(get(MD + "instance-id")[0], 200, "v1 allowed again")
    for code in (403, 404, 405):
        ctl.config(token_put_status=code)
        tap.ok(put_token()[0] == code and get(MD + "instance-id")[0] == 200, "token PUT refused with %d, v1 GET still works" % code)
    ctl.config(token_put_status=None)
    ctl.config(enabled=False)
    tap.ok(get(MD + "instance-id")[0] == 403 and put_token()[0] == 403, "IMDS turned off: 403 for GET and PUT")
    ctl.config(enabled=True)

    # --- Spot, rebalance, ASG, maintenance ---------------------------------------
    tap.eq(get(MD + "spot/instance-action")[0], 404, "no Spot notice: instance-action 404")
    tap.eq(get(MD + "spot/termination-time")[0], 404, "no Spot notice: termination-time 404")
    t0 = time.time()
    ctl.spot_notice("terminate")
    st, _, body = get(MD + "spot/instance-action")
    ia = json.loads(body)
    dt = iso_to_epoch(ia["time"]) - t0
    tap.ok(st == 200 and ia["action"] == "terminate" and 115 <= dt <= 125, "Spot notice: terminate at now + 2 min", (st, ia, dt))
    tap.ok(re.match(ISO_RX, ia["time"]) is not None, "Spot time is ISO 8601 Z", ia["time"])
    tap.eq(get(MD + "spot/termination-time")[2].decode(), ia["time"], "termination-time carries the same time")
    tap.eq(get(MD + "spot")[2], b"instance-action\ntermination-time", "spot/ lists both paths")
    # Times are to the second: poll again once the clock has moved to another.
    next_second = int(time.time()) + 1
    harness.wait_until(lambda: time.time() >= next_second + 0.05, 3, what="the next second")
    tap.eq(json.loads(get(MD + "spot/instance-action")[2]), ia, "the notice does not move on later polls")
    ctl.withdraw_spot()
    tap.ok(get(MD + "spot/instance-action")[0] == 404 and get(MD + "spot/termination-time")[0] == 404, "Spot notice withdrawn: 404 again")
    ctl.spot_notice("hibernate", time=-30)
    ia = json.loads(get(MD + "spot/instance-action")[2])
    tap.ok(ia["action"] == "hibernate" and iso_to_epoch(ia["time"]) < time.time() - 20, "hibernate with a time in the past", ia)
    ctl.spot_notice("stop", time="2030-01-02T03:04:05Z", instance_action=False)
    tap.ok(
        get(MD + "spot/instance-action")[0] == 404 and get(MD + "spot/termination-time")[2] == b"2030-01-02T03:04:05Z",
        "termination-time alone (instance-action not answering)",
    )
    ctl.withdraw_spot(keep_termination_time=True)
    tap.eq(get(MD + "spot/termination-time")[2], b"2030-01-02T03:04:05Z", "termination-time can linger after withdrawal")
    ctl.clear_termination_time()
    tap.eq(get(MD + "spot/termination-time")[0], 404, "termination-time cleared")

    tap.eq(get(MD + "events/recommendations/rebalance")[0], 404, "no rebalance recommendation: 404")
    ctl.rebalance()
    st, _, body = get(MD + "events/recommendations/rebalance")
    rb = json.loads(body)
    tap.ok(st == 200 and abs(iso_to_epoch(rb["noticeTime"]) - time.time()) < 5, "rebalance recommendation: noticeTime now", rb)
    ctl.withdraw_rebalance()
    tap.eq(get(MD + "events/recommendations/rebalance")[0], 404, "rebalance withdrawn")

    tap.eq(get(MD + "autoscaling/target-lifecycle-state")[0], 404, "no ASG transition: 404")
    ctl.asg_state("Terminated")
    tap.eq(get(MD + "autoscaling/target-lifecycle-state")[:3:2], (200, b"Terminated"), "ASG target lifecycle state Terminated")
    ctl.asg_state("Warmed:Hibernated")
    tap.eq(get(MD + "autoscaling/target-lifecycle-state")[2], b"Warmed:Hibernated", "ASG state is any string (junk states for tests)")
    ctl.clear_asg_state()
    tap.eq(get(MD + "autoscaling/target-lifecycle-state")[0], 404, "ASG state cleared")

    # --- instance tags: off by default, as on EC2 ---------------------------
    ctl.set_tags({"aws:autoscaling:groupName": "web-asg", "Name": "host 1"}, enabled=False)
    tap.ok(get(MD + "tags/instance")[0] == 404 and get(MD + "tags/instance/aws:autoscaling:groupName")[0] == 404,
           "instance metadata tags off: tags/instance and each tag 404, though the instance has tags")
    ctl.set_tags(enabled=True)
    st, _, body = get(MD + "tags/instance")
    tap.eq((st, body), (200, b"Name\naws:autoscaling:groupName"), "on: tags/instance lists the keys, one a line")
    tap.eq(get(MD + "tags/instance/aws:autoscaling:groupName", token())[:3:2], (200, b"web-asg"),
           "a key's value (with an IMDSv2 token too)")
    tap.eq(get(MD + "tags/instance/Name")[2], b"host 1", "a value with a blank, as it is")
    tap.eq(get(MD + "tags")[:3:2], (200, b"instance/"), "tags/ lists instance/")
    tap.eq(get(MD + "tags/instance/Owner")[0], 404, "a tag the instance lacks: 404")
    ctl.set_tags({"Name": None})
    tap.eq(get(MD + "tags/instance")[2], b"aws:autoscaling:groupName", "a tag deleted (None)")
    ctl.set_tags({}, replace=True)
    tap.eq(get(MD + "tags/instance")[:3:2], (200, b""), "on, and no tag at all: an empty listing")
    ctl.set_asg_group("batch")
    tap.eq(get(MD + "tags/instance/aws:autoscaling:groupName")[2], b"batch", "set_asg_group(): Auto Scaling's own tag")
    for bad in ("a/b", "two words", "..", "_index"):
        try:
            ctl.set_tags({bad: "x"})
            tap.ok(False, "tag key %r refused (EC2 refuses it once tags are in IMDS)" % bad)
        except ControlError as e:
            tap.match("cannot be in instance metadata", str(e), "tag key %r refused (EC2 refuses it once tags are in IMDS)" % bad)
    tap.eq(ctl.tags(), {"enabled": True, "tags": {"aws:autoscaling:groupName": "batch"}}, "GET tags: the state")
    ctl._call("DELETE", "/tags")
    ctl.set_tags(enabled=False)

    tap.eq(json.loads(get(MD + "events/maintenance/scheduled")[2]), [], "no maintenance: scheduled is []")
    ev1 = ctl.add_maintenance("instance-stop", not_before=600)
    ev2 = ctl.add_maintenance("system-reboot", not_before="2031-05-06T07:08:09Z")
    sched = json.loads(get(MD + "events/maintenance/scheduled")[2])
    tap.ok(
        [e["Code"] for e in sched] == ["instance-stop", "system-reboot"]
        and all(re.match(DATE_RX, e[k]) for e in sched for k in ("NotBefore", "NotAfter", "NotBeforeDeadline"))
        and sched[1]["NotBefore"] == "6 May 2031 07:08:09 GMT"
        and all(e["State"] == "active" and e["EventId"] and e["Description"] for e in sched),
        "maintenance events listed with IMDS's fields and date format",
        sched,
    )
    ctl.cancel_maintenance(ev1["EventId"])
    ctl.complete_maintenance(ev2["EventId"])
    sched = json.loads(get(MD + "events/maintenance/scheduled")[2])
    hist = json.loads(get(MD + "events/maintenance/history")[2])
    tap.ok(
        sched == [] and [(e["EventId"], e["State"]) for e in hist] == [(ev1["EventId"], "canceled"), (ev2["EventId"], "completed")],
        "canceled/completed events move to history",
        (sched, hist),
    )
    ctl.clear_maintenance()

    # --- credentials and identity -----------------------------------------------
    st, _, body = get(MD + "iam/security-credentials/")
    role = body.decode()
    doc = json.loads(get(MD + "iam/security-credentials/" + role)[2])
    tap.ok(
        st == 200 and set(doc) >= {"Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"},
        "role listing and role JSON with every field",
        doc,
    )
    ctl.set_credentials(role="app-role", access_key_id="ASIATEST", secret_access_key="sekrit", token="tok", expiration=900)
    doc = json.loads(imds_fetch(url, MD + "iam/security-credentials/app-role")[1])
    tap.ok(
        get(MD + "iam/security-credentials/")[2] == b"app-role"
        and (doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"]) == ("ASIATEST", "sekrit", "tok")
        and 850 < iso_to_epoch(doc["Expiration"]) - time.time() <= 900,
        "credentials and role name are settable",
        doc,
    )
    ctl.remove_role()
    tap.eq(get(MD + "iam/security-credentials/")[0], 404, "no role: security-credentials/ 404")

    sig1 = get("/latest/dynamic/instance-identity/signature")[2]
    ctl.set_instance(instance_id="i-0abc", instance_type="c5.large", az="eu-west-1b", ami="ami-123", private_ip="10.1.2.3")
    idoc = json.loads(get("/latest/dynamic/instance-identity/document")[2])
    tap.eq(
        (idoc["instanceId"], idoc["instanceType"], idoc["availabilityZone"], idoc["region"], idoc["imageId"], idoc["privateIp"]),
        ("i-0abc", "c5.large", "eu-west-1b", "eu-west-1", "ami-123", "10.1.2.3"),
        "identity document follows the instance",
    )
    tap.ok(
        get(MD + "instance-id")[2] == b"i-0abc" and get(MD + "placement/region")[2] == b"eu-west-1",
        "metadata paths agree with the document",
    )
    sig2 = get("/latest/dynamic/instance-identity/signature")[2]
    tap.ok(sig1 != sig2 and len(sig2) > 300, "signature changes with the document", (sig1[:20], sig2[:20]))
    ctl.set_identity(raw="{not json", signature="c2ln")
    tap.eq(get("/latest/dynamic/instance-identity/document")[2], b"{not json", "identity document can be served raw (broken)")

    # --- faults -------------------------------------------------------------------
    ctl.reset()
    f = ctl.fault("status", MD + "spot/*", count=2, status=503)
    codes = [get(MD + "spot/instance-action")[0] for _ in range(3)]
    tap.eq(codes, [503, 503, 404], "status fault 503 for the next 2 requests, then normal")
    tap.eq(get(MD + "instance-id")[0], 200, "a fault on spot/* leaves other paths alone")
    tap.eq([(x["id"], x["hits"], x["remaining"]) for x in ctl.faults()], [(f["id"], 2, 0)], "fault hits counted")
    ctl.clear_faults()
    ctl.fault("status", MD + "instance-id", count=None, status=429)
    tap.eq([get(MD + "instance-id")[0] for _ in range(4)], [429] * 4, "status fault 'always' (count null)")
    ctl.clear_faults()
    tap.eq(get(MD + "instance-id")[0], 200, "faults cleared")
    ctl.fault("status", "/latest/api/token", method="PUT", status=500)
    tap.ok(put_token()[0] == 500 and put_token()[0] == 200, "fault on the token PUT (method match)")

    ctl.fault("delay", MD + "instance-id", delay_ms=300)
    t = time.monotonic()
    st = get(MD + "instance-id")[0]
    el = time.monotonic() - t
    tap.ok(st == 200 and 0.29 <= el < 1.5, "delay 300 ms, then the normal answer", (st, el))
    ctl.fault("delay", MD + "instance-id", delay_ms=1500)
    timed_out = None
    try:
        get(MD + "instance-id", timeout=0.3)
    except (TimeoutError, socket.timeout, OSError) as e:
        timed_out = type(e).__name__
    tap.ok(timed_out, "delay beyond the client timeout: client times out", timed_out or "answered")
    # The held request ends when its delay does: wait for it before going on.
    harness.wait_until(lambda: all(x["done"] for x in ctl.log()), 5, what="the held request")

    ctl.spot_notice("terminate")
    ctl.fault("garbage", MD + "spot/instance-action")
    st, _, body = get(MD + "spot/instance-action")
    try:
        json.loads(body)
        parsed = True
    except ValueError:
        parsed = False
    tap.ok(st == 200 and not parsed and len(body) > 0, "garbage fault: 200 with an unparseable body", body[:40])
    ctl.fault("body", MD + "spot/instance-action", body='{"action": "reboot", "time": "yesterday"}')
    tap.eq(get(MD + "spot/instance-action")[2], b'{"action": "reboot", "time": "yesterday"}', "body fault: exact body")
    ctl.fault("oversize", MD + "instance-id", size=300000)
    st, _, body = get(MD + "instance-id")
    tap.ok(st == 200 and len(body) == 300000, "oversize fault: 300000-byte body", len(body))

    for kind, want, exc in (
        ("drop", "closed without an answer", http.client.RemoteDisconnected),
        ("reset", "reset", ConnectionResetError),
        ("truncate", "closed mid-body", http.client.IncompleteRead),
    ):
        ctl.fault(kind, MD + "instance-id")
        try:
            get(MD + "instance-id")
            tap.ok(False, "%s fault: connection %s" % (kind, want), "got a full answer")
        except (http.client.HTTPException, ConnectionError, OSError) as e:
            tap.ok(isinstance(e, exc), "%s fault: connection %s (%s)" % (kind, want, exc.__name__), repr(e))
    tap.eq(get(MD + "instance-id")[0], 200, "after the connection faults, normal answers")

    try:
        ctl.fault("explode", "*")
        tap.ok(False, "unknown fault kind refused by the control API")
    except Exception as e:  # noqa: BLE001
        tap.match("unknown fault kind", str(e), "unknown fault kind refused by the control API")

    # --- request log, keep-alive ----------------------------------------------------
    mark = ctl.log_mark()
    t_before = time.time()
    tk = token("60")
    get(MD + "instance-id", tk)
    get(MD + "mac")
    ctl.fault("drop", MD + "mac")
    try:
        get(MD + "mac")
    except (http.client.HTTPException, ConnectionError, OSError):
        pass
    log = ctl.log(since=mark)
    got = [(e["method"], e["path"], e["token"], e["status"]) for e in log]
    tap.eq(
        got,
        [
            ("PUT", "/latest/api/token", False, 200),
            ("GET", MD + "instance-id", True, 200),
            ("GET", MD + "mac", False, 200),
            ("GET", MD + "mac", False, None),
        ],
        "request log: method, path, token sent, status (None when dropped); control calls not logged",
    )
    tap.ok(
        all(t_before - 0.01 <= e["time"] <= time.time() for e in log)
        and [e["time"] for e in log] == sorted(e["time"] for e in log)
        and log[-1]["fault"] is not None
        and log[1]["headers"].get(TOK.lower()) == tk
        and log[0]["headers"].get(TTL.lower()) == "60",
        "log entries are timestamped, ordered, carry headers and the fault id",
    )
    mark = ctl.log_mark()
    ctl.fault("delay", MD + "instance-type", delay_ms=800)
    th = threading.Thread(target=get, args=(MD + "instance-type",))
    th.start()
    inflight = ctl.wait_request(MD + "instance-type", since=mark, done=False, timeout=2)[0]
    get(MD + "mac")
    th.join()
    log = ctl.log(since=mark)
    tap.ok(
        (inflight["done"], inflight["status"]) == (False, None)
        and [(e["path"], e["status"], e["done"]) for e in log] == [(MD + "instance-type", 200, True), (MD + "mac", 200, True)]
        and log[0]["duration_ms"] >= 790,
        "log: a held request is visible on arrival, completed later; order is arrival order",
        (inflight, log),
    )
    mark = ctl.log_mark()
    c = http.client.HTTPConnection("127.0.0.1", imds.port, timeout=2)
    for p in ("instance-id", "instance-type"):
        c.request("GET", MD + p)
        c.getresponse().read()
    c.close()
    conns = {e["conn"] for e in ctl.log(since=mark)}
    tap.eq(len(conns), 1, "HTTP/1.1 keep-alive: two requests on one connection")

    ctl.reset()
    tap.ok(get(MD + "instance-id")[2] == b"i-1234567890abcdef0" and ctl.faults() == [], "control reset restores defaults")

    rc = imds.stop()
    tap.ok(rc is not None and not harness.group_alive(imds.proc.pgid), "emulator stopped, its process group gone", rc)
    tap.eq(harness.children_left(), [], "no child process left")


if __name__ == "__main__":
    harness.run_tests(main)
