#!/usr/bin/env bash
# The Windows build, run: smtpsh.exe (x86_64-pc-windows-gnu, linked by Debian's mingw-w64)
# under Wine against this machine's `smtpsh --serve` on loopback. Two sessions, each checked
# by what arrived in the server's Maildir, not only by exit codes:
#   1. plain SMTP: EHLO, MAIL, RCPT, DATA, QUIT;
#   2. STARTTLS through SChannel (Wine implements it on GnuTLS), trusting the server's
#      certificate from PEM with --cafile.
# Wine's crypt32 matches a certificate's DNS names but not its IP addresses, so session 2
# gives --tls-name localhost (the certificate names both; Windows itself matches either).
# Run from the repository root: `bash ci/wine-smoke.sh`. Needs wine64 and gcc-mingw-w64-x86-64.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Without debug info the .exe is a fraction of the size and links in seconds; it is a smoke
# test. (Target rustflags leave the host's build scripts and proc-macros as they are.)
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-C debuginfo=0" \
  cargo build --target x86_64-pc-windows-gnu --bin smtpsh
target=${CARGO_TARGET_DIR:-target}
exe=$target/x86_64-pc-windows-gnu/debug/smtpsh.exe
cargo build --bin smtpsh

fail() {
  echo "wine-smoke: $*" >&2
  exit 1
}

version=$(bash ci/wine-run.sh "$exe" --version)
echo "$version"
[[ $version == *"(TLS: SChannel, via native-tls)"* ]] || fail "--version does not name SChannel: $version"

"$target/debug/smtpsh" --serve 127.0.0.1:0 --cert-out "$work/class.pem" --maildir "$work/md" \
  >"$work/serve.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^smtpsh practice server on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/serve.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "smtpsh --serve did not start: $(cat "$work/serve.log")"

session() { # NAME SUBJECT ARGS...: send one message with subject SUBJECT
  local name=$1 subject=$2
  shift 2
  printf 'EHLO wine.example\nMAIL FROM:<alice@example.org>\nRCPT TO:<bob@example.org>\nDATA\nSubject: %s\n\nsent by smtpsh.exe under Wine\n.\n:expect 250\nQUIT\n' \
    "$subject" >"$work/$name.smtp"
  bash ci/wine-run.sh "$exe" --ehlo wine.example --script "Z:$work/$name.smtp" "$@" \
    "127.0.0.1:$port" | tee "$work/$name.out"
}

# Wine paths: the Linux path /a/b is Z:/a/b inside Wine (forward slashes work too).
session plain "plain from Wine" || fail "the plain session failed"
session tls "STARTTLS from Wine" --starttls --cafile "Z:$work/class.pem" --tls-name localhost ||
  fail "the STARTTLS session failed"
grep -q '^\* TLS TLSv1\.[23] TLS_' "$work/tls.out" || fail "no TLS summary line"
grep -q '^\*   verified for localhost$' "$work/tls.out" || fail "the certificate was not verified"

# What arrived: two messages, the first over plain ESMTP, the second over ESMTPS (the
# Maildir keeps them as they came, CRLF line ends included).
shopt -s nullglob
messages=("$work"/md/new/*)
[ "${#messages[@]}" -eq 2 ] || fail "expected 2 messages in the Maildir, found ${#messages[@]}"
grep -l $'^Subject: plain from Wine\r$' "${messages[@]}" | xargs grep -q ' with ESMTP id ' ||
  fail "the plain message did not arrive as sent"
grep -l $'^Subject: STARTTLS from Wine\r$' "${messages[@]}" | xargs grep -q ' with ESMTPS id ' ||
  fail "the STARTTLS message did not arrive over TLS"
echo "wine-smoke: smtpsh.exe sent 2 messages to smtpsh --serve, one over STARTTLS"
