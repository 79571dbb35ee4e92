//! The front ends: the command language shared by the prompt and scripts ([`lang`]), the
//! step that runs one line against a session ([`exec`]), the script runner ([`script`]) and
//! the interactive shell ([`repl`]). Nothing here opens a socket; the session does.

pub mod ask;
pub mod assist;
pub mod exec;
pub mod lang;
pub mod practice;
pub mod repl;
pub mod script;
pub mod teach;
