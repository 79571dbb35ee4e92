//! The shared MAIL/RCPT/EHLO grammar (src/smtp/syntax.rs) and the client's envelope checks
//! built on it (src/smtp/ext.rs) on any text: no panic; an argument the strict grammar
//! accepts is written back by `Display` to one it reads the same, and the lenient reading
//! finds the same path and parameters in it; the SMTPUTF8 rule refuses exactly the
//! non-ASCII lines a server did not say it takes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use smtpsh::smtp::caps::Capabilities;
use smtpsh::smtp::command::Command;
use smtpsh::smtp::ext::check_envelope;
use smtpsh::smtp::reply::{Code, Reply};
use smtpsh::smtp::syntax::{self, PathArg};

fn caps(utf8: bool) -> &'static Capabilities {
    static WITH: OnceLock<Capabilities> = OnceLock::new();
    static WITHOUT: OnceLock<Capabilities> = OnceLock::new();
    let make =
        |lines: &[&str]| Capabilities::from_ehlo(&Reply::new(Code::new(250).unwrap(), None, lines));
    if utf8 {
        WITH.get_or_init(|| make(&["mx.test", "SMTPUTF8", "DSN", "SIZE 100"]))
    } else {
        WITHOUT.get_or_init(|| make(&["mx.test", "8BITMIME"]))
    }
}

fn check_strict(
    arg: &str,
    parsed: &PathArg<'_>,
    reparse: fn(&str) -> Result<PathArg<'_>, syntax::ArgError>,
) {
    let wire = parsed.to_string();
    assert_eq!(
        reparse(&wire).as_ref(),
        Ok(parsed),
        "{arg:?} written as {wire:?}"
    );
    let loose = syntax::scan_path_arg(arg);
    assert_eq!(
        (loose.path, &loose.params),
        (parsed.path, &parsed.params),
        "{arg:?}"
    );
    // `<postmaster>` alone has no domain, so no address of the `local@domain` form.
    if let Some(m) = parsed.mailbox.as_ref().filter(|m| m.domain.is_some()) {
        let address = m.address();
        assert_eq!(
            syntax::parse_mailbox(&address).as_ref(),
            Ok(m),
            "{address:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(arg) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = syntax::parse_mail_arg(arg) {
        check_strict(arg, &parsed, syntax::parse_mail_arg);
        let _ = syntax::mail_params(&parsed.params);
    }
    if let Ok(parsed) = syntax::parse_rcpt_arg(arg) {
        check_strict(arg, &parsed, syntax::parse_rcpt_arg);
    }
    if let Ok(name) = syntax::parse_helo_arg(arg) {
        assert_eq!(name, arg);
    }
    let loose = syntax::scan_path_arg(arg);
    assert!(arg.contains(loose.path));
    let _ = syntax::parse_mailbox(arg);

    for verb in ["MAIL", "rcpt"] {
        let line = format!("{verb} {arg}");
        let Ok(cmd) = Command::parse(&line) else {
            continue;
        };
        let refused = |c| check_envelope(&cmd, c).is_err();
        assert!(!refused(Some(caps(true))), "{line:?}");
        assert_eq!(refused(Some(caps(false))), !line.is_ascii(), "{line:?}");
        assert_eq!(refused(None), !line.is_ascii(), "{line:?}");
    }
});
