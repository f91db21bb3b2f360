#!/usr/bin/env python3
"""Issue 4: the interruption watcher, against the IMDS emulator (IMDSv2
required), moto with IAM auth behind the recording proxy, and the AWS CLI.

Each tests/scenarios/watcher/*.json is one case: what IMDS and ECS answer
over time, what the daemon must send, log and leave in ECS (docs/harness.md,
"Case files").  `test_watcher.py 07 12` runs the cases whose names hold 07
or 12."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402


def main(tap):
    harness.run_cases(tap, "watcher", at_least=20, only=sys.argv[1:])
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
