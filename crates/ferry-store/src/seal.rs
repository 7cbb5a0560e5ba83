//! Sealing values at rest: what must not sit in `ferry.db` in clear (secrets' values, registry and git
//! passwords) is encrypted with XChaCha20-Poly1305 under a 32-byte key kept beside the database in
//! `secret.key`.
//!
//! A sealed value is `1 || nonce (24 bytes) || ciphertext and tag`. The leading byte is the format's
//! version, so another cipher or key can come later without guessing. The nonce is random per value (192
//! bits: no counter to keep, no risk of reuse). The associated data names the value's place
//! (`secret:<name>`, `credentials:<service id>`) with the version: a sealed value copied into another
//! row does not open there, so whoever can write the database cannot move a secret to where it would be
//! shown or injected.
//!
//! The key file protects the values from whoever gets `ferry.db` alone: a backup, a copied file, a
//! database opened by another user. It does not protect them from whoever can read the data directory
//! (ferry itself must read the key), which is why the directory is 0700 and the key 0600.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Result, StoreError};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secret.key";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// The format's version: the first byte of every sealed value.
const V1: u8 = 1;

/// Seals and opens values under this installation's key. Its `Debug` shows no key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        StoreError::Key(format!("the operating system's random number generator failed: {e}"))
    })?;
    Ok(bytes)
}

impl Sealer {
    pub fn from_key(key: [u8; KEY_LEN]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    /// A sealer under a new random key that is kept nowhere: for databases that live as long as the
    /// process (tests, `Store::in_memory`).
    pub fn ephemeral() -> Result<Self> {
        Ok(Self::from_key(random()?))
    }

    /// The key in `path`, made on the first start: 32 random bytes in a file created 0600 that never
    /// existed before (`O_EXCL`), so a key is never overwritten. A key file others may read is made 0600
    /// (logged); one of the wrong size is an error, and nothing is changed.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let shown = path.display();
        let io = |what: &str, e: std::io::Error| StoreError::Key(format!("cannot {what} {shown}: {e}"));
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(mut file) => {
                let key: [u8; KEY_LEN] = random()?;
                file.write_all(&key).map_err(|e| io("write", e))?;
                file.sync_all().map_err(|e| io("write", e))?;
                tracing::info!(path = %shown, "made the key that seals secrets at rest; back it up with the database");
                return Ok(Self::from_key(key));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create", e)),
        }
        let mut file = std::fs::File::open(path).map_err(|e| io("open", e))?;
        let mode = file.metadata().map_err(|e| io("read", e))?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("change the mode of", e))?;
            tracing::warn!(path = %shown, was = format!("{:o}", mode & 0o777), now = "600",
                "the key file was readable by others; made it private");
        }
        let mut key = Vec::with_capacity(KEY_LEN);
        Read::by_ref(&mut file).take(KEY_LEN as u64 + 1).read_to_end(&mut key).map_err(|e| io("read", e))?;
        let key: [u8; KEY_LEN] = key.as_slice().try_into().map_err(|_| {
            StoreError::Key(format!(
                "{shown} holds {} bytes, not the {KEY_LEN} of a key ferry made; it was left as it is. \
                 Restore the key file from the backup made with this database",
                key.len()
            ))
        })?;
        Ok(Self::from_key(key))
    }

    /// `value` sealed for `place` (see the module's documentation).
    pub(crate) fn seal(&self, place: &str, value: &[u8]) -> Result<Vec<u8>> {
        let nonce: [u8; NONCE_LEN] = random()?;
        let aad = associated(place);
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: value, aad: &aad })
            .map_err(|_| StoreError::Key("a value cannot be sealed".to_owned()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed for `place`; a value sealed under another key or for another place is
    /// [`StoreError::Unsealable`].
    pub(crate) fn open(&self, place: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let unsealable = |why: &str| StoreError::Unsealable { place: place.to_owned(), why: why.to_owned() };
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(unsealable("it is empty"));
        };
        if version != V1 {
            return Err(unsealable(&format!("its format {version} is unknown to this ferry")));
        }
        if rest.len() < NONCE_LEN {
            return Err(unsealable("it is cut short"));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| unsealable("it is cut short"))?;
        let aad = associated(place);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: body, aad: &aad }).map_err(|_| {
            unsealable("it was sealed under another key (is secret.key the one made with this database?) or for another place")
        })
    }

    /// [`Sealer::seal`] of text, as hex, for a value kept inside a JSON column.
    pub(crate) fn seal_text(&self, place: &str, value: &str) -> Result<String> {
        Ok(hex::encode(self.seal(place, value.as_bytes())?))
    }

    pub(crate) fn open_text(&self, place: &str, sealed: &str) -> Result<String> {
        let bytes = hex::decode(sealed).map_err(|_| StoreError::Unsealable {
            place: place.to_owned(),
            why: "it is not hex".to_owned(),
        })?;
        String::from_utf8(self.open(place, &bytes)?)
            .map_err(|_| StoreError::Unsealable { place: place.to_owned(), why: "it is not text".to_owned() })
    }
}

fn associated(place: &str) -> Vec<u8> {
    let mut aad = vec![V1];
    aad.extend_from_slice(place.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_under_its_key_and_place_only() {
        let sealer = Sealer::ephemeral().unwrap();
        let sealed = sealer.seal("secret:db", b"hunter2").unwrap();
        assert_eq!(sealed[0], V1);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "sealed values are not in clear");
        assert_eq!(sealer.open("secret:db", &sealed).unwrap(), b"hunter2");
        assert_ne!(sealer.seal("secret:db", b"hunter2").unwrap(), sealed, "a new nonce every time");

        let moved = sealer.open("secret:other", &sealed).unwrap_err();
        assert!(
            matches!(moved, StoreError::Unsealable { ref place, .. } if place == "secret:other"),
            "{moved}"
        );
        let other_key = Sealer::ephemeral().unwrap().open("secret:db", &sealed).unwrap_err();
        assert!(other_key.to_string().contains("another key"), "{other_key}");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open("secret:db", &tampered).is_err());
        for bad in [&[][..], &[2u8, 0, 0][..], &sealed[..10]] {
            assert!(sealer.open("secret:db", bad).is_err());
        }
        assert!(sealer.open_text("secret:db", "not hex").is_err());
    }

    #[test]
    fn the_key_file_is_made_once_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let first = Sealer::load_or_create(&path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        let key = std::fs::read(&path).unwrap();
        let sealed = first.seal("secret:a", b"v").unwrap();

        // Looser than 0600: made private; the same key.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = Sealer::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), key, "never overwritten");
        assert_eq!(again.open("secret:a", &sealed).unwrap(), b"v");

        // The wrong size: an error, and the file as it was.
        std::fs::write(&path, b"short").unwrap();
        let e = Sealer::load_or_create(&path).unwrap_err();
        assert!(e.to_string().contains("holds 5 bytes"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
        assert!(format!("{again:?}").contains("***"));
    }
}
