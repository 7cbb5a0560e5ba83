//! Custom domains: a name (or a wildcard) that routes to a service and gets a certificate of its own.
//!
//! App Runner allows five per service; ferry has no such limit. A domain is routed as soon as it is added
//! (plain HTTP works at once); its certificate comes from the configured ACME CA and its status says where
//! that stands, with App Runner's words: `PENDING_CERTIFICATE_VALIDATION` while ferry asks the CA,
//! `ACTIVE` once it serves a certificate, `CREATE_FAILED` with the CA's reason (ferry keeps retrying with
//! back-off, and says when next).

use std::fmt;

use crate::{ServiceId, Timestamp, ValidationError};

/// A DNS name that routes to one service: `www.example.com`, or `*.example.com` (one label, any name;
/// certificates for it need DNS-01).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// App Runner's limit for `DomainName`.
    pub const MAX_LEN: usize = 255;

    /// Lower-cases and checks a name: labels of letters, digits and hyphens (1 to 63 each, not starting or
    /// ending with a hyphen), at least two labels, an optional leading `*.`, no trailing dot.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |message: String| ValidationError::new("domain", message);
        let name = input.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(err("a domain name is required, e.g. www.example.com".into()));
        }
        if name.len() > Self::MAX_LEN {
            return Err(err(format!("{input:?} is longer than {} characters", Self::MAX_LEN)));
        }
        let rest = name.strip_prefix("*.").unwrap_or(&name);
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() < 2 {
            return Err(err(format!(
                "{input:?} is not a full domain name: it needs a dot, e.g. app.example.com"
            )));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(err(format!(
                    "{input:?} is not a valid domain name: each label is 1 to 63 letters, digits or hyphens, \
                     not starting or ending with a hyphen (a wildcard is only allowed as the whole first label: \
                     *.example.com)"
                )));
            }
        }
        if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
            return Err(err(format!("{input:?} is an IP address, not a domain name")));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Refuses a name ferry routes already: one under its own domain `own` (every service has its name
    /// there), or the webhooks' host. Both APIs that add custom domains ask this.
    pub fn check_custom(&self, own: &str, hooks_host: &str) -> Result<(), ValidationError> {
        let bare = self.0.trim_start_matches("*.");
        if self.0 == hooks_host {
            return Err(ValidationError::new(
                "domain",
                format!("{self} is ferry's webhook host (--hooks-host), which the router answers itself"),
            ));
        }
        if bare == own || bare.ends_with(&format!(".{own}")) {
            return Err(ValidationError::new(
                "domain",
                format!("{self} is under ferry's own domain {own}, where every service has its name already"),
            ));
        }
        Ok(())
    }

    /// `www.<name>`, for a domain added with its `www` subdomain; `None` for a wildcard (it covers it).
    pub fn www(&self) -> Option<DomainName> {
        (!self.is_wildcard() && !self.0.starts_with("www.")).then(|| Self(format!("www.{}", self.0)))
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How ferry proves to the CA that it controls a domain (RFC 8555 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChallengeMethod {
    /// A file under `/.well-known/acme-challenge/`, answered by the router on port 80.
    #[default]
    Http01,
    /// A special certificate in a TLS handshake on port 443 (RFC 8737), answered by the router.
    TlsAlpn01,
    /// A TXT record, set by the operator's DNS hook: the only way for wildcards.
    Dns01,
}

impl ChallengeMethod {
    pub const ALL: [ChallengeMethod; 3] = [Self::Http01, Self::TlsAlpn01, Self::Dns01];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::TlsAlpn01 => "tls-alpn-01",
            Self::Dns01 => "dns-01",
        }
    }

    /// The method for `name`: `asked`, else HTTP-01, or DNS-01 for a wildcard (the only one CAs certify
    /// wildcards over). `dns01`: the server has a DNS hook to set TXT records with.
    pub fn for_domain(name: &DomainName, asked: Option<Self>, dns01: bool) -> Result<Self, ValidationError> {
        let method = asked.unwrap_or(if name.is_wildcard() { Self::Dns01 } else { Self::Http01 });
        if name.is_wildcard() && method != Self::Dns01 {
            return Err(ValidationError::new(
                "method",
                format!("{name} is a wildcard: CAs certify wildcards only over dns-01"),
            ));
        }
        if method == Self::Dns01 && !dns01 {
            return Err(ValidationError::new(
                "method",
                "dns-01 needs a DNS hook and this server has none: start it with --acme-dns-hook COMMAND \
                 (a command that sets the TXT record), or certify a name that is not a wildcard over http-01 \
                 or tls-alpn-01",
            ));
        }
        Ok(method)
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            ValidationError::new(
                "method",
                format!("{s:?} is not a challenge method: use http-01, tls-alpn-01 or dns-01"),
            )
        })
    }
}

/// Where a domain's certificate stands, in App Runner's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStatus {
    /// Asking the CA; the domain already routes over plain HTTP.
    PendingCertificateValidation,
    /// A certificate is served for it.
    Active,
    /// The last attempt failed (the reason is kept); ferry tries again at `next_attempt`.
    CreateFailed,
}

