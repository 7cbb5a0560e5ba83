//! Build output as people read it in `ferry logs NAME --build` and the console: the engine passes on
//! what commands write, colour codes included (npm, pip and cargo colour their output when they think
//! a terminal is there); kept raw, they show as `[33m…` garbage in a log viewer and in JSON.

use std::borrow::Cow;

/// `line` without terminal escape sequences: CSI (`ESC [ … final`, colours and cursor moves), OSC
/// (`ESC ] … BEL` or `ESC ] … ESC \`, titles and links) and two-character escapes. Other text is
/// kept as it is.
pub fn clean_line(line: &str) -> Cow<'_, str> {
    if !line.contains('\u{1b}') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            // ESC ( B and the like: one more character.
            Some('(' | ')' | '*' | '+') => {
                chars.next();
            }
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_and_other_escapes_are_removed_and_text_is_kept() {
        let cases = [
            ("plain text", "plain text"),
            ("\u{1b}[1m\u{1b}[33mwarning\u{1b}[39m\u{1b}[22m: x", "warning: x"),
            ("npm \u{1b}[38;5;208mWARN\u{1b}[0m deprecated", "npm WARN deprecated"),
            ("\u{1b}[2K\u{1b}[1Gdone", "done"),
            ("\u{1b}]0;title\u{7}after", "after"),
            ("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            ("\u{1b}(Bok", "ok"),
            ("ünïcode \u{1b}[31mred\u{1b}[m", "ünïcode red"),
            ("cut off \u{1b}[3", "cut off "),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_line(raw), want, "{raw:?}");
        }
        assert!(matches!(clean_line("no escapes"), Cow::Borrowed(_)));
    }
}
