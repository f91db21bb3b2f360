#!/usr/bin/env python3
# test_resilience_cases.py: runs the `ecs-place resilience` case files in
# tests/placement/resilience/ (format at the top of survives.test) against
# the small clusters of fixtures/resilience/ (make-resilience.py).  Each case
# reads the JSON output and the exit status; unless it gives --seed, it runs
# with seeds 1, 2 and 3 and every run must agree, so no expectation rests on
# a tie broken by chance.
import glob
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

BUILD = os.environ.get("HOSTD_BUILD", os.path.abspath("build"))
TOP = os.environ.get("HOSTD_TOP", os.path.abspath("."))
EXE = os.path.join(BUILD, "ecs-place")
FIX = os.path.join(TOP, "tests", "placement", "fixtures", "resilience")

TAP = harness.Tap()
report = TAP.ok  # report(ok, name, why="")

FAILURE_LINE = re.compile(r"^\[(.+?)\] (?:(\S+) )?([a-z-]+): (.*)$")


def cluster_args(name):
    d = os.path.join(FIX, name)
    return ["--instances", os.path.join(d, "instances.json"), "--tasks", os.path.join(d, "tasks.json"),
            "--services", os.path.join(d, "services.json"), "--task-definitions", os.path.join(d, "taskdefs")]


def run(args):
    p = subprocess.run([EXE, "resilience", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def ids(instances):
    return [i["ec2InstanceId"] for i in instances]


def failures_by_name(doc):
    out = {"baseline": doc["baseline"]}
    for f in doc["failures"]:
        out[f["name"]] = f
    return out


def short_words(sv):
    return "; ".join(f"{r['tasks']} {r['reason']}" for r in sv["reasons"]) or "0"


def zones(placed):
    return " ".join(sorted(p["zone"] for p in placed))


def check_failure_line(doc, m, problems):
    """`[FAILURE] key: value` or `[FAILURE] SERVICE key: value`."""
    fname, service, key, want = m.groups()
    f = failures_by_name(doc).get(fname)
    if f is None:
        problems.append(f"no failure {fname!r} (have {sorted(failures_by_name(doc))})")
        return
    if service is None:
        got = {
            "lost": lambda: " ".join(ids(f.get("lostInstances", []))),
            "survived": lambda: "yes" if f["survived"] else "no",
            "standalone": lambda: str(f.get("standaloneTasksLost", 0)),
            "low-headroom": lambda: "yes" if f.get("lowHeadroom") else "no",
            "verdict": lambda: f["verdict"],
            "services": lambda: " ".join(s["group"] for s in f["services"]) or "(none)",
        }.get(key)
        if got is None:
            problems.append(f"unknown key {key!r}")
        elif got() != want:
            problems.append(f"[{fname}] {key}: {got()!r}, want {want!r}")
        return
    sv = next((s for s in f["services"] if s["group"] == service), None)
    if sv is None:
        problems.append(f"[{fname}] has no outcome for {service}")
        return
    got = {
        "placed": lambda: " ".join(ids(sv["placed"])) or "(none)",
        "placed-set": lambda: " ".join(sorted(ids(sv["placed"]))) or "(none)",
        "zones": lambda: zones(sv["placed"]) or "(none)",
        "short": lambda: short_words(sv),
        "displaced": lambda: str(sv["displaced"]),
    }.get(key)
    if got is None:
        problems.append(f"unknown key {key!r}")
        return
    if key == "placed-set":
        want = " ".join(sorted(want.split()))
    if got() != want:
        problems.append(f"[{fname}] {service} {key}: {got()!r}, want {want!r}")


def check_doc(doc, rc, lines, problems):
    verdicts = []
    for line in lines:
        m = FAILURE_LINE.match(line)
        if m:
            check_failure_line(doc, m, problems)
            continue
        key, _, want = line.partition(": ")
        if key == "exit":
            if str(rc) != want:
                problems.append(f"exit {rc}, want {want}")
        elif key == "verdict":
            verdicts.append(want)
        elif key == "never":
            # Instances no replacement may go to, in the baseline or any failure.
            used = {i for f in failures_by_name(doc).values() for s in f["services"] for i in ids(s["placed"])}
            bad = sorted(used & set(want.split()))
            if bad:
                problems.append(f"replacements went to {bad}")
        elif key == "failures":
            got = " | ".join(f["name"] for f in doc["failures"])
            if got != want:
                problems.append(f"failures {got!r}, want {want!r}")
        else:
            problems.append(f"unknown line {line!r}")
    if verdicts and doc["verdicts"] != verdicts:
        problems.append(f"verdicts {doc['verdicts']!r}, want {verdicts!r}")


def check_case(fname, line, lines, cluster):
    args = shlex.split(lines[0]) + cluster_args(cluster)
    name = f"{fname}:{line}: {lines[0][:90]}"
    if lines[1].startswith("error: "):
        rc, out, err = run(args)
        expected = "\n".join(lines[1:]) + "\n"
        report(rc == 2 and err == expected and out == "", name, f"exit {rc}, stderr {err!r}, want {expected!r}")
        return
    seeds = [None] if "--seed" in args else ["1", "2", "3"]
    problems = []
    for seed in seeds:
        rc, out, err = run(args + ["--output", "json"] + (["--seed", seed] if seed else []))
        if rc not in (0, 1):
            problems.append(f"seed {seed}: exit {rc}: {err.strip()}")
            continue
        before = len(problems)
        check_doc(json.loads(out), rc, lines[1:], problems)
        if len(problems) > before:
            problems.insert(before, f"seed {seed}:")
            break
    report(not problems, name, " ".join(problems))


def run_files():
    files = sorted(glob.glob(os.path.join(TOP, "tests", "placement", "resilience", "*.test")))
    report(len(files) >= 6, "resilience case files found", f"{len(files)} files")
    for path in files:
        cluster = None
        block, start = [], 0
        with open(path) as f:
            text = f.read().split("\n")
        for i, l in enumerate(text + [""], 1):
            if l == "":
                if block:
                    check_case(os.path.basename(path), start, block, cluster)
                block = []
                continue
            if not block and l.startswith("#"):
                continue
            if not block and l.startswith("%cluster "):
                cluster = l.split(" ", 1)[1]
                continue
            if not block:
                start = i
            block.append(l)


def main():
    run_files()
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
