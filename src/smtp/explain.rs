//! Plain-language explanations of reply codes and enhanced status codes: what a reply means
//! and what to try next, one short line each, for `--explain` and `:explain`.
//!
//! Pure data, no I/O. The basic codes are those of RFC 5321 §4.2.2–§4.2.3, plus the ones
//! RFC 3207 (STARTTLS), RFC 4954 (AUTH) and RFC 7504 (521, 556) add. The enhanced codes are
//! every entry of the IANA "SMTP Enhanced Status Codes" registry (RFC 5248), which starts
//! from RFC 3463 and is extended by later RFCs. The wording is ours, not the registry's.
//!
//! `docs/reply-codes.md` is rendered from these tables by [`markdown`]; a unit test keeps
//! the two equal (`SMTPSH_BLESS=1 cargo test --lib explain` rewrites the page).

use super::reply::{Code, EnhancedCode, Reply};

/// What a basic reply code means and what to try next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    /// What the code means.
    pub meaning: &'static str,
    /// What to try next.
    pub try_next: &'static str,
    /// `false` when the code is not a standard one and the explanation comes from its
    /// class (the first digit) alone.
    pub standard: bool,
}

/// What an enhanced status code `class.subject.detail` means, part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedExplanation {
    /// The class: success, temporary or permanent failure.
    pub class: &'static str,
    /// The subject: the area the status is about (addressing, mailbox, …).
    pub subject: &'static str,
    /// The detail, "meaning — what to try"; `None` when the subject.detail pair is not in
    /// the registry.
    pub detail: Option<&'static str>,
}

/// Basic reply codes: (code, meaning, what to try). Sorted by code, each code once.
///
/// RFC 5321 §4.2.3 lists the core set; 235, 334, 432, 454, 534, 535, 538 and 530 come
/// from RFC 4954 (454 and 530 also from RFC 3207), 521 and 556 from RFC 7504.
static CODES: &[(u16, &str, &str)] = &[
    (
        211,
        "a status report, usually the answer to a request for system status",
        "read the text; nothing needs fixing",
    ),
    (
        214,
        "help text meant for a person, usually the answer to HELP",
        "read it; it often lists the commands or a contact address",
    ),
    (
        220,
        "the server is ready: a greeting, or the go-ahead after STARTTLS",
        "send EHLO; after STARTTLS the TLS handshake starts now",
    ),
    (
        221,
        "the server is closing the connection, normally after QUIT",
        "nothing to do; connect again if you have more to send",
    ),
    (235, "authentication succeeded", "go on with MAIL FROM"),
    (
        250,
        "the command worked",
        "go on with the next step of the session",
    ),
    (
        251,
        "the recipient is not local; the server will forward the mail",
        "nothing needed; note the new address if the text gives one",
    ),
    (
        252,
        "the server won't confirm the address, but will take mail for it and try",
        "send the message; many servers hide VRFY answers on purpose",
    ),
    (
        334,
        "the server waits for the next AUTH step; the text is a base64 challenge",
        "send the base64 response, or * to cancel",
    ),
    (
        354,
        "the server is ready for the message body",
        "send the headers and body, then a line holding only a dot",
    ),
    (
        421,
        "the server is closing the connection and can't serve you now",
        "connect again later; if it keeps happening, look for rate limits",
    ),
    (
        432,
        "a password transition is needed before this AUTH mechanism works",
        "log in once with AUTH PLAIN over TLS, then try this mechanism again",
    ),
    (
        450,
        "the mailbox can't be used right now: busy, locked, or greylisted",
        "retry later; greylisting usually clears within minutes",
    ),
    (
        451,
        "the server hit a local error and gave up on the command",
        "retry later; if it persists, the server's logs will say why",
    ),
    (
        452,
        "the server is short of storage, or you gave too many recipients",
        "retry later, or send to fewer recipients per message",
    ),
    (
        454,
        "TLS or authentication is unavailable for now",
        "retry later; don't fall back to plain text unless you mean to",
    ),
    (
        455,
        "the server can't cope with the parameters given, for now",
        "retry later, or leave out the optional MAIL/RCPT parameters",
    ),
    (
        500,
        "the command was not recognised, or the line was too long",
        "check its spelling and length; HELP may list the commands",
    ),
    (
        501,
        "the command's arguments are malformed",
        "check the syntax, e.g. MAIL FROM:<you@example.org> with the angle brackets",
    ),
    (
        502,
        "the server does not implement this command",
        "look at the EHLO reply for what it supports and do without this command",
    ),
    (
        503,
        "the command came out of order",
        "keep the order EHLO, MAIL, RCPT, DATA; RSET starts a transaction over",
    ),
    (
        504,
        "the server does not implement that parameter or mechanism",
        "use one the server lists in its EHLO reply",
    ),
    (
        521,
        "this host does not accept mail at all",
        "don't retry here; look up the domain's MX records for its real mail server",
    ),
    (
        530,
        "authentication or TLS is required before this command",
        "run STARTTLS and/or AUTH as the text asks, then repeat the command",
    ),
    (
        534,
        "the AUTH mechanism chosen is too weak for this account",
        "pick a stronger mechanism from the AUTH line of the EHLO reply",
    ),
    (
        535,
        "authentication failed: the credentials were not accepted",
        "check the user name, the password and the mechanism",
    ),
    (
        538,
        "this AUTH mechanism may only be used over an encrypted connection",
        "run STARTTLS first, then authenticate",
    ),
    (
        550,
        "refused: no such mailbox, no access, or a policy rejection",
        "read the text and the enhanced code; check the address",
    ),
    (
        551,
        "the recipient is not local here; the text may give another address",
        "send to the address the server suggests",
    ),
    (
        552,
        "the message or the mailbox is over a storage limit",
        "send a smaller message, or ask the recipient to free some space",
    ),
    (
        553,
        "the mailbox name is not allowed, often because the address is malformed",
        "check the address syntax and the domain",
    ),
    (
        554,
        "the transaction failed, or (as a greeting) the server won't talk to you",
        "read the text; often a policy or spam block, so ask the postmaster",
    ),
    (
        555,
        "a MAIL FROM or RCPT TO parameter is not recognised or supported",
        "leave out parameters the server did not list in its EHLO reply",
    ),
    (
        556,
        "the recipient's domain does not accept mail",
        "don't retry; check the domain name, it may publish a null MX",
    ),
];

