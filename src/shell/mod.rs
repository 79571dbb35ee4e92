//! The front ends: the command language shared by the prompt and scripts ([`lang`], with
//! the shell commands defined once in [`commands`]), the step that runs one parsed line
//! against a session ([`exec`]), the script reader and runner ([`script`]), the
//! interactive shell ([`repl`]), progress bars on the terminal ([`progress`]), and the
//! practice server's front ends ([`practice`], and [`teacher`] for `--serve`). Nothing here
//! opens a socket; the session (or the practice server) does.

pub mod ask;
pub mod assist;
pub mod commands;
pub mod exec;
pub mod help;
pub mod lang;
pub mod practice;
pub mod progress;
pub mod repl;
pub mod script;
pub mod suggest;
pub mod teach;
pub mod teacher;
