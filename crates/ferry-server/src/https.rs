//! The router's HTTPS settings: where it listens, what it does for plain HTTP, and where certificates come
//! from (validated with the rest of the configuration, before anything is bound).
//!
//! Two kinds of names get certificates:
//! - the services' own hosts under `--domain` (`web.apps.example.com`), as `--default-certificates` says:
//!   `local` (a CA ferry makes and keeps in the data directory, issuing each host's certificate when it is
//!   first routed: for `localhost`, tests and private networks; `ferry ca` prints it), `acme` (one
//!   wildcard certificate `*.<domain>` from the ACME CA over DNS-01, which needs `--acme-dns-hook`), or
//!   `none` (they stay on plain HTTP);
//! - custom domains (`ferry domain add`), always from the ACME CA, each over the challenge it was added with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{ConfigError, err};

/// Let's Encrypt's production directory: the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// HTTPS flags as given.
#[derive(Debug, Default)]
pub struct RawHttps {
    pub listen: Option<String>,
    pub public_port: Option<u16>,
    pub redirect: Option<bool>,
    pub hsts_max_age: Option<u64>,
    pub default_certificates: Option<String>,
    pub acme_directory: Option<String>,
    pub acme_ca_file: Option<PathBuf>,
    pub acme_email: Option<String>,
    pub acme_dns_hook: Option<PathBuf>,
}

/// Where the certificates of the services' own hosts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultCertificates {
    Local,
    Acme,
    None,
}

#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub directory: String,
    /// Extra roots to trust for the directory's own TLS (a private CA's, pebble's in tests).
    pub ca_file: Option<PathBuf>,
    pub email: Option<String>,
    /// A command that sets (and clears) DNS-01's TXT records.
    pub dns_hook: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct HttpsConfig {
    pub listen: SocketAddr,
    /// The port in https URLs and redirects (443 when behind a port forward from it).
    pub public_port: u16,
    /// Plain HTTP requests for a host with a certificate are redirected to HTTPS.
    pub redirect: bool,
    pub hsts_max_age: Option<Duration>,
    pub default_certificates: DefaultCertificates,
    pub acme: AcmeSettings,
}

impl HttpsConfig {
    /// `None` without `--https-listen`; the other HTTPS flags are then refused, so none is silently ignored.
    pub fn validate(raw: RawHttps, domain: &str) -> Result<Option<HttpsConfig>, ConfigError> {
        let Some(listen) = raw.listen else {
            let stray = [
                ("https-public-port", raw.public_port.is_some()),
                ("https-redirect", raw.redirect.is_some()),
                ("hsts-max-age", raw.hsts_max_age.is_some()),
                ("default-certificates", raw.default_certificates.is_some()),
            ];
            if let Some((flag, _)) = stray.iter().find(|(_, given)| *given) {
                return Err(err(
                    flag,
                    "only means something with an HTTPS listener: add --https-listen, e.g. 0.0.0.0:443",
                ));
            }
            return Ok(None);
        };
        let listen: SocketAddr = listen.parse().map_err(|_| {
            err("https-listen", format!("{listen:?} is not an address; use IP:PORT, e.g. 0.0.0.0:443"))
        })?;
        let local_domain = domain == "localhost" || domain.ends_with(".localhost");
        let default_certificates = match raw.default_certificates.as_deref() {
            None if local_domain => DefaultCertificates::Local,
            None if raw.acme_dns_hook.is_some() => DefaultCertificates::Acme,
            None => DefaultCertificates::Local,
            Some("local") => DefaultCertificates::Local,
            Some("acme") => DefaultCertificates::Acme,
            Some("none") => DefaultCertificates::None,
            Some(other) => {
                return Err(err(
                    "default-certificates",
                    format!("{other:?} is not one of local, acme, none"),
                ));
            }
        };
        if default_certificates == DefaultCertificates::Acme && raw.acme_dns_hook.is_none() {
            return Err(err(
                "default-certificates",
                format!(
                    "acme means one wildcard certificate *.{domain}, which CAs issue only over DNS-01: give \
                     --acme-dns-hook COMMAND (it sets the TXT record), or use local"
                ),
            ));
        }
        let directory = raw.acme_directory.unwrap_or_else(|| LETS_ENCRYPT.to_owned());
        if !directory.starts_with("https://") {
            return Err(err(
                "acme-directory",
                format!("{directory:?} is not an https URL of an ACME directory"),
            ));
        }
        if let Some(file) = &raw.acme_ca_file
            && !file.is_file()
        {
            return Err(err("acme-ca-file", format!("{} is not a readable file", file.display())));
        }
        if let Some(hook) = &raw.acme_dns_hook
            && !hook.is_file()
        {
            return Err(err(
                "acme-dns-hook",
                format!("{} is not a file (an executable that sets TXT records)", hook.display()),
            ));
        }
        let hsts_max_age = match raw.hsts_max_age {
            None | Some(0) => None,
            Some(secs) if secs <= 63_072_000 => Some(Duration::from_secs(secs)),
            Some(_) => return Err(err("hsts-max-age", "at most 63072000 seconds (two years)")),
        };
        Ok(Some(HttpsConfig {
            listen,
            public_port: raw.public_port.unwrap_or(listen.port()),
            redirect: raw.redirect.unwrap_or(true),
            hsts_max_age,
            default_certificates,
            acme: AcmeSettings {
                directory,
                ca_file: raw.acme_ca_file,
                email: raw.acme_email,
                dns_hook: raw.acme_dns_hook,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(listen: Option<&str>) -> RawHttps {
        RawHttps { listen: listen.map(str::to_owned), ..RawHttps::default() }
    }

    #[test]
    fn without_a_listener_the_other_flags_are_refused() {
        assert!(HttpsConfig::validate(raw(None), "localhost").expect("valid").is_none());
        let stray = RawHttps { hsts_max_age: Some(60), ..raw(None) };
        assert_eq!(HttpsConfig::validate(stray, "localhost").expect_err("refused").field, "hsts-max-age");
    }

    #[test]
    fn defaults_follow_the_domain() {
        let c = HttpsConfig::validate(raw(Some("127.0.0.1:8443")), "localhost").expect("valid").expect("on");
        assert_eq!(
            (c.public_port, c.redirect, c.default_certificates),
            (8443, true, DefaultCertificates::Local)
        );
        assert_eq!(c.acme.directory, LETS_ENCRYPT);
        assert!(c.hsts_max_age.is_none());

        let acme = RawHttps { default_certificates: Some("acme".into()), ..raw(Some("0.0.0.0:443")) };
        let e = HttpsConfig::validate(acme, "apps.example.com").expect_err("needs a hook");
        assert!(e.message.contains("--acme-dns-hook"), "{}", e.message);

        let bad = RawHttps { acme_directory: Some("http://ca".into()), ..raw(Some("0.0.0.0:443")) };
        assert_eq!(HttpsConfig::validate(bad, "localhost").expect_err("not https").field, "acme-directory");
        let bad = raw(Some("443"));
        assert_eq!(
            HttpsConfig::validate(bad, "localhost").expect_err("not an address").field,
            "https-listen"
        );
    }
}
