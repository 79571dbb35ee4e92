#!/usr/bin/env bash
# Install and configure a loopback-only Postfix for tests/postfix.rs (Debian 12, as root).
#
#   127.0.0.1 / ::1 port 2525   plain SMTP; STARTTLS and AUTH offered
#                    port 2465   implicit TLS (SMTPS) with AUTH
#                    port 2587   submission: STARTTLS required, then AUTH required
#   AUTH: Cyrus SASL with sasldb, PLAIN LOGIN CRAM-MD5; users alice/alicepass, bob/bobpass
#         in the realm test.local (log in as `alice`; `alice@test.local` works too)
#   delivery: mail to alice@test.local lands in /home/alice/Maildir/new/ (bob likewise)
#   certificate: /etc/postfix/test-tls/cert.pem (CN localhost; SAN localhost,
#                mx.test.local, 127.0.0.1, ::1), self-signed
#
# Idempotent: safe to run again on a configured machine. It does not start Postfix:
# ci/postfix-start.sh does. Order: setup, start, tests, ci/postfix-stop.sh.
#
#   --install-only   install the missing packages and stop (.ci/run does this early)
#   SMTPSH_APT_UPDATED=1   the caller ran `apt-get update` already
set -euo pipefail

DOMAIN=${SMTP_TEST_DOMAIN:-test.local}
HOST=${SMTP_TEST_HOST:-mx.test.local}
TLSDIR=/etc/postfix/test-tls
export DEBIAN_FRONTEND=noninteractive

# Everything this script and ci/postfix-start.sh use. swaks and its Perl modules are only
# for checking the server by hand; iproute2 gives `ss`; adduser is used below.
PACKAGES=(postfix sasl2-bin libsasl2-modules openssl ca-certificates iproute2 adduser
          swaks libnet-ssleay-perl libio-socket-inet6-perl libauthen-sasl-perl)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string $DOMAIN"            | debconf-set-selections
  [ "${SMTPSH_APT_UPDATED:-}" = 1 ] || apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "${1:-}" = --install-only ]; then
  exit 0
fi

echo "$DOMAIN" > /etc/mailname

# --- self-signed certificate -----------------------------------------------------------
mkdir -p "$TLSDIR"
if [ ! -s "$TLSDIR/cert.pem" ] || [ ! -s "$TLSDIR/key.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -keyout "$TLSDIR/key.pem" -out "$TLSDIR/cert.pem" \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,DNS:$HOST,IP:127.0.0.1,IP:::1" 2>/dev/null
fi
chmod 600 "$TLSDIR/key.pem"
chmod 644 "$TLSDIR/cert.pem"   # the tests read it as --cafile

# --- main.cf -----------------------------------------------------------------------------
# local_header_rewrite_clients is empty so that Postfix adds no Date/Message-Id to mail from
# 127.0.0.1: the delivery test compares the stored message byte for byte.
postconf -e \
  "myhostname = $HOST" \
  "mydomain = $DOMAIN" \
  "myorigin = \$mydomain" \
  "mydestination = \$myhostname, \$mydomain, localhost.\$mydomain, localhost" \
  "inet_interfaces = loopback-only" \
  "inet_protocols = all" \
  "mynetworks = 127.0.0.0/8 [::1]/128" \
  "relayhost =" \
  "default_transport = error" \
  "relay_transport = error" \
  "home_mailbox = Maildir/" \
  "maillog_file = /var/log/postfix.log" \
  "smtpd_banner = \$myhostname ESMTP \$mail_name" \
  "smtpd_tls_cert_file = $TLSDIR/cert.pem" \
  "smtpd_tls_key_file = $TLSDIR/key.pem" \
  "smtpd_tls_security_level = may" \
  "smtpd_tls_loglevel = 1" \
  "smtpd_sasl_auth_enable = yes" \
  "smtpd_sasl_type = cyrus" \
  "smtpd_sasl_path = smtpd" \
  "cyrus_sasl_config_path = /etc/postfix/sasl" \
  "smtpd_sasl_local_domain = $DOMAIN" \
  "smtpd_sasl_security_options = noanonymous" \
  "smtpd_sasl_tls_security_options = noanonymous" \
  "broken_sasl_auth_clients = no" \
  "smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination" \
  "message_size_limit = 10240000" \
  "smtputf8_enable = yes" \
  "local_header_rewrite_clients =" \
  "smtpd_sasl_authenticated_header = yes" \
  "compatibility_level = 3.6"

# --- master.cf: no chroot (nothing copies /etc files into the jail, and a chrooted smtpd
#     can't read /etc/sasldb2); no port 25; the three high-port listeners -----------------
postconf -F '*/*/chroot = n'
postconf -MX smtp/inet 2>/dev/null || true
postconf -M  "2525/inet = 2525 inet n - n - - smtpd"
postconf -M  "2465/inet = 2465 inet n - n - - smtpd"
postconf -P  "2465/inet/smtpd_tls_wrappermode=yes" "2465/inet/syslog_name=postfix/smtps"
postconf -M  "2587/inet = 2587 inet n - n - - smtpd"
postconf -P  "2587/inet/smtpd_tls_security_level=encrypt" \
             "2587/inet/smtpd_tls_auth_only=yes" \
             "2587/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject" \
             "2587/inet/syslog_name=postfix/submission"

# --- Cyrus SASL: sasldb with plaintext secrets, so that CRAM-MD5 works ---------------------
mkdir -p /etc/postfix/sasl
cat > /etc/postfix/sasl/smtpd.conf <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN CRAM-MD5
sasldb_path: /etc/sasldb2
EOF
echo -n alicepass | saslpasswd2 -p -c -u "$DOMAIN" -f /etc/sasldb2 alice
echo -n bobpass   | saslpasswd2 -p -c -u "$DOMAIN" -f /etc/sasldb2 bob
chown root:sasl /etc/sasldb2
chmod 640 /etc/sasldb2
adduser --quiet postfix sasl            # smtpd runs as user postfix and must read sasldb2

# --- mailbox owners: unix users whose mail goes to ~/Maildir/new/ ---------------------------
for u in alice bob; do
  id "$u" >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin "$u"
done
newaliases
touch /var/log/postfix.log

postfix check
echo "postfix configured: ports 2525 (plain/STARTTLS), 2465 (smtps), 2587 (submission, TLS+AUTH required)"
