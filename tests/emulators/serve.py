"""serve.py: how every emulator runs as a process: announce the port it
got (`PORT=<n>` on stdout, and atomically in --port-file), serve until
SIGTERM or SIGINT, close.  Standard library only."""
import os
import signal
import threading


def serve(httpd, port_file=None):
    port = httpd.server_address[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(port_file + ".tmp", port_file)
    print("PORT=%d" % port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=httpd.shutdown).start())
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    httpd.server_close()
    return 0
