//! AWS Signature Version 4, checked as App Runner's front end checks it: the `Authorization` header
//! (`AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/apprunner/aws4_request, SignedHeaders=…,
//! Signature=…`) over the canonical request, `X-Amz-Date` within 15 minutes of now.
//!
//! An unknown key is signed for with a dummy secret all the same, so it costs what a known key with a
//! bad signature costs: the answer's timing does not say whether a key exists.

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, macros::format_description};

use crate::error::AwsError;

type HmacSha256 = Hmac<Sha256>;

/// The signing name clients scope their credentials to.
pub const SERVICE: &str = "apprunner";
/// How far `X-Amz-Date` may be from now, either way.
pub const MAX_SKEW: Duration = Duration::minutes(15);
/// Signs for a key that does not exist (never a valid secret: it is not 40 characters).
const DUMMY_SECRET: &str = "ferry-dummy-secret-for-unknown-keys";

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, as the client listed them.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

fn refused(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, StatusCode::FORBIDDEN, message)
}

fn incomplete(message: impl Into<String>) -> AwsError {
    refused("IncompleteSignatureException", message)
}

/// Parses the `Authorization` header.
pub fn parse_authorization(value: Option<&str>) -> Result<Authorization, AwsError> {
    let Some(value) = value else {
        return Err(refused("MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let Some(rest) = value.trim().strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(incomplete(
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm (AWS Signature Version 4)",
        ));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else { continue };
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters",
        ));
    };
    let fields: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = fields.as_slice() else {
        return Err(incomplete(format!(
            "Credential should be <AccessKeyId>/<YYYYMMDD>/<region>/{SERVICE}/aws4_request, not {credential:?}"
        )));
    };
    if key_id.is_empty() || date.len() != 8 || region.is_empty() {
        return Err(incomplete(format!("Credential {credential:?} is malformed")));
    }
    let signed_headers: Vec<String> = signed.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
    if signed_headers.iter().any(String::is_empty) || !signed_headers.iter().any(|h| h == "host") {
        return Err(incomplete("SignedHeaders must list the signed headers, host among them"));
    }
    Ok(Authorization {
        key_id: (*key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers,
        signature: signature.trim().to_ascii_lowercase(),
    })
}

/// `YYYYMMDD'T'HHMMSS'Z'`, the form of `X-Amz-Date`.
pub fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format).ok().map(PrimitiveDateTime::assume_utc)
}

fn amz_date(at: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    at.format(format).unwrap_or_default()
}

