//! `ferry login`: checks the URL, the token and (for https://) the server's certificate against the
//! server, and saves them, with the CA certificates given by `--ca-file`, for later commands.

use anyhow::{Context, Result};
use ferry_client::{Client, Trust};

use crate::cli::{Global, LoginArgs};
use crate::context::{Saved, save, warn_if_clear};

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
    // The CA is kept as PEM, not as a path: the login keeps working if the file moves.
    let ca_pem = match &global.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?,
        ),
        None => None,
    };
    let trust = match &ca_pem {
        Some(pem) => Trust::Pinned {
            source: global.ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            pem: pem.clone().into_bytes(),
        },
        None => Trust::System,
    };
    let client = Client::with_trust(&args.url, &token, &trust)?;
    warn_if_clear(&client);
    let services = client.list_services().await?;
    let path = save(&Saved { api_url: client.base_url().to_owned(), token, ca_pem })?;
    println!(
        "logged in to {} ({} services); saved to {}",
        client.base_url(),
        services.services.len(),
        path.display()
    );
    Ok(())
}
