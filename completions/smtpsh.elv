
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
            cand --cafile 'PEM CA certificate(s) to trust, besides the system''s'
            cand --tls-name 'Name to verify in the certificate and send as SNI (default: the host as typed)'
            cand --ehlo 'Name for automatic EHLO and a bare EHLO (default: this machine''s name)'
            cand --timeout 'Deadline in seconds for each reply (not an idle timer)'
            cand --connect-timeout 'Deadline in seconds for connecting'
            cand --user 'User for :auth when none is typed'
            cand --password-file 'File holding the password for :auth (one trailing newline ignored)'
            cand --script 'Run the commands in FILE (a non-terminal standard input does the same)'
            cand --color 'When to use colour'
            cand --history 'History file for the interactive shell (default: $XDG_DATA_HOME/smtpsh/history)'
            cand --generate 'Write a shell completion script or the man page to stdout (for packagers)'
            cand --starttls 'After the greeting: EHLO, STARTTLS, EHLO again; TLS is required'
            cand --tls-on-connect 'Implicit TLS from the first byte (SMTPS, RFC 8314)'
            cand --smtps 'Implicit TLS from the first byte (SMTPS, RFC 8314)'
            cand --insecure 'Accept an invalid certificate or name (loudly marked for the whole session)'
            cand --keep-going 'In a script, do not stop at an unexpected 4xx/5xx (still exits non-zero)'
            cand --pipeline 'In a script, send runs of MAIL/RCPT/RSET (ended by DATA or NOOP) as one write'
            cand --json 'The transcript as JSON Lines on stdout'
            cand --no-history 'Keep no history file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
