#!/usr/bin/env python3
"""The metrics endpoint behind ECS_HOSTD_METRICS_WEB_CONFIG, node_exporter's
web configuration file, on a real host stack (moto, the IMDS emulator).

A CA, a server certificate and client certificates are made with the openssl
command line in the Stack's directory; bcrypt hashes with Python's crypt.
https verifies against the CA and serves /metrics; plain http to the TLS port
gets nothing; every route wants basic auth (401 with WWW-Authenticate, the
right password 200, a full bcrypt queue 429); a real Prometheus scrapes
through TLS and basic auth; the Spot watcher keeps its polls while a client
hammers wrong passwords (bcrypt runs on the worker, never on the loop);
client certificates are required and verified when the file says so; a key
file others can read and a YAML error are refused by --check-config at their
file:line; a SIGHUP with a broken file keeps the old endpoint serving."""
import base64
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import harness  # noqa: E402

USER, PASSWORD = "prometheus", "scrape-me-7"
REALM = 'Basic realm="ecs-hostd"'


def bcrypt(password, cost=10):
    """A $2b$ hash: Python's crypt (libxcrypt) when it is there, else htpasswd."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))
    except ImportError:
        out = subprocess.run(["htpasswd", "-nbBC", str(cost), "", password], capture_output=True, text=True,
                             check=True).stdout
        return out.strip().lstrip(":")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d):
    """ca.crt, server.crt/key (127.0.0.1), client.crt/key (from the CA),
    stranger.crt/key (self-signed): EC P-256, keys mode 0600."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-subj", "/CN=hostd test CA", "-days", "2")
    with open(p("san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ext in (("server", ["-extfile", p("san.ext")]), ("client", [])):
        openssl("req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-out", p(name + ".crt"), "-days", "2", *ext)
    openssl("req", "-x509", *ec, "-keyout", p("stranger.key"), "-out", p("stranger.crt"), "-subj", "/CN=stranger",
            "-days", "2")
    for name in ("ca", "server", "client", "stranger"):
        os.chmod(p(name + ".key"), 0o600)
    return p


def https(port, path="/metrics", ca=None, auth=None, cert=None, timeout=10.0):
    """(status, headers, body) of one GET over TLS verified against ca (None:
    the system's CAs); (0, {}, why) when TLS or the connection fails."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(*cert)
    headers = {"Authorization": "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()} if auth else {}
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        return 0, {}, repr(e)
    finally:
        c.close()


def sample(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def write_web(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def web_config(p, users=True, client_auth=None):
    text = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
    if client_auth:
        text += "  client_ca_file: ca.crt\n  client_auth_type: %s\n" % client_auth
    text += "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
    if users:
        text += "basic_auth_users:\n  %s: %s\n  other: %s\n" % (USER, bcrypt(PASSWORD), bcrypt("not-this-one"))
    return text


def tls_and_auth(tap, d, p):
    port, ca = d.metrics_port, p("ca.crt")
    status, hdrs, body = https(port, ca=ca, auth=(USER, PASSWORD))
    tap.ok(status == 200 and b"ecs_hostd_build_info" in body and hdrs.get("X-Content-Type-Options") == "nosniff",
           "https verified against the CA, right credentials: 200 with the metrics and the file's header",
           (status, hdrs, body[:200]))
    status, _, why = https(port, ca=None, auth=(USER, PASSWORD))
    tap.ok(status == 0 and "CERTIFICATE_VERIFY_FAILED" in why,
           "a client that does not trust the CA refuses the certificate (it is the configured one)", why)
    tap.ok(d.http("/metrics")[0] == 0, "plain http to the TLS port gets no HTTP answer")
    for path in ("/metrics", "/healthz", "/", "/v1/metadata", "/nowhere"):
        status, hdrs, _ = https(port, path, ca=ca)
        tap.ok(status == 401 and hdrs.get("WWW-Authenticate") == REALM,
               "%s without credentials: 401 with %s" % (path, REALM), (status, hdrs))
    for who, creds in (("a wrong password", (USER, "nope")), ("an unknown user", ("mallory", PASSWORD)),
                       ("another user's password", ("other", PASSWORD)), ("an empty password", (USER, ""))):
        status, hdrs, _ = https(port, ca=ca, auth=creds)
        tap.ok(status == 401 and hdrs.get("WWW-Authenticate") == REALM, "%s: 401" % who, (status, hdrs))
    status, _, body = https(port, "/healthz", ca=ca, auth=(USER, PASSWORD))
    tap.ok(status in (200, 503) and body.startswith((b"ok", b"unhealthy")), "/healthz with credentials answers",
           (status, body))
    out = d.output()
    tap.ok(PASSWORD not in out and "scrape-me" not in out and "$2b$" not in out,
           "no password or hash in the daemon's log")


def prometheus_scrapes(tap, d, p):
    with harness.Prometheus(["127.0.0.1:%d" % d.metrics_port], scheme="https",
                            tls_config={"ca_file": p("ca.crt")},
                            basic_auth={"username": USER, "password": PASSWORD}) as prom:
        health = prom.wait_scraped()
        tap.ok(health and health[0][1] == "up" and health[0][2] == "" and health[0][0].startswith("https://"),
               "Prometheus scrapes through TLS and basic auth: target up", health)
        got = prom.query('ecs_hostd_build_info{job="hostd"}')
        tap.ok(list(got.values()) == [1.0], "and queries the daemon's series", got)
    with harness.Prometheus(["127.0.0.1:%d" % d.metrics_port], scheme="https", tls_config={"ca_file": p("ca.crt")},
                            basic_auth={"username": USER, "password": "wrong"}) as prom:
        try:
            health = harness.wait_until(lambda: [h for h in prom.targets_health() if h[1] == "down"], 30,
                                        what="the target down")
        except TimeoutError:
            health = prom.targets_health()
        tap.ok(health and health[0][1] == "down" and "401" in health[0][2],
               "with a wrong password Prometheus sees 401: target down", health)


def polls(d, p):
    status, _, body = https(d.metrics_port, ca=p("ca.crt"), auth=(USER, PASSWORD))
    text = body.decode() if status == 200 else ""
    return sample(text, "ecs_hostd_watcher_polls_total"), sample(text, "ecs_hostd_watcher_polls_skipped_total")


def hammer(port, ca, stop, counts):
    """Wrong passwords as fast as answers come, until stop is set."""
    n = 0
    while not stop.is_set():
        n += 1
        status = https(port, ca=ca, auth=(USER, "wrong-%d" % n), timeout=5)[0]
        counts[status] = counts.get(status, 0) + 1


def watcher_unaffected(tap, d, p):
    """Over the same few seconds, quiet and hammered: the watcher polls at
    its 1 s rhythm either way and skips none; the hammering was real (401s
    from bcrypt, 429s when the queue was full)."""
    span = 5.0
    harness.wait_until(lambda: (polls(d, p)[0] or 0) > 2, 30, what="the watcher polls")
    before = polls(d, p)
    time.sleep(span)
    quiet = polls(d, p)
    stop, counts, threads = threading.Event(), {}, []
    for _ in range(6):
        threads.append(threading.Thread(target=hammer, args=(d.metrics_port, p("ca.crt"), stop, counts)))
        threads[-1].start()
    time.sleep(1.0)
    start = polls(d, p)
    time.sleep(span)
    end = polls(d, p)
    # A reload stops the endpoint with connections suspended on bcrypt:
    # each must be resumed first (libmicrohttpd aborts otherwise).
    mark = d.mark()
    d.send_signal("HUP")
    d.wait_log(r"Serving /metrics.*\(https, basic auth\)", start=mark, timeout=30)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    tap.ok(d.alive(), "a reload while password checks are in flight: the daemon goes on")
    quiet_polls, busy_polls = quiet[0] - before[0], end[0] - start[0]
    tap.ok(counts.get(401, 0) >= 10 and counts.get(429, 0) >= 1,
           "the hammering was real: wrong passwords refused (401), the bcrypt queue full at times (429)", counts)
    tap.ok(end[1] == before[1] == 0, "no poll skipped, quiet or hammered", (before, end))
    tap.ok(quiet_polls - 1 <= busy_polls <= quiet_polls + 1 and busy_polls >= span - 1,
           "polls over %.0f s: as many hammered as quiet (about one a second)" % span, (quiet_polls, busy_polls))
    status = https(d.metrics_port, ca=p("ca.crt"), auth=(USER, PASSWORD))[0]
    tap.ok(status == 200, "the right password still works after the hammering", status)


def broken_files(tap, d, p, web):
    """--check-config and SIGHUP on broken files; the old endpoint keeps serving."""
    good = open(web).read()
    write_web(web, good + "  third: [\n")
    lines = good.count("\n") + 1
    r = d.check_config()
    tap.ok(r.returncode == 1 and re.search(r"^%s:%d: invalid YAML: " % (re.escape(web), lines + 1), r.stderr, re.M),
           "--check-config: a YAML error at its file:line, exit 1", (r.returncode, r.stderr))
    mark = d.mark()
    d.send_signal("HUP")
    d.wait_log(r"Reloading the configuration failed; keeping the previous one", start=mark)
    tap.ok(re.search(r"web\.yml:\d+: invalid YAML", d.output()[mark:]), "SIGHUP: the error is logged",
           d.output()[mark:][-600:])
    status = https(d.metrics_port, ca=p("ca.crt"), auth=(USER, PASSWORD))[0]
    tap.ok(status == 200, "and the previous endpoint keeps serving, TLS and auth as before", status)

    write_web(web, good)
    os.chmod(p("server.key"), 0o644)
    r = d.check_config()
    want = "%s:3: tls_server_config: key_file %s: it is readable by everyone (mode 0644); a private key must be " \
           "readable by its owner only (chmod 600)" % (web, p("server.key"))
    tap.ok(r.returncode == 1 and want in r.stderr and "PRIVATE KEY" not in r.stderr,
           "--check-config: a key file others can read is refused at key_file's line", r.stderr)
    os.chmod(p("server.key"), 0o600)
    r = d.check_config()
    tap.ok(r.returncode == 0 and "ECS_HOSTD_METRICS_WEB_CONFIG=%s" % web in r.stdout,
           "--check-config: fixed, it passes", (r.returncode, r.stderr[-400:]))


def client_certs(tap, d, p, web):
    """RequireAndVerifyClientCert, switched to by a SIGHUP (which reads the
    files again): only a certificate from client_ca_file gets through."""
    write_web(web, web_config(p, users=False, client_auth="RequireAndVerifyClientCert"))
    mark = d.mark()
    d.send_signal("HUP")
    d.wait_log(r"Serving /metrics, /v1/metadata and /healthz on 127\.0\.0\.1:%d \(https\)" % d.metrics_port,
               start=mark, timeout=30)
    ca, port = p("ca.crt"), d.metrics_port
    status, _, why = https(port, ca=ca)
    tap.ok(status == 0, "no client certificate: the handshake fails", why)
    status, _, why = https(port, ca=ca, cert=(p("stranger.crt"), p("stranger.key")))
    tap.ok(status == 0, "a certificate from another CA: the handshake fails", why)
    status, _, body = https(port, ca=ca, cert=(p("client.crt"), p("client.key")))
    tap.ok(status == 200 and b"ecs_hostd_build_info" in body, "the CA's client certificate: 200", (status, body[:100]))

    write_web(web, web_config(p, users=False, client_auth="VerifyClientCertIfGiven"))
    mark = d.mark()
    d.send_signal("HUP")
    d.wait_log(r"Serving /metrics.* \(https\)", start=mark, timeout=30)
    tap.eq([https(port, ca=ca)[0], https(port, ca=ca, cert=(p("stranger.crt"), p("stranger.key")))[0],
            https(port, ca=ca, cert=(p("client.crt"), p("client.key")))[0]], [200, 403, 200],
           "VerifyClientCertIfGiven: none 200, a stranger's 403, the CA's 200")


def main(tap):
    with harness.Stack(cluster="default") as s:
        p = make_pki(os.path.join(s.tmpdir, "pki"))
        web = p("web.yml")
        write_web(web, web_config(p))
        d = s.start_daemon(config={"ECS_HOSTD_MODE": "register", "ECS_HOSTD_METRICS_WEB_CONFIG": web})
        d.wait_log(r"Serving /metrics, /v1/metadata and /healthz on 127\.0\.0\.1:%d \(https, basic auth\)"
                   % d.metrics_port)
        d.wait_log(r"Joined ECS cluster", timeout=90)
        tap.ok("reachable from other hosts" not in d.output(), "no plain-http warning")
        tls_and_auth(tap, d, p)
        prometheus_scrapes(tap, d, p)
        watcher_unaffected(tap, d, p)
        broken_files(tap, d, p, web)
        client_certs(tap, d, p, web)
        tap.ok(d.stop() == 0, "SIGTERM stops it")
        unexpected = [line for line in re.findall(r"^.*\[(?:crit|error)\].*$", d.output(), re.M)
                      if not re.search(r"invalid YAML|Reloading the configuration failed", line)]
        tap.ok(not unexpected, "no error logged but the broken file's", unexpected)
        shutil.rmtree(os.path.dirname(web), ignore_errors=True)
    tap.ok(not harness.children_left(), "no process is left running", harness.children_left())


harness.run_tests(main)
