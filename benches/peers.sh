#!/usr/bin/env bash
# Times smtpsh against its peers (swaks, Python's smtplib, a raw pipelined Python sender) on
# loopback against Postfix's smtp-sink, on the three workloads of docs/performance.md, and
# prints medians, peak memory and ratios. Needs: a release build, hyperfine, swaks, python3,
# smtp-sink (Debian: hyperfine swaks postfix). Usage:
#
#   cargo build --release && bash benches/peers.sh [RUNS]
#
# Everything runs on 127.0.0.1; the sink and temporary files are removed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-10}
BIN=${SMTPSH_BIN:-$PWD/target/release/smtpsh}
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release first" >&2; exit 2; }
for t in hyperfine swaks python3 /usr/sbin/smtp-sink /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install hyperfine swaks postfix time)" >&2; exit 2; }
done

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$PORT" 1000 &
SINK=$!
trap 'rc=$?; kill $SINK 2>/dev/null; wait $SINK 2>/dev/null || true; rm -rf "$WORK"; exit $rc' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

# --- workloads -------------------------------------------------------------------------
python3 - "$WORK" <<'PY'
import sys, os
w = sys.argv[1]
open(f"{w}/short.smtp", "w").write("EHLO bench.test\nQUIT\n")
body = "x" * 1000
s = "EHLO bench.test\n"
for i in range(1000):
    s += f"MAIL FROM:<a@bench.test>\nRCPT TO:<b@bench.test>\nDATA\nSubject: {i}\n\n{body}\n.\n"
s += "QUIT\n"
open(f"{w}/bulk.smtp", "w").write(s)
line = b"y" * 76 + b"\n"
with open(f"{w}/big.eml", "wb") as f:
    f.write(b"Subject: big\n\n")
    for _ in range(100 * 1024 * 1024 // len(line)):
        f.write(line)
open(f"{w}/big.smtp", "w").write(
    f"EHLO bench.test\nMAIL FROM:<a@bench.test>\nRCPT TO:<b@bench.test>\n:send {w}/big.eml\nQUIT\n")
PY

cat > "$WORK/smtplib_short.py" <<PY
import smtplib
s = smtplib.SMTP("127.0.0.1", $PORT); s.ehlo("bench.test"); s.quit()
PY
cat > "$WORK/smtplib_bulk.py" <<PY
import smtplib
s = smtplib.SMTP("127.0.0.1", $PORT); s.ehlo("bench.test")
for i in range(1000):
    s.sendmail("a@bench.test", ["b@bench.test"], "Subject: %d\r\n\r\n%s\r\n" % (i, "x" * 1000))
s.quit()
PY
cat > "$WORK/smtplib_big.py" <<PY
import smtplib
s = smtplib.SMTP("127.0.0.1", $PORT); s.ehlo("bench.test")
s.sendmail("a@bench.test", ["b@bench.test"], open("$WORK/big.eml", "rb").read())
s.quit()
PY
# A raw pipelined sender: MAIL+RCPT+DATA in one write, then the body, as fast as Python goes.
cat > "$WORK/raw_bulk.py" <<PY
import socket
s = socket.create_connection(("127.0.0.1", $PORT)); f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if l[3:4] != b"-": return l
reply(); s.sendall(b"EHLO bench.test\r\n"); reply()
body = b"x" * 1000
for i in range(1000):
    s.sendall(b"MAIL FROM:<a@bench.test>\r\nRCPT TO:<b@bench.test>\r\nDATA\r\n")
    reply(); reply(); reply()
    s.sendall(b"Subject: %d\r\n\r\n%s\r\n.\r\n" % (i, body)); reply()
s.sendall(b"QUIT\r\n"); reply()
PY

T="127.0.0.1:$PORT"
run() { # name, runs, command...
  local name=$1 runs=$2; shift 2
  hyperfine -N --warmup 1 --runs "$runs" --export-json "$WORK/$name.json" "$*" >/dev/null 2>&1 \
    || hyperfine --warmup 1 --runs "$runs" --export-json "$WORK/$name.json" "$*" >/dev/null
  local peak
  peak=$( { /usr/bin/time -f '%M' sh -c "$* >/dev/null 2>&1" ; } 2>&1 | tail -n1 )
  python3 - "$WORK/$name.json" "$name" "$peak" <<'PY' | tee -a "$WORK/results.txt"
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"{sys.argv[2]:<28} median {r['median']*1000:10.1f} ms   peak {int(sys.argv[3])/1024:8.1f} MiB")
PY
}

echo "== short session: greeting, EHLO, QUIT (whole process)"
run smtpsh_short "$RUNS" "$BIN --script $WORK/short.smtp $T"
run swaks_short "$RUNS" "swaks --server $T --quit-after EHLO --helo bench.test"
run smtplib_short "$RUNS" "python3 $WORK/smtplib_short.py"

echo "== 1,000 x 1 KB messages in one session"
run smtpsh_bulk "$RUNS" "$BIN --script $WORK/bulk.smtp $T"
run smtpsh_bulk_pipeline "$RUNS" "$BIN --pipeline --script $WORK/bulk.smtp $T"
run smtplib_bulk "$RUNS" "python3 $WORK/smtplib_bulk.py"
run raw_bulk "$RUNS" "python3 $WORK/raw_bulk.py"
# swaks sends one message per process: time 20 and scale to 1,000.
run swaks_one_message "$RUNS" "swaks --server $T --from a@bench.test --to b@bench.test --helo bench.test --body xxx"

echo "== one 100 MB message"
run smtpsh_big 5 "$BIN --script $WORK/big.smtp $T"
run smtplib_big 3 "python3 $WORK/smtplib_big.py"
run swaks_big 1 "swaks --server $T --from a@bench.test --to b@bench.test --helo bench.test --data @$WORK/big.eml"

echo "== start-up to the prompt, no connection (pseudo-terminal)"
python3 - "$BIN" <<'PY' | tee -a "$WORK/results.txt"
import os, pty, sys, time, statistics, select
times = []
for _ in range(30):
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["NO_COLOR"] = "1"
        os.execv(sys.argv[1], [sys.argv[1], "--no-history"])
    buf = b""
    while b"(not connected)> " not in buf:
        r, _, _ = select.select([fd], [], [], 5)
        if not r: raise SystemExit("no prompt")
        buf += os.read(fd, 4096)
    times.append(time.perf_counter() - t0)
    os.write(fd, b"\x04"); os.waitpid(pid, 0); os.close(fd)
print(f"{'startup_to_prompt':<28} median {statistics.median(times)*1000:10.1f} ms")
PY

echo "== ratios (targets from issue 8)"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
m = lambda n: json.load(open(f"{w}/{n}.json"))["results"][0]["median"]
rows = [
  ("short session / swaks", m("smtpsh_short") / m("swaks_short"), "<= 0.15"),
  ("1,000 msgs / smtplib", m("smtpsh_bulk") / m("smtplib_bulk"), "<= 0.5"),
  ("1,000 msgs --pipeline / raw pipelined", m("smtpsh_bulk_pipeline") / m("raw_bulk"), "<= 1.2"),
  ("1,000 msgs / swaks (x1000 processes)", m("smtpsh_bulk") / (1000 * m("swaks_one_message")), "(context)"),
  ("100 MB / smtplib", m("smtpsh_big") / m("smtplib_big"), "<= 0.5"),
]
for name, r, target in rows:
    print(f"{name:<40} {r:8.3f}   target {target}")
PY