/// Enhanced status codes: (subject, detail, short name, "meaning — what to try").
/// Sorted by subject then detail, each pair once. Every entry of the IANA registry.
static ENHANCED: &[(u16, u16, &str, &str)] = &[
    // X.0: other or undefined (RFC 3463 §3.1)
    (
        0,
        0,
        "Other or undefined status",
        "no detail beyond the class — read the server's text for the real reason",
    ),
    // X.1: addressing (RFC 3463 §3.2)
    (
        1,
        0,
        "Other address status",
        "something about an address caused this — check the sender and recipient addresses",
    ),
    (
        1,
        1,
        "Bad destination mailbox",
        "the mailbox does not exist at this server — check the address for typos",
    ),
    (
        1,
        2,
        "Bad destination system",
        "the domain after the @ can't receive mail — check its spelling and its MX records",
    ),
    (
        1,
        3,
        "Bad destination address syntax",
        "the recipient address is not valid syntax — fix the address and send again",
    ),
    (
        1,
        4,
        "Ambiguous destination address",
        "the address matches more than one mailbox here — use a more exact address",
    ),
    (
        1,
        5,
        "Destination address valid",
        "the recipient address is valid and was accepted — add more recipients or go on to DATA",
    ),
    (
        1,
        6,
        "Mailbox moved, no forwarding address",
        "the address used to work but takes no more mail — find the person's new address",
    ),
    (
        1,
        7,
        "Bad sender address syntax",
        "the sender (MAIL FROM) address is not valid syntax — fix the envelope sender",
    ),
    (
        1,
        8,
        "Bad sender system",
        "the sender's domain can't take replies or bounces — use a sender domain with working DNS",
    ),
    (
        1,
        9,
        "Relayed to a non-compliant mailer",
        "the address was fine, but the next system can't report further status — expect no more reports",
    ),
    (
        1,
        10,
        "Recipient domain has a null MX",
        "the recipient's domain publishes a null MX, saying it takes no mail — get another address",
    ),
    // X.2: mailbox (RFC 3463 §3.3)
    (
        2,
        0,
        "Other mailbox status",
        "the mailbox exists but something about it stopped delivery — read the text",
    ),
    (
        2,
        1,
        "Mailbox disabled",
        "the mailbox exists but takes no messages now — reach the recipient another way",
    ),
    (
        2,
        2,
        "Mailbox full",
        "the recipient is over quota — retry later, or ask them to free some space",
    ),
    (
        2,
        3,
        "Message too big for the mailbox",
        "the message is over this mailbox's size limit — send something smaller, or a link",
    ),
    (
        2,
        4,
        "Mailing list expansion problem",
        "the address is a list that could not be expanded — tell the list's owner",
    ),
    // X.3: mail system (RFC 3463 §3.4)
    (
        3,
        0,
        "Other mail system status",
        "the receiving system usually takes mail but something went wrong — read the text",
    ),
    (
        3,
        1,
        "Mail system full",
        "the receiving system is out of storage — retry later; its admin has to free space",
    ),
    (
        3,
        2,
        "System not accepting messages",
        "the host is not taking messages (shutting down, overloaded, maintenance) — try another MX host",
    ),
    (
        3,
        3,
        "Features not supported",
        "the destination can't honour features this message asks for — resend without them",
    ),
    (
        3,
        4,
        "Message too big for the system",
        "the message is over the server's size limit (see SIZE in EHLO) — send a smaller one",
    ),
    (
        3,
        5,
        "System incorrectly configured",
        "the receiving system is not set up to take this message — tell its postmaster",
    ),
    (
        3,
        6,
        "Requested priority changed",
        "accepted, but not at the priority asked for; the text gives the new one — nothing to fix",
    ),
    // X.4: network and routing (RFC 3463 §3.5)
    (
        4,
        0,
        "Other network or routing status",
        "something went wrong in networking or routing — check DNS and connectivity",
    ),
    (
        4,
        1,
        "No answer from host",
        "the next host did not answer — retry later; check that it is up and reachable",
    ),
    (
        4,
        2,
        "Bad connection",
        "the connection failed or timed out mid-transaction — retry later; check the network",
    ),
    (
        4,
        3,
        "Directory server failure",
        "a lookup service, usually DNS, was unavailable — retry later; check the resolver",
    ),
    (
        4,
        4,
        "Unable to route",
        "no next hop could be found for the destination — check the domain's MX and A records",
    ),
    (
        4,
        5,
        "Mail system congestion",
        "the mail system is overloaded — retry later, and send more slowly",
    ),
    (
        4,
        6,
        "Routing loop detected",
        "the message went round in circles — fix the forwarding or MX setup that loops",
    ),
    (
        4,
        7,
        "Delivery time expired",
        "the message waited in a queue too long and was given up — find why it was stuck, then resend",
    ),
    // X.5: mail delivery protocol (RFC 3463 §3.6)
    (
        5,
        0,
        "Other protocol status",
        "something went wrong in the SMTP exchange — read the text; check the command order",
    ),
    (
        5,
        1,
        "Invalid command",
        "the command is out of order or not supported — keep to EHLO, MAIL, RCPT, DATA",
    ),
    (
        5,
        2,
        "Syntax error",
        "the command could not be parsed — check its spelling and syntax",
    ),
    (
        5,
        3,
        "Too many recipients",
        "more recipients than the server takes in one message — split the recipient list",
    ),
    (
        5,
        4,
        "Invalid command arguments",
        "the command is fine but its arguments are not — check them against the EHLO reply",
    ),
    (
        5,
        5,
        "Wrong protocol version",
        "the two sides could not agree on a protocol version — try HELO instead of EHLO",
    ),
    (
        5,
        6,
        "AUTH exchange line too long",
        "an AUTH response was longer than the server accepts — use another mechanism",
    ),
    // X.6: message content or media (RFC 3463 §3.7)
    (
        6,
        0,
        "Other media error",
        "something in the message content stopped delivery — read the text; check headers and MIME",
    ),
    (
        6,
        1,
        "Media not supported",
        "a media type in the message is not supported on the way — send it in a plainer format",
    ),
    (
        6,
        2,
        "Conversion required and prohibited",
        "the content has to be converted but conversion is not allowed — send a form it takes as is",
    ),
    (
        6,
        3,
        "Conversion required, not supported",
        "the content needs converting (e.g. 8-bit to 7-bit) and can't be — encode it as 7-bit",
    ),
    (
        6,
        4,
        "Conversion with loss performed",
        "delivered, but a conversion lost some data — check the received copy if that matters",
    ),
    (
        6,
        5,
        "Conversion failed",
        "a needed conversion did not work — send the content in a simpler encoding",
    ),
    (
        6,
        6,
        "Message content not available",
        "content to be fetched from elsewhere (BURL) could not be fetched — check the URL and access",
    ),
    (
        6,
        7,
        "Non-ASCII address not permitted",
        "an internationalised (non-ASCII) address is not allowed here — use an ASCII address",
    ),
    (
        6,
        8,
        "UTF-8 reply required, not permitted",
        "the answer needs UTF-8 but the client did not allow it — repeat with the SMTPUTF8 option",
    ),
    (
        6,
        9,
        "UTF-8 headers can't be transferred",
        "the message has UTF-8 headers that can't reach some recipient — send it without them",
    ),
    (
        6,
        10,
        "Deprecated duplicate of X.6.8",
        "a deprecated copy of X.6.8: a UTF-8 reply is needed — repeat with the SMTPUTF8 option",
    ),
    // X.7: security or policy (RFC 3463 §3.8)
    (
        7,
        0,
        "Other security or policy status",
        "refused for a security or policy reason — read the text: spam filter, TLS or AUTH rule",
    ),
    (
        7,
        1,
        "Delivery not authorized",
        "you may not send here (relaying, block list, policy) — authenticate, or check your IP's reputation",
    ),
    (
        7,
        2,
        "Mailing list expansion prohibited",
        "the sender may not post to this list — ask the list's owner for permission",
    ),
    (
        7,
        3,
        "Security conversion not possible",
        "a secure-mail format had to be converted and couldn't be — use one the recipient supports",
    ),
    (
        7,
        4,
        "Security features not supported",
        "the message asks for security features the path can't give — drop them or go another way",
    ),
    (
        7,
        5,
        "Cryptographic failure",
        "a system could not check or decrypt the message (key missing or bad) — check keys and certificates",
    ),
    (
        7,
        6,
        "Cryptographic algorithm not supported",
        "the message uses an algorithm the system does not support — use a more common one",
    ),
    (
        7,
        7,
        "Message integrity failure",
        "the message arrived altered or corrupted — look for something rewriting it on the way",
    ),
    (
        7,
        8,
        "Authentication credentials invalid",
        "the user name or password was not accepted — check both, and the AUTH mechanism",
    ),
    (
        7,
        9,
        "Authentication mechanism too weak",
        "the AUTH mechanism is weaker than this account allows — pick a stronger one from EHLO",
    ),
    (
        7,
        10,
        "Encryption needed",
        "this AUTH mechanism needs an encrypted connection — run STARTTLS first, or use a stronger one",
    ),
    (
        7,
        11,
        "Encryption required for this mechanism",
        "this AUTH mechanism may only be used over TLS — run STARTTLS, then authenticate again",
    ),
    (
        7,
        12,
        "Password transition needed",
        "the account must move to this mechanism — log in once with AUTH PLAIN over TLS, then retry",
    ),
    (
        7,
        13,
        "User account disabled",
        "the login worked but the account is disabled — ask the administrator to enable it again",
    ),
    (
        7,
        14,
        "Trust relationship required",
        "the server needs a set-up trust with a third party to fetch the content — ask its admin",
    ),
    (
        7,
        15,
        "Priority level too low",
        "the message's priority is below what the server takes now — raise the priority or wait",
    ),
    (
        7,
        16,
        "Message too big for its priority",
        "the message is too large for the priority it has — make it smaller or raise the priority",
    ),
    (
        7,
        17,
        "Mailbox owner has changed",
        "the mailbox changed hands since the date given (RRVS) — make sure the address is still right",
    ),
    (
        7,
        18,
        "Domain owner has changed",
        "the recipient's domain changed hands since the date given (RRVS) — check the address",
    ),
    (
        7,
        19,
        "RRVS test can't be completed",
        "the server can't tell whether the mailbox changed hands — decide whether to resend without RRVS",
    ),
    (
        7,
        20,
        "No passing DKIM signature",
        "no DKIM signature on the message verified — sign outgoing mail and check the DNS key",
    ),
    (
        7,
        21,
        "No acceptable DKIM signature",
        "a DKIM signature verified but the receiver accepts none of them — sign with your own domain",
    ),
    (
        7,
        22,
        "No author-matched DKIM signature",
        "no valid DKIM signature matches the From domain — sign with the domain in From",
    ),
    (
        7,
        23,
        "SPF validation failed",
        "the sender domain's SPF record does not allow this IP — add it to SPF or send via an allowed host",
    ),
    (
        7,
        24,
        "SPF validation error",
        "checking SPF ended in an error, often DNS or a broken record — check the domain's SPF record",
    ),
    (
        7,
        25,
        "Reverse DNS validation failed",
        "the sending IP's reverse DNS is missing or does not match — set a PTR that resolves back",
    ),
    (
        7,
        26,
        "Multiple authentication checks failed",
        "more than one check (SPF, DKIM, DMARC…) failed — fix SPF and DKIM for the sending domain",
    ),
    (
        7,
        27,
        "Sender domain has a null MX",
        "the sender's domain says it takes no mail, so bounces can't return — use a sender that does",
    ),
    (
        7,
        28,
        "Mail flood detected",
        "the message looks like part of a flood of similar abusive mail — slow down; check for abuse",
    ),
    (
        7,
        29,
        "ARC validation failure",
        "the ARC chain added by forwarders did not validate — check intermediaries that alter mail",
    ),
    (
        7,
        30,
        "REQUIRETLS support required",
        "the message demands TLS on every hop (REQUIRETLS) and the next hop can't — send another way",
    ),
];

