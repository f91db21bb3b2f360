#!/usr/bin/env python3
# test_ecs_place.py: drives build/ecs-place the way a person would: exact
# stdout, stderr and exit status for check and filter, every output format,
# and every kind of bad input (expression, JSON, shape, file, usage).
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import tempfile

BUILD = os.environ.get("HOSTD_BUILD", os.path.abspath("build"))
TOP = os.environ.get("HOSTD_TOP", os.path.abspath("."))
EXE = os.path.join(BUILD, "ecs-place")
FIX = os.path.join(TOP, "tests", "placement", "fixtures")
INSTANCES = os.path.join(FIX, "lab5-instances.json")
TASKS = os.path.join(FIX, "lab5-tasks.json")
ARN = "arn:aws:ecs:us-east-1:123456789012:container-instance/catsndogsECScluster/4b1c0e7d2f3a4c5e9d8f7a6b5c4d3e"

TAP = harness.Tap()
report = TAP.ok  # report(ok, name, why="")


def run(*args, stdin=None):
    p = subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def expect(name, args, rc, out=None, err=None, stdin=None):
    got_rc, got_out, got_err = run(*args, stdin=stdin)
    problems = []
    if got_rc != rc:
        problems.append(f"exit {got_rc}, want {rc}")
    if out is not None and got_out != out:
        problems.append(f"stdout {got_out!r}, want {out!r}")
    if err is not None and got_err != err:
        problems.append(f"stderr {got_err!r}, want {err!r}")
    report(not problems, name, "; ".join(problems))
    return got_out, got_err


def check_work_limit(d):
    """Issue 10: work far beyond any real cluster is refused before it starts.
    20,000 instances (ECS allows 5,000) x 100,000 tasks x (1 + 5 strategies)
    is 1.2e10 checks; ecs-place used to start on it and run for minutes."""
    many = os.path.join(d, "many.json")
    with open(many, "w") as f:
        json.dump({"containerInstances": [{"containerInstanceArn": f"arn:aws:ecs:r:1:container-instance/c/{i}"}
                                          for i in range(20000)]}, f)
    args = [EXE, "run", "--instances", many, "--task-definition", os.path.join(FIX, "taskdef-small.json"),
            "--count", "100000", "--placement-strategy", "type=spread,field=instanceId", "type=binpack,field=cpu",
            "type=binpack,field=memory", "type=spread,field=attribute:a", "type=random"]
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        report(False, "run: too much work is refused at once, exit 1", "still running after 30 s")
        return
    want = ("error: too much work: placing 100000 tasks (0 constraints, 5 strategies) on 20000 container "
            "instances (0 attributes, 0 task groups, 0 ports in use) takes up to 12000100000 checks, more than "
            "the limit of 10000000000 (ECS allows 5,000 container instances per cluster)\n")
    report(p.returncode == 1 and p.stdout == "" and p.stderr == want,
           "run: too much work is refused at once, exit 1", f"exit {p.returncode}, stderr {p.stderr[:300]!r}")


