//! The SMTP protocol with no I/O: replies, capabilities, command-line checks, the grammar
//! of MAIL/RCPT/EHLO arguments, the DATA encoder, AUTH mechanisms and display escaping.
//!
//! Nothing in here touches a socket or a terminal, so the client, the practice server and
//! the tests share one definition of the wire format.

pub mod auth;
pub mod bdat;
pub mod caps;
pub mod command;
pub mod data;
pub mod escape;
pub mod explain;
pub mod ext;
pub mod reply;
pub mod syntax;
