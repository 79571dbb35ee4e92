#!/usr/bin/env bash
# Start the Postfix configured by ci/postfix-setup.sh, without systemd, and wait until its
# three listeners (2525, 2465, 2587 on 127.0.0.1) accept connections. Idempotent: a Postfix
# already running (for example one started by the package's postinst) is reloaded instead.
# The master's pid is copied to ${MTA_STATE:-/tmp/smtpsh-mta}/postfix.pid for postfix-stop.sh.
set -euo pipefail

STATE=${MTA_STATE:-/tmp/smtpsh-mta}
PORTS=(2525 2465 2587)
mkdir -p "$STATE"

# True when something listens on 127.0.0.1:$1. Prefers ss (no connection is made, so
# Postfix logs nothing); bash's /dev/tcp is the fallback on a machine without iproute2.
listening() {
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

if postfix status >/dev/null 2>&1; then
  postfix reload
else
  postfix start                     # daemonizes; returns once the master's init succeeded
fi

for port in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do         # up to 10 s per port
    listening "$port" && break
    sleep 0.1
  done
  if ! listening "$port"; then
    echo "postfix-start: nothing listens on port $port" >&2
    tail -20 /var/log/postfix.log >&2 || true
    exit 1
  fi
done

PID=$(tr -d ' ' < /var/spool/postfix/pid/master.pid)
echo "$PID" > "$STATE/postfix.pid"
echo "postfix running: master pid $PID, ports ${PORTS[*]}"