/// The class digit of an enhanced code.
static CLASSES: &[(u8, &str)] = &[
    (2, "success"),
    (4, "persistent transient failure (retrying later may work)"),
    (5, "permanent failure (resending unchanged will fail)"),
];

/// The subject of an enhanced code (RFC 3463 §3).
static SUBJECTS: &[(u16, &str)] = &[
    (0, "other or undefined"),
    (1, "addressing"),
    (2, "mailbox"),
    (3, "mail system"),
    (4, "network and routing"),
    (5, "mail delivery protocol"),
    (6, "message content or media"),
    (7, "security or policy"),
];

/// Class meanings for codes not in [`CODES`], by first digit (RFC 5321 §4.2.1).
static FALLBACK: &[(u16, &str, &str)] = &[
    (
        2,
        "not a standard code, but 2xx means the command succeeded",
        "carry on; the text may say more",
    ),
    (
        3,
        "not a standard code, but 3xx means the server wants more input",
        "send what the text asks for, as after DATA or AUTH",
    ),
    (
        4,
        "not a standard code, but 4xx means a temporary failure",
        "retry later; the text may say why",
    ),
    (
        5,
        "not a standard code, but 5xx means a permanent failure",
        "change what the text points at before trying again",
    ),
];

/// All basic reply codes with an explanation: (code, meaning, what to try), sorted.
pub fn all_codes() -> &'static [(u16, &'static str, &'static str)] {
    CODES
}

