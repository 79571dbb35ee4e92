complete -c smtpsh -s p -l port -d 'Port (overrides one in TARGET)' -r
complete -c smtpsh -l source -d 'Local address to connect from (bind before connecting)' -r
complete -c smtpsh -l mx -d 'Look up DOMAIN\'s MX records, list them, connect to the most preferred' -r
complete -c smtpsh -l dns-server -d 'DNS server for --mx, --audit, :dane and :mta-sts (default: the system\'s resolver)' -r
complete -c smtpsh -l trust-anchor -d 'DNSSEC trust anchor to trust besides the root\'s keys, for :dane and --audit' -r -F
complete -c smtpsh -l audit -d 'Audit DOMAIN\'s mail servers: every MX host and address, one table' -r
complete -c smtpsh -l proxy -d 'Reach the server through a SOCKS5 proxy: socks5://HOST:PORT or socks5h://HOST:PORT' -r
complete -c smtpsh -l cafile -d 'PEM CA certificate(s) to trust, besides the system\'s' -r -F
complete -c smtpsh -l tls-cert -d 'PEM client certificate to present when the server asks for one (RFC 8446 §4.4.2)' -r -F
complete -c smtpsh -l tls-key -d 'PEM private key of --tls-cert (unencrypted)' -r -F
complete -c smtpsh -l tls-name -d 'Name to verify in the certificate and send as SNI (default: the host as typed)' -r
complete -c smtpsh -l ehlo -d 'Name for automatic EHLO and a bare EHLO (default: this machine\'s name)' -r
complete -c smtpsh -l timeout -d 'Deadline in seconds for each reply (not an idle timer)' -r
complete -c smtpsh -l connect-timeout -d 'Deadline in seconds for connecting' -r
complete -c smtpsh -l user -d 'User for :auth when none is typed' -r
complete -c smtpsh -l password-file -d 'File holding the password for :auth (one trailing newline ignored)' -r -F
complete -c smtpsh -l token-file -d 'File holding the OAuth 2.0 token for :auth XOAUTH2 or OAUTHBEARER' -r -F
complete -c smtpsh -l script -d 'Run the commands in FILE (a non-terminal standard input does the same)' -r -F
complete -c smtpsh -l color -d 'When to use colour' -r -f -a "auto\t'Only when stdout is a terminal and NO_COLOR is not set'
always\t'Always'
never\t'Never'"
complete -c smtpsh -l history -d 'History file for the interactive shell (default: $XDG_DATA_HOME/smtpsh/history)' -r -F
complete -c smtpsh -l serve -d 'Run only the practice server, on ADDR (default 127.0.0.1:2525), for a classroom' -r
complete -c smtpsh -l cert-out -d 'With --serve or --practice: write the server\'s certificate (PEM) to FILE' -r -F
complete -c smtpsh -l cert -d 'With --serve or --practice: serve the certificate in FILE (PEM, leaf first)' -r -F
complete -c smtpsh -l key -d 'With --cert: the certificate\'s private key (PEM)' -r -F
complete -c smtpsh -l cert-name -d 'With --serve or --practice: a name the certificate must hold too (repeatable)' -r
complete -c smtpsh -l users -d 'With --serve or --practice: practice users from FILE, one `name:password` a line' -r -F
complete -c smtpsh -l maildir -d 'With --serve or --practice: keep received messages in the Maildir DIR too' -r -F
complete -c smtpsh -l max-connections -d 'With --serve or --practice: connections at once, in all (default 256)' -r
complete -c smtpsh -l max-per-client -d 'With --serve or --practice: connections at once from one client address (default 100)' -r
complete -c smtpsh -l rules -d 'With --serve or --practice: failures on demand, from the rules in FILE' -r -F
complete -c smtpsh -l generate -d 'Write a shell completion script or the man page to stdout (for packagers)' -r -f -a "bash\t'bash completion'
zsh\t'zsh completion'
fish\t'fish completion'
elvish\t'elvish completion'
powershell\t'PowerShell completion'
man\t'the man page (roff)'"
complete -c smtpsh -s 4 -l ipv4 -d 'Connect over IPv4 only'
complete -c smtpsh -s 6 -l ipv6 -d 'Connect over IPv6 only'
complete -c smtpsh -l lmtp -d 'Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the message'
complete -c smtpsh -l starttls -d 'After the greeting: EHLO, STARTTLS, EHLO again; TLS is required'
complete -c smtpsh -l tls-on-connect -l smtps -d 'Implicit TLS from the first byte (SMTPS, RFC 8314)'
complete -c smtpsh -l insecure -d 'Accept an invalid certificate or name (loudly marked for the whole session)'
complete -c smtpsh -l plaintext-auth -d 'Let :auth send credentials over a connection without TLS'
complete -c smtpsh -l check -d 'Check the script and connect to nothing: exit 0 when every line is good, else 2'
complete -c smtpsh -l keep-going -d 'In a script, do not stop at an unexpected 4xx/5xx (still exits non-zero)'
complete -c smtpsh -l pipeline -d 'In a script, send runs of MAIL/RCPT/RSET (ended by DATA or NOOP) as one write'
complete -c smtpsh -l json -d 'The transcript as JSON Lines on stdout (with --serve: the server\'s events)'
complete -c smtpsh -l no-history -d 'Keep no history file'
complete -c smtpsh -l explain -d 'Under every reply, a plain-language line on what it means and what to try next'
complete -c smtpsh -l practice -d 'Start the built-in practice server on 127.0.0.1 (a free port) and connect to it'
complete -c smtpsh -l require-auth -d 'With --serve or --practice: refuse MAIL until the client has authenticated (530)'
complete -c smtpsh -l require-tls -d 'With --serve or --practice: refuse MAIL and AUTH until STARTTLS (530/538)'
complete -c smtpsh -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smtpsh -s V -l version -d 'Print version'
