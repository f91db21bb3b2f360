#!/usr/bin/env python3
"""test_sigv4_suite: the sigv4-suite runner must fail loudly, not pass vacuously.

Runs build/tests/sigv4-suite on copies of tests/data/sigv4: unchanged (all
pass), with one expected file altered per location, with a broken request.txt,
and on a folder holding no case.  Prints TAP; exits non-zero on failure.
"""
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

    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