/// All enhanced status codes of the registry: (subject, detail, short name, "meaning —
/// what to try"), sorted. The class is left out: the explanation is the same for each.
pub fn all_enhanced() -> &'static [(u16, u16, &'static str, &'static str)] {
    ENHANCED
}

/// What a basic reply code means and what to try next; falls back to the class meaning
/// (2xx/3xx/4xx/5xx) for codes not listed, saying it is not a standard code.
pub fn code(code: Code) -> Explanation {
    let value = code.value();
    match CODES.binary_search_by_key(&value, |&(c, _, _)| c) {
        Ok(i) => Explanation {
            meaning: CODES[i].1,
            try_next: CODES[i].2,
            standard: true,
        },
        Err(_) => {
            // `Code` admits only 2xx–5xx, so one of the four always matches.
            let class = value / 100;
            let &(_, meaning, try_next) = FALLBACK
                .iter()
                .find(|&&(c, _, _)| c == class)
                .unwrap_or(&FALLBACK[3]);
            Explanation {
                meaning,
                try_next,
                standard: false,
            }
        }
    }
}

/// An enhanced status code: the class and subject meanings, and the detail's meaning when
/// the subject.detail pair is in the registry (`None` otherwise).
pub fn enhanced(e: EnhancedCode) -> EnhancedExplanation {
    let class = CLASSES
        .iter()
        .find(|&&(c, _)| c == e.class)
        .map_or("an unknown class", |&(_, s)| s);
    let subject = SUBJECTS
        .iter()
        .find(|&&(s, _)| s == e.subject)
        .map_or("an unregistered subject", |&(_, s)| s);
    EnhancedExplanation {
        class,
        subject,
        detail: detail(e.subject, e.detail),
    }
}

