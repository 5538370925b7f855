//! The license signing key: generating it (`koolicense keygen`), loading it with a permission
//! check, and signing encoded licenses. The private key never appears in `Debug`, logs or errors.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{Kid, PublicKey, UnsignedLicense};

/// Errors while handling signing keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is readable by group or others.
    #[error(
        "refusing key file {path}: mode {mode:o} lets group or others read it; run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not a PKCS#8 PEM Ed25519 private key.
    #[error("key file {path} is not a PKCS#8 PEM Ed25519 private key")]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// The key's public half is a degenerate curve point.
    #[error("the key is degenerate (small-order public key)")]
    Weak,
    /// A file already exists where a new key would be written.
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

/// The active signing key.
pub struct Signer {
    key: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.public.kid())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Signer {
    /// A signer for an in-memory key. Fails only for a degenerate (small-order) public key.
    pub fn new(key: SigningKey) -> Result<Signer, KeyError> {
        let public =
            PublicKey::from_bytes(&key.verifying_key().to_bytes()).map_err(|_| KeyError::Weak)?;
        Ok(Signer { key, public })
    }

    /// Generates a fresh random key.
    pub fn generate() -> Result<Signer, KeyError> {
        Signer::new(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Loads a PKCS#8 PEM key, refusing a file that group or others can read.
    pub fn load(path: &Path) -> Result<Signer, KeyError> {
        check_private_permissions(path)?;
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Format {
            path: path.to_path_buf(),
        })?;
        Signer::new(key)
    }

    /// The key id.
    pub fn kid(&self) -> Kid {
        self.public.kid()
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs an encoded license and returns the one-line token.
    pub fn sign_license(&self, unsigned: &UnsignedLicense) -> String {
        let signature = self.key.sign(&unsigned.message());
        unsigned.finish(&signature.to_bytes())
    }

    /// Signs arbitrary domain-separated bytes (revocation lists, status answers).
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Writes `<dir>/<kid>.key.pem` (mode 0600) and `<dir>/<kid>.pub.pem`; returns both paths.
    /// With `name`, the files are `<name>.key.pem` and `<name>.pub.pem` instead.
    pub fn write_pair(
        &self,
        dir: &Path,
        name: Option<&str>,
    ) -> Result<(PathBuf, PathBuf), KeyError> {
        let stem = name
            .map(String::from)
            .unwrap_or_else(|| self.kid().to_string());
        let private = dir.join(format!("{stem}.key.pem"));
        let public = dir.join(format!("{stem}.pub.pem"));
        for path in [&private, &public] {
            if path.exists() {
                return Err(KeyError::Exists { path: path.clone() });
            }
        }
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Format {
                path: private.clone(),
            })?;
        write_new_file(&private, pem.as_bytes(), 0o600)?;
        write_new_file(&public, self.public.to_pem().as_bytes(), 0o644)?;
        Ok((private, public))
    }
}

fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Refuses a private key file that group or others may read or write.
pub fn check_private_permissions(path: &Path) -> Result<(), KeyError> {
    let meta = std::fs::metadata(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_pair_then_load_gives_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let signer = Signer::generate().expect("keygen");
        let (private, public) = signer.write_pair(dir.path(), None).expect("write");
        let loaded = Signer::load(&private).expect("load");
        assert_eq!(loaded.kid(), signer.kid());
        let pem = std::fs::read_to_string(public).expect("read pub");
        assert_eq!(PublicKey::parse(&pem).expect("parse").kid(), signer.kid());
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, _) = Signer::generate()
            .expect("keygen")
            .write_pair(dir.path(), None)
            .expect("write");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = Signer::load(&private).expect_err("must fail");
        assert!(
            matches!(err, KeyError::Permissions { mode: 0o644, .. }),
            "{err}"
        );
    }

    #[test]
    fn existing_key_files_are_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let signer = Signer::generate().expect("keygen");
        signer.write_pair(dir.path(), Some("k")).expect("first");
        assert!(matches!(
            signer.write_pair(dir.path(), Some("k")),
            Err(KeyError::Exists { .. })
        ));
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let signer = Signer::generate().expect("keygen");
        let shown = format!("{signer:?}");
        assert!(shown.contains("redacted"));
        let pem = signer.key.to_pkcs8_pem(LineEnding::LF).expect("pem");
        let body: String = pem.lines().nth(1).unwrap_or("").into();
        assert!(!shown.contains(&body));
    }
}
