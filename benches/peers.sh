#!/usr/bin/env bash
# Times smtpsh against its peers (swaks, Python's smtplib, a raw pipelined Python sender) on
# loopback against Postfix's smtp-sink, on the three workloads of docs/performance.md, and
# prints medians and peak memory; then the DATA encoder's throughput (criterion) and, for
# each target of issue 8, the value measured in this run and whether it is met. Needs: a
# release build, hyperfine, swaks, python3, smtp-sink and GNU time (Debian: hyperfine swaks
# postfix time), and about 1.2 GB free in $TMPDIR for the 1 GB message. Usage:
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
PY
# One big message of SIZE octets as NAME.eml, and NAME.smtp that sends it with :send.
cat > "$WORK/message.py" <<'PY'
import sys
w, name, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
block = (b"y" * 76 + b"\n") * 1024
with open(f"{w}/{name}.eml", "wb") as f:
    f.write(b"Subject: %s\n\n" % name.encode())
    for _ in range(size // len(block)):
        f.write(block)
open(f"{w}/{name}.smtp", "w").write(
    f"EHLO bench.test\nMAIL FROM:<a@bench.test>\nRCPT TO:<b@bench.test>\n:send {w}/{name}.eml\nQUIT\n")
PY
python3 "$WORK/message.py" "$WORK" big $((100 * 1024 * 1024))

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
  echo "$peak" > "$WORK/$name.peak"
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

echo "== peak memory whatever the message size: one 1 GB message through :send (one run)"
python3 "$WORK/message.py" "$WORK" huge 1000000000
/usr/bin/time -f '%M' -o "$WORK/smtpsh_1gb.peak" "$BIN" --script "$WORK/huge.smtp" "$T" >/dev/null 2>&1
rm -f "$WORK/huge.eml"
printf '%-28s                        peak %8.1f MiB\n' smtpsh_1gb \
  "$(awk '{ print $1 / 1024 }' "$WORK/smtpsh_1gb.peak")" | tee -a "$WORK/results.txt"

echo "== start-up to the prompt, no connection (pseudo-terminal)"
python3 - "$BIN" "$WORK/startup" <<'PY' | tee -a "$WORK/results.txt"
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
open(sys.argv[2], "w").write(str(statistics.median(times)))
PY

echo "== DATA encoder, one core (criterion, benches/protocol.rs, --quick)"
cargo bench -q --bench protocol -- --quick 'data_encoder/lf_lines/262144' >/dev/null 2>&1 \
  || { echo "cargo bench failed" >&2; exit 1; }

echo "== targets (issue 8), each measured in this run"
python3 - "$WORK" "$PWD/target/criterion/data_encoder/lf_lines/262144/new" <<'PY'
import json, sys
w, crit = sys.argv[1], sys.argv[2]
m = lambda n: json.load(open(f"{w}/{n}.json"))["results"][0]["median"]
peak = lambda n: int(open(f"{w}/{n}.peak").read()) / 1024
ns = json.load(open(f"{crit}/estimates.json"))["median"]["point_estimate"]
nbytes = json.load(open(f"{crit}/benchmark.json"))["throughput"]["Bytes"]
rows = [
  ("short session / swaks", m("smtpsh_short") / m("swaks_short"), "<=", 0.15, "x"),
  ("1,000 msgs / smtplib", m("smtpsh_bulk") / m("smtplib_bulk"), "<=", 0.5, "x"),
  ("1,000 msgs --pipeline / raw pipelined", m("smtpsh_bulk_pipeline") / m("raw_bulk"), "<=", 1.2, "x"),
  ("100 MB / smtplib", m("smtpsh_big") / m("smtplib_big"), "<=", 0.5, "x"),
  ("100 MB peak memory", peak("smtpsh_big"), "<=", 16, "MiB"),
  ("1 GB peak memory", peak("smtpsh_1gb"), "<=", 16, "MiB"),
  ("start-up to the prompt", float(open(f"{w}/startup").read()) * 1000, "<=", 10, "ms"),
  ("DATA encoder (LF text, 256 KiB pieces)", nbytes / ns, ">=", 1, "GB/s"),
]
for name, v, op, limit, unit in rows:
    ok = v <= limit if op == "<=" else v >= limit
    print(f"{name:<40} {v:9.3f} {unit:<4}  target {op} {limit:<5} {'met' if ok else 'NOT MET'}")
ctx = m("smtpsh_bulk") / (1000 * m("swaks_one_message"))
print(f"{'1,000 msgs / swaks (x1000 processes)':<40} {ctx:9.3f} x     (context)")
PY
