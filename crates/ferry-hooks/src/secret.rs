//! Webhook secrets: making them, signing with them, and checking signatures in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of randomness in a [`generate_secret`].
const SECRET_BYTES: usize = 32;

/// A new webhook secret: 32 bytes from the operating system's random number generator, as 64 lowercase
/// hex digits.
///
/// # Panics
/// When the operating system cannot provide randomness, which leaves no safe secret to return.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    // A failing OS generator is a broken machine, not bad input: there is nothing sound to fall back to.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    hex::encode(bytes)
}

/// The HMAC-SHA256 of `body` keyed with `secret`, as lowercase hex: what Gitea and Forgejo send bare.
pub fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(mac(secret, body).finalize().into_bytes())
}

/// The `X-Hub-Signature-256` value GitHub sends for `body`: `sha256=` and [`hmac_hex`].
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret, body))
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (a long key is hashed first): `new_from_slice` never fails for it.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac takes keys of any length");
    mac.update(body);
    mac
}

/// Whether `hex_signature` (either case) is the HMAC-SHA256 of `body` keyed with `secret`. The digests
/// are compared in constant time; a value that is not 64 hex digits is simply wrong.
pub(crate) fn hex_signature_matches(secret: &[u8], body: &[u8], hex_signature: &str) -> bool {
    let Ok(tag) = hex::decode(hex_signature) else { return false };
    mac(secret, body).verify_slice(&tag).is_ok()
}

/// Whether `token` equals `secret`, in time that depends on neither: both are run through HMAC keyed
/// with the secret and the digests are compared in constant time.
pub(crate) fn token_matches(secret: &[u8], token: &[u8]) -> bool {
    let expected = mac(secret, secret).finalize().into_bytes();
    mac(secret, token).verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231, test case 2.
        let got = hmac_hex(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(got, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(sign_github(b"Jefe", b"what do ya want for nothing?"), format!("sha256={got}"));
    }

    #[test]
    fn signatures_are_checked_in_either_case() {
        let sig = hmac_hex(b"s3cret", b"{}");
        assert!(hex_signature_matches(b"s3cret", b"{}", &sig));
        assert!(hex_signature_matches(b"s3cret", b"{}", &sig.to_uppercase()));
        assert!(!hex_signature_matches(b"other", b"{}", &sig));
        assert!(!hex_signature_matches(b"s3cret", b"{} ", &sig));
        assert!(!hex_signature_matches(b"s3cret", b"{}", &sig[..62]));
        assert!(!hex_signature_matches(b"s3cret", b"{}", &sig[..63]));
        assert!(!hex_signature_matches(b"s3cret", b"{}", ""));
        assert!(!hex_signature_matches(b"s3cret", b"{}", &format!("{sig}00")));
    }

    #[test]
    fn tokens_match_only_exactly() {
        assert!(token_matches(b"tok", b"tok"));
        assert!(!token_matches(b"tok", b"to"));
        assert!(!token_matches(b"tok", b"tok "));
        assert!(!token_matches(b"tok", b"TOK"));
        assert!(!token_matches(b"tok", b""));
    }

    #[test]
    fn generated_secrets_are_64_lowercase_hex_and_differ() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a, b);
    }
}
