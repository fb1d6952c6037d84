# SPDX-License-Identifier: Apache-2.0
# The Python function of learn_roundtrip_test.sh: a stdlib HTTP handler
# (PyPI is not reachable here) that does what a small function does.
#
#   GET /?name=X      -> "hello X, <greeting.txt>": reads DATA/greeting.txt,
#                        writes and deletes a scratch file in SPOOL (a name
#                        that differs every request), opens a TCP connection
#                        to its own port (an egress peer)
#   GET /read?path=P  -> the first line of P, or "read failed: ERRNO"
#   GET /connect?port=N -> "connected", or "connect failed: ERRNO"
#
# The last two are the steps outside the learned set: never exercised
# while learning.
# usage: python3 -B learn_py_handler.py PORT DATA SPOOL
import http.server
import itertools
import os
import socket
import sys
import urllib.parse

port, data, spool = int(sys.argv[1]), sys.argv[2], sys.argv[3]
counter = itertools.count()


def hello(query):
    with open(os.path.join(data, "greeting.txt")) as f:
        greeting = f.read().strip()
    scratch = os.path.join(spool, f"req-{os.getpid()}-{next(counter)}.tmp")
    with open(scratch, "w") as f:
        f.write(greeting)
    os.unlink(scratch)
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    return f"hello {query.get('name', ['world'])[0]}, {greeting}"


def read(query):
    try:
        with open(query["path"][0]) as f:
            return f.readline().strip()
    except OSError as err:
        return f"read failed: {err.errno}"


def connect(query):
    try:
        with socket.create_connection(("127.0.0.1", int(query["port"][0])), timeout=5):
            return "connected"
    except OSError as err:
        return f"connect failed: {err.errno}"


ROUTES = {"/": hello, "/read": read, "/connect": connect}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        route = ROUTES.get(url.path)
        body = (route(urllib.parse.parse_qs(url.query)) if route else "no such route") + "\n"
        self.send_response(200 if route else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
