//! `ferry token create | list | revoke`: named, scoped, expiring API tokens.

use anyhow::Result;
use ferry_wire::CreateTokenRequest;

use crate::cli::{Global, Output, TokenCommand};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: TokenCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        TokenCommand::Create { name, scope, expires } => {
            let expires_in_seconds = expires.as_deref().map(parse_duration).transpose()?;
            let made = c.create_token(&CreateTokenRequest { name, scope, expires_in_seconds }).await?;
            if global.output == Output::Json {
                return json(&made);
            }
            let until = made
                .expires_at
                .as_deref()
                .map_or("never expires".to_owned(), |at| format!("expires {} UTC", short_time(at)));
            eprintln!(
                "token {} made: scope {}, {until}; it is shown only now, keep it somewhere safe:",
                made.name, made.scope
            );
            println!("{}", made.token.as_deref().unwrap_or_default());
            Ok(())
        }
        TokenCommand::List => {
            let list = c.tokens().await?;
            if global.output == Output::Json {
                return json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .tokens
                .iter()
                .map(|t| {
                    let expires = match (&t.expires_at, t.expired) {
                        (Some(at), true) => format!("{} (expired)", short_time(at)),
                        (Some(at), false) => short_time(at),
                        (None, _) => "never".to_owned(),
                    };
                    let used = t.last_used_at.as_deref().map_or("-".to_owned(), short_time);
                    vec![t.name.clone(), t.scope.clone(), short_time(&t.created_at), expires, used]
                })
                .collect();
            table(&["NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED"], &rows);
            Ok(())
        }
        TokenCommand::Revoke { name } => {
            c.revoke_token(&name).await?;
            if global.output == Output::Human {
                println!("token {name} revoked; it no longer works");
            }
            Ok(())
        }
    }
}

/// `90s`, `45m`, `12h`, `30d`, `2w` → seconds.
fn parse_duration(given: &str) -> Result<i64> {
    let text = given.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if n > 0 && unit_secs > 0 => Ok(n.saturating_mul(unit_secs)),
        _ => Err(crate::usage(format!(
            "--expires {given:?} is not a duration; use a number and a unit (s, m, h, d, w), e.g. 12h or 30d"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_take_a_number_and_a_unit() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("12h").unwrap(), 12 * 3600);
        assert_eq!(parse_duration(" 90m ").unwrap(), 5400);
        assert_eq!(parse_duration("1w").unwrap(), 604_800);
        for bad in ["30", "d", "0d", "-1d", "1y", "1.5h", ""] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