/// The registry entry's explanation for subject.detail.
fn detail(subject: u16, detail: u16) -> Option<&'static str> {
    ENHANCED
        .binary_search_by_key(&(subject, detail), |&(s, d, _, _)| (s, d))
        .ok()
        .map(|i| ENHANCED[i].3)
}

/// How a detail is normally used, which decides whether the class changes the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Usual {
    /// Reports success (only meaningful with class 2).
    Success,
    /// The registry calls it useful only as a persistent transient failure (class 4).
    Transient,
    /// The registry calls it useful only as a permanent failure, or pairs it only with 5xx.
    Permanent,
    /// Either class fits; the class alone says whether to wait or to fix.
    Either,
}

/// Our reading of the registry's notes ("useful only as a permanent error", the basic
/// codes it is associated with) for each detail.
fn usual(subject: u16, detail: u16) -> Usual {
    match (subject, detail) {
        (1, 5) | (3, 6) | (6, 4) => Usual::Success,
        (2, 2) | (3, 1) | (4, 1) | (4, 2) | (4, 3) | (4, 5) | (7, 12) => Usual::Transient,
        (1, 1)
        | (1, 2)
        | (1, 3)
        | (1, 6)
        | (1, 10)
        | (2, 3)
        | (3, 4)
        | (5, 1)
        | (5, 2)
        | (5, 4)
        | (6, 1)
        | (6, 7..=10)
        | (7, 1..=4)
        | (7, 8)
        | (7, 9)
        | (7, 11)
        | (7, 13)
        | (7, 17..=23)
        | (7, 25..=27)
        | (7, 29)
        | (7, 30) => Usual::Permanent,
        _ => Usual::Either,
    }
}

/// Where a basic code is defined, for the docs page.
fn code_source(code: u16) -> &'static str {
    match code {
        454 | 530 => "RFC 3207, RFC 4954",
        235 | 334 | 432 | 534 | 535 | 538 => "RFC 4954",
        521 | 556 => "RFC 7504",
        _ => "RFC 5321",
    }
}

/// Where an enhanced code is defined (the registry's reference), for the docs page.
fn enhanced_source(subject: u16, detail: u16) -> &'static str {
    match (subject, detail) {
        (1, 9) => "RFC 3886",
        (1, 10) | (7, 27) => "RFC 7505",
        (3, 6) | (7, 15) | (7, 16) => "RFC 6710",
        (5, 6) | (7, 8) | (7, 9) | (7, 11) | (7, 12) => "RFC 4954",
        (6, 6) => "RFC 4468",
        (6, 7..=10) => "RFC 6531",
        (7, 10) | (7, 13) | (7, 14) => "RFC 5248",
        (7, 17..=19) => "RFC 7293",
        (7, 20..=26) => "RFC 7372",
        (7, 28) => "draft-levine-mailbomb-header",
        (7, 29) => "RFC 8617",
        (7, 30) => "RFC 8689",
        _ => "RFC 3463",
    }
}

