#!/usr/bin/bash
# SPDX-License-Identifier: Apache-2.0
# One request of the test function (function.yaml says what each mode is).
# A violation that fnwarden kills must find the process still there: the
# handler waits on a FIFO (/app/wait, opened read-write so the open does
# not block) instead of exiting.
set -u
wait_to_be_killed() { read -r -t 20 _ <>/app/wait; echo "still alive after 20 s"; exit 3; }
case $1 in
  ok)
    read -r greeting </app/data.txt
    body=$(/usr/bin/cat /app/data.txt)
    # The sidecar's port: allowed by the policy; nothing listens there.
    if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then peer=connected; else peer=refused-by-peer; fi
    echo "ok: $greeting $body $peer"
    ;;
  file)
    read -r _ </app/secret/token
    echo "read the token"
    wait_to_be_killed
    ;;
  exec)
    exec /usr/bin/sleep 20
    ;;
  gap)
    echo waiting
    until [[ -e /requests/go ]]; do read -r -t 0.2 _ <>/app/wait; done
    ;&
  net)
    # bash prints the connect's error ("Operation not permitted").
    if (exec 3<>/dev/tcp/192.0.2.1/80) 2>&1; then echo "connected"; exit 0; fi
    exit 1
    ;;
esac
