//! A `--rules` file (failures on demand, src/practice/rules.rs) of any text: no panic, no
//! slow pattern; rules that parse are printed back (in ASCII) to a file that parses to the
//! same rules; an error names a line of the file; every pattern matches its own text with
//! each `*` taken as nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::practice::Rules;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Rules::parse(text) {
        Ok(rules) => {
            let printed = rules.to_string();
            assert!(printed.is_ascii(), "{printed:?}");
            let again = Rules::parse(&printed)
                .unwrap_or_else(|e| panic!("printed rules do not parse: {e}\n{printed}"));
            assert_eq!(again, rules, "printed:\n{printed}");
            for rule in rules.iter() {
                if let Some(p) = &rule.pattern {
                    let plain = p.as_str().replace('*', "");
                    assert!(p.matches(&plain), "{p:?}");
                    // Case does not matter.
                    assert!(p.matches(&plain.to_ascii_uppercase()), "{p:?}");
                }
            }
        }
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(!e.message.is_empty());
        }
    }
});