/// The one line shown under a reply by `--explain`, e.g.
/// `550 5.1.1: the mailbox does not exist at this server — check the address for typos`.
///
/// Built from the enhanced code when it says more than the basic code (a registered,
/// non-zero detail), else from the basic code. Where the class changes the advice — a
/// 4.x.x means "try later", a 5.x.x "fix it first" — and the detail alone doesn't say so,
/// the line ends with a note on the class.
pub fn reply(reply: &Reply) -> String {
    let basic = code(reply.code);
    let value = reply.code.value();
    let basic_line = format!("{} — {}", basic.meaning, basic.try_next);
    let Some(e) = reply.enhanced else {
        return format!("{value}: {basic_line}");
    };
    // RFC 3463 §2: the enhanced class must match the reply code's first digit. When a
    // server breaks that, clients act on the reply code, so explain that one.
    if u16::from(e.class) != value / 100 {
        return format!("{value} {e}: {basic_line} (class mismatch: the reply code counts)");
    }
    let ex = enhanced(e);
    let known = detail(e.subject, e.detail);
    let usual = usual(e.subject, e.detail);
    if e.class == 2 {
        // Success replies: only the success details say more than the basic code; the
        // others (2.0.0, 2.1.0, 2.6.0, 2.7.0 …) just echo the command's area.
        return match known {
            Some(text) if usual == Usual::Success => format!("{value} {e}: {text}"),
            _ => format!("{value} {e}: {basic_line}"),
        };
    }
    let tail = match (e.class, usual) {
        (4, Usual::Transient) | (5, Usual::Permanent) => "",
        (4, Usual::Permanent) => {
            " (sent as temporary: retry later, though this usually needs a fix)"
        }
        (5, Usual::Transient) => " (sent as permanent: resend only once this is fixed)",
        (4, _) => " (temporary: retry later)",
        _ => " (permanent: don't resend it unchanged)",
    };
    if let Some(text) = known.filter(|_| e.detail != 0) {
        return format!("{value} {e}: {text}{tail}");
    }
    // A generic detail (X.Y.0) or an unregistered one: say which, then lean on whichever
    // of the subject and the basic code is more specific.
    let subject_text = detail(e.subject, 0);
    let note = match (subject_text, known) {
        (None, _) => " (unregistered subject)",
        (Some(_), None) => " (unregistered detail)",
        (Some(_), Some(_)) => "",
    };
    match subject_text {
        // These basic codes are catch-alls, so the subject says more than they do.
        Some(text) if e.subject != 0 && matches!(value, 450 | 451 | 550 | 554) => {
            format!("{value} {e}{note}: {text}{tail}")
        }
        // The basic code is specific, and its text already fits its class.
        Some(_) if e.subject != 0 => format!(
            "{value} {e}{note}: {} ({}) — {}",
            basic.meaning, ex.subject, basic.try_next
        ),
        _ => format!("{value} {e}{note}: {basic_line}"),
    }
}

