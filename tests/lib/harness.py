"""Test harness for ecs-hostd's scenario tests: processes, emulators, observers, TAP.

Starts the real components on loopback -- moto_server with IAM authentication
enforced, the IMDS emulator (tests/emulators/imds.py), the daemon -- and
guarantees they are stopped: every process runs in its own process group,
is registered here, and is killed (group-wide) by stop(), by the context
managers, at interpreter exit, and on SIGTERM/SIGINT/SIGHUP.
Standard library only; AWS calls for setup are signed here (SigV4, stdlib
hmac) and observations go through the real `aws` CLI.
"""

import ast
import atexit
import datetime
import fnmatch
import functools
import glob
import gzip
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass

TOP = os.environ.get("HOSTD_TOP") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HOSTD_BUILD") or os.path.join(TOP, "build")
EMULATORS = os.path.join(TOP, "tests", "emulators")
sys.path.insert(0, EMULATORS)

from awsproxy import AwsProxyControl  # noqa: E402  (path set just above)
from fwdproxy import FwdProxyControl  # noqa: E402
from imds import ImdsControl, iso8601  # noqa: E402
from introspection import IntrospectionControl  # noqa: E402

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_AMI = "ami-04681a1dbd79675a5"  # amzn2-ami-hvm, in moto's built-in image list
ADMIN_USER = "hostd-test-admin"
ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."


# --------------------------------------------------------------------------
# TAP


class Tap:
    """TAP output shared by the Python tests: `ok N - name` / `not ok N - name: why`."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, why=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name), flush=True)
        else:
            self.failed += 1
            why = str(why).strip().replace("\n", " | ") if why else "check failed"
            print("not ok %d - %s: %s" % (self.n, name, why[:2000]), flush=True)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got %r, want %r" % (got, want))

    def match(self, pattern, text, name):
        return self.ok(re.search(pattern, text or "") is not None, name, "%r not found in %r" % (pattern, text))

    def check(self, name):
        """`with tap.check("name"):` -- ok unless the block raises (assert or any error)."""
        return _TapCheck(self, name)

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print("# " + line, flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


class _TapCheck:
    def __init__(self, tap, name):
        self.tap, self.name = tap, name

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is None:
            self.tap.ok(True, self.name)
        elif issubclass(etype, (KeyboardInterrupt, SystemExit)):
            return False
        else:
            self.tap.ok(False, self.name, "%s: %s" % (etype.__name__, exc))
            self.tap.diag("".join(traceback.format_exception(etype, exc, tb))[-3000:])
        return True


def run_tests(fn):
    """Run fn(tap), turn an unexpected exception into a failure, stop every
    process this harness started, and exit with TAP's verdict."""
    tap = Tap()
    try:
        fn(tap)
    except Exception as e:  # noqa: BLE001 -- reported as a test failure
        tap.ok(False, "test script ran to the end", "%s: %s" % (type(e).__name__, e))
        tap.diag(traceback.format_exc())
    finally:
        stop_all()
    sys.exit(tap.done())


# --------------------------------------------------------------------------
# processes


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WaitAbort(RuntimeError):
    """Raised by a wait_until predicate to stop waiting at once (e.g. the
    process it waits for has exited)."""


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value (returned); TimeoutError after
    timeout s.  Exceptions from pred are retried, except WaitAbort."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except WaitAbort:
            raise
        except Exception as e:  # noqa: BLE001 -- retried until the deadline
            last_exc = e
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s%s" % (timeout, what, " (last error: %s)" % last_exc if last_exc else ""))
        time.sleep(interval)


