//! Unit tests of the session's logic.

use super::*;
use crate::transcript::Style;

pub(crate) fn offline() -> Session {
    let config = Config {
        ehlo_name: "client.test".into(),
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        tls: TlsOptions::default(),
        user: None,
        password: None,
        token: None,
        dial: crate::net::dial::DialOptions::default(),
        dns_server: None,
        trust_anchor: None,
        explain: false,
        plaintext_auth: false,
    };
    let style = Style {
        color: false,
        echo_body: true,
        json: false,
        wire: false,
    };
    struct Nobody;
    impl Ask for Nobody {
        fn user(&mut self, _: Option<&str>) -> Result<String, Error> {
            Err(Error::Usage("no user".into()))
        }
        fn password(&mut self, _: &str) -> Result<Secret, Error> {
            Err(Error::Usage("no password".into()))
        }
    }
    Session::new(
        config,
        Transcript::new(style, Box::new(std::io::sink())),
        Box::new(Nobody),
        Cancel::new(),
    )
}

#[test]
fn unconnected_sessions_refuse_steps_without_panic() {
    let mut s = offline();
    assert_eq!(s.input(), Input::Command);
    assert!(!s.is_connected());
    assert!(matches!(
        s.command(&Command::bare(Verb::Noop)),
        Err(Error::NotConnected)
    ));
    assert!(matches!(s.end_body(), Err(Error::NotConnected)));
    assert!(matches!(s.body_line(b"x", true), Err(Error::NotConnected)));
    assert!(matches!(s.chunk_line(b"x"), Err(Error::NotConnected)));
    assert!(matches!(
        s.auth_response(&Secret::new("x")),
        Err(Error::NotConnected)
    ));
    s.end("nothing to end");
    assert_eq!(s.state().stage, Stage::Idle);
}