/// Refuses a date more than [`MAX_SKEW`] from `now`, in AWS's words.
pub fn check_date(date: &str, now: OffsetDateTime) -> Result<OffsetDateTime, AwsError> {
    let Some(at) = parse_amz_date(date) else {
        return Err(incomplete(format!("X-Amz-Date {date:?} is not a date of the form 20260101T000000Z")));
    };
    if at < now - MAX_SKEW {
        return Err(refused(
            "InvalidSignatureException",
            format!(
                "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
                amz_date(now - MAX_SKEW),
                amz_date(now)
            ),
        ));
    }
    if at > now + MAX_SKEW {
        return Err(refused(
            "InvalidSignatureException",
            format!(
                "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
                amz_date(now + MAX_SKEW),
                amz_date(now)
            ),
        ));
    }
    Ok(at)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 asks.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical request. `path` and `query` are as received (still percent-encoded).
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, AwsError> {
    let uri: Vec<String> = path.split('/').map(uri_encode).collect();
    let mut uri = uri.join("/");
    if uri.is_empty() {
        uri.push('/');
    }
    let mut params: Vec<(&str, &str)> =
        query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    params.sort_unstable();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(incomplete(format!("the signed header {name:?} is not in the request")));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(format!(
        "{method}\n{uri}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        query.join("&"),
        signed_headers.join(";")
    ))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signature (hex) of `canonical` by `secret`, for the scope `auth` names, at `amz_date`.
pub fn signature(secret: &str, auth: &Authorization, amz_date: &str, canonical: &str) -> String {
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        auth.scope(),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    for part in [auth.region.as_str(), auth.service.as_str(), "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, to_sign.as_bytes()))
}

/// Equal without an early exit: the time taken does not say how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request to check.
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Checks the request's signature against `secret` (`None`: the key is unknown, refused the same way
/// after the same work). `auth` is the parsed `Authorization` header.
pub fn verify(
    request: &Signed<'_>,
    auth: &Authorization,
    secret: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AwsError> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(date) = header("x-amz-date") else {
        return Err(incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header",
        ));
    };
    check_date(date, now)?;
    if !date.starts_with(&auth.date) {
        return Err(refused(
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                auth.date,
                &date[..8.min(date.len())]
            ),
        ));
    }
    if auth.service != SERVICE {
        return Err(refused(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{SERVICE}'."),
        ));
    }
    // The body's own hash: a signed `x-amz-content-sha256` that is not it would let a body be swapped.
    let payload_hash = hex::encode(Sha256::digest(request.body));
    if header("x-amz-content-sha256").is_some_and(|given| !given.eq_ignore_ascii_case(&payload_hash)) {
        return Err(refused(
            "InvalidSignatureException",
            "x-amz-content-sha256 is not the SHA-256 of the body",
        ));
    }
    let canonical = canonical_request(
        request.method,
        request.path,
        request.query,
        request.headers,
        &auth.signed_headers,
        &payload_hash,
    )?;
    let expected = signature(secret.unwrap_or(DUMMY_SECRET), auth, date, &canonical);
    let matches = constant_time_eq(expected.as_bytes(), auth.signature.as_bytes());
    match (secret, matches) {
        (None, _) => Err(refused(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )),
        (Some(_), false) => Err(refused(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details.",
        )),
        (Some(_), true) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use time::macros::datetime;

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const BODY: &[u8] = br#"{"MaxResults": 5}"#;
    /// Made by botocore's `SigV4Auth` (Debian's python3-botocore) for this request at 2026-12-06 03:00:00.
    const BOTOCORE: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261206/eu-west-1/apprunner/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
         Signature=473c2bcf268ae92b0b187095d4af1817ef7c5f378a47adb50f0a12ac0f06a43a";

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("host", "127.0.0.1:7000"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AppRunner.ListServices"),
            ("x-amz-date", "20261206T030000Z"),
            ("authorization", authorization),
        ] {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn check(
        authorization: &str,
        body: &[u8],
        secret: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), AwsError> {
        let h = headers(authorization);
        let auth = parse_authorization(Some(authorization))?;
        let request = Signed { method: "POST", path: "/", query: "", headers: &h, body };
        verify(&request, &auth, secret, now)
    }

    #[test]
    fn botocore_signatures_are_accepted() {
        check(BOTOCORE, BODY, Some(SECRET), datetime!(2026-12-06 03:05:00 UTC)).unwrap();
    }

    #[test]
    fn a_wrong_secret_a_changed_body_and_an_unknown_key_are_refused() {
        let now = datetime!(2026-12-06 03:00:00 UTC);
        let wrong = check(BOTOCORE, BODY, Some("x".repeat(40).as_str()), now).unwrap_err();
        assert_eq!((wrong.code, wrong.status), ("InvalidSignatureException", StatusCode::FORBIDDEN));
        let changed = check(BOTOCORE, br#"{"MaxResults": 6}"#, Some(SECRET), now).unwrap_err();
        assert_eq!(changed.code, "InvalidSignatureException");
        let unknown = check(BOTOCORE, BODY, None, now).unwrap_err();
        assert_eq!((unknown.code, unknown.status), ("UnrecognizedClientException", StatusCode::FORBIDDEN));
    }

    #[test]
    fn dates_more_than_15_minutes_away_are_refused_in_aws_words() {
        let late = check(BOTOCORE, BODY, Some(SECRET), datetime!(2026-12-06 03:15:01 UTC)).unwrap_err();
        assert_eq!(late.code, "InvalidSignatureException");
        assert!(
            late.message.starts_with("Signature expired: 20261206T030000Z is now earlier than"),
            "{}",
            late.message
        );
        let early = check(BOTOCORE, BODY, Some(SECRET), datetime!(2026-12-06 02:44:59 UTC)).unwrap_err();
        assert_eq!(early.code, "InvalidSignatureException");
        assert!(early.message.starts_with("Signature not yet current"), "{}", early.message);
        check(BOTOCORE, BODY, Some(SECRET), datetime!(2026-12-06 03:15:00 UTC)).unwrap();
    }

    #[test]
    fn missing_and_malformed_authorizations_are_told_apart() {
        let missing = parse_authorization(None).unwrap_err();
        assert_eq!(
            (missing.code, missing.status),
            ("MissingAuthenticationTokenException", StatusCode::FORBIDDEN)
        );
        for bad in [
            "Bearer abc",
            "AWS4-HMAC-SHA256 Credential=AKIA/20261206/eu-west-1/apprunner/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKIA/2026/eu-west-1/apprunner, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIA/20261206/eu-west-1/apprunner/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        ] {
            assert_eq!(
                parse_authorization(Some(bad)).unwrap_err().code,
                "IncompleteSignatureException",
                "{bad}"
            );
        }
        let other = BOTOCORE.replace("/apprunner/", "/ecs/");
        let e = check(&other, BODY, Some(SECRET), datetime!(2026-12-06 03:00:00 UTC)).unwrap_err();
        assert_eq!(e.code, "InvalidSignatureException");
    }
}
