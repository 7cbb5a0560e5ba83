//! `ferry login`: checks the URL and token against the server and saves them.

use anyhow::{Context, Result};
use ferry_client::Client;

use crate::cli::{Global, LoginArgs};
use crate::context::{Saved, save};

pub async fn run(global: &Global, args: LoginArgs) -> Result<()> {
    let token = match (&args.token_file, &global.token) {
        (Some(file), _) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the token file {}", file.display()))?
            .trim()
            .to_owned(),
        (None, Some(t)) => t.trim().to_owned(),
        (None, None) => {
            return Err(crate::usage(
                "give the token: --token-file <server's DATA_DIR/admin-token>, --token, or FERRY_TOKEN",
            ));
        }
    };
    let client = Client::new(&args.url, &token)?;
    let services = client.list_services().await?;
    let path = save(&Saved { api_url: client.base_url().to_owned(), token })?;
    println!(
        "logged in to {} ({} services); saved to {}",
        client.base_url(),
        services.services.len(),
        path.display()
    );
    Ok(())
}