def promtool_check(text):
    """`promtool check metrics` on an exposition in the text format: (clean,
    what it said).  Clean: it parsed (exit 0, or 3 for lint complaints) and
    promtool complained of nothing but node_exporter's own meminfo names
    (node_memory_MemTotal_bytes and the like are not snake_case, and must
    stay as node_exporter spells them)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    said = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    theirs = re.compile(r"node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$")
    return p.returncode in (0, 3) and all(theirs.match(line) for line in said), "\n".join(said)


def aws_tool(env, *args, timeout=120):
    """Run build/tests/aws-tool (the daemon's AWS clients) with only PATH, the
    sanitizer options and `env` in its environment: (CompletedProcess, its
    first JSON result or {})."""
    e = {k: os.environ[k] for k in ("PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ}
    e.update(env)
    p = subprocess.run([binary("aws-tool")] + list(args), env=e, capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    return p, (lines[0] if lines else {})


def http_get(url, headers=None, timeout=2.0, method="GET", data=None):
    """(status, headers, body bytes) of one HTTP request; never raises on HTTP errors."""
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


_processes = []
_log_files = []  # removed at exit unless HOSTD_KEEP_LOGS is set


class Process:
    """A child in its own process group, output to a log file, always reaped.

    p = Process(["build/ecs-hostd"], env={...}, name="hostd").start()
    p.wait_output(r"registered", timeout=10); p.stop()
    """

    def __init__(self, argv, env=None, name=None, cwd=None, clean_env=False):
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        base = {} if clean_env else dict(os.environ)
        if clean_env:
            for k in ("PATH", "HOME", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
                if k in os.environ:
                    base[k] = os.environ[k]
        base.update({k: str(v) for k, v in (env or {}).items() if v is not None})
        for k, v in (env or {}).items():
            if v is None:
                base.pop(k, None)
        self.env = base
        self.cwd = cwd
        self.proc = None
        self.pgid = None
        self.log_path = None
        self.returncode = None

    def start(self):
        fd, self.log_path = tempfile.mkstemp(prefix="hostd-%s-" % re.sub(r"[^\w.-]", "_", self.name), suffix=".log")
        _log_files.append(self.log_path)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        os.close(fd)
        self.pgid = self.proc.pid  # session leader: pgid == pid
        _processes.append(self)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        """Everything the process wrote so far (stdout and stderr)."""
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_output(self, pattern, timeout=10.0, start=0):
        """Wait for a regex to appear in the output (from offset `start`); returns the match."""
        rx = re.compile(pattern, re.M)

        def found():
            m = rx.search(self.output(), start)
            if m:
                return m
            if not self.alive():
                # It may have printed the line just before exiting.
                m = rx.search(self.output(), start)
                if m:
                    return m
                raise WaitAbort("%s exited (%s) before printing %r:\n%s" % (self.name, self.proc.returncode, pattern, self.output()[-2000:]))
            return None

        return wait_until(found, timeout, what="%r from %s" % (pattern, self.name))

    def wait(self, timeout=10.0):
        """Wait for the process to exit on its own; returns its exit status."""
        self.returncode = self.proc.wait(timeout)
        return self.returncode

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """Stop the whole process group (TERM, then KILL after timeout); returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Anything left in the group (grandchildren, a leader ignoring TERM) is killed.
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.returncode = self.proc.wait()
        # SIGKILL is delivered asynchronously: make sure the group is gone.
        deadline = time.monotonic() + 2.0
        while group_alive(self.pgid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if self in _processes:
            _processes.remove(self)
        return self.returncode

    def cleanup_log(self):
        if self.log_path:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()


def stop_all():
    """Stop every process started through this module (newest first)."""
    for p in list(reversed(_processes)):
        try:
            p.stop(timeout=3.0)
        except Exception:  # noqa: BLE001 -- cleanup must go on
            pass


def _live_processes(zombies=False):
    """(pid, ppid, pgid) of every live process, from /proc/PID/stat: only
    the zombies when `zombies`, else all but them."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if (fields[0] == "Z") == zombies:
            out.append((int(d), int(fields[1]), int(fields[2])))
    return out


def group_members(pgid):
    """Live (non-zombie) PIDs in process group pgid (zombies wait for init to reap them)."""
    return [pid for pid, _, g in _live_processes() if g == pgid]


def group_alive(pgid):
    return bool(group_members(pgid))


def children_left():
    """PIDs of live (non-zombie) processes whose parent is this process."""
    me = os.getpid()
    return [pid for pid, ppid, _ in _live_processes() if ppid == me]


def _on_signal(sig, frame):
    stop_all()
    sys.exit(128 + sig)


def _remove_logs():
    if os.environ.get("HOSTD_KEEP_LOGS"):
        return
    for path in _log_files:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_remove_logs)  # atexit runs in reverse: processes stop first
atexit.register(stop_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) in (signal.SIG_DFL, None):
        signal.signal(_sig, _on_signal)


@functools.lru_cache(maxsize=None)
def resolve_tool(name, env_var=None):
    """Absolute path of a tool; pyenv shims are resolved to the real script
    (a shim costs ~0.3 s per call).  env_var overrides."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError("%s not found on PATH" % name)
    if "/.pyenv/shims/" in path and shutil.which("pyenv"):
        try:
            real = subprocess.run(["pyenv", "which", name], capture_output=True, text=True, timeout=10).stdout.strip()
            if real and os.path.exists(real):
                return real
        except (OSError, subprocess.SubprocessError):
            pass
    return path


# --------------------------------------------------------------------------
# AWS: credentials, SigV4-signed calls for setup, the aws CLI as observer


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str = None
    expiration: str = None  # ISO 8601, for temporary credentials

    def env(self):
        """The AWS_* variables for a process using these credentials."""
        e = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            e["AWS_SESSION_TOKEN"] = self.session_token
        return e

    def imds_json(self):
        """The instance-role document IMDS serves for these credentials."""
        return {
            "Code": "Success",
            "LastUpdated": iso8601(time.time()),
            "Type": "AWS-HMAC",
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.session_token or "",
            "Expiration": self.expiration or iso8601(time.time() + 3600),
        }

    def replace(self, **kw):
        d = dict(self.__dict__)
        d.update(kw)
        return Credentials(**d)


class AwsError(Exception):
    def __init__(self, status, code, message, body=""):
        super().__init__("%s (HTTP %s): %s" % (code, status, message))
        self.status, self.code, self.message, self.body = status, code, message, body


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_sign(method, url, region, service, headers, body, creds, when=None):
    """Return headers + Authorization for a SigV4-signed request (test-side signer:
    moto verifies it with botocore, so setup traffic is authenticated for real)."""
    u = urllib.parse.urlsplit(url)
    t = when or datetime.datetime.now(datetime.timezone.utc)
    amzdate = t.strftime("%Y%m%dT%H%M%SZ")
    day = amzdate[:8]
    h = {k.lower(): str(v) for k, v in headers.items()}
    h["host"] = u.netloc
    h["x-amz-date"] = amzdate
    if creds.session_token:
        h["x-amz-security-token"] = creds.session_token
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    cq = "&".join(
        "%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in sorted(q)
    )
    signed = sorted(h)
    creq = "\n".join(
        [
            method,
            urllib.parse.quote(u.path or "/", safe="/-_.~"),
            cq,
            "".join("%s:%s\n" % (k, " ".join(h[k].split())) for k in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(("AWS4" + creds.secret_access_key).encode(), day)
    for part in (region, service, "aws4_request"):
        k = _hmac(k, part)
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        creds.access_key_id,
        scope,
        ";".join(signed),
        sig,
    )
    return h


def _strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


class AwsApi:
    """Signed calls to an AWS-compatible endpoint (moto) with given credentials."""

    QUERY_VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15", "ec2": "2016-11-15"}

    def __init__(self, endpoint, creds, region=REGION, timeout=30.0):
        self.endpoint = endpoint.rstrip("/") + "/"
        self.creds = creds
        self.region = region
        self.timeout = timeout

    def _send(self, service, headers, body):
        h = sigv4_sign("POST", self.endpoint, self.region, service, headers, body, self.creds)
        req = urllib.request.Request(self.endpoint, data=body, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def query(self, service, action, params=None):
        """A query-protocol call (IAM, STS, EC2); returns the XML root (namespaces stripped)."""
        form = {"Action": action, "Version": self.QUERY_VERSIONS[service]}
        form.update({k: str(v) for k, v in (params or {}).items()})
        body = urllib.parse.urlencode(form).encode()
        status, data = self._send(service, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
        try:
            root = _strip_ns(ET.fromstring(data))
        except ET.ParseError:
            raise AwsError(status, "Unparseable", data[:300].decode(errors="replace"), data) from None
        if status >= 300:
            raise AwsError(status, root.findtext(".//Code") or "?", root.findtext(".//Message") or "", data.decode(errors="replace"))
        return root

    def json(self, service, target, body=None):
        """A JSON 1.1 call (ECS): target like 'AmazonEC2ContainerServiceV20141113.ListClusters'."""
        data = json.dumps(body or {}).encode()
        status, out = self._send(service, {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}, data)
        text = out.decode(errors="replace")
        if status >= 300:
            try:
                err = json.loads(text)
                code = err.get("__type", "?").split("#")[-1]
                msg = err.get("message") or err.get("Message") or ""
            except ValueError:
                try:
                    root = _strip_ns(ET.fromstring(out))
                    code, msg = root.findtext(".//Code") or "?", root.findtext(".//Message") or ""
                except ET.ParseError:
                    code, msg = "?", text[:300]
            raise AwsError(status, code, msg, text)
        return json.loads(text) if text.strip() else {}

    def ecs(self, operation, **body):
        return self.json("ecs", ECS_TARGET_PREFIX + operation, body)


# --------------------------------------------------------------------------
# moto

# moto authorizes a request against the resource "*" for every service but
# these (moto/core/responses.py: only their responses name a resource), so a
# statement scoped to another service's ARN matches nothing there, though
# AWS would allow the call.
MOTO_RESOURCE_SERVICES = {"iam", "sts", "sqs", "s3"}


def moto_policy(policy):
    """`policy` (a dict or its JSON) as moto can evaluate it: a Resource that
    is an ARN of a service moto authorizes against "*" only becomes "*".  The
    actions stay as they are, so a missing one is still denied; whether the
    ARN pattern covers the real resource is iam_resource_matches()'s to say."""
    doc = json.loads(policy) if isinstance(policy, str) else json.loads(json.dumps(policy))

    def widened(resource):
        parts = resource.split(":")
        return "*" if len(parts) > 2 and parts[0] == "arn" and parts[2] not in MOTO_RESOURCE_SERVICES else resource

    statements = doc.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        res = st.get("Resource")
        if isinstance(res, str):
            st["Resource"] = widened(res)
        elif isinstance(res, list):
            res = [widened(r) for r in res]
            st["Resource"] = "*" if "*" in res else res
    return doc


def iam_resource_matches(pattern, arn):
    """Whether an IAM Resource pattern covers an ARN, as IAM matches them:
    `*` any run of characters, `?` one, everything else as it is (case
    sensitive)."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, arn) is not None


@dataclass
class Ec2Instance:
    instance_id: str
    instance_type: str
    availability_zone: str
    ami: str
    private_ip: str
    region: str


class MotoServer:
    """moto_server on a free loopback port with IAM authentication enforced.

    The first BOOTSTRAP_ACTIONS requests are free (moto's
    INITIAL_NO_AUTH_ACTION_COUNT; only AWS actions count, /moto-api/ does
    not): they create the admin user, its allow-all policy and its access
    key.  From then on moto checks every request's SigV4 signature against
    the secret of the access key it names, the session token of STS keys,
    and the IAM policies of the caller.
    """

    BOOTSTRAP_ACTIONS = 3

    def __init__(self, region=REGION):
        self.region = region
        self.port = None
        self.endpoint = None
        self.proc = None
        self.admin = None
        self._cfgdir = None

    def start(self, timeout=30.0):
        exe = resolve_tool("moto_server", "HOSTD_MOTO_SERVER")
        for attempt in range(3):
            self.port = free_port()
            self.endpoint = "http://127.0.0.1:%d" % self.port
            env = {
                "INITIAL_NO_AUTH_ACTION_COUNT": str(self.BOOTSTRAP_ACTIONS),
                "MOTO_ENABLE_AMI_VALIDATION": "true",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "MOTO_ACCOUNT_ID": None,
            }
            self.proc = Process([exe, "-H", "127.0.0.1", "-p", str(self.port)], env=env, name="moto_server").start()
            try:
                wait_until(lambda: self._ready(), timeout, interval=0.05, what="moto_server on port %d" % self.port)
                break
            except (TimeoutError, WaitAbort):
                out = self.proc.output()
                self.proc.stop()
                if "Address already in use" not in out or attempt == 2:
                    raise RuntimeError("moto_server did not start:\n" + out[-2000:]) from None
        self._bootstrap()
        return self

    def _ready(self):
        if not self.proc.alive():
            raise WaitAbort("moto_server exited:\n" + self.proc.output()[-2000:])
        try:
            status, _, _ = http_get(self.endpoint + "/moto-api/data.json", timeout=1.0)
            return status == 200
        except OSError:
            return False

    def _bootstrap(self):
        # Unauthenticated (the signature is not checked yet): exactly BOOTSTRAP_ACTIONS calls.
        anon = AwsApi(self.endpoint, Credentials("AKIDBOOTSTRAP0000000", "bootstrap"), self.region)
        anon.query("iam", "CreateUser", {"UserName": ADMIN_USER})
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        anon.query("iam", "PutUserPolicy", {"UserName": ADMIN_USER, "PolicyName": "admin", "PolicyDocument": json.dumps(policy)})
        key = anon.query("iam", "CreateAccessKey", {"UserName": ADMIN_USER})
        self.admin = Credentials(key.findtext(".//AccessKeyId"), key.findtext(".//SecretAccessKey"))
        self.admin_arn = "arn:aws:iam::%s:user/%s" % (ACCOUNT_ID, ADMIN_USER)
        # moto moves a task's lastStatus one step towards STOPPED each time it
        # is described; ECS does not: a task stays RUNNING until it is stopped.
        body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1 << 30}})
        status, _, answer = http_get(self.endpoint + "/moto-api/state-manager/set-transition", method="POST",
                                     data=body.encode(), headers={"Content-Type": "application/json"})
        if status != 201 and status != 200:
            raise RuntimeError("moto state manager: HTTP %s %r" % (status, answer[:200]))

    def stop(self):
        if self.proc:
            self.proc.stop()
        if self._cfgdir:
            shutil.rmtree(self._cfgdir, ignore_errors=True)
            self._cfgdir = None

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()

    def api(self, creds=None):
        """A signed API client (admin credentials unless given)."""
        return AwsApi(self.endpoint, creds or self.admin, self.region)

    # --- IAM / STS ----------------------------------------------------------
    def create_role(self, name, policy, trust=None, policy_name="inline"):
        """Create an IAM role with one inline policy (dict or JSON string; see
        put_role_policy) the admin may assume; returns the role ARN."""
        trust = trust or {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": self.admin_arn}, "Action": "sts:AssumeRole"}],
        }
        api = self.api()
        root = api.query("iam", "CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": json.dumps(trust)})
        self.put_role_policy(name, policy, policy_name)
        return root.findtext(".//Arn")

    def put_role_policy(self, name, policy, policy_name="inline"):
        """Replace (or add) an inline policy of a role; takes effect on the next
        request.  moto gets moto_policy(policy): ARN-scoped statements of the
        services it cannot scope are widened to "*"."""
        doc = json.dumps(moto_policy(policy))
        self.api().query("iam", "PutRolePolicy", {"RoleName": name, "PolicyName": policy_name, "PolicyDocument": doc})

    def assume_role(self, role_arn, session_name="ecs-hostd-test", duration=3600):
        """Temporary credentials for the role from moto's STS (as the admin)."""
        root = self.api().query(
            "sts", "AssumeRole", {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": duration}
        )
        c = root.find(".//Credentials")
        return Credentials(
            c.findtext("AccessKeyId"), c.findtext("SecretAccessKey"), c.findtext("SessionToken"), c.findtext("Expiration")
        )

    def role_credentials(self, name, policy, **kw):
        """create_role + assume_role: (role_arn, Credentials)."""
        arn = self.create_role(name, policy)
        return arn, self.assume_role(arn, **kw)

    # --- EC2 / ECS ------------------------------------------------------------
    def run_instance(self, instance_type="m5.large", az=None, ami=DEFAULT_AMI):
        """Launch one EC2 instance in moto (RegisterContainerInstance needs it)."""
        az = az or self.region + "a"
        root = self.api().query(
            "ec2",
            "RunInstances",
            {"ImageId": ami, "MinCount": 1, "MaxCount": 1, "InstanceType": instance_type, "Placement.AvailabilityZone": az},
        )
        inst = root.find(".//instancesSet/item")
        return Ec2Instance(
            instance_id=inst.findtext("instanceId"),
            instance_type=inst.findtext("instanceType"),
            availability_zone=inst.findtext("placement/availabilityZone"),
            ami=inst.findtext("imageId"),
            private_ip=inst.findtext("privateIpAddress"),
            region=self.region,
        )

    def ecs(self, operation, **body):
        """An ECS call as the admin (setup; use aws() to observe)."""
        return self.api().ecs(operation, **body)

    def create_cluster(self, name="default"):
        return self.ecs("CreateCluster", clusterName=name)["cluster"]["clusterArn"]

    # --- the AWS CLI ---------------------------------------------------------
    def aws_env(self, creds=None):
        """A clean environment for the aws CLI: no ~/.aws, no inherited AWS_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if self._cfgdir is None:
            self._cfgdir = tempfile.mkdtemp(prefix="hostd-awscli-")
        env.update(
            {
                "AWS_CONFIG_FILE": os.path.join(self._cfgdir, "config"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self._cfgdir, "credentials"),
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_MAX_ATTEMPTS": "1",
                "AWS_RETRY_MODE": "standard",
                "AWS_PAGER": "",
                "HOME": self._cfgdir,
            }
        )
        env.update((creds or self.admin).env())
        return env

    def aws_run(self, *args, creds=None, timeout=60, endpoint=None, env=None):
        """Run `aws --endpoint-url <moto> ARGS...` (admin credentials unless
        creds; one attempt unless env sets AWS_MAX_ATTEMPTS); returns
        CompletedProcess with text stdout/stderr."""
        argv = [resolve_tool("aws", "HOSTD_AWS_CLI"), "--endpoint-url", endpoint or self.endpoint, "--output", "json"]
        argv += [str(a) for a in args]
        e = self.aws_env(creds)
        e.update(env or {})
        return subprocess.run(argv, env=e, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def aws(self, *args, creds=None, timeout=60, endpoint=None, env=None):
        """Run the aws CLI and return its parsed JSON output; AwsCliError on failure."""
        r = self.aws_run(*args, creds=creds, timeout=timeout, endpoint=endpoint, env=env)
        if r.returncode != 0:
            raise AwsCliError(args, r.returncode, r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def describe_container_instances(self, cluster, arns=None, creds=None):
        """Observer: the cluster's container instances as the AWS CLI sees them."""
        if arns is None:
            arns = self.aws("ecs", "list-container-instances", "--cluster", cluster, creds=creds)["containerInstanceArns"]
        if not arns:
            return []
        out = self.aws("ecs", "describe-container-instances", "--cluster", cluster, "--container-instances", *arns, creds=creds)
        return out["containerInstances"]


class AwsCliError(Exception):
    def __init__(self, args, rc, stderr):
        super().__init__("aws %s: exit %d: %s" % (" ".join(map(str, args[:3])), rc, stderr.strip()))
        self.rc, self.stderr = rc, stderr


# --------------------------------------------------------------------------
# the IMDS emulator as a subprocess


def _start_emulator(script, args, name, timeout):
    """Start tests/emulators/SCRIPT with --port-file; returns (Process, port)."""
    d = tempfile.mkdtemp(prefix="hostd-%s-" % name)
    port_file = os.path.join(d, "port")
    proc = Process([sys.executable, os.path.join(EMULATORS, script), "--port-file", port_file] + args, name=name).start()

    def port():
        if not proc.alive():
            raise WaitAbort("%s exited:\n%s" % (script, proc.output()))
        try:
            with open(port_file) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    try:
        return proc, wait_until(port, timeout, what="the port file of " + script)
    finally:
        shutil.rmtree(d, ignore_errors=True)


class ImdsEmulator:
    """tests/emulators/imds.py in its own process; .control is an ImdsControl.

    with ImdsEmulator(require_v2=True) as imds:
        imds.control.spot_notice("terminate")
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
    """

    def __init__(self, require_v2=False, verbose=False):
        self.require_v2 = require_v2
        self.verbose = verbose
        self.proc = None
        self.url = None
        self.port = None
        self.control = None

    def start(self, timeout=10.0):
        args = (["--require-v2"] if self.require_v2 else []) + (["--verbose"] if self.verbose else [])
        self.proc, self.port = _start_emulator("imds.py", args, "imds", timeout)
        self.url = "http://127.0.0.1:%d" % self.port
        self.control = ImdsControl(self.url)
        return self

    def stop(self):
        if self.proc:
            return self.proc.stop()
        return None

    def serve_instance(self, inst, role=None, creds=None, account_id=ACCOUNT_ID):
        """Serve an Ec2Instance (ids, type, AZ, AMI, IP) and, if given, role credentials."""
        self.control.set_instance(
            instance_id=inst.instance_id,
            instance_type=inst.instance_type,
            az=inst.availability_zone,
            ami=inst.ami,
            private_ip=inst.private_ip,
            account_id=account_id,
        )
        if creds is not None:
            self.serve_credentials(role or "ecs-hostd-test-role", creds)

    def serve_credentials(self, role, creds):
        self.control._call("POST", "/credentials", {"role": role, "credentials": creds.imds_json()})

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()


class _EmulatorProcess:
    """What the emulators run as processes share: stop(), and `with`."""

    proc = None

    def stop(self):
        return self.proc.stop() if self.proc else None

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()


class AwsProxy(_EmulatorProcess):
    """tests/emulators/awsproxy.py in its own process, in front of `upstream`
    (e.g. MotoServer.endpoint); .control is an AwsProxyControl.  Point the
    daemon's ECS_BACKEND_HOST at .url to record its requests and inject faults."""

    def __init__(self, upstream, verbose=False):
        self.upstream = upstream
        self.verbose = verbose
        self.proc = None
        self.url = None
        self.port = None
        self.control = None

    def start(self, timeout=10.0):
        args = ["--upstream", self.upstream] + (["--verbose"] if self.verbose else [])
        self.proc, self.port = _start_emulator("awsproxy.py", args, "awsproxy", timeout)
        self.url = "http://127.0.0.1:%d" % self.port
        self.control = AwsProxyControl(self.url)
        return self


class FwdProxy(_EmulatorProcess):
    """tests/emulators/fwdproxy.py in its own process: a forward proxy as
    HTTP_PROXY / HTTPS_PROXY name one (absolute-URI http, CONNECT), recording
    what went through it; .control is a FwdProxyControl.  auth="USER:PASS"
    requires Basic proxy credentials.  .hostport is "127.0.0.1:PORT", the
    form the official agent's documentation gives HTTP_PROXY."""

    def __init__(self, auth=None, verbose=False):
        self.auth = auth
        self.verbose = verbose
        self.proc = self.url = self.port = self.hostport = self.control = None

    def start(self, timeout=10.0):
        args = (["--auth", self.auth] if self.auth else []) + (["--verbose"] if self.verbose else [])
        self.proc, self.port = _start_emulator("fwdproxy.py", args, "fwdproxy", timeout)
        self.hostport = "127.0.0.1:%d" % self.port
        self.url = "http://" + self.hostport
        self.control = FwdProxyControl(self.url)
        return self


class AgentIntrospection(_EmulatorProcess):
    """The official ECS agent's introspection endpoint, faked
    (tests/emulators/introspection.py): /v1/metadata answers Cluster,
    ContainerInstanceArn and Version.  stop() then start() reuses the port, so
    "agent not started yet" (connection refused) can turn into "agent up"."""

    def __init__(self, cluster=None, arn=None, port=0):
        self.cluster, self.arn, self.port = cluster, arn, port
        self.proc = self.url = self.control = None

    def start(self, timeout=10.0):
        args = ["--port", str(self.port or 0)]
        if self.cluster:
            args += ["--cluster", self.cluster]
        if self.arn:
            args += ["--arn", self.arn]
        self.proc, self.port = _start_emulator("introspection.py", args, "introspection", timeout)
        self.url = "http://127.0.0.1:%d" % self.port
        self.control = IntrospectionControl(self.url)
        return self

    @property
    def metadata_url(self):
        return "http://127.0.0.1:%d/v1/metadata" % self.port


# --------------------------------------------------------------------------
# reading IMDS the way an instance does (for tests of the harness itself)


class Prometheus:
    """A real Prometheus server (Debian's) scraping `targets` (HOST:PORT)
    every second, with its TSDB in a scratch directory; Prometheus 2.42
    asks for OpenMetrics first, so a scrape that works is one its strict
    OpenMetrics parser accepted.

    with Prometheus(["127.0.0.1:51680"]) as p:
        p.wait_scraped(); p.query('up{job="hostd"}')
    """

    def __init__(self, targets, job="hostd", scheme="http", tls_config=None, basic_auth=None):
        """tls_config ({"ca_file": ..., "cert_file": ..., ...}) and basic_auth
        ({"username": ..., "password": ...}) go into the scrape config as
        Prometheus spells them; scheme "https" scrapes over TLS."""
        self.targets, self.job = list(targets), job
        self.scheme, self.tls_config, self.basic_auth = scheme, tls_config, basic_auth
        self.proc = self.dir = None
        self.port = free_port()

    def _scrape_config(self):
        text = "  - job_name: %s\n    scheme: %s\n" % (self.job, self.scheme)
        for name, section in (("tls_config", self.tls_config), ("basic_auth", self.basic_auth)):
            if section:
                text += "    %s:\n" % name + "".join("      %s: %s\n" % (k, json.dumps(v)) for k, v in section.items())
        return text + "    static_configs:\n      - targets: [%s]\n" % ", ".join('"%s"' % t for t in self.targets)

    def start(self, timeout=30.0):
        self.dir = tempfile.mkdtemp(prefix="hostd-prometheus-")
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n" + self._scrape_config())
        exe = resolve_tool("prometheus", "HOSTD_PROMETHEUS")
        self.proc = Process([exe, "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                             "--web.listen-address=127.0.0.1:%d" % self.port], name="prometheus").start()
        wait_until(lambda: http_get(self.url + "/-/ready")[0] == 200, timeout, what="Prometheus ready")
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def api(self, path, **params):
        status, _, body = http_get(self.url + "/api/v1/" + path + ("?" + urllib.parse.urlencode(params) if params else ""),
                                   timeout=10)
        doc = json.loads(body) if status == 200 else {}
        if doc.get("status") != "success":
            raise RuntimeError("Prometheus %s: HTTP %s %r" % (path, status, body[:300]))
        return doc["data"]

    def targets_health(self):
        """[(scrapeUrl, health, lastError)] of the active targets."""
        return [(t["scrapeUrl"], t["health"], t["lastError"]) for t in self.api("targets")["activeTargets"]]

    def wait_scraped(self, timeout=20.0):
        """Wait until every target was scraped at least once; returns targets_health()."""
        def scraped():
            health = self.targets_health()  # one snapshot: an empty list is not "all scraped"
            return health if health and all(h != "unknown" for _, h, _ in health) else None
        return wait_until(scraped, timeout, what="Prometheus scraped its targets")

    def query(self, expr):
        """An instant query: {labels-as-sorted-tuple: value}."""
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in self.api("query", query=expr)["result"]}

    def stop(self):
        if self.proc:
            self.proc.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def imds_fetch(url, path, token_ttl=21600, use_token=True, timeout=2.0):
    """GET an IMDS path the IMDSv2 way (token PUT first); returns (status, text)."""
    headers = {}
    if use_token:
        st, h, tok = http_get(url + "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": str(token_ttl)}, timeout, "PUT")
        if st != 200:
            return st, tok.decode(errors="replace")
        headers["X-aws-ec2-metadata-token"] = tok.decode()
    st, h, body = http_get(url + path, headers, timeout)
    return st, body.decode(errors="replace")


def instance_role_credentials(url, timeout=2.0):
    """What an SDK on the instance does: token, role name listing, role JSON."""
    st, role = imds_fetch(url, "/latest/meta-data/iam/security-credentials/", timeout=timeout)
    if st != 200:
        raise RuntimeError("role listing: HTTP %d" % st)
    role = role.splitlines()[0].strip()
    st, text = imds_fetch(url, "/latest/meta-data/iam/security-credentials/" + role, timeout=timeout)
    if st != 200:
        raise RuntimeError("role %s: HTTP %d" % (role, st))
    doc = json.loads(text)
    return role, Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("Token"), doc.get("Expiration"))


# --------------------------------------------------------------------------
# a whole host: moto + IMDS emulator + proxy + EC2 instance + instance role

# Used when packaging/iam-policy.json (the least-privilege policy) is absent.
ECS_HOST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:CreateCluster",
                "ecs:RegisterContainerInstance",
                "ecs:DeregisterContainerInstance",
                "ecs:DescribeContainerInstances",
                "ecs:ListContainerInstances",
                "ecs:PutAttributes",
                "ecs:DeleteAttributes",
                "ecs:ListAttributes",
                "ecs:UpdateContainerInstancesState",
            ],
            "Resource": "*",
        }
    ],
}


def binary(name):
    """Path of a built program (HOSTD_BUILD/NAME, or HOSTD_BUILD/tests/NAME)."""
    for p in (os.path.join(BUILD, name), os.path.join(BUILD, "tests", name)):
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise FileNotFoundError("%s not built in %s (run make)" % (name, BUILD))


def host_policy():
    """packaging/iam-policy.json when it exists, else ECS_HOST_POLICY."""
    path = os.path.join(TOP, "packaging", "iam-policy.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return ECS_HOST_POLICY


_stack_seq = [0]


def policy_without(actions, policy=None):
    """The host policy (or `policy`) with some actions taken out, e.g. to see
    what the daemon says when ecs:PutAttributes is denied."""
    base = policy or host_policy()
    statements = []
    for st in base["Statement"]:
        st = dict(st)
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        st["Action"] = [a for a in acts if a not in actions]
        statements.append(st)
    return {"Version": base.get("Version", "2012-10-17"), "Statement": statements}


class Stack:
    """Everything an ecs-hostd host talks to, on loopback.

    moto (IAM enforced; shared when `moto` is given), the IMDS emulator
    serving a moto EC2 instance and STS credentials of an instance role with
    `policy`, and the recording proxy as the ECS endpoint.  On a shared moto
    the clusters this Stack (or its daemons) created are emptied and deleted
    when it stops, so the next Stack starts from a clean account.

    with Stack(cluster="lab") as s:
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register"})
        s.proxy.control.wait_request("RegisterContainerInstance")
        print(s.container_instances())
    """

    def __init__(self, policy=None, require_v2=True, cluster="default", create_cluster=True,
                 instance_type="m5.large", az=None, role="ecs-hostd-instance", moto=None, proxy=True,
                 official_agent=None, other_instances=0):
        self.policy = policy if policy is not None else host_policy()
        self.require_v2 = require_v2
        self.cluster = cluster
        self.create_cluster = create_cluster
        self.instance_type = instance_type
        self.az = az
        _stack_seq[0] += 1
        self.role = "%s-%d" % (role, _stack_seq[0])  # unique on a shared moto
        self.moto = moto
        self.own_moto = moto is None
        self.use_proxy = proxy
        self.official_agent_spec = official_agent  # None, True or {register, available, running}
        self.other_instances = other_instances
        self.imds = None
        self.proxy = None
        self.role_arn = None
        self.creds = None
        self.instance = None
        self.tmpdir = None
        self.daemons = []
        self.agent = None  # AgentIntrospection once official_agent() ran
        self.agent_arn = None
        self.clusters_before = set()

    def start(self):
        if self.own_moto:
            self.moto = MotoServer().start()
        else:
            self.clusters_before = self._active_clusters()
        self.imds = ImdsEmulator(require_v2=self.require_v2).start()
        if self.use_proxy:
            self.proxy = AwsProxy(self.moto.endpoint).start()
        self.role_arn, self.creds = self.moto.role_credentials(self.role, self.policy)
        self.instance = self.moto.run_instance(self.instance_type, self.az)
        self.imds.serve_instance(self.instance, role=self.role, creds=self.creds)
        if self.create_cluster and self.cluster:
            self.moto.create_cluster(self.cluster)
        self.other_arns = [self.register_other_instance() for _ in range(self.other_instances)]
        self.tmpdir = tempfile.mkdtemp(prefix="hostd-stack-")
        os.makedirs(os.path.join(self.tmpdir, "data"))
        os.makedirs(os.path.join(self.tmpdir, "attributes.d"))
        # Nothing listens here, and nothing else can: a port merely free a
        # moment ago may be taken by another test's server meanwhile (seen
        # as an "official agent" answering where none should).  A socket
        # bound and never listening keeps the port and refuses connections.
        self._closed_sock = socket.socket()
        self._closed_sock.bind(("127.0.0.1", 0))
        self.closed_port = self._closed_sock.getsockname()[1]
        spec = self.official_agent_spec
        if spec:
            spec = {} if spec is True else spec
            self.official_agent(register=spec.get("register", True), available=spec.get("available", True))
            if not spec.get("running", True):
                self.agent.stop()
        return self

    @property
    def ecs_endpoint(self):
        return self.proxy.url if self.proxy else self.moto.endpoint

    @property
    def datadir(self):
        return os.path.join(self.tmpdir, "data")

    @property
    def attributes_dir(self):
        return os.path.join(self.tmpdir, "attributes.d")

    @property
    def introspection_url(self):
        """The official agent's /v1/metadata when official_agent() ran, else a closed port."""
        return self.agent.metadata_url if self.agent else "http://127.0.0.1:%d/v1/metadata" % self.closed_port

    def daemon_config(self, datadir=None, attributes_dir=None):
        """The configuration keys of an ecs-hostd on this host, in file order:
        the cluster, the endpoints (proxy, IMDS, introspection) and the
        daemon's directories (the Stack's own unless given)."""
        keys = {}
        if self.cluster:
            keys["ECS_CLUSTER"] = self.cluster
        keys.update({
            "ECS_BACKEND_HOST": self.ecs_endpoint,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds.url,
            "ECS_HOSTD_DATADIR": datadir or self.datadir,
            "ECS_HOSTD_ATTRIBUTES_DIR": attributes_dir or self.attributes_dir,
            "ECS_AGENT_INTROSPECTION_URL": self.introspection_url,
        })
        return keys

    def daemon_env(self, **extra):
        """Environment for an ecs-hostd started by hand on this host
        (daemon_config() as variables, debug logging, no AWS_* credentials:
        they come from IMDS).  A None value removes a variable."""
        env = self.daemon_config()
        env.update({
            "ECS_LOGLEVEL": "debug",
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
            "AWS_SESSION_TOKEN": None,
            "AWS_REGION": None,
            "AWS_DEFAULT_REGION": None,
        })
        env.update(extra)
        return env

    def daemon(self, name="ecs-hostd", **kw):
        """A Daemon on this host (not started yet); see Daemon for kw."""
        taken = {d.name for d in self.daemons}
        base, n = name, 1
        while name in taken:
            n += 1
            name = "%s-%d" % (base, n)
        d = Daemon(self, name, **kw)
        self.daemons.append(d)
        return d

    def start_daemon(self, **kw):
        """daemon(**kw), started; returns the Daemon."""
        return self.daemon(**kw).start()

    def register_other_instance(self, cluster=None):
        """Register another EC2 instance in the cluster as the admin (a decoy:
        a lookup by ec2InstanceId must not pick it); returns its ARN."""
        other = self.moto.run_instance(instance_type="t3.small")
        doc = json.dumps({"instanceId": other.instance_id, "region": other.region, "availabilityZone": other.availability_zone})
        out = self.moto.ecs("RegisterContainerInstance", cluster=cluster or self.cluster, instanceIdentityDocument=doc)
        return out["containerInstance"]["containerInstanceArn"]

    def official_agent(self, register=True, available=True):
        """Act as the official ECS agent on this host: register the instance
        (as the admin, with the identity document IMDS serves) and serve its
        introspection endpoint, which daemon_config() then points at (a
        running endpoint is kept: same port, new answers).  Returns the
        container instance ARN (None when register=False)."""
        arn = None
        if register:
            doc = imds_fetch(self.imds.url, "/latest/dynamic/instance-identity/document")[1]
            sig = imds_fetch(self.imds.url, "/latest/dynamic/instance-identity/signature")[1]
            out = self.moto.ecs(
                "RegisterContainerInstance", cluster=self.cluster, instanceIdentityDocument=doc, instanceIdentityDocumentSignature=sig
            )
            arn = out["containerInstance"]["containerInstanceArn"]
            self.agent_arn = arn
        if self.agent and self.agent.proc.alive():
            self.agent.control.set_metadata(cluster=self.cluster, arn=arn)
        else:
            if self.agent:
                self.agent.stop()
            self.agent = AgentIntrospection(self.cluster, arn, port=self.agent.port if self.agent else 0).start()
        self.agent.control.set_available(available)
        return arn

    def serve_credentials(self, creds):
        """Serve other credentials as the instance role's (e.g. broken ones)."""
        self.imds.serve_credentials(self.role, creds)

    def rotate_credentials(self):
        """Fresh STS credentials for the role, served from now on; returns them."""
        self.creds = self.moto.assume_role(self.role_arn)
        self.serve_credentials(self.creds)
        return self.creds

    def set_policy(self, policy):
        """Replace the instance role's policy (effective on the next request)."""
        self.policy = policy
        self.moto.put_role_policy(self.role, policy)

    def container_instances(self, cluster=None):
        """Observer: describe-container-instances of every instance in the cluster."""
        return self.moto.describe_container_instances(cluster or self.cluster)

    def aws(self, *args, **kw):
        return self.moto.aws(*args, **kw)

    # Tasks on the host, as ECS would have them (moto keeps them RUNNING until stopped).
    def register_task_definition(self, family, memory=64, cpu=64):
        """aws ecs register-task-definition: one container of that size."""
        return self.aws("ecs", "register-task-definition", "--family", family, "--container-definitions",
                        json.dumps([{"name": family, "image": "nginx", "memory": memory, "cpu": cpu}]))

    def run_tasks(self, family, count, group=None, on=None):
        """aws ecs run-task in the Stack's cluster; the task ARNs.  on: the
        container instance ARN every task must have landed on."""
        args = ["ecs", "run-task", "--cluster", self.cluster, "--task-definition", family, "--count", str(count)]
        if group:
            args += ["--group", group]
        out = self.aws(*args)
        if on is not None and not all(t["containerInstanceArn"] == on for t in out["tasks"]):
            raise AssertionError("run-task placed tasks elsewhere than %s: %s" % (on, out))
        return [t["taskArn"] for t in out["tasks"]]

    def stop_task(self, task):
        """aws ecs stop-task, as ECS stops a task on a draining host."""
        self.aws("ecs", "stop-task", "--cluster", self.cluster, "--task", task)

    def apply(self, scenario):
        """Set up what IMDS and ECS answer from a scenario dict (tests as data):

        {"imds": {"config": {...}, "metadata": {...}, "spot": {...}|null,
                  "termination_time": T, "rebalance": T, "asg": "Terminated",
                  "tags": {"enabled": true, "tags": {"aws:autoscaling:groupName": "web"}},
                  "maintenance": [{"code": ..., "not_before": ...}],
                  "maintenance_cancel": [id], "maintenance_complete": [id],
                  "faults": [{"kind": ..., "path": ..., ...}], "clear_faults": true,
                  "expire_tokens": true},
         "ecs":  {"down": bool, "faults": [{"kind": ..., "operation": ..., ...}], "clear_faults": true,
                  "lifecycle": [{"group": ..., "hook": ..., "instance": ...}]}}
        ("ecs" is the AWS proxy, which also answers Auto Scaling's lifecycle
        actions from the ones listed.)
        Times: seconds from now (number) or ISO 8601.  Returns the created
        maintenance events (their EventIds cancel them)."""
        unknown = set(scenario) - {"imds", "ecs", "expect", "description", "daemon"}
        if unknown:
            raise ValueError("unknown scenario keys: %s" % ", ".join(sorted(unknown)))
        if scenario.get("ecs") and not self.proxy:
            raise ValueError("ECS faults need the proxy (Stack(proxy=True))")
        events = apply_imds(self.imds.control, scenario.get("imds", {}))
        if scenario.get("ecs"):
            apply_ecs(self.proxy.control, scenario["ecs"])
        return events

    def _active_clusters(self):
        # A deleted cluster stays listed, INACTIVE, as in ECS; CreateCluster revives it.
        arns = self.moto.ecs("ListClusters")["clusterArns"]
        clusters = self.moto.ecs("DescribeClusters", clusters=arns)["clusters"] if arns else []
        return {c["clusterArn"] for c in clusters if c["status"] == "ACTIVE"}

    def _clean_moto(self):
        """Empty and delete the clusters made active since start() (shared moto only)."""
        for arn in self._active_clusters() - self.clusters_before:
            for ci in self.moto.ecs("ListContainerInstances", cluster=arn)["containerInstanceArns"]:
                self.moto.ecs("DeregisterContainerInstance", cluster=arn, containerInstance=ci, force=True)
            self.moto.ecs("DeleteCluster", cluster=arn)

    def stop(self):
        for d in reversed(self.daemons):
            d.kill()
        # The emulators keep nothing worth a clean shutdown, which costs each
        # up to half a second (their serve loop's poll): killed at once.
        for part in (self.agent, self.proxy, self.imds):
            if part and part.proc:
                part.proc.stop(sig=signal.SIGKILL)
        if self.own_moto and self.moto:
            self.moto.stop()
        elif self.moto and self.moto.proc and self.moto.proc.alive():
            self._clean_moto()
        for d in self.daemons:
            d.close()
        if getattr(self, "_closed_sock", None):
            self._closed_sock.close()
            self._closed_sock = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------
# ecs-hostd on a Stack

# The drain hook a case asks for: it records what the daemon passed it (one
# run = three lines in hook.log), says hello on stdout (the daemon logs a
# hook's output), then runs the case's own shell lines.
RECORDING_HOOK = """#!/bin/sh
HOOK_LOG="%s"
{ echo "kind=$ECS_HOSTD_EVENT_KIND action=$ECS_HOSTD_EVENT_ACTION result=$ECS_HOSTD_DRAIN_RESULT"
  echo "cluster=$ECS_HOSTD_CLUSTER arn=$ECS_HOSTD_CONTAINER_INSTANCE_ARN"
  echo "id=$ECS_HOSTD_EVENT_ID time=$ECS_HOSTD_EVENT_TIME deadline=$ECS_HOSTD_DEADLINE"; } >> "$HOOK_LOG"
echo "hook says hello"
%s
"""

SIGNALS = {"HUP": signal.SIGHUP, "TERM": signal.SIGTERM, "INT": signal.SIGINT, "USR1": signal.SIGUSR1, "KILL": signal.SIGKILL,
           "PIPE": signal.SIGPIPE}


class Notify:
    """A NOTIFY_SOCKET like systemd's: collects the daemon's datagrams
    (READY=1, STATUS=..., WATCHDOG=1, RELOADING=1, STOPPING=1), one line each."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self._lines = []

    def lines(self):
        """Every line received so far (datagrams split on newlines)."""
        while True:
            try:
                self._lines.extend(self.sock.recv(4096).decode(errors="replace").split("\n"))
            except (BlockingIOError, OSError):
                return [line for line in self._lines if line]

    def close(self):
        self.sock.close()


class Daemon:
    """One ecs-hostd on a Stack, in its own directory: the configuration file
    (rewritten by configure() and at every start, so a SIGHUP reads the
    current keys), state/ (kept across restarts), attributes.d/, and, when
    asked, the recording drain hook and a notify socket.  Every run's output
    is kept: output() is all of them in order, so log offsets (marks) stay
    valid across restarts.

    d = stack.daemon(config={"ECS_HOSTD_MODE": "register"}, hook="")
    d.start(); d.wait_log(r"Joined ECS cluster"); d.attr_file("team.json", {"team": "cats"})
    assert d.restart() == 0

    config: keys added to Stack.daemon_config() (None drops one); env: the
    process environment beyond PATH/HOME/LANG (e.g. WATCHDOG_USEC); hook:
    shell lines run after RECORDING_HOOK's (None: no hook); notify: a
    NOTIFY_SOCKET; wrapper: argv before the binary (valgrind ...)."""

    def __init__(self, stack, name, config=None, env=None, hook=None, notify=False, wrapper=(), program="ecs-hostd"):
        self.stack = stack
        self.name = name
        self.dir = os.path.join(stack.tmpdir, name)
        self.datadir = os.path.join(self.dir, "state")
        self.attributes_dir = os.path.join(self.dir, "attributes.d")
        os.makedirs(self.attributes_dir)
        self.conf = os.path.join(self.dir, "ecs-hostd.conf")
        self.hook_log = os.path.join(self.dir, "hook.log")
        self.keys = stack.daemon_config(self.datadir, self.attributes_dir)
        # Its own metrics port: daemons run side by side (and next to the suite's
        # other runs), so none takes the default 51680.
        self.metrics_port = free_port()
        self.keys["ECS_HOSTD_METRICS_LISTEN"] = "127.0.0.1:%d" % self.metrics_port
        if hook is not None:
            path = os.path.join(self.dir, "hook.sh")
            with open(path, "w") as f:
                f.write(RECORDING_HOOK % (self.hook_log, hook))
            os.chmod(path, 0o755)
            self.keys["ECS_HOSTD_DRAIN_HOOK"] = path
        self.env = {k: str(v) for k, v in (env or {}).items()}
        self.notify = Notify(os.path.join(self.dir, "notify")) if notify else None
        if self.notify:
            self.env["NOTIFY_SOCKET"] = self.notify.path
        self.binary = binary(program)
        self.argv = list(wrapper) + [self.binary, "--config", self.conf]
        self.runs = []  # one Process per start
        self.started_at = self.exited_at = self.signalled_at = None
        self.configure(config or {})

    # --- configuration and files -------------------------------------------
    def configure(self, changes=None):
        """Change configuration keys (None drops one) and rewrite the file."""
        for k, v in (changes or {}).items():
            if v is None:
                self.keys.pop(k, None)
            else:
                self.keys[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        with open(self.conf, "w") as f:
            f.writelines("%s=%s\n" % kv for kv in self.keys.items())

    def config_line(self, key):
        """The line number of `key` in the configuration file (1-based)."""
        return list(self.keys).index(key) + 1

    def attr_file(self, name, content):
        """Write attributes.d/NAME atomically (a dict is written as JSON)."""
        tmp = os.path.join(self.attributes_dir, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        os.rename(tmp, os.path.join(self.attributes_dir, name))

    def remove_attr_file(self, name):
        os.unlink(os.path.join(self.attributes_dir, name))

    def replace_attributes_dir(self, files):
        """attributes.d removed (files None), or replaced whole by a new
        directory holding files (name -> dict or text), as `mv new attributes.d` does."""
        old = self.attributes_dir + ".old"
        if os.path.isdir(self.attributes_dir):
            os.rename(self.attributes_dir, old)
        if files is not None:
            new = self.attributes_dir + ".new"
            os.makedirs(new)
            for name, content in files.items():
                with open(os.path.join(new, name), "w") as f:
                    f.write(content if isinstance(content, str) else json.dumps(content))
            os.rename(new, self.attributes_dir)
        shutil.rmtree(old, ignore_errors=True)

    def write_state(self, content):
        """Replace state/state.json (a dict is written as JSON)."""
        os.makedirs(self.datadir, exist_ok=True)
        with open(os.path.join(self.datadir, "state.json"), "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))

    def hook_lines(self):
        try:
            with open(self.hook_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def check_config(self):
        """`ecs-hostd --check-config --config FILE`: CompletedProcess (text)."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ}
        return subprocess.run([self.binary, "--check-config", "--config", self.conf], env=env,
                              capture_output=True, text=True, timeout=60)

    # --- the process --------------------------------------------------------
    @property
    def proc(self):
        return self.runs[-1] if self.runs else None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return bool(self.proc and self.proc.alive())

    def start(self, changes=None):
        """Start a run (configuration changes first); returns self."""
        self.configure(changes)
        p = Process(self.argv, env=self.env, name=self.name, clean_env=True).start()
        self.runs.append(p)
        self.started_at, self.exited_at, self.signalled_at = time.monotonic(), None, None
        return self

    def send_signal(self, sig):
        """Send a signal (signal.SIG* or a name: "HUP", "TERM", "INT", ...)."""
        self.signalled_at = time.monotonic()
        self.proc.send_signal(SIGNALS[sig] if isinstance(sig, str) else sig)

    def wait_exit(self, timeout=20.0):
        """Wait for the run to end on its own; its exit status."""
        rc = self.proc.wait(timeout)
        self.exited_at = time.monotonic()
        self.proc.stop()  # reaps what is left of its process group
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the run (SIGTERM) and wait for its exit status; a run that
        outlives `timeout` is killed (its status is then -9)."""
        if not self.alive():
            return self.proc.wait()
        self.send_signal(sig)
        try:
            return self.wait_exit(timeout)
        except subprocess.TimeoutExpired:
            rc = self.proc.stop(timeout=1.0)
            self.exited_at = time.monotonic()
            return rc

    def restart(self, changes=None):
        """stop(), then start() with the same state; returns stop()'s status."""
        rc = self.stop()
        self.start(changes)
        return rc

    def kill(self):
        """Stop the run if any, without a verdict (cleanup)."""
        if self.proc:
            self.proc.stop(timeout=3.0)

    def close(self):
        if self.notify:
            self.notify.close()

    def zombies(self):
        """PIDs of the run's children that are zombies (exited, not reaped)."""
        return [pid for pid, ppid, _ in _live_processes(zombies=True) if ppid == self.pid]

    # --- the metrics endpoint -------------------------------------------------
    @property
    def metrics_url(self):
        return "http://127.0.0.1:%d" % self.metrics_port

    def http(self, path, headers=None, method="GET", timeout=5.0):
        """A request to the metrics endpoint: (status, headers, body bytes);
        status 0 when nothing answers."""
        try:
            return http_get(self.metrics_url + path, headers, timeout=timeout, method=method)
        except (urllib.error.URLError, OSError):
            return 0, {}, b""

    def scrape(self, headers=None):
        """GET /metrics: the text (gunzipped when it came compressed)."""
        status, hdrs, body = self.http("/metrics", headers)
        if hdrs.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return status, hdrs, body.decode()

    # --- the log --------------------------------------------------------------
    def output(self):
        """What every run wrote so far, in order."""
        return "".join(p.output() for p in self.runs)

    def mark(self):
        """An offset into output(): pass it as `start` to see only what follows."""
        return len(self.output())

    def wait_log(self, pattern, timeout=20.0, start=0, count=1):
        """Wait until `pattern` (a regex, multi-line) has matched `count` times
        after offset `start`; returns the last of those matches.  Fails at once
        when the run exits first, and on timeout shows the last lines."""
        rx = re.compile(pattern, re.M)

        def found():
            alive = self.alive()
            ms = list(rx.finditer(self.output(), start))
            if len(ms) >= count:
                return ms[count - 1]
            if not alive:
                raise WaitAbort("%s exited (%s) before logging %r:\n%s"
                                % (self.name, self.proc.proc.poll(), pattern, self.output()[-2000:]))
            return None

        try:
            return wait_until(found, timeout, what="%r from %s" % (pattern, self.name))
        except TimeoutError as e:
            raise TimeoutError("%s; the daemon's last lines:\n%s" % (e, self.output()[-1500:])) from None


IMDS_SCENARIO_KEYS = {"config", "metadata", "identity", "spot", "termination_time", "rebalance", "asg", "maintenance",
                      "maintenance_cancel", "maintenance_complete", "clear_faults", "faults", "expire_tokens", "tags"}
ECS_SCENARIO_KEYS = {"down", "clear_faults", "faults", "lifecycle"}


def apply_imds(ctl, spec):
    """Apply the "imds" part of a scenario (see Stack.apply) through an ImdsControl."""
    unknown = set(spec) - IMDS_SCENARIO_KEYS
    if unknown:
        raise ValueError("unknown imds scenario keys: %s" % ", ".join(sorted(unknown)))
    events = []
    if "config" in spec:
        ctl._call("POST", "/config", spec["config"])
    if "metadata" in spec:
        ctl.set_metadata(spec["metadata"])
    if "identity" in spec:
        ctl._call("POST", "/identity", spec["identity"])
    if "spot" in spec:
        if spec["spot"] is None:
            ctl.withdraw_spot()
        else:
            ctl._call("POST", "/spot", spec["spot"])
    if "termination_time" in spec:
        if spec["termination_time"] is None:
            ctl.clear_termination_time()
        else:
            ctl.set_termination_time(spec["termination_time"])
    if "rebalance" in spec:
        if spec["rebalance"] is None:
            ctl.withdraw_rebalance()
        else:
            ctl.rebalance(spec["rebalance"] if spec["rebalance"] is not True else None)
    if "asg" in spec:
        if spec["asg"] is None:
            ctl.clear_asg_state()
        else:
            ctl.asg_state(spec["asg"])
    if "tags" in spec:
        ctl._call("POST", "/tags", spec["tags"])
    for ev in spec.get("maintenance", []):
        events.append(ctl._call("POST", "/maintenance", ev))
    for event_id in spec.get("maintenance_cancel", []):
        ctl.cancel_maintenance(event_id)
    for event_id in spec.get("maintenance_complete", []):
        ctl.complete_maintenance(event_id)
    if spec.get("clear_faults"):
        ctl.clear_faults()
    for f in spec.get("faults", []):
        ctl._call("POST", "/faults", f)
    if spec.get("expire_tokens"):
        ctl.expire_tokens()
    return events


def apply_ecs(ctl, spec):
    """Apply the "ecs" part of a scenario (see Stack.apply) through an AwsProxyControl."""
    unknown = set(spec) - ECS_SCENARIO_KEYS
    if unknown:
        raise ValueError("unknown ecs scenario keys: %s" % ", ".join(sorted(unknown)))
    if "down" in spec:
        ctl.set_down(spec["down"])
    if spec.get("clear_faults"):
        ctl.clear_faults()
    for f in spec.get("faults", []):
        ctl._call("POST", "/faults", f)
    for a in spec.get("lifecycle", []):
        ctl._call("POST", "/lifecycle", a)
    return []


def subset_mismatch(actual, expected, where="$"):
    """None when `expected` is contained in `actual`, else a message naming the
    first difference.  Dicts: the listed keys only, recursively; lists: same
    length, element-wise; "*" matches anything present; a string starting
    with "~" is a regex the whole actual string must match; a dict against a
    list of objects that have a "name" (ECS attributes, resources) matches
    them by name: {"CPU": {"integerValue": 4096}}."""
    if expected == "*":
        return None
    if isinstance(expected, str) and expected.startswith("~"):
        if isinstance(actual, str) and re.fullmatch(expected[1:], actual, re.S):
            return None
        return "%s: expected to match /%s/, got %r" % (where, expected[1:], actual)
    if isinstance(expected, dict):
        if isinstance(actual, list) and actual and all(isinstance(a, dict) and "name" in a for a in actual):
            actual = {a["name"]: a for a in actual}
        if not isinstance(actual, dict):
            return "%s: expected an object, got %r" % (where, actual)
        for k, v in expected.items():
            if k not in actual:
                return "%s.%s: missing" % (where, k)
            m = subset_mismatch(actual[k], v, "%s.%s" % (where, k))
            if m:
                return m
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return "%s: expected %d items, got %r" % (where, len(expected), actual)
        for i, (a, e) in enumerate(zip(actual, expected)):
            m = subset_mismatch(a, e, "%s[%d]" % (where, i))
            if m:
                return m
        return None
    return None if actual == expected else "%s: expected %r, got %r" % (where, expected, actual)


def load_scenario(path):
    """A scenario file (JSON; '//' comment lines allowed)."""
    with open(path) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("//"))
    return json.loads(text)


# --------------------------------------------------------------------------
# daemon cases: tests/scenarios/<folder>/NN-what-it-proves.json, run step by
# step on a fresh Stack (sharing one moto) with one Daemon.  The language is
# described in docs/harness.md; what follows is its table and its runner.

SCENARIOS = os.path.join(TOP, "tests", "scenarios")

CASE_KEYS = {"name", "stack", "config", "env", "hook", "notify", "steps"}
STACK_KEYS = {"cluster", "create_cluster", "instance_type", "az", "require_v2", "policy", "official_agent", "other_instances"}


class CaseError(ValueError):
    """A case that cannot run as written: an unknown key, a bad value, a
    placeholder nothing defines."""


def _is_bool(v):
    return isinstance(v, bool)


def _is_str(v):
    return isinstance(v, str)


def _is_dict(v):
    return isinstance(v, dict)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_policy(v):
    return v == "host" or (isinstance(v, dict) and set(v) == {"without"} and isinstance(v["without"], list))


def _is_start(v):
    return v is True or isinstance(v, dict)


# Step table.  kind: "do" changes the world, "wait" blocks until something
# happened (no TAP line; the case fails if it never does), "check" is one TAP
# line.  mods: the step-level keys besides the action (every check also takes
# "name").  keys: the keys a dict argument may have.  reads: the step looks
# at what happened since a mark (so it uses the last one unless "since" says
# otherwise).
STEPS = {
    "imds": dict(kind="do", valid=_is_dict, keys=IMDS_SCENARIO_KEYS),
    "ecs": dict(kind="do", valid=_is_dict, keys=ECS_SCENARIO_KEYS),
    "start": dict(kind="do", valid=_is_start),
    "config": dict(kind="do", valid=_is_dict),
    "signal": dict(kind="do", valid=lambda v: v in SIGNALS),
    "attributes": dict(kind="do", valid=_is_dict),
    "attributes_dir": dict(kind="do", valid=lambda v: v is None or _is_dict(v)),
    "state_file": dict(kind="do", valid=lambda v: isinstance(v, (dict, str))),
    "policy": dict(kind="do", valid=_is_policy),
    "aws": dict(kind="do", valid=lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v)),
    "agent": dict(kind="do", valid=_is_dict, keys={"register", "available", "running", "metadata"}),
    "mark": dict(kind="do", valid=lambda v: v is True),
    "wait_log": dict(kind="wait", valid=_is_str, mods=("timeout", "count", "since"), reads=True),
    "wait_request": dict(kind="wait", valid=_is_dict, keys={"operation", "status", "count"}, mods=("timeout", "since"), reads=True),
    "wait_imds": dict(kind="wait", valid=_is_dict, keys={"path", "status", "count"}, mods=("timeout", "since"), reads=True),
    "stop": dict(kind="check", valid=_is_int, mods=("timeout",)),
    "restart": dict(kind="check", valid=_is_start, mods=("timeout",)),
    "expect_exit": dict(kind="check", valid=_is_int, mods=("timeout",)),
    "expect_running": dict(kind="check", valid=_is_bool),
    "expect_no_zombies": dict(kind="check", valid=lambda v: v is True),
    "expect_numbers": dict(kind="check", valid=_is_str),
    "expect_log": dict(kind="check", valid=_is_str, mods=("count", "within", "since"), reads=True),
    "expect_hook": dict(kind="check", valid=_is_str, mods=("count", "within", "since"), reads=True),
    "expect_notify": dict(kind="check", valid=_is_str, mods=("count", "within", "since"), reads=True),
    "expect_requests": dict(kind="check", valid=_is_dict, mods=("within", "since"), reads=True,
                            keys={"operation", "status", "answered", "count", "statuses", "json", "exact", "items", "values", "absent"}),
    "expect_imds": dict(kind="check", valid=_is_dict, mods=("within", "since"), reads=True,
                        keys={"path", "status", "count", "each", "connections", "max_gap_ms"}),
    "expect_ecs": dict(kind="check", valid=_is_dict, mods=("within",),
                       keys={"cluster", "arn", "count", "status", "instances", "custom", "ignore_custom"}),
    "expect_check_config": dict(kind="check", valid=_is_dict, keys={"exit", "stdout", "stderr"}),
}
SINCE = ("mark", "start", "now")


def validate_case(case):
    """Raise CaseError naming the first thing wrong with a case (a parsed
    case file): unknown keys anywhere, a step with no or two actions, a mark
    nothing reads, a case that ends waiting."""
    unknown = set(case) - CASE_KEYS
    if unknown:
        raise CaseError("unknown case keys: %s" % ", ".join(sorted(unknown)))
    if not isinstance(case.get("name"), str) or not isinstance(case.get("steps"), list) or not case["steps"]:
        raise CaseError('a case needs a "name" (what it proves) and a list of "steps"')
    unknown = set(case.get("stack", {})) - STACK_KEYS
    if unknown:
        raise CaseError("unknown stack keys: %s" % ", ".join(sorted(unknown)))
    if "policy" in case.get("stack", {}) and not _is_policy(case["stack"]["policy"]):
        raise CaseError('stack policy: "host" or {"without": [actions]}')
    unread_mark = None
    for i, step in enumerate(case["steps"], 1):
        where = "step %d" % i
        if not isinstance(step, dict):
            raise CaseError("%s: a step is an object" % where)
        actions = [k for k in step if k in STEPS]
        if len(actions) != 1:
            raise CaseError("%s: one action per step (one of %s), got %s" % (where, ", ".join(sorted(STEPS)), sorted(step)))
        action = actions[0]
        spec = STEPS[action]
        allowed = {action} | set(spec.get("mods", ())) | ({"name"} if spec["kind"] == "check" else set())
        unknown = set(step) - allowed
        if unknown:
            raise CaseError("%s (%s): unknown keys %s" % (where, action, ", ".join(sorted(unknown))))
        arg = step[action]
        if not spec["valid"](arg):
            raise CaseError("%s: %s does not take %r" % (where, action, arg))
        keys = spec.get("keys")
        if keys is not None and isinstance(arg, dict) and set(arg) - keys:
            raise CaseError("%s (%s): unknown keys %s" % (where, action, ", ".join(sorted(set(arg) - keys))))
        if step.get("since", "mark") not in SINCE:
            raise CaseError("%s: since is one of %s" % (where, ", ".join(SINCE)))
        if step.get("since") == "now" and spec["kind"] != "wait":
            raise CaseError('%s: since "now" is for waits (nothing happened since now yet)' % where)
        if spec.get("reads") and step.get("since", "mark") == "mark":
            unread_mark = None
        if action in ("mark", "start", "restart"):
            if unread_mark:
                raise CaseError("step %d: nothing reads this mark before step %d" % (unread_mark, i))
            unread_mark = i if action == "mark" else None
    if unread_mark:
        raise CaseError("step %d: nothing reads this mark" % unread_mark)
    if STEPS[[k for k in case["steps"][-1] if k in STEPS][0]]["kind"] == "wait":
        raise CaseError("the last step waits: check what it waited for")


_PLACEHOLDER = re.compile(r"(?<!\\)\{([A-Za-z_]\w*)(?::([^{}\s]+))?(?:\s*([-+*/])\s*(\d+(?:\.\d+)?))?\}")
_COUNT = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*(.+)$")
_COMPARE = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}
_ARITH_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.Add, ast.Sub, ast.Mult,
                ast.Div, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


