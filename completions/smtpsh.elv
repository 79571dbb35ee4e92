
use builtin;
use str;

set edit:completion:arg-completer[smtpsh] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'smtpsh'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'smtpsh'= {
            cand -p 'Port (overrides one in TARGET)'
            cand --port 'Port (overrides one in TARGET)'
            cand --source 'Local address to connect from (bind before connecting)'
            cand --mx 'Look up DOMAIN''s MX records, list them, connect to the most preferred'
            cand --dns-server 'DNS server for --mx, --audit, :dane and :mta-sts (default: the system''s resolver)'
            cand --trust-anchor 'DNSSEC trust anchor to trust besides the root''s keys, for :dane and --audit'
            cand --audit 'Audit DOMAIN''s mail servers: every MX host and address, one table'
            cand --proxy 'Reach the server through a SOCKS5 proxy: socks5://HOST:PORT or socks5h://HOST:PORT'
            cand --cafile 'PEM CA certificate(s) to trust, besides the system''s'
            cand --tls-cert 'PEM client certificate to present when the server asks for one (RFC 8446 §4.4.2)'
            cand --tls-key 'PEM private key of --tls-cert (unencrypted)'
            cand --tls-name 'Name to verify in the certificate and send as SNI (default: the host as typed)'
            cand --ehlo 'Name for automatic EHLO and a bare EHLO (default: this machine''s name)'
            cand --timeout 'Deadline in seconds for each reply (not an idle timer)'
            cand --connect-timeout 'Deadline in seconds for connecting'
            cand --user 'User for :auth when none is typed'
            cand --password-file 'File holding the password for :auth (one trailing newline ignored)'
            cand --token-file 'File holding the OAuth 2.0 token for :auth XOAUTH2 or OAUTHBEARER'
            cand --script 'Run the commands in FILE (a non-terminal standard input does the same)'
            cand --color 'When to use colour'
            cand --history 'History file for the interactive shell (default: $XDG_DATA_HOME/smtpsh/history)'
            cand --serve 'Run only the practice server, on ADDR (default 127.0.0.1:2525), for a classroom'
            cand --cert-out 'With --serve or --practice: write the server''s certificate (PEM) to FILE'
            cand --cert 'With --serve or --practice: serve the certificate in FILE (PEM, leaf first)'
            cand --key 'With --cert: the certificate''s private key (PEM)'
            cand --cert-name 'With --serve or --practice: a name the certificate must hold too (repeatable)'
            cand --users 'With --serve or --practice: practice users from FILE, one `name:password` a line'
            cand --maildir 'With --serve or --practice: keep received messages in the Maildir DIR too'
            cand --max-connections 'With --serve or --practice: connections at once, in all (default 256)'
            cand --max-per-client 'With --serve or --practice: connections at once from one client address (default 100)'
            cand --rules 'With --serve or --practice: failures on demand, from the rules in FILE'
            cand --generate 'Write a shell completion script or the man page to stdout (for packagers)'
            cand -4 'Connect over IPv4 only'
            cand --ipv4 'Connect over IPv4 only'
            cand -6 'Connect over IPv6 only'
            cand --ipv6 'Connect over IPv6 only'
            cand --lmtp 'Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the message'
            cand --starttls 'After the greeting: EHLO, STARTTLS, EHLO again; TLS is required'
            cand --tls-on-connect 'Implicit TLS from the first byte (SMTPS, RFC 8314)'
            cand --smtps 'Implicit TLS from the first byte (SMTPS, RFC 8314)'
            cand --insecure 'Accept an invalid certificate or name (loudly marked for the whole session)'
            cand --plaintext-auth 'Let :auth send credentials over a connection without TLS'
            cand --check 'Check the script and connect to nothing: exit 0 when every line is good, else 2'
            cand --keep-going 'In a script, do not stop at an unexpected 4xx/5xx (still exits non-zero)'
            cand --pipeline 'In a script, send runs of MAIL/RCPT/RSET (ended by DATA or NOOP) as one write'
            cand --json 'The transcript as JSON Lines on stdout (with --serve: the server''s events)'
            cand --no-history 'Keep no history file'
            cand --explain 'Under every reply, a plain-language line on what it means and what to try next'
            cand --practice 'Start the built-in practice server on 127.0.0.1 (a free port) and connect to it'
            cand --require-auth 'With --serve or --practice: refuse MAIL until the client has authenticated (530)'
            cand --require-tls 'With --serve or --practice: refuse MAIL and AUTH until STARTTLS (530/538)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
