#!/usr/bin/env python3
"""Issue 3: joining the cluster and keeping attributes in sync, against moto
(IAM auth on, the policy in packaging/iam-policy.json) behind the recording
proxy, with the IMDS emulator as the instance and the AWS CLI as observer.

Each tests/scenarios/registration/*.json is one case (docs/harness.md,
"Case files").  `test_registration.py 04` runs the cases whose names hold 04."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402


def main(tap):
    harness.run_cases(tap, "registration", at_least=17, only=sys.argv[1:])
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


if __name__ == "__main__":
    harness.run_tests(main)
