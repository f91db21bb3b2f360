#!/usr/bin/env python3
"""test_sigv4_suite: the sigv4-suite runner must fail loudly, not pass vacuously.

Runs build/tests/sigv4-suite on copies of tests/data/sigv4: unchanged (all
pass), with one expected file altered per location, with a broken request.txt,
and on a folder holding no case.  Then one vector at a time with one field of
its context.json changed: the runner must sign differently (so it honours the
field) or refuse the file (an unknown, mistyped or missing field).  Prints TAP;
exits non-zero on failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

# harness finds the checkout and the build (HOSTD_TOP, HOSTD_BUILD, or beside it).
SUITE = os.path.join(harness.BUILD, "tests", "sigv4-suite")
DATA = os.path.join(harness.TOP, "tests", "data", "sigv4")

TAP = harness.Tap()


def check(name, cond, why=""):
    return TAP.ok(cond, name, why)


def run(d):
    p = subprocess.run([SUITE, d], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def cases(d):
    return sorted(e for e in os.listdir(d) if os.path.isfile(os.path.join(d, e, "request.txt")))


DELETE = object()

# One change to one vector's context.json, and the start of the line the
# runner must print: the first expected file the change shows in, or why
# the context is refused.  Every field the vectors use must be here.
FIELD_CASES = [
    ("get-vanilla", "credentials.access_key_id", "AKIDOTHER",
     r"header-signed-request\.txt differs at line 4 "),
    ("get-vanilla", "credentials.secret_access_key", "other",
     r"header-signature\.txt differs at line 1 column 1 "),
    ("get-vanilla", "credentials.token", "tok",
     r"header-canonical-request\.txt differs at line 6 "),
    ("get-vanilla-with-session-token", "credentials.token", DELETE,
     r"header-canonical-request\.txt differs at line 6 "),
    ("get-vanilla", "expiration_in_seconds", 60,
     r"query-canonical-request\.txt differs at line 3 "),
    ("get-slash-dot-slash-normalized", "normalize", False,
     r"header-canonical-request\.txt differs at line 2 "),
    ("get-slash-unnormalized", "normalize", True,
     r"header-canonical-request\.txt differs at line 2 "),
    ("post-sts-header-before", "omit_session_token", True,
     r"header-canonical-request\.txt differs at line 6 "),
    ("get-vanilla", "region", "us-west-2", r"header-string-to-sign\.txt differs at line 3 "),
    ("get-vanilla", "service", "ecs", r"header-string-to-sign\.txt differs at line 3 "),
    ("get-vanilla", "sign_body", True, r"header-canonical-request\.txt differs at line 5 "),
    ("post-x-www-form-urlencoded", "sign_body", False,
     r"header-canonical-request\.txt differs at line 7 "),
    ("get-vanilla", "timestamp", "2015-08-30T12:36:01Z",
     r"header-canonical-request\.txt differs at line 5 "),
    # What the runner does not know or cannot honour, it refuses.
    ("get-vanilla", "unknown_field", True, r'context\.json: unknown field "unknown_field"'),
    ("get-vanilla", "credentials.unknown_field", "x",
     r'context\.json: unknown field "credentials\.unknown_field"'),
    ("get-vanilla", "normalize", "yes", r'context\.json: "normalize" is not true or false'),
    ("get-vanilla", "expiration_in_seconds", 0,
     r'context\.json: "expiration_in_seconds" is not a whole number'),
    ("get-vanilla", "credentials", [], r'context\.json: "credentials" is not an object'),
    ("get-vanilla", "timestamp", DELETE, r'context\.json: missing field "timestamp"'),
    ("get-vanilla", "credentials.secret_access_key", DELETE,
     r'context\.json: missing field "credentials\.secret_access_key"'),
]


def field_paths(obj, prefix=""):
    """The dotted names of the leaves: "region", "credentials.token"."""
    for k, v in obj.items():
        if isinstance(v, dict):
            yield from field_paths(v, prefix + k + ".")
        else:
            yield prefix + k


def run_changed(tmp, vector, path, value):
    """Run the suite on a copy of one vector with context.json's path changed."""
    d = os.path.join(tmp, "changed")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(DATA, vector), os.path.join(d, vector))
    ctx_path = os.path.join(d, vector, "context.json")
    os.chmod(ctx_path, 0o644)
    with open(ctx_path) as f:
        ctx = json.load(f)
    *parents, leaf = path.split(".")
    obj = ctx
    for p in parents:
        obj = obj[p]
    if value is DELETE:
        del obj[leaf]
    else:
        obj[leaf] = value
    with open(ctx_path, "w") as f:
        json.dump(ctx, f)
    return run(d)


def check_context_fields(tmp):
    used = set()
    for v in cases(DATA):
        with open(os.path.join(DATA, v, "context.json")) as f:
            used.update(field_paths(json.load(f)))
    changed = {path for _, path, _, _ in FIELD_CASES}
    check("every context.json field the vectors use is changed here", used <= changed,
          f"not covered: {sorted(used - changed)}")
    for vector, path, value, want in FIELD_CASES:
        rc, out, err = run_changed(tmp, vector, path, value)
        what = "removed" if value is DELETE else f"= {json.dumps(value)}"
        check(f"context {path} {what} in {vector}: the vector fails as it should",
              rc != 0 and re.search(rf"^FAIL {re.escape(vector)}: {want}", out, re.M) is not None,
              f"rc={rc} out={out!r} err={err!r}")


def main():
    total = len(cases(DATA))
    check("vectors copied", total >= 28, f"{total} cases in {DATA}")
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "v4")
        shutil.copytree(DATA, d)

        rc, out, err = run(d)
        check("pristine copy passes", rc == 0 and out.strip().endswith(f"{total} passed, 0 failed"),
              f"rc={rc} out={out!r} err={err!r}")

        # One changed byte in a header file, one in a query file, one bad request.
        with open(os.path.join(d, "get-vanilla", "header-signature.txt"), "r+b") as f:
            b = f.read()
            f.seek(10)
            f.write(b"0" if b[10:11] != b"0" else b"1")
        with open(os.path.join(d, "get-utf8", "query-canonical-request.txt"), "ab") as f:
            f.write(b"\n")
        with open(os.path.join(d, "post-vanilla", "request.txt"), "wb") as f:
            f.write(b"GARBAGE\n")

        rc, out, err = run(d)
        check("altered copy fails", rc != 0, f"rc={rc}")
        check("summary counts the failures",
              out.strip().endswith(f"{total - 3} passed, 3 failed"), repr(out))
        check("names the header file and where",
              re.search(r"^FAIL get-vanilla: header-signature\.txt differs at line 1 column 11 \(byte 10\)",
                        out, re.M) is not None, repr(out))
        check("names the query file and where",
              re.search(r"^FAIL get-utf8: query-canonical-request\.txt differs at line 7 column 65 ", out, re.M)
              is not None, repr(out))
        check("reports the unparsable request",
              re.search(r"^FAIL post-vanilla: request\.txt: ", out, re.M) is not None, repr(out))
        check("one line per failing case", len([l for l in out.splitlines() if l.startswith("FAIL ")]) == 3,
              repr(out))

        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        rc, out, err = run(empty)
        check("a folder without cases fails", rc != 0 and "no case" in err, f"rc={rc} err={err!r}")

        check_context_fields(tmp)

    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
