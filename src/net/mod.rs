//! Bytes on the wire: targets, TCP with deadlines, TLS (implicit and STARTTLS) and the
//! certificate summary. Knows SMTP only as far as reading whole replies.

pub mod conn;
pub mod target;
pub mod tls;
