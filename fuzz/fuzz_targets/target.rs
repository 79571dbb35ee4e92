//! TARGET parsing (src/net/target.rs) on any text typed after `smtpsh` or `:connect`: no
//! panic; a parsed target written back with `Display` parses to the same place.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::net::target::Target;
use smtpsh_fuzz::control;

fuzz_target!(|data: &[u8]| {
    let (flags, text) = control(data);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let port = (flags & 1 == 1).then_some(u16::from(flags) * 257);
    let implicit = flags & 2 == 2;
    let Ok(target) = Target::parse(text, port, implicit) else {
        return;
    };
    assert!(!target.host.is_empty(), "{text:?}");
    assert!(target.unix.is_some() || target.port != 0, "{text:?}");
    let shown = target.to_string();
    let again = Target::parse(&shown, None, false)
        .unwrap_or_else(|e| panic!("{text:?} shown as {shown:?} does not parse: {e}"));
    assert_eq!(
        (&again.host, again.port, again.lmtp, &again.unix),
        (&target.host, target.port, target.lmtp, &target.unix),
        "{text:?} shown as {shown:?}"
    );
});
