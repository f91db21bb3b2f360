#!/usr/bin/env python3
"""The daemon's IMDS and credentials clients against the IMDS emulator.

Each tests/scenarios/imds/*.json file is one case: how the emulator is set up
(require_v2, control config, instance tags, faults), the environment, the aws-tool command,
and what must come out: the tool's exit status and result lines (subset
match), and what the emulator saw (method, path, status in order; tokens;
connections; spacing of retries).  One emulator serves every case, reset in
between.
"""
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

SCENARIOS = os.path.join(harness.TOP, "tests", "scenarios", "imds")
TOOL = os.path.join(harness.BUILD, "tests", "aws-tool")


def subset(got, want):
    return all(k in got and got[k] == v for k, v in want.items())


def run_case(tap, imds, path):
    case = json.load(open(path))
    name = "%s: %s" % (os.path.basename(path)[:-5], case["name"])
    ctl = imds.control
    ctl.reset()
    ctl.clear_log()
    ctl.require_v2(bool(case.get("require_v2")))
    if case.get("config"):
        ctl.config(**case["config"])
    if "tags" in case:  # instance metadata tags: {"enabled": bool, "tags": {key: value}}
        ctl._call("POST", "/tags", case["tags"])
    for f in case.get("faults", []):
        ctl.fault(**f)

    env = {"PATH": os.environ["PATH"], "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
           "ECS_LOGLEVEL": "debug"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(case.get("env", {}))
    p = subprocess.run([TOOL] + case["run"], env=env, capture_output=True, text=True, timeout=60)
    results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    # A request the client gave up on is logged when the emulator finishes it.
    harness.wait_until(lambda: all(e["done"] for e in ctl.log()), 10, what="requests in progress")
    log = ctl.log()
    exp = case["expect"]
    problems = []

    if p.returncode != exp.get("exit", 0):
        problems.append("exit %d, want %d" % (p.returncode, exp.get("exit", 0)))
    want_results = exp.get("results", [])
    if len(results) != len(want_results):
        problems.append("%d result lines, want %d" % (len(results), len(want_results)))
    for i, (g, w) in enumerate(zip(results, want_results)):
        if not subset(g, w):
            problems.append("result %d is %s, want at least %s" % (i, json.dumps(g), json.dumps(w)))
    if "requests" in exp:
        seen = [[e["method"], e["path"], e.get("status")] for e in log]
        if seen != exp["requests"]:
            problems.append("requests %s, want %s" % (seen, exp["requests"]))
    gets = [e for e in log if e["method"] == "GET"]
    if "gets" in exp and len(gets) != exp["gets"]:
        problems.append("%d GETs, want %d" % (len(gets), exp["gets"]))
    if exp.get("all_gets_with_valid_token") and not all(e["token"] and e["token_valid"] for e in gets):
        problems.append("a GET went without a valid token")
    if exp.get("no_gets_with_token") and any(e["token"] for e in gets):
        problems.append("a GET carried a token after the fallback")
    if exp.get("one_connection") and len({e["conn"] for e in log}) != 1:
        problems.append("connections used: %s" % sorted({e["conn"] for e in log}))
    if "token_ttl_header" in exp:
        ttls = {e["headers"].get("x-aws-ec2-metadata-token-ttl-seconds") for e in log if e["method"] == "PUT"}
        if ttls != {exp["token_ttl_header"]}:
            problems.append("token TTL headers %s, want %s" % (ttls, exp["token_ttl_header"]))
    for i, gap in enumerate(exp.get("gaps_ms_at_least", [])):
        if i and i < len(log) and (log[i]["time"] - log[i - 1]["time"]) * 1000 < gap:
            problems.append("request %d came %.0f ms after the previous one, want >= %d ms (backoff)"
                            % (i, (log[i]["time"] - log[i - 1]["time"]) * 1000, gap))
    if "error_text_contains" in exp and not any(exp["error_text_contains"] in r.get("error_text", "") for r in results):
        problems.append("no error_text contains %r" % exp["error_text_contains"])
    # Whatever happened, the secret and the token never reach the output.
    creds = ctl.state().get("credentials") or {}
    for secret in (creds.get("SecretAccessKey"), creds.get("Token")):
        if secret and (secret in p.stdout or secret in p.stderr):
            problems.append("a secret appeared in the tool's output")
    if problems:
        tap.diag("stderr: " + p.stderr[-1500:])
    tap.ok(not problems, name, "; ".join(problems))


def main(tap):
    cases = sorted(glob.glob(os.path.join(SCENARIOS, "*.json")))
    tap.ok(len(cases) >= 15, "the IMDS scenarios are there", "found %d" % len(cases))
    with harness.ImdsEmulator() as imds:
        for path in cases:
            run_case(tap, imds, path)
    tap.ok(not harness.children_left(), "no emulator process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