def arith(text):
    """Evaluate numbers, + - * / // %, parentheses and comparisons (chained
    like 1 < x <= 3); nothing else."""
    tree = ast.parse(text.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ARITH_NODES) or (isinstance(node, ast.Constant) and not isinstance(node.value, (int, float))):
            raise CaseError("not arithmetic: %r" % text)
    return eval(compile(tree, "<case>", "eval"), {"__builtins__": {}}, {})  # noqa: S307 -- only the nodes above


def count_mismatch(n, want, what="matches"):
    """None when n satisfies `want` (an integer: exactly; "OP EXPR": compared), else why not."""
    if _is_int(want):
        return None if n == want else "%d %s, want %d" % (n, what, want)
    m = _COUNT.match(want) if isinstance(want, str) else None
    if not m:
        raise CaseError("count %r: an integer or \"OP EXPR\" (OP one of >= <= == != > <)" % (want,))
    bound = arith(m.group(2))
    return None if _COMPARE[m.group(1)](n, bound) else "%d %s, want %s %s" % (n, what, m.group(1), bound)


def _native(text):
    """A captured group as a number when it is one."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return text


def host_facts():
    """Captures describing this machine (what RegisterContainerInstance reports)."""
    with open("/proc/meminfo") as f:
        mem_kib = int(re.search(r"MemTotal:\s+(\d+) kB", f.read()).group(1))
    machine = os.uname().machine
    return {"host_cpu_units": os.sysconf("SC_NPROCESSORS_ONLN") * 1024, "host_memory_mib": mem_kib // 1024,
            "host_arch": {"x86_64": "x86_64", "aarch64": "arm64"}.get(machine, machine)}


class Case:
    """One case file, validated on load, run by run(tap, moto)."""

    def __init__(self, path):
        self.path = path
        self.id = os.path.splitext(os.path.basename(path))[0]
        self.spec = load_scenario(path)
        validate_case(self.spec)
        self.stack = self.daemon = None
        self.captures = {}
        self.marks = {}

    # --- placeholders ---------------------------------------------------------
    def value_of(self, m):
        name, arg, op, num = m.groups()
        if name == "time":
            if op not in (None, "+", "-") or arg:
                raise CaseError("{time+N} or {time-N}: %s" % m.group(0))
            return iso8601(time.time() + (float(num) * (-1 if op == "-" else 1) if op else 0))
        if name == "config_line":
            if arg not in self.daemon.keys:
                raise CaseError("%s: no such key in the configuration" % m.group(0))
            return self.daemon.config_line(arg)
        if arg or name not in self.captures:
            raise CaseError("unknown placeholder %s (known: %s, time+N, config_line:KEY)"
                            % (m.group(0), ", ".join(sorted(self.captures))))
        v = self.captures[name]
        return arith("%s %s %s" % (v, op, num)) if op else v

    def subst(self, obj, regex=False):
        """obj with its {placeholders} filled in: escaped inside regexes (and
        "~regex" strings); a string that is one placeholder takes its value's type."""
        if isinstance(obj, str):
            regex = regex or obj.startswith("~")
            m = _PLACEHOLDER.fullmatch(obj)
            if m and not regex:
                return self.value_of(m)
            return _PLACEHOLDER.sub(lambda m: (re.escape if regex else str)(str(self.value_of(m))), obj)
        if isinstance(obj, list):
            return [self.subst(x, regex) for x in obj]
        if isinstance(obj, dict):
            return {k: self.subst(v, regex) for k, v in obj.items()}
        return obj

    def capture(self, match):
        self.captures.update({k: _native(v) for k, v in match.groupdict().items() if v is not None})

    def refresh_captures(self):
        s, d = self.stack, self.daemon
        self.captures.update({
            "cluster": s.cluster, "region": REGION, "account_id": ACCOUNT_ID,
            "instance_id": s.instance.instance_id, "instance_type": s.instance.instance_type,
            "az": s.instance.availability_zone, "imds_url": s.imds.url, "ecs_url": s.ecs_endpoint,
            "agent_url": s.introspection_url, "closed_url": "http://127.0.0.1:%d/v1/metadata" % s.closed_port,
            "access_key_id": s.creds.access_key_id, "secret_access_key": s.creds.secret_access_key,
            "session_token": s.creds.session_token, "config": d.conf, "dir": d.dir, "datadir": d.datadir,
            "attributes_dir": d.attributes_dir, "metrics_port": str(d.metrics_port),
            "metrics_url": d.metrics_url,
        })
        if s.agent_arn:
            self.captures["agent_arn"] = s.agent_arn
        if getattr(s, "other_arns", None):
            self.captures["other_arn"] = s.other_arns[0]

    # --- marks ----------------------------------------------------------------
    def take_mark(self):
        return {"log": self.daemon.mark(), "proxy": self.stack.proxy.control.log_mark(),
                "imds": self.stack.imds.control.log_mark(), "hook": len(self.daemon.hook_lines()),
                "notify": len(self.daemon.notify.lines()) if self.daemon.notify else 0}

    def since(self, step):
        which = step.get("since", "mark")
        return self.take_mark() if which == "now" else self.marks[which]

    # --- sources --------------------------------------------------------------
    def requests(self, mark, operation=None, status=None, answered=False):
        return [e for e in self.stack.proxy.control.log(mark["proxy"])
                if (operation is None or fnmatch.fnmatchcase(e["operation"] or "", operation))
                and (status is None or e["status"] == status) and (not answered or e["status"] is not None)]

    def imds_requests(self, mark, path=None, status=None):
        return [e for e in self.stack.imds.control.log(mark["imds"])
                if e["done"] and fnmatch.fnmatchcase(e["path"], path or "*") and (status is None or e["status"] == status)]

    # --- actions (kind "do") --------------------------------------------------
    def do_imds(self, arg, step):
        self.stack.apply({"imds": arg})

    def do_ecs(self, arg, step):
        self.stack.apply({"ecs": arg})

    def do_start(self, arg, step):
        # The mark first: what the run says from its first instant is after it.
        self.marks["mark"] = self.take_mark()
        self.daemon.start(arg if isinstance(arg, dict) else None)

    def do_config(self, arg, step):
        self.daemon.configure(arg)

    def do_signal(self, arg, step):
        self.daemon.send_signal(arg)

    def do_attributes(self, arg, step):
        for name, content in arg.items():
            if content is None:
                self.daemon.remove_attr_file(name)
            else:
                self.daemon.attr_file(name, content)

    def do_attributes_dir(self, arg, step):
        self.daemon.replace_attributes_dir(arg)

    def do_state_file(self, arg, step):
        self.daemon.write_state(arg)

    def do_policy(self, arg, step):
        self.stack.set_policy(host_policy() if arg == "host" else policy_without(arg["without"]))

    def do_aws(self, arg, step):
        self.stack.aws(*arg)

    def do_agent(self, arg, step):
        if arg.get("running", True):
            self.stack.official_agent(register=arg.get("register", False), available=arg.get("available", True))
        else:
            self.stack.agent.stop()
        if "metadata" in arg:
            # Whatever answers on the agent's port, with the answer it likes.
            md = arg["metadata"]
            self.stack.agent.control.set_metadata(cluster=md.get("Cluster"), arn=md.get("ContainerInstanceArn"))
        self.refresh_captures()

    def do_mark(self, arg, step):
        self.marks["mark"] = self.take_mark()

    # --- waits ----------------------------------------------------------------
    def wait_log(self, arg, step):
        mark = self.since(step)
        m = self.daemon.wait_log(arg, step.get("timeout", 20), mark["log"], step.get("count", 1))
        self.capture(m)

    def wait_request(self, arg, step):
        mark = self.since(step)
        want = arg.get("count", 1)
        wait_until(lambda: len(self.requests(mark, arg.get("operation"), arg.get("status"))) >= want,
                   step.get("timeout", 20), what="%d ECS requests %s" % (want, json.dumps(arg)))

    def wait_imds(self, arg, step):
        mark = self.since(step)
        want = arg.get("count", 1)
        wait_until(lambda: len(self.imds_requests(mark, arg.get("path"), arg.get("status"))) >= want,
                   step.get("timeout", 20), what="%d IMDS requests %s" % (want, json.dumps(arg)))

    # --- checks: each returns None (passed) or why it failed ---------------------
    def check_stop(self, arg, step):
        rc = self.daemon.stop(timeout=step.get("timeout", 10))
        self.after_exit()
        return None if rc == arg else "exit status %s, want %d" % (rc, arg)

    def check_restart(self, arg, step):
        why = self.check_stop(0, step)
        self.do_start(arg, step)
        return why

    def check_expect_exit(self, arg, step):
        try:
            rc = self.daemon.wait_exit(step.get("timeout", 20))
        except subprocess.TimeoutExpired:
            return "still running after %s s" % step.get("timeout", 20)
        self.after_exit()
        return None if rc == arg else "exit status %s, want %d" % (rc, arg)

    def after_exit(self):
        d = self.daemon
        self.captures["run_s"] = round(d.exited_at - d.started_at, 3)
        if d.signalled_at:
            self.captures["exit_after_s"] = round(d.exited_at - d.signalled_at, 3)

    def check_expect_running(self, arg, step):
        return None if self.daemon.alive() == arg else "running: %s, want %s" % (self.daemon.alive(), arg)

    def check_expect_no_zombies(self, arg, step):
        z = self.daemon.zombies()
        return None if not z else "unreaped children: %s" % z

    def check_expect_numbers(self, arg, step):
        return None if arith(arg) is True else "false: %s" % arg

    def _count_text(self, n, step, what):
        return count_mismatch(n, self.subst(step.get("count", ">= 1")), what)

    def check_expect_log(self, arg, step):
        rx = re.compile(arg, re.M)
        ms = list(rx.finditer(self.daemon.output(), self.since(step)["log"]))
        if ms:
            self.capture(ms[0])
        return self._count_text(len(ms), step, "lines matching %r" % arg)

    def check_expect_hook(self, arg, step):
        lines = self.daemon.hook_lines()[self.since(step)["hook"]:]
        why = self._count_text(sum(1 for line in lines if re.fullmatch(arg, line)), step, "hook lines matching %r" % arg)
        return why and "%s; the hook wrote %r" % (why, lines)

    def check_expect_notify(self, arg, step):
        lines = self.daemon.notify.lines()[self.since(step)["notify"]:]
        why = self._count_text(sum(1 for line in lines if re.match(arg, line)), step, "notifications matching %r" % arg)
        return why and "%s; received %r" % (why, lines[-10:])

    def check_expect_requests(self, arg, step):
        entries = self.requests(self.since(step), arg.get("operation"), arg.get("status"), arg.get("answered"))
        problems = []
        if "statuses" in arg and [e["status"] for e in entries] != arg["statuses"]:
            problems.append("statuses %s, want %s" % ([e["status"] for e in entries], arg["statuses"]))
        subjects = [e["json"] for e in entries]
        if "items" in arg:
            subjects = [item for body in subjects for item in ((body or {}).get(arg["items"]) or [])]
        count = arg.get("count", None if "statuses" in arg else ">= 1")
        if count is not None:
            problems.append(count_mismatch(len(subjects), count, "items" if "items" in arg else "requests"))
        for i, subject in enumerate(subjects):
            if "json" in arg:
                problems.append(("%d: %r, want exactly %r" % (i, subject, arg["json"]) if subject != arg["json"] else None)
                                if arg.get("exact") else subset_mismatch(subject, arg["json"], "$[%d]" % i))
            for field in arg.get("absent", []):
                if isinstance(subject, dict) and field in subject:
                    problems.append("$[%d].%s: present (%r), want absent" % (i, field, subject[field]))
        for field, want in arg.get("values", {}).items():
            got = sorted((s.get(field) for s in subjects if isinstance(s, dict)), key=json.dumps)
            if got != sorted(want, key=json.dumps):
                problems.append("%s values %s, want %s" % (field, got, sorted(want, key=json.dumps)))
        problems = [p for p in problems if p]
        return "; ".join(problems)[:1500] if problems else None

    def check_expect_imds(self, arg, step):
        entries = self.imds_requests(self.since(step), arg.get("path"), arg.get("status"))
        problems = [count_mismatch(len(entries), arg.get("count", ">= 1"), "requests")]
        for i, e in enumerate(entries):
            if "each" in arg:
                problems.append(subset_mismatch(e, arg["each"], "$[%d]" % i))
        if "connections" in arg:
            problems.append(count_mismatch(len({e["conn"] for e in entries}), arg["connections"], "connections"))
        if "max_gap_ms" in arg:
            gaps = [(b["time"] - a["time"]) * 1000 for a, b in zip(entries, entries[1:])]
            if not gaps or max(gaps) >= arg["max_gap_ms"]:
                problems.append("largest gap %.0f ms, want < %s ms" % (max(gaps) if gaps else -1, arg["max_gap_ms"]))
        problems = [p for p in problems if p]
        return "; ".join(problems)[:1500] if problems else None

    def check_expect_ecs(self, arg, step):
        cluster = arg.get("cluster", self.stack.cluster)
        cis = self.stack.moto.describe_container_instances(cluster, [arg["arn"]] if "arn" in arg else None)
        for ci in cis:
            ci["custom"] = {a["name"]: a.get("value") for a in ci.get("attributes", []) if not a["name"].startswith("ecs.")}
        problems = []
        if "count" in arg:
            problems.append(count_mismatch(len(cis), arg["count"], "container instances"))
        if "status" in arg and (not cis or any(ci["status"] != arg["status"] for ci in cis)):
            problems.append("statuses %s, want %s" % ([ci["status"] for ci in cis], arg["status"]))
        if "instances" in arg:
            problems.append(subset_mismatch(cis, arg["instances"]))
        if "custom" in arg:
            for ci in cis or [{"custom": None}]:
                got = {k: v for k, v in (ci["custom"] or {}).items() if k not in arg.get("ignore_custom", [])}
                if got != arg["custom"]:
                    problems.append("custom attributes %s, want %s" % (got, arg["custom"]))
        problems = [p for p in problems if p]
        return "; ".join(problems)[:1500] if problems else None

    def check_expect_check_config(self, arg, step):
        cp = self.daemon.check_config()
        problems = []
        if "exit" in arg and cp.returncode != arg["exit"]:
            problems.append("exit status %d, want %d" % (cp.returncode, arg["exit"]))
        for stream in ("stdout", "stderr"):
            if stream in arg and not re.search(arg[stream], getattr(cp, stream), re.M):
                problems.append("%r not in %s: %r" % (arg[stream], stream, getattr(cp, stream)[-800:]))
        return "; ".join(problems) if problems else None

    # --- running it -------------------------------------------------------------
    def step_name(self, action, step):
        if "name" in step:
            try:
                return self.subst(step["name"])
            except CaseError:
                return step["name"]
        return "%s %s" % (action, json.dumps(step[action])[:120])

    def run_step(self, action, step):
        """Do one step; returns None (not a check, or passed) or why the check failed."""
        kind = STEPS[action]["kind"]
        arg = self.subst(step[action], regex=action in ("wait_log", "expect_log", "expect_hook", "expect_notify"))
        if kind == "check":
            fn = getattr(self, "check_" + action)
            deadline = time.monotonic() + step.get("within", 0)
            while True:
                try:
                    why = fn(arg, step)
                except (CaseError, KeyboardInterrupt):
                    raise
                except Exception as e:  # noqa: BLE001 -- a check that cannot be made fails
                    why = "%s: %s" % (type(e).__name__, e)
                if why is None or time.monotonic() >= deadline:
                    return why
                time.sleep(0.1)
        getattr(self, ("do_" if kind == "do" else "") + action)(arg, step)
        return None

    def run(self, tap, moto):
        """Run the case on a fresh Stack; one TAP line per check."""
        t0, failed_before = time.monotonic(), tap.failed
        tap.diag("%s: %s" % (self.id, self.spec["name"]))
        options = dict(self.spec.get("stack", {}))
        if "policy" in options:
            options["policy"] = host_policy() if options["policy"] == "host" else policy_without(options["policy"]["without"])
        try:
            with Stack(moto=moto, **options) as self.stack:
                self.daemon = self.stack.daemon(hook=self.spec.get("hook"), notify=self.spec.get("notify", False))
                self.refresh_captures()
                self.captures.update(host_facts())
                # The environment may name what the stack made ({access_key_id}).
                self.daemon.env.update({k: str(v) for k, v in self.subst(self.spec.get("env", {})).items()})
                self.daemon.configure(self.subst(self.spec.get("config", {})))
                self.marks = {"start": self.take_mark()}
                self.marks["mark"] = self.marks["start"]
                self.run_steps(tap)
                if tap.failed > failed_before and self.daemon.runs:
                    tap.diag("%s: the daemon's last lines:\n%s" % (self.id, self.daemon.output()[-2500:]))
        except Exception as e:  # noqa: BLE001 -- the Stack failed: this case is lost, the file goes on
            tap.ok(False, "%s: its stack starts and stops" % self.id, "%s: %s" % (type(e).__name__, e))
        tap.diag("%s: %.1f s" % (self.id, time.monotonic() - t0))

    def run_steps(self, tap):
        """Every step in order.  When a wait or an action fails, the case stops
        there: the next check reports why, the later ones fail as not
        reached, so a file prints as many lines whatever happens."""
        broken = None
        for i, step in enumerate(self.spec["steps"], 1):
            action = next(k for k in step if k in STEPS)
            if broken is None:
                try:
                    why = self.run_step(action, step)
                except Exception as e:  # noqa: BLE001 -- reported on the next check
                    why = broken = "step %d (%s) failed: %s: %s" % (i, action, type(e).__name__, e)
            else:
                why = broken
            if STEPS[action]["kind"] == "check":
                tap.ok(why is None, "%s: %s" % (self.id, self.step_name(action, step)), why)
                if broken:
                    broken = "not reached (an earlier step failed)"
        if broken and not broken.startswith("not reached"):
            tap.ok(False, "%s: runs to the end" % self.id, broken)


