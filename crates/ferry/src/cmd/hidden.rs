//! Values that never go on a command line (secrets, passwords, tokens): arguments are visible to every
//! user of the machine (`ps`) and kept in shell history. So they are read from standard input when it is
//! not a terminal, else asked for twice without echo.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result};

/// What is read, as the messages name it.
pub struct Hidden<'a> {
    /// `value`, `password`: "cannot read the value", "the two values differ".
    pub what: &'a str,
    /// What to pipe in, in the hint for empty input: `the value`, `the password or token`.
    pub piped: &'a str,
    /// A command that pipes it in, for that hint.
    pub example: String,
    /// The terminal prompt.
    pub prompt: String,
    /// Keep a trailing newline read from standard input (one is removed otherwise).
    pub keep_newline: bool,
}

pub fn read(h: Hidden<'_>) -> Result<String> {
    let what = h.what;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut value = String::new();
        stdin
            .lock()
            .read_to_string(&mut value)
            .with_context(|| format!("cannot read the {what} from standard input (it must be UTF-8 text)"))?;
        if !h.keep_newline
            && let Some(v) = value.strip_suffix("\r\n").or_else(|| value.strip_suffix('\n'))
        {
            let len = v.len();
            value.truncate(len);
        }
        if value.is_empty() {
            return Err(crate::usage(format!(
                "standard input was empty: pipe {} in, e.g. `{}`, or run it on a terminal to be asked for it",
                h.piped, h.example
            )));
        }
        return Ok(value);
    }
    let first = rpassword::prompt_password(h.prompt).with_context(|| format!("cannot read the {what}"))?;
    let second = rpassword::prompt_password("Again, to confirm: ")
        .with_context(|| format!("cannot read the {what}"))?;
    if first != second {
        return Err(crate::usage(format!("the two {what}s differ; nothing was set")));
    }
    Ok(first)
}
