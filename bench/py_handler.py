#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A "real function" for bench/run.sh (workload pyhandler): a Python
handler that, per request, does what a small FaaS handler does:

  - reads its configuration (open, read, close of a JSON file),
  - parses the request and writes a result file (create, write, close),
    then removes it,
  - calls a downstream service over TCP on loopback (connect, send,
    receive, close),

and prints the mean ns per request over N requests (after N/10 warm-up),
as bench/syscall_loop does for its loops. The downstream service is a
thread of the same process, so the whole function is in one cgroup, as a
handler and its sidecar-free client are.

usage: py_handler.py N
"""
import json
import os
import socket
import sys
import tempfile
import threading
import time


def serve(listener: socket.socket) -> None:
    while True:
        conn, _ = listener.accept()
        with conn:
            data = conn.recv(4096)
            conn.sendall(data.upper())


def handle(request: bytes, config_path: str, scratch: str, port: int) -> bytes:
    with open(config_path, "rb") as f:
        config = json.load(f)
    body = json.loads(request)
    result_path = os.path.join(scratch, f"result-{body['id']}.json")
    with open(result_path, "w") as f:
        json.dump({"greeting": config["greeting"], "name": body["name"]}, f)
    os.unlink(result_path)
    with socket.create_connection(("127.0.0.1", port)) as downstream:
        downstream.sendall(body["name"].encode())
        reply = downstream.recv(4096)
    return json.dumps({"ok": True, "downstream": reply.decode()}).encode()


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="fnw-pyhandler-") as scratch:
        config_path = os.path.join(scratch, "config.json")
        with open(config_path, "w") as f:
            json.dump({"greeting": "hello"}, f)
        requests = [json.dumps({"id": i, "name": f"caller-{i}"}).encode() for i in range(n)]
        for request in requests[: max(1, n // 10)]:
            handle(request, config_path, scratch, port)
        start = time.monotonic_ns()
        for request in requests:
            handle(request, config_path, scratch, port)
        elapsed = time.monotonic_ns() - start
    print(f"{elapsed / n:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
