#!/usr/bin/env bash
# Stop the Postfix started by ci/postfix-start.sh and wait until its master has gone.
# Safe to run when Postfix is not running (it is called from an exit trap).
set -uo pipefail

STATE=${MTA_STATE:-/tmp/smtpsh-mta}

if postfix status >/dev/null 2>&1; then
  PID=$(tr -d ' ' < /var/spool/postfix/pid/master.pid 2>/dev/null || true)
  postfix stop
  if [ -n "$PID" ]; then
    for _ in $(seq 1 100); do       # up to 10 s
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$PID" 2>/dev/null; then
      echo "postfix-stop: master $PID still running" >&2
      exit 1
    fi
  fi
fi
rm -f "$STATE/postfix.pid"
echo "postfix stopped"
