//! AUTH (RFC 4954) in one step: the guided exchange behind `:auth` and a bare typed `AUTH
//! MECH`, and the response to a 334 for an AUTH typed by hand.
//!
//! Credentials go only where they belong (PRODUCT.md safety rule 8): nothing is sent when
//! the server's EHLO did not offer AUTH or that mechanism (unless the user insists with
//! `--force`), and nothing over a connection without TLS unless `--plaintext-auth` was
//! given or, at the prompt, the user said yes. A secret is never shown: the transcript gets
//! `<redacted>` before an event is made.

use super::{Mode, Session};
use crate::error::Error;
use crate::smtp::auth::{self, ClientMechanism as Mechanism, Secret};

impl Session {
    /// A guided AUTH exchange: asks for what is missing, shows each challenge decoded,
    /// computes and sends the responses redacted. `initial` sends the first response with
    /// the AUTH command (RFC 4954 §4) where the mechanism has one; `force` sends even when
    /// the server did not offer AUTH or this mechanism.
    pub fn auth(
        &mut self,
        mech: impl Into<Mechanism>,
        user: Option<&str>,
        initial: bool,
        force: bool,
    ) -> Result<crate::smtp::reply::Reply, Error> {
        let mech = mech.into();
        self.mode_allows_command()?;
        // Everything is checked and asked before anything is sent, so a refusal or `*` at a
        // prompt costs nothing on the wire.
        self.auth_allowed(mech, force)?;
        self.transcript.flush();
        let default = self.config.user.clone();
        let user = match user {
            Some(u) => u.to_string(),
            None => self.ask.user(default.as_deref())?,
        };
        crate::smtp::command::check_value("user name", &user)?;
        let password = if mech.uses_token() {
            let token = match &self.config.token {
                Some(t) => t.clone(),
                None => self.ask.token(&user)?,
            };
            // The token sits between 0x01 separators (RFC 7628 §3.1): no control bytes.
            crate::smtp::command::check_value("token", token.expose())
                .map_err(|_| Error::Usage("the token holds a control character".into()))?;
            token
        } else {
            match &self.config.password {
                Some(p) => p.clone(),
                None => self.ask.password(&user)?,
            }
        };
        if password.expose().bytes().any(|b| b == 0) {
            return Err(Error::Usage(
                "the password holds a NUL byte, which PLAIN can't carry".into(),
            ));
        }
        self.guard(|s| s.auth_exchange(mech, &user, &password, initial))
    }

    /// Safety rule 8: the server offered AUTH and this mechanism (or `force`), and the
    /// connection is encrypted (or the user consented).
    fn auth_allowed(&mut self, mech: Mechanism, force: bool) -> Result<(), Error> {
        let name = mech.name();
        if !force {
            let offered = match self.caps() {
                None => Err(format!(
                    "refused: no EHLO yet, so it is not known whether the server takes AUTH; nothing was sent (send {} first; :auth {name} --force sends anyway)",
                    self.hello_verb().name()
                )),
                Some(c) if !c.has("AUTH") => Err(format!(
                    "refused: the server's last EHLO did not offer AUTH, so it would not take credentials; nothing was sent (after STARTTLS many servers offer it: send EHLO again; :auth {name} --force sends anyway)"
                )),
                Some(c) if !c.auth_mechanisms().iter().any(|m| m == name) => Err(format!(
                    "refused: the server offers AUTH {}, not {name}; nothing was sent (:auth {name} --force sends anyway)",
                    c.auth_mechanisms().join(" ")
                )),
                Some(_) => Ok(()),
            };
            offered.map_err(Error::AuthRefused)?;
        }
        if self.tls() || self.config.plaintext_auth {
            return Ok(());
        }
        let question = format!(
            "the connection is not encrypted: AUTH {name} would send credentials anyone on the path can read. Send them anyway? [y/N] "
        );
        match self.ask.confirm(&question)? {
            Some(true) => {
                self.warn(format!(
                    "AUTH {name} over a connection without TLS, as you said"
                ));
                Ok(())
            }
            Some(false) => Err(Error::Cancelled),
            None => Err(Error::AuthRefused(format!(
                "refused: the connection is not encrypted, and AUTH {name} would send credentials in the clear; nothing was sent (use --starttls or --tls-on-connect; --plaintext-auth if you mean it)"
            ))),
        }
    }

    /// An AUTH line with a response typed by hand is sent as typed; say so when it goes
    /// where safety rule 8 would not send credentials.
    pub(super) fn warn_hand_auth(&mut self) {
        let offered = self.caps().is_some_and(|c| c.has("AUTH"));
        if !offered {
            self.warn(
                "AUTH typed by hand is sent as typed, though the server's last EHLO did not offer AUTH",
            );
        }
        if !self.tls() {
            self.warn(
                "AUTH typed by hand is sent as typed over a connection without TLS: anyone on the path can read it",
            );
        }
    }

    /// The response to a 334 of an AUTH typed by hand (the next line typed): a secret,
    /// shown as `<redacted>`; `*` cancels the exchange (RFC 4954 §4).
    pub fn auth_response(&mut self, line: &Secret) -> Result<crate::smtp::reply::Reply, Error> {
        if !matches!(self.link()?.mode, Mode::AuthResponse) {
            return Err(Error::Mode(
                "no AUTH challenge is waiting for a response".into(),
            ));
        }
        crate::smtp::command::check_line(line.expose().as_bytes())?;
        self.guard(|s| {
            let shown = if line.expose() == "*" {
                "*".to_string()
            } else {
                "<redacted>".to_string()
            };
            s.send_secret(line, shown)?;
            let start = std::time::Instant::now();
            let r = s.read_reply()?;
            s.show_reply(&r, start, None);
            s.after_auth_reply(&r, None);
            Ok(r)
        })
    }

