//! What pulls, pushes and look-ups share about registries: the credentials the engine takes, and how
//! the engine names an image's digest. A leaf of the driver.

use bollard::auth::DockerCredentials;
use ferry_model::{ImageRef, RegistryCredentials};

/// The credentials as the engine takes them, for `image`'s registry.
pub(super) fn credentials(
    image: &ImageRef,
    credentials: Option<&RegistryCredentials>,
) -> Option<DockerCredentials> {
    credentials.map(|c| DockerCredentials {
        username: Some(c.username.clone()),
        password: Some(c.password.clone()),
        serveraddress: Some(server_address(image)),
        ..Default::default()
    })
}

/// The `serveraddress` of the credentials: Docker Hub's historical address, or the registry host.
pub(super) fn server_address(image: &ImageRef) -> String {
    match image.registry() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/".to_owned(),
        host => host.to_owned(),
    }
}

/// The digest in the `RepoDigests` entry (`name@sha256:…`) for the requested repository. The engine
/// writes Docker Hub names in their short form (`nginx`), so both sides are shortened alike.
pub(super) fn repo_digest(image: &ImageRef, repo_digests: &[String]) -> Option<String> {
    let name = image.name();
    let wanted = familiar(&name);
    repo_digests.iter().find_map(|entry| {
        let (name, digest) = entry.rsplit_once('@')?;
        (familiar(name) == wanted).then(|| digest.to_owned())
    })
}

fn familiar(name: &str) -> &str {
    let name =
        name.strip_prefix("docker.io/").or_else(|| name.strip_prefix("index.docker.io/")).unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_one_for_the_requested_repository() {
        let digests = ["other/app@sha256:111".to_owned(), "127.0.0.1:5000/web@sha256:222".to_owned()];
        let image = ImageRef::parse("127.0.0.1:5000/web:v1").unwrap();
        assert_eq!(repo_digest(&image, &digests).as_deref(), Some("sha256:222"));
        let hub = ImageRef::parse("docker.io/library/nginx:1.27").unwrap();
        assert_eq!(repo_digest(&hub, &["nginx@sha256:333".to_owned()]).as_deref(), Some("sha256:333"));
        assert_eq!(repo_digest(&hub, &digests), None);
    }

    #[test]
    fn credentials_name_the_registry_they_are_for() {
        let hub = ImageRef::parse("docker.io/library/nginx:1.27").unwrap();
        let image = ImageRef::parse("127.0.0.1:5000/web:v1").unwrap();
        assert_eq!(server_address(&hub), "https://index.docker.io/v1/");
        assert_eq!(server_address(&image), "127.0.0.1:5000");
        let given = RegistryCredentials { username: "u".to_owned(), password: "p".to_owned() };
        let c = credentials(&image, Some(&given)).unwrap();
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref(), c.serveraddress.as_deref()),
            (Some("u"), Some("p"), Some("127.0.0.1:5000"))
        );
        assert!(credentials(&image, None).is_none());
    }
}
