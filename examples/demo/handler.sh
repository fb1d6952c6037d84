#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A tiny stand-in for a FaaS handler: it answers a request the way its policy
# (rules/examples/demo.yaml) allows, then does one thing the policy does not:
# it creates a directory (mkdir is not in the allowlist).
request=${1:-'{"name":"world"}'}
echo "handler: got request $request"
host=$(cat /etc/hostname)
echo "handler: answering from $host at $(date -u +%H:%M:%S)"
echo "handler: now creating a directory, which the policy does not allow"
mkdir "${TMPDIR:-/tmp}/fnwarden-demo-$$"
rmdir "${TMPDIR:-/tmp}/fnwarden-demo-$$" 2>/dev/null
echo "handler: done"