    fn auth_exchange(
        &mut self,
        mech: Mechanism,
        user: &str,
        password: &Secret,
        initial: bool,
    ) -> Result<crate::smtp::reply::Reply, Error> {
        self.settle_owed()?;
        let name = mech.name();
        let mut sent = 0;
        let start = std::time::Instant::now();
        match self
            .first_response(mech, user, password)
            .filter(|_| initial)
        {
            Some((resp, shown)) => {
                // RFC 4954 §4: the first response goes with the AUTH command.
                let wire = Secret::new(format!("AUTH {name} {}", resp.expose()));
                sent = 1;
                self.send_secret(&wire, format!("AUTH {name} {shown}"))?;
            }
            None => {
                self.send_secret(&Secret::new(format!("AUTH {name}")), format!("AUTH {name}"))?
            }
        }
        let mut r = self.read_reply()?;
        self.show_reply(&r, start, None);
        let mut step = 0;
        while r.code.value() == 334 && step < 4 {
            let text = r.lines.first().cloned().unwrap_or_default();
            let challenge = match auth::decode_challenge(&text) {
                Ok(c) => c,
                Err(e) => {
                    self.warn(format!(
                        "{e}; cancelling the exchange with '*' (RFC 4954 §4)"
                    ));
                    r = self.secret_exchange(&Secret::new("*"), "*".into())?;
                    break;
                }
            };
            let shown = crate::smtp::escape::escape_bytes(&challenge);
            if !challenge.is_empty() {
                self.note(format!("challenge decodes to: {shown}"));
            }
            let (wire, shown): (Secret, String) = match mech {
                Mechanism::CramMd5 => (
                    auth::cram_md5(user, password, &challenge),
                    "<redacted>".into(),
                ),
                Mechanism::Login => {
                    let lc = String::from_utf8_lossy(&challenge).to_ascii_lowercase();
                    // The LOGIN draft asks "Username:" then "Password:"; go by the prompt,
                    // and by order when a server sends something else.
                    if lc.contains("user") || (sent == 0 && !lc.contains("pass")) {
                        let u = auth::login_user(user);
                        (Secret::new(u.clone()), format!("{u}  (user name {user})"))
                    } else {
                        (auth::login_password(password), "<redacted>".into())
                    }
                }
                Mechanism::XOAuth2 | Mechanism::OAuthBearer if sent > 0 => {
                    // A 334 after the token is the server's error report (JSON, shown
                    // above); the client acknowledges it to get the final reply.
                    let ack = auth::oauth_error_ack(mech);
                    (
                        Secret::new(ack),
                        format!("{ack}  (acknowledging the error, RFC 7628 §3.2.3)"),
                    )
                }
                // These mechanisms always have a first response; `*` (which cancels the
                // exchange, RFC 4954 §4) stands in only to keep this total.
                Mechanism::Plain | Mechanism::XOAuth2 | Mechanism::OAuthBearer => self
                    .first_response(mech, user, password)
                    .unwrap_or_else(|| (Secret::new("*"), "*".into())),
            };
            r = self.secret_exchange(&wire, shown)?;
            sent += 1;
            step += 1;
        }
        if r.code.value() == 334 {
            self.warn(
                "the server keeps challenging; cancelling the exchange with '*' (RFC 4954 §4)",
            );
            r = self.secret_exchange(&Secret::new("*"), "*".into())?;
        }
        self.after_auth_reply(&r, Some(user));
        Ok(r)
    }

    fn secret_exchange(
        &mut self,
        wire: &Secret,
        shown: String,
    ) -> Result<crate::smtp::reply::Reply, Error> {
        self.send_secret(wire, shown)?;
        let start = std::time::Instant::now();
        let r = self.read_reply()?;
        self.show_reply(&r, start, None);
        Ok(r)
    }

    /// A mechanism's first response and how the transcript shows it (`<redacted>` when it
    /// carries a secret); `None` for CRAM-MD5, where the server speaks first.
    fn first_response(
        &self,
        mech: Mechanism,
        user: &str,
        secret: &Secret,
    ) -> Option<(Secret, String)> {
        let redacted = || "<redacted>".to_string();
        Some(match mech {
            Mechanism::Plain => (auth::plain(None, user, secret), redacted()),
            Mechanism::Login => {
                let u = auth::login_user(user);
                (Secret::new(u.clone()), format!("{u}  (user name {user})"))
            }
            Mechanism::CramMd5 => return None,
            Mechanism::XOAuth2 => (auth::xoauth2(user, secret), redacted()),
            Mechanism::OAuthBearer => {
                let t = self
                    .link
                    .as_ref()
                    .map(|l| &l.target)
                    .filter(|t| t.unix.is_none());
                let resp =
                    auth::oauthbearer(user, t.map(|t| t.host.as_str()), t.map(|t| t.port), secret);
                (resp, redacted())
            }
        })
    }

    pub(super) fn after_auth_reply(&mut self, r: &crate::smtp::reply::Reply, user: Option<&str>) {
        let code = r.code.value();
        let Some(l) = self.link.as_mut() else {
            return;
        };
        l.mode = if code == 334 {
            Mode::AuthResponse
        } else {
            Mode::Command
        };
        if code == 235 {
            l.user = user.map(str::to_string);
            l.auth_by_hand = user.is_none();
            match user {
                Some(u) => self.note(format!("authenticated as {u}")),
                None => self.note("authenticated (an AUTH typed by hand)"),
            }
        }
    }
}