/// Escape a table cell for Markdown: `|` would end the cell, `<…>` would become a link or
/// HTML, `*` emphasis.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '|' | '<' | '>' | '*' | '_' | '`') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `docs/reply-codes.md`, rendered from [`all_codes`] and [`all_enhanced`].
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "# Reply codes and enhanced status codes\n\
         \n\
         <!-- Generated from src/smtp/explain.rs: do not edit by hand. \
         Regenerate with `SMTPSH_BLESS=1 cargo test --lib explain`. -->\n\
         \n\
         Every SMTP reply starts with a three-digit code; many servers add an enhanced \
         status code such as `5.1.1` after it. The basic codes come from RFC 5321 §4.2, with \
         the additions of RFC 3207 (STARTTLS), RFC 4954 (AUTH) and RFC 7504. The enhanced \
         codes come from RFC 3463 and the IANA \"Simple Mail Transfer Protocol (SMTP) Enhanced \
         Status Codes\" registry that RFC 5248 set up, which later RFCs extend. The \
         explanations below are our own words: what the code means, then what to try. In \
         smtpsh, `--explain` prints one of these lines under every reply, and \
         `:explain CODE [X.Y.Z]` looks a code up.\n\
         \n\
         ## Basic reply codes\n\
         \n\
         The first digit is the class: 2 the command succeeded, 3 the server waits for more \
         input, 4 a temporary failure (the same command may work later), 5 a permanent \
         failure (change something first). A code not listed here is explained by its \
         class, and marked as not standard.\n\
         \n\
         | Code | Defined in | Meaning | What to try |\n\
         |---|---|---|---|\n",
    );
    for &(code, meaning, try_next) in CODES {
        out.push_str(&format!(
            "| {code} | {} | {} | {} |\n",
            code_source(code),
            cell(meaning),
            cell(try_next)
        ));
    }
    out.push_str(
        "\n\
         ## Enhanced status codes\n\
         \n\
         An enhanced status code is `class.subject.detail` (RFC 3463 §2). The class repeats \
         the reply code's first digit:\n\
         \n",
    );
    for &(class, meaning) in CLASSES {
        out.push_str(&format!("- `{class}.x.x`: {meaning}\n"));
    }
    out.push_str("\nThe subject says what area the status is about:\n\n");
    for &(subject, meaning) in SUBJECTS {
        out.push_str(&format!("- `x.{subject}.x`: {meaning}\n"));
    }
    out.push_str(
        "\nThe detail narrows it down. The registry marks some details as meaningful only as \
         a temporary or only as a permanent failure; when a server sends one with the other \
         class, `--explain` says so. An unregistered detail is explained by its subject and \
         the basic code.\n\
         \n\
         | Code | Defined in | Name | Meaning — what to try |\n\
         |---|---|---|---|\n",
    );
    for &(subject, detail, name, text) in ENHANCED {
        out.push_str(&format!(
            "| X.{subject}.{detail} | {} | {} | {} |\n",
            enhanced_source(subject, detail),
            cell(name),
            cell(text)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u16) -> Code {
        Code::new(n).unwrap()
    }

    fn e(s: &str) -> EnhancedCode {
        s.parse().unwrap()
    }

    fn line(code: u16, enhanced: Option<&str>) -> String {
        reply(&Reply::new(c(code), enhanced.map(e), &["text"]))
    }

    /// Every code of RFC 5321 §4.2.3, and the ones RFC 3207, 4954 and 7504 add.
    #[test]
    fn every_listed_code_has_a_standard_explanation() {
        let rfc5321 = [
            211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503,
            504, 550, 551, 552, 553, 554, 555,
        ];
        let extensions = [235, 334, 432, 454, 521, 530, 534, 535, 538, 556];
        for n in rfc5321.into_iter().chain(extensions) {
            let x = code(c(n));
            assert!(x.standard, "{n} should be standard");
            assert!(!x.meaning.starts_with("not a standard"), "{n}");
        }
        assert_eq!(CODES.len(), rfc5321.len() + extensions.len());
    }

    #[test]
    fn every_enhanced_entry_is_reachable_for_classes_4_and_5() {
        for &(subject, detail, _, text) in all_enhanced() {
            for class in [4, 5] {
                let x = enhanced(EnhancedCode {
                    class,
                    subject,
                    detail,
                });
                assert_eq!(x.detail, Some(text), "{class}.{subject}.{detail}");
                assert!(!x.subject.contains("unregistered"), "{subject}");
                assert!(!x.class.contains("unknown"), "{class}");
            }
        }
    }

    #[test]
    fn spot_checks() {
        assert_eq!(
            line(550, Some("5.1.1")),
            "550 5.1.1: the mailbox does not exist at this server — check the address for typos"
        );
        assert_eq!(
            line(421, None),
            "421: the server is closing the connection and can't serve you now — connect again \
             later; if it keeps happening, look for rate limits"
        );
        assert_eq!(
            line(535, Some("5.7.8")),
            "535 5.7.8: the user name or password was not accepted — check both, and the AUTH \
             mechanism"
        );
        assert_eq!(
            line(250, Some("2.1.5")),
            "250 2.1.5: the recipient address is valid and was accepted — add more recipients \
             or go on to DATA"
        );
        assert_eq!(
            line(354, None),
            "354: the server is ready for the message body — send the headers and body, then a \
             line holding only a dot"
        );
    }

    #[test]
    fn the_class_changes_the_advice_where_the_detail_does_not_say() {
        // Usually permanent, sent as temporary.
        assert!(line(451, Some("4.1.1")).ends_with("though this usually needs a fix)"));
        // Usually temporary, sent as permanent.
        assert!(
            line(552, Some("5.2.2"))
                .ends_with("(sent as permanent: resend only once this is fixed)")
        );
        // Either: the class decides.
        assert!(line(450, Some("4.2.1")).ends_with("(temporary: retry later)"));
        assert!(line(550, Some("5.2.1")).ends_with("(permanent: don't resend it unchanged)"));
        // The detail already fits the class.
        assert!(!line(451, Some("4.4.3")).contains('('));
    }

    #[test]
    fn generic_details_fall_back_to_the_basic_code() {
        assert_eq!(
            line(250, Some("2.0.0")),
            "250 2.0.0: the command worked — go on with the next step of the session"
        );
        assert_eq!(
            line(235, Some("2.7.0")),
            "235 2.7.0: authentication succeeded — go on with MAIL FROM"
        );
        let policy = line(550, Some("5.7.0"));
        assert!(
            policy.starts_with("550 5.7.0: refused for a security or policy reason"),
            "{policy}"
        );
        assert!(
            policy.ends_with("(permanent: don't resend it unchanged)"),
            "{policy}"
        );
        assert_eq!(
            line(530, Some("5.7.0")),
            "530 5.7.0: authentication or TLS is required before this command (security or \
             policy) — run STARTTLS and/or AUTH as the text asks, then repeat the command"
        );
        let other = line(554, Some("5.0.0"));
        assert!(
            other.starts_with("554 5.0.0: the transaction failed"),
            "{other}"
        );
    }

    #[test]
    fn a_class_mismatch_is_pointed_out() {
        let l = line(250, Some("5.1.1"));
        assert!(l.starts_with("250 5.1.1: the command worked"), "{l}");
        assert!(
            l.ends_with("(class mismatch: the reply code counts)"),
            "{l}"
        );
    }

    #[test]
    fn unknown_code_falls_back_to_its_class() {
        // 299 is not a valid code under RFC 5321's grammar (second digit 0–5), so 259.
        for (n, word) in [
            (259, "succeeded"),
            (359, "more input"),
            (420, "temporary"),
            (559, "permanent"),
        ] {
            let x = code(c(n));
            assert!(!x.standard, "{n}");
            assert!(x.meaning.starts_with("not a standard code"), "{n}");
            assert!(x.meaning.contains(word), "{n}: {}", x.meaning);
        }
        assert!(!code(c(259)).standard);
        assert!(line(259, None).starts_with("259: not a standard code"));
    }

    #[test]
    fn unknown_detail_still_explains_the_subject() {
        let x = enhanced(e("5.1.99"));
        assert_eq!(x.detail, None);
        assert_eq!(x.subject, "addressing");
        assert!(x.class.starts_with("permanent"));
        let l = line(550, Some("5.1.99"));
        assert!(
            l.starts_with("550 5.1.99 (unregistered detail): something about an address"),
            "{l}"
        );
        let l = line(501, Some("5.1.99"));
        assert!(
            l.starts_with("501 5.1.99 (unregistered detail): the command's arguments"),
            "{l}"
        );
        assert!(l.contains("(addressing)"), "{l}");
        assert!(line(550, Some("5.9.1")).starts_with("550 5.9.1 (unregistered subject): "));
        let x = enhanced(e("4.9.1"));
        assert_eq!((x.subject, x.detail), ("an unregistered subject", None));
    }

    #[test]
    fn no_line_is_empty_or_too_long() {
        let check = |s: &str| {
            assert!(!s.trim().is_empty(), "an empty explanation");
            assert!(s.chars().count() <= 160, "{} chars: {s}", s.chars().count());
            assert!(!s.contains('\n'), "{s}");
        };
        for &(_, meaning, try_next) in all_codes().iter().chain(FALLBACK) {
            check(meaning);
            check(try_next);
            check(&format!("{meaning} — {try_next}"));
        }
        for &(_, _, name, text) in all_enhanced() {
            check(name);
            check(text);
            assert!(text.contains(" — "), "meaning — try: {text}");
        }
        for &(_, s) in CLASSES.iter() {
            check(s);
        }
        for &(_, s) in SUBJECTS.iter() {
            check(s);
        }
        // The lines under replies stay one line and short enough for a terminal, whatever
        // the pairing of basic and enhanced code, matching classes or not.
        let mut pairs: Vec<(u16, u16)> =
            all_enhanced().iter().map(|&(s, d, _, _)| (s, d)).collect();
        pairs.extend([(1, 99), (9, 1)]);
        for &(basic, _, _) in all_codes().iter().chain(FALLBACK) {
            let basic = if basic < 10 { basic * 100 + 59 } else { basic };
            check(&line(basic, None));
            for &(subject, detail) in &pairs {
                for class in [2, 4, 5] {
                    let l = line(basic, Some(&format!("{class}.{subject}.{detail}")));
                    assert!(!l.contains('\n') && l.chars().count() <= 200, "{l}");
                }
            }
        }
    }

    #[test]
    fn no_two_entries_share_a_code() {
        assert!(
            CODES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no duplicates"
        );
        assert!(
            ENHANCED
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)),
            "sorted, no duplicates"
        );
        // Every subject of the registry has its X.Y.0 entry.
        for &(subject, _) in SUBJECTS {
            assert!(detail(subject, 0).is_some(), "X.{subject}.0");
        }
    }

    #[test]
    fn docs_page_matches_the_tables() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reply-codes.md");
        let expected = markdown();
        if std::env::var_os("SMTPSH_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/reply-codes.md is out of date; run `SMTPSH_BLESS=1 cargo test --lib explain`"
        );
    }
}
