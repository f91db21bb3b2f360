#!/usr/bin/env python3
"""Run a program with a journal of its own: the journald native socket
(/run/systemd/journal/socket, where sd_journal_sendv writes) served by this
script in a private mount namespace, so what the program sends with its
structured fields can be checked, on a machine with or without journald.

    unshare -m --propagation private journal_catcher.py OUT -- PROGRAM ARGS...

Mounts a tmpfs on /run (in the private namespace only), binds the socket,
starts PROGRAM with JOURNAL_STREAM naming its stderr (as systemd does, so
the program takes the journal), writes every entry to OUT as a JSON line
and echoes each MESSAGE to stderr as the program's stderr log would read,
so a harness reading the log sees the same lines.  Signals are passed on;
it exits with the program's status."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading

PRIO = {0: "crit", 1: "crit", 2: "crit", 3: "error", 4: "warn", 5: "notice", 6: "info", 7: "debug"}


def parse(data):
    """A native-protocol datagram: FIELD=value lines, or FIELD\\n<le64 size><value>\\n."""
    entry, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            break
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            size = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            k, v = line, data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        entry[k.decode()] = v.decode(errors="replace")
    return entry


def serve(sock, out):
    while True:
        try:
            data = sock.recv(1 << 20)
        except OSError:
            return
        e = parse(data)
        out.write(json.dumps(e) + "\n")
        out.flush()
        if "MESSAGE" in e:
            sys.stderr.write("ecs-hostd[%s]: %s\n" % (PRIO.get(int(e.get("PRIORITY", "6")), "info"), e["MESSAGE"]))
            sys.stderr.flush()


def main():
    out_path, argv = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    subprocess.run(["mount", "-t", "tmpfs", "journal-catcher", "/run"], check=True)
    os.makedirs("/run/systemd/journal")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/run/systemd/journal/socket")
    out = open(out_path, "a")
    threading.Thread(target=serve, args=(sock, out), daemon=True).start()
    st = os.fstat(2)
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    child = subprocess.Popen(argv, env=env)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    rc = child.wait()
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
