//! `ferry service webhook NAME [--rotate]` and `ferry registry add | list | remove`: how git hosts and
//! registries tell ferry of pushes.

use anyhow::Result;

use crate::cli::{Global, Output, RegistryCommand};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn webhook(global: &Global, name: &str, rotate: bool) -> Result<()> {
    let hook = client(global)?.webhook(name, rotate).await?;
    if global.output == Output::Json {
        return json(&hook);
    }
    println!("Payload URL   {}", hook.url);
    println!("Secret        {}", hook.secret);
    println!("Content type  {}", hook.content_type);
    println!();
    println!("Add it to the repository's webhooks, for push events:");
    println!("  GitHub, Gitea, Forgejo, Bitbucket: the URL, content type application/json, and the secret");
    println!("  GitLab: the URL, and the secret as the secret token");
    println!("The URL is on ferry's router: the git host must reach this host name (DNS) and port.");
    Ok(())
}

pub async fn registry(global: &Global, command: RegistryCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        RegistryCommand::Add { host } => {
            let hook = c.add_registry(&host).await?;
            if global.output == Output::Json {
                return json(&hook);
            }
            let token = hook.token.as_deref().unwrap_or_default();
            println!("{} may now send push notifications to {}", hook.host, hook.url);
            println!("Token (shown once): {token}");
            println!();
            println!(
                "Add this to the registry's configuration (Docker Distribution's config.yml) and restart it:"
            );
            println!("notifications:");
            println!("  endpoints:");
            println!("    - name: ferry");
            println!("      url: {}", hook.url);
            println!("      headers:");
            println!("        Authorization: [\"Bearer {token}\"]");
            println!("      timeout: 2s");
            println!("      threshold: 5");
            println!("      backoff: 1s");
            println!(
                "Services whose image is on {} and have automatic deployments on then deploy each new",
                hook.host
            );
            println!("digest pushed under their tag.");
            Ok(())
        }
        RegistryCommand::List => {
            let list = c.registries().await?;
            if global.output == Output::Json {
                return json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .registries
                .iter()
                .map(|r| vec![r.host.clone(), short_time(&r.created_at), r.url.clone()])
                .collect();
            table(&["HOST", "SINCE", "URL"], &rows);
            Ok(())
        }
        RegistryCommand::Remove { host } => {
            c.remove_registry(&host).await?;
            if global.output == Output::Human {
                println!("notifications from {host} are no longer accepted");
            }
            Ok(())
        }
    }
}