def run_bytes(*args):
    p = subprocess.run([EXE, *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def no_controls(b):
    """No byte a terminal acts on: C0 controls but newline, DEL, and C1 as
    UTF-8 (C2 80..C2 9F) or as a lone byte (invalid UTF-8)."""
    if any(c < 0x20 and c != 0x0A or c == 0x7F for c in b):
        return False
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(0x80 <= ord(ch) <= 0x9F for ch in text)


def check_escaping(d):
    """Issue 10: values from an input file reach the terminal escaped, as
    \\xNN in tables and text, as \\u00XX (or U+FFFD) in JSON."""
    red, arn = "\x1b[31mred", "arn:aws:ecs:r:1:container-instance/c/evil\r\x1b[2J"
    bad = os.path.join(d, "controls.json")
    with open(bad, "wb") as f:
        f.write(json.dumps({"containerInstances": [{
            "containerInstanceArn": arn, "ec2InstanceId": "i-\x07bell",
            "remainingResources": [{"name": "CPU", "integerValue": 4096}, {"name": "MEMORY", "integerValue": 4096}],
            "attributes": [{"name": "ecs.availability-zone", "value": red},
                           {"name": "ecs.instance-type", "value": "del\x7f c1\u009b"},
                           {"name": "stack", "value": "x"}]}]}).encode())
    rc, out, err = run_bytes("filter", "--instances", bad, "--output", "table", "attribute:stack == x")
    report(rc == 0 and no_controls(out) and b"\\x1b[31mred" in out and b"evil\\x0d\\x1b[2J" in out
           and b"i-\\x07bell" in out and b"del\\x7f c1\\xc2\\x9b" in out,
           "filter --output table: control characters in values are shown as \\xNN", repr(out))
    rc, out, err = run_bytes("filter", "--instances", bad, "--output", "text", "attribute:stack == x")
    report(rc == 0 and out == b"arn:aws:ecs:r:1:container-instance/c/evil\\x0d\\x1b[2J\n",
           "filter --output text: one line per ARN, controls as \\xNN", repr(out))
    rc, out, err = run_bytes("run", "--instances", bad, "--task-definition", os.path.join(FIX, "taskdef-small.json"),
                             "--output", "table", "--seed", "1")
    report(rc == 0 and no_controls(out) and b"\\x1b[31mred" in out and b"evil\\x0d\\x1b[2J" in out,
           "run --output table: control characters in values are shown as \\xNN", repr(out))
    rc, out, err = run_bytes("run", "--instances", bad, "--task-definition", os.path.join(FIX, "taskdef-small.json"),
                             "--seed", "1")
    ok = rc == 0 and no_controls(out)
    report(ok and json.loads(out)["tasks"][0]["containerInstanceArn"] == arn and b"\\u001b[2J" in out,
           "run JSON: controls as \\u00XX, the value intact", repr(out[:300]))


def check_escaped_input_bytes(d):
    """Bytes that are not UTF-8, and C1 controls, in JSON output and in
    messages quoting a task definition."""
    raw = os.path.join(d, "raw.json")
    with open(raw, "wb") as f:
        f.write(b'{"containerInstances": [{"containerInstanceArn": "a/\x9b\xff\xc2\x9b\x7f"}]}')
    rc, out, err = run_bytes("filter", "--instances", raw, "agentConnected == true")
    report(rc == 0 and no_controls(out) and b'"a/\\ufffd\\ufffd\\u009b\\u007f"' in out,
           "filter JSON: a byte that is not UTF-8 as U+FFFD, C1 and DEL as \\u00XX", repr(out))
    td = os.path.join(d, "td.json")
    with open(td, "w") as f:
        json.dump({"family": "x", "containerDefinitions": [{"cpu": 1, "memory": 1}],
                   "placementConstraints": [{"type": "memberOf", "expression": 'attribute:x == "\x1b[2J" ('}]}, f)
    rc, out, err = run_bytes("run", "--instances", INSTANCES, "--task-definition", td)
    shown = b'attribute:x == "\\x1b[2J" ('
    report(rc == 2 and no_controls(err) and err == b"error: column 23: 'and', 'or' or end of expression expected\n"
           + shown + b"\n" + b" " * (len(shown) - 1) + b"^\n",
           "run: a task definition's expression is shown escaped, the caret under the spot", repr(err))
    with open(td, "w") as f:
        json.dump({"family": "x", "containerDefinitions": [{"cpu": 1, "memory": 1}],
                   "placementConstraints": [{"type": "\x1b]0;pwned\x07"}]}, f)
    rc, out, err = run_bytes("run", "--instances", INSTANCES, "--task-definition", td)
    report(rc == 2 and err == b"error: constraint.type '\\x1b]0;pwned\\x07' is not supported.\n",
           "run: a task definition's constraint type is quoted escaped", repr(err))


def check_input_caps(d):
    """Issue 10: an input file is refused before it becomes gigabytes of
    cJSON tree: over 160 MiB (5,000 instances at 32 KiB), or over 4,000,000
    JSON values (5,000 instances at 800), naming the file and the limit."""
    big = os.path.join(d, "big.json")
    with open(big, "wb") as f:
        f.truncate((160 << 20) + 1)  # sparse: nothing is written
    too_big = ": larger than 160 MiB (5,000 container instances, ECS's most per cluster, at 32 KiB), " \
              "ecs-place's limit for an input file\n"
    expect("input over 160 MiB is refused before it is read", ["filter", "--instances", big, "agentConnected == true"],
           1, out="", err=f"error: {big}{too_big}")
    p = subprocess.run(f"cat '{big}' | '{EXE}' filter --instances - 'agentConnected == true'", shell=True,
                       capture_output=True, text=True, timeout=60)
    report(p.returncode == 1 and p.stderr == f"error: -{too_big}", "... and from a pipe, once it has read past it",
           f"exit {p.returncode}, stderr {p.stderr!r}")
    dense = os.path.join(d, "dense.json")
    with open(dense, "w") as f:
        f.write('{"containerInstances": [' + ",".join(["0"] * 4000000) + "]}")
    expect("input over 4,000,000 JSON values is refused before it is parsed",
           ["filter", "--instances", dense, "agentConnected == true"], 1, out="",
           err=f"error: {dense}: more than 4000000 JSON values, ecs-place's limit for an input file "
               "(5,000 container instances, ECS's most per cluster, at 800 values)\n")


def main():
    expect("check prints the canonical form",
           ["check", "attribute:ecs.instance-type EQUALS 'c4.large'   AND NOT(task:group==database)"], 0,
           out="attribute:ecs.instance-type == c4.large and not(task:group == database)\n", err="")
    expect("check: syntax error with caret, exit 2",
           ["check", "not(task:group == database"], 2, out="",
           err="error: column 27: ')' expected (to close '(' at column 4)\n"
               "not(task:group == database\n"
               "                          ^\n")
    expect("check: empty expression", ["check", ""], 2, out="",
           err="error: column 1: empty expression (subject expected)\n\n^\n")
    long_expr = "attribute:a exists" + " " * 1983
    expect("check: 2001 characters", ["check", long_expr], 2, out="",
           err="error: The expression can have a maximum length of 2000 characters (it has 2001).\n")
    expect("check: 2000 characters is the limit, not over it", ["check", long_expr[:2000]], 0,
           out="attribute:a exists\n")
    deep = "(" * 101 + "attribute:a exists" + ")" * 101
    expect("check: nesting limit", ["check", deep], 2,
           err="error: column 101: expression nested more than 100 deep\n" + deep + "\n" + " " * 100 + "^\n")
    expect("check: needs exactly one expression", ["check"], 2, err="error: check takes one EXPRESSION\n")

    out, _ = expect("filter: default output is list-container-instances JSON",
                    ["filter", "--instances", INSTANCES, "attribute:catslike == catnip"], 0,
                    out='{\n    "containerInstanceArns": [\n        "' + ARN + '04"\n    ]\n}\n', err="")
    expect("filter: several ARNs", ["filter", "--instances", INSTANCES, "--output", "json",
                                    "attribute:ecs.instance-type == c4.large"], 0,
           out='{\n    "containerInstanceArns": [\n' +
               ",\n".join(f'        "{ARN}0{i}"' for i in (1, 2, 3)) + '\n    ]\n}\n')
    expect("filter: no match is an empty list",
           ["filter", "--instances", INSTANCES, "attribute:catslike == dogfood"], 0,
           out='{\n    "containerInstanceArns": []\n}\n')
    expect("filter: --output text, one ARN per line",
           ["filter", "--instances", INSTANCES, "--tasks", TASKS, "--output", "text", "task:group == service:cats"], 0,
           out=f"{ARN}01\n{ARN}04\n")
    expect("filter: options after the expression",
           ["filter", "task:group == service:cats", "--instances", INSTANCES, "--tasks", TASKS, "--output", "text"], 0,
           out=f"{ARN}01\n{ARN}04\n")
    expect("filter: --status DRAINING", ["filter", "--instances", INSTANCES, "--status", "DRAINING",
                                         "--output", "text", "agentConnected == true"], 0, out=f"{ARN}09\n")
    with open(INSTANCES) as f:
        text = f.read()
    expect("filter: --instances - reads stdin",
           ["filter", "--instances", "-", "--output", "text", "attribute:stack == prod"], 0,
           out=f"{ARN}05\n", stdin=text)

    out, _ = expect("filter: --output table", ["filter", "--instances", INSTANCES, "--tasks", TASKS, "--output", "table",
                                               "attribute:catslike == catnip or task:group == database"], 0, err="")
    lines = out.splitlines()
    report(len(lines) == 4 and lines[0].split() == ["CONTAINER", "INSTANCE", "EC2", "INSTANCE", "ZONE", "TYPE",
                                                    "attribute:catslike", "task:group"],
           "table: header names the columns and the subjects used", repr(lines[:1]))
    report(len(lines) == 4 and lines[1].split() == ["4b1c0e7d2f3a4c5e9d8f7a6b5c4d3e04", "i-00000004", "us-east-1a",
                                                    "m4.large", "catnip", "service:cats(1)"],
           "table: catnip row", repr(lines[1:2]))
    report(len(lines) == 4 and lines[2].split() == ["4b1c0e7d2f3a4c5e9d8f7a6b5c4d3e05", "i-00000005", "us-east-1b",
                                                    "m4.xlarge", "-", "database(1)"],
           "table: database row", repr(lines[2:3]))
    report(len(lines) == 4 and lines[3] == "2 of 9 container instances match", "table: summary line",
           repr(lines[3:]))
    report(len(lines) == 4 and len({l.index("ZONE") if i == 0 else l.index("us-east-1") for i, l in enumerate(lines[:3])}) == 1,
           "table: columns are aligned", repr(lines))

    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write('{"containerInstances": [\n  {"containerInstanceArn": "a",}\n]}\n')
        expect("malformed JSON names file, line and column",
               ["filter", "--instances", bad, "agentConnected == true"], 1, out="",
               err=f"error: {bad}:2:33: malformed JSON\n")
        shape = os.path.join(d, "shape.json")
        with open(shape, "w") as f:
            json.dump({"containerInstances": [{"containerInstanceArn": "a", "attributes": [{"name": "x", "value": 3}]}]}, f)
        expect("wrong shape names the field", ["filter", "--instances", shape, "agentConnected == true"], 1,
               out="", err=f"error: {shape}: containerInstances[0].attributes[0]: value: expected a string\n")
        expect("tasks file given as --instances", ["filter", "--instances", TASKS, "agentConnected == true"], 1,
               err=f"error: {TASKS}: containerInstances: missing (expected the output of aws ecs describe-container-instances)\n")
        expect("instances file given as --tasks",
               ["filter", "--instances", INSTANCES, "--tasks", INSTANCES, "agentConnected == true"], 1,
               err=f"error: {INSTANCES}: tasks: missing (expected the output of aws ecs describe-tasks)\n")
        missing = os.path.join(d, "nope.json")
        expect("missing file", ["filter", "--instances", missing, "agentConnected == true"], 1,
               err=f"error: {missing}: No such file or directory\n")
        binary = os.path.join(d, "binary.json")
        with open(binary, "wb") as f:
            f.write(b'{"containerInstances": [\x00]}')
        expect("NUL byte in JSON", ["filter", "--instances", binary, "agentConnected == true"], 1,
               err=f"error: {binary}:1:25: malformed JSON (NUL byte)\n")

    with tempfile.TemporaryDirectory() as d:
        check_work_limit(d)
        check_escaping(d)
        check_escaped_input_bytes(d)
        check_input_caps(d)

    heavy = "(*NO_JIT)" + "(" * 240 + ")" * 240 + "()" * 400
    expect("filter: a regex over its memory limit is an error, exit 1",
           ["filter", "--instances", INSTANCES, f"attribute:ecs.instance-type =~ '{heavy}'"], 1, out="",
           err="error: a regular expression exceeded its memory limit\n")
    expect("filter: a regex over its step limit is an error, exit 1",
           ["filter", "--instances", INSTANCES, "ec2InstanceId =~ '(.*){16}0'"], 1, out="",
           err="error: a regular expression exceeded its backtracking limit\n")

    expect("filter: bad expression is exit 2 before reading files",
           ["filter", "--instances", "/nonexistent", "agentConnected > true"], 2, out="",
           err="error: column 16: operator '>' is not valid for agentConnected (==, !=, in, !in, =~, !~ are)\n"
               "agentConnected > true\n"
               "               ^\n")
    expect("filter: --output must be json, text, table or svg",
           ["filter", "--instances", INSTANCES, "--output", "yaml", "agentConnected == true"], 2,
           err="error: --output: 'yaml' is not json, text, table or svg\n")
    expect("filter: --instances is required", ["filter", "agentConnected == true"], 2,
           err="error: filter needs --instances FILE\n")
    expect("unknown command", ["frobnicate"], 2)
    expect("run needs its inputs", ["run"], 2, err="error: run needs --instances FILE and --task-definition FILE\n")
    expect("service needs its name and count", ["service", "--instances", INSTANCES, "--task-definition",
                                                 os.path.join(FIX, "taskdef-small.json")], 2,
           err="error: service needs --service-name S and --desired-count N\n")
    expect("run: unknown option", ["run", "--frobnicate"], 2, err="error: unknown option '--frobnicate'\n")
    expect("run: --count must be positive", ["run", "--count", "0"], 2, err="error: --count: '0' is not 1..100000\n")
    expect("run: --seed must be a number", ["run", "--seed", "-1"], 2, err="error: --seed: '-1' is not a number\n")
    out, _ = expect("--help", ["--help"], 0)
    report("ecs-place filter" in out, "--help shows filter usage")

    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
