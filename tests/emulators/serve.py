"""serve.py: what every emulator shares: JSON answers, and how it runs as a process: announce the port it
got (`PORT=<n>` on stdout, and atomically in --port-file), serve until
SIGTERM or SIGINT, close.  Standard library only."""
import json
import os
import signal
import threading


def reply_json(handler, status, obj, indent=None):
    """Answer a request with a JSON document (control APIs, fake agents)."""
    data = json.dumps(obj, indent=indent).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


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
