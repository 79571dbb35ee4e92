
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'smtpsh' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'smtpsh'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'smtpsh' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port (overrides one in TARGET)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port (overrides one in TARGET)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Local address to connect from (bind before connecting)')
            [CompletionResult]::new('--mx', '--mx', [CompletionResultType]::ParameterName, 'Look up DOMAIN''s MX records, list them, connect to the most preferred')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'DNS server for --mx, --audit, :dane and :mta-sts (default: the system''s resolver)')
            [CompletionResult]::new('--trust-anchor', '--trust-anchor', [CompletionResultType]::ParameterName, 'DNSSEC trust anchor to trust besides the root''s keys, for :dane and --audit')
            [CompletionResult]::new('--audit', '--audit', [CompletionResultType]::ParameterName, 'Audit DOMAIN''s mail servers: every MX host and address, one table')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Reach the server through a SOCKS5 proxy: socks5://HOST:PORT or socks5h://HOST:PORT')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'PEM CA certificate(s) to trust, besides the system''s')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'PEM client certificate to present when the server asks for one (RFC 8446 §4.4.2)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'PEM private key of --tls-cert (unencrypted)')
            [CompletionResult]::new('--tls-name', '--tls-name', [CompletionResultType]::ParameterName, 'Name to verify in the certificate and send as SNI (default: the host as typed)')
            [CompletionResult]::new('--ehlo', '--ehlo', [CompletionResultType]::ParameterName, 'Name for automatic EHLO and a bare EHLO (default: this machine''s name)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Deadline in seconds for each reply (not an idle timer)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Deadline in seconds for connecting')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User for :auth when none is typed')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'File holding the password for :auth (one trailing newline ignored)')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'File holding the OAuth 2.0 token for :auth XOAUTH2 or OAUTHBEARER')
            [CompletionResult]::new('--script', '--script', [CompletionResultType]::ParameterName, 'Run the commands in FILE (a non-terminal standard input does the same)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'History file for the interactive shell (default: $XDG_DATA_HOME/smtpsh/history)')
            [CompletionResult]::new('--serve', '--serve', [CompletionResultType]::ParameterName, 'Run only the practice server, on ADDR (default 127.0.0.1:2525), for a classroom')
            [CompletionResult]::new('--cert-out', '--cert-out', [CompletionResultType]::ParameterName, 'With --serve or --practice: write the server''s certificate (PEM) to FILE')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'With --serve or --practice: serve the certificate in FILE (PEM, leaf first)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'With --cert: the certificate''s private key (PEM)')
            [CompletionResult]::new('--cert-name', '--cert-name', [CompletionResultType]::ParameterName, 'With --serve or --practice: a name the certificate must hold too (repeatable)')
            [CompletionResult]::new('--users', '--users', [CompletionResultType]::ParameterName, 'With --serve or --practice: practice users from FILE, one `name:password` a line')
            [CompletionResult]::new('--maildir', '--maildir', [CompletionResultType]::ParameterName, 'With --serve or --practice: keep received messages in the Maildir DIR too')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'With --serve or --practice: connections at once, in all (default 256)')
            [CompletionResult]::new('--max-per-client', '--max-per-client', [CompletionResultType]::ParameterName, 'With --serve or --practice: connections at once from one client address (default 100)')
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'With --serve or --practice: failures on demand, from the rules in FILE')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Write a shell completion script or the man page to stdout (for packagers)')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Connect over IPv4 only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Connect over IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Connect over IPv6 only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Connect over IPv6 only')
            [CompletionResult]::new('--lmtp', '--lmtp', [CompletionResultType]::ParameterName, 'Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the message')
            [CompletionResult]::new('--starttls', '--starttls', [CompletionResultType]::ParameterName, 'After the greeting: EHLO, STARTTLS, EHLO again; TLS is required')
            [CompletionResult]::new('--tls-on-connect', '--tls-on-connect', [CompletionResultType]::ParameterName, 'Implicit TLS from the first byte (SMTPS, RFC 8314)')
            [CompletionResult]::new('--smtps', '--smtps', [CompletionResultType]::ParameterName, 'Implicit TLS from the first byte (SMTPS, RFC 8314)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accept an invalid certificate or name (loudly marked for the whole session)')
            [CompletionResult]::new('--plaintext-auth', '--plaintext-auth', [CompletionResultType]::ParameterName, 'Let :auth send credentials over a connection without TLS')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Check the script and connect to nothing: exit 0 when every line is good, else 2')
            [CompletionResult]::new('--keep-going', '--keep-going', [CompletionResultType]::ParameterName, 'In a script, do not stop at an unexpected 4xx/5xx (still exits non-zero)')
            [CompletionResult]::new('--pipeline', '--pipeline', [CompletionResultType]::ParameterName, 'In a script, send runs of MAIL/RCPT/RSET (ended by DATA or NOOP) as one write')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The transcript as JSON Lines on stdout (with --serve: the server''s events)')
            [CompletionResult]::new('--no-history', '--no-history', [CompletionResultType]::ParameterName, 'Keep no history file')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Under every reply, a plain-language line on what it means and what to try next')
            [CompletionResult]::new('--practice', '--practice', [CompletionResultType]::ParameterName, 'Start the built-in practice server on 127.0.0.1 (a free port) and connect to it')
            [CompletionResult]::new('--require-auth', '--require-auth', [CompletionResultType]::ParameterName, 'With --serve or --practice: refuse MAIL until the client has authenticated (530)')
            [CompletionResult]::new('--require-tls', '--require-tls', [CompletionResultType]::ParameterName, 'With --serve or --practice: refuse MAIL and AUTH until STARTTLS (530/538)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