impl DomainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingCertificateValidation => "PENDING_CERTIFICATE_VALIDATION",
            Self::Active => "ACTIVE",
            Self::CreateFailed => "CREATE_FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::PendingCertificateValidation, Self::Active, Self::CreateFailed]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// A custom domain of a service and its certificate's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    pub name: DomainName,
    pub service_id: ServiceId,
    /// Also serve (and certify) `www.<name>`.
    pub www: bool,
    pub method: ChallengeMethod,
    pub status: DomainStatus,
    /// Why the last attempt failed, in the CA's words.
    pub reason: Option<String>,
    /// The served certificate's expiry, and when ferry renews it.
    pub not_after: Option<Timestamp>,
    pub renew_at: Option<Timestamp>,
    /// When ferry asks the CA next (after a failure, with back-off); `None`: at once.
    pub next_attempt: Option<Timestamp>,
    /// Attempts that failed in a row (the back-off's exponent).
    pub failures: u32,
    pub created_at: Timestamp,
}

impl CustomDomain {
    /// A domain just added: routed at once, its certificate pending.
    pub fn new(
        name: DomainName,
        service_id: ServiceId,
        www: bool,
        method: ChallengeMethod,
        now: Timestamp,
    ) -> Self {
        Self {
            name,
            service_id,
            www,
            method,
            status: DomainStatus::PendingCertificateValidation,
            reason: None,
            not_after: None,
            renew_at: None,
            next_attempt: None,
            failures: 0,
            created_at: now,
        }
    }

    /// The names its certificate covers: the name, and `www.<name>` if asked for.
    pub fn names(&self) -> Vec<DomainName> {
        let mut names = vec![self.name.clone()];
        if self.www {
            names.extend(self.name.www());
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_checked_and_normalised() {
        let ok = [
            ("www.example.com", "www.example.com"),
            ("App.Example.COM.", "app.example.com"),
            ("*.example.com", "*.example.com"),
            ("a-b.c1.example", "a-b.c1.example"),
        ];
        for (input, want) in ok {
            assert_eq!(DomainName::parse(input).expect(input).as_str(), want);
        }
        let bad = [
            "",
            "localhost",
            "-a.example.com",
            "a-.example.com",
            "a..example.com",
            "*.*.example.com",
            "a.*.example.com",
            "ex ample.com",
            "a_b.example.com",
            "10.0.0.1",
            "*.com",
        ];
        for input in bad {
            let err = DomainName::parse(input).expect_err(input);
            assert_eq!(err.field, "domain", "{input}");
        }
        let long = format!("{}.com", "a.".repeat(130));
        assert!(DomainName::parse(&long).is_err());
    }

    #[test]
    fn www_and_names() {
        let name = DomainName::parse("example.com").expect("valid");
        assert_eq!(name.www().expect("www").as_str(), "www.example.com");
        assert!(DomainName::parse("www.example.com").expect("valid").www().is_none());
        assert!(DomainName::parse("*.example.com").expect("valid").www().is_none());
        assert!(DomainName::parse("*.example.com").expect("valid").is_wildcard());
    }

    #[test]
    fn names_ferry_routes_already_are_not_custom_domains() {
        let check =
            |n: &str| DomainName::parse(n).expect(n).check_custom("apps.example.com", "hooks.example.org");
        for taken in ["apps.example.com", "web.apps.example.com", "*.apps.example.com"] {
            let err = check(taken).expect_err(taken);
            assert!(err.message.contains("ferry's own domain apps.example.com"), "{taken}: {}", err.message);
        }
        let hooks = check("hooks.example.org").expect_err("the hooks host");
        assert!(hooks.message.contains("ferry's webhook host"), "{}", hooks.message);
        for free in ["example.com", "myapps.example.com", "*.example.com", "x.hooks.example.org"] {
            check(free).expect(free);
        }
    }

    #[test]
    fn wildcards_are_certified_over_dns01_only() {
        let wild = DomainName::parse("*.example.com").expect("valid");
        let plain = DomainName::parse("app.example.com").expect("valid");
        assert_eq!(ChallengeMethod::for_domain(&plain, None, false), Ok(ChallengeMethod::Http01));
        assert_eq!(ChallengeMethod::for_domain(&wild, None, true), Ok(ChallengeMethod::Dns01));
        let no_hook = ChallengeMethod::for_domain(&wild, None, false).expect_err("no hook");
        assert!(no_hook.message.contains("--acme-dns-hook"), "{}", no_hook.message);
        let http = ChallengeMethod::for_domain(&wild, Some(ChallengeMethod::Http01), true).expect_err("http");
        assert!(http.message.contains("only over dns-01"), "{}", http.message);
        let asked = Some(ChallengeMethod::TlsAlpn01);
        assert_eq!(ChallengeMethod::for_domain(&plain, asked, false), Ok(ChallengeMethod::TlsAlpn01));
    }

    #[test]
    fn methods_and_statuses_round_trip() {
        for m in ChallengeMethod::ALL {
            assert_eq!(ChallengeMethod::parse(m.as_str()).expect("parses"), m);
        }
        assert_eq!(ChallengeMethod::parse("HTTP-01").expect("any case"), ChallengeMethod::Http01);
        assert!(ChallengeMethod::parse("dns").is_err());
        for s in
            [DomainStatus::PendingCertificateValidation, DomainStatus::Active, DomainStatus::CreateFailed]
        {
            assert_eq!(DomainStatus::parse(s.as_str()), Some(s));
        }
    }
}
