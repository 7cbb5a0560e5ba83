//! `ferry domain add | list | remove` and `ferry ca`: custom domains and the local CA.

use anyhow::Result;
use ferry_wire::{DomainRequest, DomainView};

use crate::cli::{DomainCommand, Global, Output};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: DomainCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        DomainCommand::Add { service, domain, www, method } => {
            let view = c.add_domain(&service, &DomainRequest { domain, www, method }).await?;
            if global.output == Output::Json {
                return json(&view);
            }
            println!("{} now routes to {} ({})", view.domain, view.service, view.status);
            println!();
            println!("Point its DNS at this server: a CNAME record to {}", view.dns_target);
            if view.www {
                println!("and the same for www.{}.", view.domain);
            }
            match view.method.as_str() {
                "http-01" => println!("The CA checks it over HTTP on port 80 of that address."),
                "tls-alpn-01" => println!("The CA checks it over TLS on port 443 of that address."),
                _ => println!("The CA checks a TXT record that the server's DNS hook sets."),
            }
            println!("`ferry domain list {}` shows when its certificate is served.", view.service);
            Ok(())
        }
        DomainCommand::List { service } => {
            let list = c.domains(&service).await?;
            if global.output == Output::Json {
                return json(&list);
            }
            let rows: Vec<Vec<String>> = list.domains.iter().map(row).collect();
            table(&["DOMAIN", "STATUS", "METHOD", "CERTIFICATE", "SINCE", "NOTE"], &rows);
            Ok(())
        }
        DomainCommand::Remove { service, domain } => {
            c.remove_domain(&service, &domain).await?;
            if global.output == Output::Human {
                println!("{domain} no longer routes to {service}");
            }
            Ok(())
        }
    }
}

fn row(d: &DomainView) -> Vec<String> {
    let name = if d.www { format!("{} (+www)", d.domain) } else { d.domain.clone() };
    let certificate =
        d.certificate_expires_at.as_deref().map_or("-".to_owned(), |t| format!("until {}", short_time(t)));
    let note = match (&d.reason, &d.next_attempt_at) {
        (Some(reason), Some(next)) => format!("{reason} (again at {})", short_time(next)),
        (Some(reason), None) => reason.clone(),
        _ => String::new(),
    };
    vec![name, d.status.clone(), d.method.clone(), certificate, short_time(&d.created_at), note]
}

pub async fn ca(global: &Global) -> Result<()> {
    let pem = client(global)?.local_ca().await?;
    print!("{pem}");
    Ok(())
}
