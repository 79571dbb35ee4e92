complete -c smtpsh -s p -l port -d 'Port (overrides one in TARGET)' -r
complete -c smtpsh -l cafile -d 'PEM CA certificate(s) to trust, besides the system\'s' -r -F
complete -c smtpsh -l tls-name -d 'Name to verify in the certificate and send as SNI (default: the host as typed)' -r
complete -c smtpsh -l ehlo -d 'Name for automatic EHLO and a bare EHLO (default: this machine\'s name)' -r
complete -c smtpsh -l timeout -d 'Deadline in seconds for each reply (not an idle timer)' -r
complete -c smtpsh -l connect-timeout -d 'Deadline in seconds for connecting' -r
complete -c smtpsh -l user -d 'User for :auth when none is typed' -r
complete -c smtpsh -l password-file -d 'File holding the password for :auth (one trailing newline ignored)' -r -F
complete -c smtpsh -l script -d 'Run the commands in FILE (a non-terminal standard input does the same)' -r -F
complete -c smtpsh -l color -d 'When to use colour' -r -f -a "auto\t'Only when stdout is a terminal and NO_COLOR is not set'
always\t'Always'
never\t'Never'"
complete -c smtpsh -l history -d 'History file for the interactive shell (default: $XDG_DATA_HOME/smtpsh/history)' -r -F
complete -c smtpsh -l generate -d 'Write a shell completion script or the man page to stdout (for packagers)' -r -f -a "bash\t'bash completion'
zsh\t'zsh completion'
fish\t'fish completion'
elvish\t'elvish completion'
powershell\t'PowerShell completion'
man\t'the man page (roff)'"
complete -c smtpsh -l starttls -d 'After the greeting: EHLO, STARTTLS, EHLO again; TLS is required'
complete -c smtpsh -l tls-on-connect -l smtps -d 'Implicit TLS from the first byte (SMTPS, RFC 8314)'
complete -c smtpsh -l insecure -d 'Accept an invalid certificate or name (loudly marked for the whole session)'
complete -c smtpsh -l keep-going -d 'In a script, do not stop at an unexpected 4xx/5xx (still exits non-zero)'
complete -c smtpsh -l pipeline -d 'In a script, send runs of MAIL/RCPT/RSET (ended by DATA or NOOP) as one write'
complete -c smtpsh -l json -d 'The transcript as JSON Lines on stdout'
complete -c smtpsh -l no-history -d 'Keep no history file'
complete -c smtpsh -s h -l help -d 'Print help (see more with \'--help\')'
complete -c smtpsh -s V -l version -d 'Print version'