def run_cases(tap, folder, at_least=1, only=None, moto=None):
    """Run tests/scenarios/FOLDER/*.json (those whose file name contains one of
    `only`, when given) on one shared moto (`moto`, or one started here)."""
    paths = sorted(glob.glob(os.path.join(SCENARIOS, folder, "*.json")))
    if only:
        paths = [p for p in paths if any(o in os.path.basename(p) for o in only)]
    else:
        tap.ok(len(paths) >= at_least, "the %s cases are there" % folder, "found %d, want at least %d" % (len(paths), at_least))
    cases = []
    for path in paths:
        try:
            cases.append(Case(path))
        except (ValueError, OSError) as e:
            tap.ok(False, "%s: the case file is valid" % os.path.basename(path), e)
    own = moto is None
    moto = moto or MotoServer().start()
    try:
        for case in cases:
            case.run(tap, moto)
    finally:
        if own:
            moto.stop()


def _serve_by_hand():
    """`python3 tests/lib/harness.py`: start a Stack, print how to use it, wait for Ctrl-C."""
    import argparse

    ap = argparse.ArgumentParser(description="run moto + IMDS emulator + proxy for ecs-hostd by hand")
    ap.add_argument("--cluster", default="default")
    ap.add_argument("--v1", action="store_true", help="allow IMDSv1 (default: IMDSv2 required)")
    args = ap.parse_args()
    s = Stack(cluster=args.cluster, require_v2=not args.v1).start()
    admin = s.moto.admin
    print("# ecs-hostd test stack is up; Ctrl-C stops it.")
    print("# Daemon environment:")
    for k, v in sorted(s.daemon_env().items()):
        if v is not None:
            print("export %s=%s" % (k, v))
    print("# Observer (admin) -- aws CLI against moto:")
    print("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s" % (admin.access_key_id, admin.secret_access_key, REGION))
    print("#   aws --endpoint-url %s ecs list-container-instances --cluster %s" % (s.moto.endpoint, s.cluster))
    print("# IMDS emulator %s (control: %s/_control/...); instance %s (%s, %s); role %s"
          % (s.imds.url, s.imds.url, s.instance.instance_id, s.instance.instance_type, s.instance.availability_zone, s.role))
    print("#   curl -X POST -d '{\"action\":\"terminate\"}' %s/_control/spot" % s.imds.url)
    print("# Proxy (ECS endpoint) %s; its log: curl %s/_control/log" % (s.proxy.url, s.proxy.url), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        s.stop()


if __name__ == "__main__":
    _serve_by_hand()
