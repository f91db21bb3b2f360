#!/usr/bin/env python3
"""test_check_config.py: `ecs-hostd --check-config` end to end.

Runs the built daemon on temporary config files with a controlled
environment and checks exit codes, the exact error lines, the effective
configuration with its sources, that secrets never reach stdout or stderr,
that README.md, ecs-hostd.conf(5) and the example ecs-hostd.conf hold every
key of the table as `--list-keys` prints them, and that every
key the code reads (config_string(cfg, KEY_X) and friends) is in the table
and none is named by a string.
"""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import tempfile

BUILD = os.environ.get("HOSTD_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
TOP = os.environ.get("HOSTD_TOP", os.path.join(os.path.dirname(__file__), "../.."))
HOSTD = os.path.join(BUILD, "ecs-hostd")
DOC = os.path.join(TOP, "README.md")

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENzz"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"

TAP = harness.Tap()


def check(name, cond, why=""):
    return TAP.ok(cond, name, why)


def base_env():
    # Nothing from the caller's environment may configure the daemon.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ECS_", "AWS_")) and k != "JOURNAL_STREAM"}
    return env


def run(args, env_extra=None):
    env = base_env()
    env.update(env_extra or {})
    p = subprocess.run([HOSTD] + args, env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def value_line(stdout, key):
    for line in stdout.splitlines():
        if line.startswith(key + "="):
            return line
    return None


def effective(path):
    """{key: (value as --check-config prints it, source)} for one file."""
    rc, out, err = run(["--check-config", "-c", path])
    values = {}
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        kv, _, source = line.partition("#")
        key, _, value = kv.rstrip().partition("=")
        values[key] = (value, source.strip())
    return rc, values, err


def check_example_conf(keys):
    """packaging/ecs-hostd.conf is `--list-keys=conf`; as installed (all
    comments) it is valid and changes nothing; each key's line, uncommented,
    is accepted and reads back as exactly the key's default."""
    example = os.path.join(TOP, "packaging", "ecs-hostd.conf")
    rc, conf, _ = run(["--list-keys=conf"])
    with open(example) as f:
        text = f.read()
    check("packaging/ecs-hostd.conf is --list-keys=conf (make conf)", rc == 0 and text == conf,
          "stale: run make conf")
    lines = [(n, l) for n, l in enumerate(conf.splitlines(), 1) if re.match(r"#[A-Za-z0-9_]+=", l)]
    check("the example has one commented-out line per key, in table order",
          [l[1:].split("=")[0] for _, l in lines] == keys, [l for _, l in lines][:3])
    check("the example holds nothing but comments and blank lines",
          all(not l.strip() or l.startswith("#") for l in conf.splitlines()))

    rc, defaults, err = effective(example)
    check("the example as installed passes --check-config, silently", rc == 0 and err == "",
          f"rc={rc} {err!r}")
    check("the example as installed changes no key",
          defaults and all(src in ("default", "unset") for _, src in defaults.values()),
          {k: v for k, v in defaults.items() if v[1] not in ("default", "unset")})

    wrong = []
    with tempfile.TemporaryDirectory(prefix="test-example-conf-") as d:
        one = os.path.join(d, "ecs-hostd.conf")
        for n, line in lines:
            key = line[1:].split("=")[0]
            with open(one, "w") as f:
                f.write(line[1:] + "\n")
            rc, got, err = effective(one)
            value, source = got.get(key, (None, None))
            # A default reads back as itself (--check-config quotes it as the
            # example does); an unset key's empty value leaves it unset.
            want_source = f"{one}:1" if defaults[key][1] == "default" else "unset"
            if rc != 0 or err or value != defaults[key][0] or source != want_source:
                wrong.append(f"line {n} {line!r}: rc={rc} {err.strip()!r} read back "
                             f"{value!r} from {source}, not {defaults[key][0]!r} from {want_source}")
    check("every line of the example, uncommented, is accepted and reads back as the default",
          not wrong and len(lines) == len(keys), wrong)
    tricky = [l for _, l in lines if any(c in l for c in "\\$\"'|(")]
    check("the quoted defaults (backslashes, $, quotes, |) are among them", len(tricky) >= 4, tricky)


def main():
    tmp = tempfile.mkdtemp(prefix="test-check-config-")
    a = os.path.join(tmp, "ecs.config")
    b = os.path.join(tmp, "ecs-hostd.conf")
    bad = os.path.join(tmp, "bad.conf")
    with open(a, "w") as f:
        f.write("# the official agent's file\n"
                "ECS_CLUSTER=prod\n"
                "ECS_ENABLE_TASK_IAM_ROLE=true\n"
                f"AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\n"
                "ECS_LOGLEVEL=warn\n")
    with open(b, "w") as f:
        f.write("ECS_CLUSTER=staging\n"
                "ECS_HOSTD_DRAIN_ON=spot, rebalance\n"
                "ECS_INSTANCE_ATTRIBUTES='{\"stack\": \"prod\"}'\n")
    with open(bad, "w") as f:
        f.write(f"AWS_SECRET_ACCESS_KEY={SECRET}\n"
                "ECS_HOSTD_POLL_INTERVAL_MS=50\n"
                "ECS_HOSTD_POLL_INTERVAL=100\n"
                "this is not an assignment\n")

    try:
        # A good configuration: exit 0, every key once, sources, precedence.
        rc, out, err = run(["--check-config", "--config", a, "-c", b],
                           {"ECS_LOGLEVEL": "debug", "AWS_SESSION_TOKEN": TOKEN,
                            "AWS_ACCESS_KEY_ID": KEY_ID})
        check("valid config exits 0", rc == 0, f"rc={rc} stderr={err!r}")
        check("valid config prints nothing on stderr", err == "", repr(err))
        check("later file wins, with its file:line",
              value_line(out, "ECS_CLUSTER") and value_line(out, "ECS_CLUSTER").split()
              == ["ECS_CLUSTER=staging", "#", f"{b}:1"], repr(value_line(out, "ECS_CLUSTER")))
        check("environment beats files",
              value_line(out, "ECS_LOGLEVEL").split() == ["ECS_LOGLEVEL=debug", "#", "environment"],
              repr(value_line(out, "ECS_LOGLEVEL")))
        check("defaults shown as default",
              value_line(out, "ECS_HOSTD_POLL_INTERVAL_MS").split()
              == ["ECS_HOSTD_POLL_INTERVAL_MS=1000", "#", "default"],
              repr(value_line(out, "ECS_HOSTD_POLL_INTERVAL_MS")))
        check("list normalised", value_line(out, "ECS_HOSTD_DRAIN_ON").startswith(
            "ECS_HOSTD_DRAIN_ON=spot,rebalance "), repr(value_line(out, "ECS_HOSTD_DRAIN_ON")))
        check("JSON value quoted", value_line(out, "ECS_INSTANCE_ATTRIBUTES").startswith(
            "ECS_INSTANCE_ATTRIBUTES='{\"stack\": \"prod\"}' "),
            repr(value_line(out, "ECS_INSTANCE_ATTRIBUTES")))
        check("unset keys shown as unset",
              value_line(out, "AWS_REGION").split() == ["AWS_REGION=", "#", "unset"],
              repr(value_line(out, "AWS_REGION")))
        check("the official agent's keys are not listed", "ECS_ENABLE_TASK_IAM_ROLE" not in out)
        check("secret access key masked",
              value_line(out, "AWS_SECRET_ACCESS_KEY").split()
              == ["AWS_SECRET_ACCESS_KEY=********", "#", f"{a}:4"],
              repr(value_line(out, "AWS_SECRET_ACCESS_KEY")))
        check("session token masked", value_line(out, "AWS_SESSION_TOKEN").split()
              == ["AWS_SESSION_TOKEN=********", "#", "environment"])
        check("access key id shows only its last 4", value_line(out, "AWS_ACCESS_KEY_ID").split()
              == ["AWS_ACCESS_KEY_ID=****************MPLE", "#", "environment"])
        for s, what in ((SECRET, "secret key"), (TOKEN, "session token"), (KEY_ID, "key id")):
            check(f"{what} appears nowhere", s not in out and s not in err)

        # --list-keys and --check-config agree on the key set.
        rc, keys_md, _ = run(["--list-keys"])
        rows = [l for l in keys_md.splitlines() if l.startswith("| `")]
        keys = [r.split("`")[1] for r in rows]
        check("--list-keys lists keys", rc == 0 and len(keys) >= 25, f"rc={rc} keys={len(keys)}")
        printed = [l.split("=")[0] for l in out.splitlines() if not l.startswith("#")]
        check("--check-config prints every key once, in table order", printed == keys,
              f"{printed} != {keys}")

        # Keys are read through their enum (KEY_ECS_CLUSTER), so a misspelt
        # key does not compile; no code outside the table names a key by a
        # string, and every key the code reads is one --list-keys prints.
        used, by_string = {}, []
        typed = re.compile(r'config_\w+\(\s*[^,()]+,\s*KEY_([A-Z0-9_]+)')
        stringly = re.compile(r'config_\w+\(\s*[^,()]+,\s*"[A-Z0-9_]+"')
        sources = sorted(glob.glob(os.path.join(TOP, "agent", "**", "*.c"), recursive=True) +
                         glob.glob(os.path.join(TOP, "watcher", "*.c")))
        for path in sources:
            with open(path) as f:
                text = f.read()
            for m in typed.finditer(text):
                used.setdefault(m.group(1), os.path.relpath(path, TOP))
            by_string += [os.path.relpath(path, TOP) + ": " + m.group(0) for m in stringly.finditer(text)]
        unknown = {k: v for k, v in used.items() if k not in keys}
        check("the code reads config keys through their enum", len(used) >= 25, sorted(used))
        check("every key the code reads is in the table", not unknown, f"unknown: {unknown}")
        check("no code names a key by a string", not by_string, by_string)

        # Every key is documented (the doc's table is `ecs-hostd --list-keys`).
        try:
            with open(DOC) as f:
                doc = f.read()
        except OSError as e:
            doc = ""
            check("README.md readable", False, str(e))
        missing = [r for r in rows if r not in doc]
        check("README.md has every key's row as --list-keys prints it",
              doc and not missing, f"missing or stale: {missing}")
        # And so does ecs-hostd.conf(5) (make man); both pages render cleanly.
        rc, man_keys, _ = run(["--list-keys=man"])
        with open(os.path.join(TOP, "packaging", "man", "ecs-hostd.conf.5")) as f:
            page = f.read()
        block = re.search(r'^\.\\" BEGIN KEYS[^\n]*\n(.*?)^\.\\" END KEYS', page, re.S | re.M)
        check("ecs-hostd.conf(5) has the keys as --list-keys=man prints them (make man)",
              rc == 0 and block and block.group(1) == man_keys,
              "stale: run make man" if block else "no BEGIN KEYS / END KEYS block")
        check("--list-keys=man: one entry per key", man_keys.count(".TP\n.B ") == len(rows), len(rows))
        for page, word in (("ecs-hostd.conf.5", "ECS_HOSTD_METRICS_LISTEN"), ("ecs-hostd.8", "ecs-hostd.conf(5)")):
            r = subprocess.run(["groff", "-man", "-Tascii", "-ww", "-P-cbou",
                                os.path.join(TOP, "packaging", "man", page)], capture_output=True, text=True)
            check(f"{page} renders without a warning", r.returncode == 0 and not r.stderr.strip()
                  and word in r.stdout, r.stderr[:500])
        rc, _, err = run(["--list-keys=yaml"])
        check("--list-keys=FORMAT: another format is a usage error",
              rc != 0 and "markdown, man or conf" in err, err)

        check_example_conf(keys)

        # Errors: every one, exact, exit 1, nothing on stdout, no secret.
        rc, out, err = run(["--check-config", "-c", a, "-c", bad, "-c", os.path.join(tmp, "nope")],
                           {"ECS_HOSTD_DRAIN_ON": "spot,sometimes", "ECS_HOSTD_BOGUS": "1",
                            "AWS_SESSION_TOKEN": TOKEN})
        want = (f"{bad}:2: ECS_HOSTD_POLL_INTERVAL_MS: 50 is below the minimum 100\n"
                f"{bad}:3: unknown key ECS_HOSTD_POLL_INTERVAL (did you mean "
                "ECS_HOSTD_POLL_INTERVAL_MS?)\n"
                f"{bad}:4: missing '=' (expected KEY=VALUE)\n"
                f"{tmp}/nope: cannot read the file: No such file or directory\n"
                "environment: ECS_HOSTD_DRAIN_ON: \"sometimes\" is not one of spot, rebalance, "
                "asg, maintenance\n"
                "environment: unknown key ECS_HOSTD_BOGUS\n")
        check("bad config exits 1", rc == 1, f"rc={rc}")
        check("every error printed exactly, in order", err == want, f"\n{err}!=\n{want}")
        check("nothing on stdout when the config is bad", out == "", repr(out))
        check("no secret in error output", SECRET not in err and TOKEN not in err)

        # A missing --config file alone is an error naming it.
        rc, out, err = run(["--check-config", "--config", os.path.join(tmp, "missing.conf")])
        check("missing --config file exits 1 and names it",
              rc == 1 and err == f"{tmp}/missing.conf: cannot read the file: No such file or "
              "directory\n", f"rc={rc} err={err!r}")

        # A likely typo of a shared key: still valid, but a warning on stderr.
        typo = os.path.join(tmp, "typo.conf")
        with open(typo, "w") as f:
            f.write("ECS_CLUSTR=prod\n")
        rc, out, err = run(["--check-config", "-c", typo])
        os.unlink(typo)
        check("typo of a shared key: exit 0 with a warning",
              rc == 0 and err == f"{typo}:1: ECS_CLUSTR is not a key ecs-hostd reads (did you "
              "mean ECS_CLUSTER?)\n" and value_line(out, "ECS_CLUSTER").startswith(
                  "ECS_CLUSTER=default "), f"rc={rc} err={err!r}")

        # A directory is not a config file.
        rc, out, err = run(["--check-config", "--config", tmp])
        check("a directory as --config exits 1 and names it",
              rc == 1 and err == f"{tmp}: cannot read the file: Is a directory\n",
              f"rc={rc} err={err!r}")

        # A normal start with a bad config logs the same lines and exits 1.
        rc, out, err = run(["-c", bad])
        check("daemon refuses a bad config", rc == 1 and
              f"{bad}:2: ECS_HOSTD_POLL_INTERVAL_MS: 50 is below the minimum 100" in err and
              SECRET not in err, f"rc={rc} err={err!r}")

        # A '=' forgotten after a secret key, with another '=' later on the
        # line: the error names the key and never shows the rest of the line,
        # in --check-config and in the log of a normal start alike.
        with open(typo, "w") as f:
            f.write(f"AWS_SECRET_ACCESS_KEY {SECRET} # x=y\n"
                    f"AWS_SESSION_TOKEN:{TOKEN}=\n")
        hidden = "(the rest of the line is not shown, as it may hold a secret)"
        want = (f'{typo}:1: invalid key: "AWS_SECRET_ACCESS_KEY" is followed by a blank; a \'=\' '
                f"seems to be missing after it {hidden}\n"
                f'{typo}:2: invalid key: "AWS_SESSION_TOKEN" is followed by \':\'; a key is '
                f"letters, digits and '_', not starting with a digit {hidden}\n")
        rc, out, err = run(["--check-config", "-c", typo])
        check("'=' missing after a secret key: exit 1, the key named, '=' said missing",
              rc == 1 and err == want, f"rc={rc}\n{err}!=\n{want}")
        check("'=' missing after a secret key: no secret in --check-config's output",
              SECRET not in out + err and TOKEN not in out + err)
        rc, out, err = run(["-c", typo], {"ECS_LOGLEVEL": "debug"})
        check("'=' missing after a secret key: the log names the key, without the secret",
              rc == 1 and '"AWS_SECRET_ACCESS_KEY" is followed by a blank' in err and
              SECRET not in out + err and TOKEN not in out + err, f"rc={rc}")
        os.unlink(typo)

        # Command line.
        rc, out, err = run(["--help"])
        check("--help", rc == 0 and "--check-config" in out and "--config FILE" in out, out)
        rc, out, err = run(["--version"])
        check("--version", rc == 0 and out.startswith("ecs-hostd "), out)
        rc, out, err = run(["--no-such-option"])
        check("unknown option exits 2", rc == 2 and "no-such-option" in err, f"rc={rc} {err!r}")
        rc, out, err = run(["--check-config", "extra"])
        check("stray argument exits 2", rc == 2 and "extra" in err, f"rc={rc} {err!r}")
        rc, out, err = run(["--config"])
        check("--config without FILE exits 2", rc == 2, f"rc={rc}")
    finally:
        for p in (a, b, bad):
            try:
                os.unlink(p)
            except OSError:
                pass
        os.rmdir(tmp)

    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
