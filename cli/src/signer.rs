//! Loading signing keys from an encrypted keystore or an environment variable, without ever printing them.

use std::path::PathBuf;

use alloy::signers::local::PrivateKeySigner;
use clap::Args;

/// Result with the key [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a key could not be loaded or written; the message never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A keystore or folder could not be read or written.
    #[error("cannot use {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key could not be loaded (what to do is in the message).
    #[error("{0}")]
    Key(String),
}

impl Error {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// Environment variable holding a hex private key (an alternative to `--keystore`).
pub const PRIVATE_KEY_ENV: &str = "PROVA_PRIVATE_KEY";
/// Environment variable holding the keystore password (otherwise it is asked on the terminal).
pub const KEYSTORE_PASSWORD_ENV: &str = "PROVA_KEYSTORE_PASSWORD";

/// The key that signs: an encrypted JSON keystore (`--keystore`), or the `PROVA_PRIVATE_KEY` environment variable.
///
/// There is deliberately no flag taking a raw private key: command lines show up in `ps` and shell history.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyArgs {
    /// Encrypted JSON keystore (geth/foundry format). The password comes from PROVA_KEYSTORE_PASSWORD or a prompt.
    #[arg(long, env = "PROVA_KEYSTORE")]
    pub keystore: Option<PathBuf>,
}

impl KeyArgs {
    /// Loads the signer. Errors never contain key material.
    pub fn load(&self) -> Result<PrivateKeySigner> {
        if let Some(path) = &self.keystore {
            let password = match std::env::var(KEYSTORE_PASSWORD_ENV) {
                Ok(password) => password,
                Err(_) => rpassword::prompt_password(format!("password for {}: ", path.display()))
                    .map_err(|e| Error::io(path, e))?,
            };
            return PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
                Error::Key(format!("cannot decrypt keystore {}: {}", path.display(), keystore_reason(&e)))
            });
        }
        match std::env::var(PRIVATE_KEY_ENV) {
            Ok(hex) => parse_private_key(&hex, PRIVATE_KEY_ENV),
            Err(_) => Err(Error::Key(format!("no signing key: pass --keystore FILE or set {PRIVATE_KEY_ENV}"))),
        }
    }
}

/// Parses a hex private key taken from `source` (an environment variable name), with an error that never echoes it.
pub fn parse_private_key(hex: &str, source: &str) -> Result<PrivateKeySigner> {
    hex.trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| Error::Key(format!("{source} is not a valid 32-byte hex private key")))
}

/// A short reason for a keystore failure that cannot leak secrets.
fn keystore_reason(error: &alloy::signers::local::LocalSignerError) -> String {
    let text = error.to_string();
    if text.contains("Mac Mismatch") || text.to_lowercase().contains("mac") {
        "wrong password".to_owned()
    } else {
        text
    }
}

/// Writes a new random key to an encrypted keystore in `dir` and returns its path and signer.
pub fn new_keystore(dir: &std::path::Path, password: &str, name: Option<&str>) -> Result<(PathBuf, PrivateKeySigner)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut rng = rand::thread_rng();
    let (signer, uuid) = PrivateKeySigner::new_keystore(dir, &mut rng, password, name)
        .map_err(|e| Error::Key(format!("cannot write keystore in {}: {e}", dir.display())))?;
    // The file is named `name` when given, else the keystore's UUID.
    Ok((dir.join(name.unwrap_or(&uuid)), signer))
}
