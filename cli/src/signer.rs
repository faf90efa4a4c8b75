//! Signing keys: loaded from an encrypted keystore or an environment variable, and written to new keystores, without
//! ever printing them.
//!
//! Keystores are Web3 Secret Storage v3 files (geth's and foundry's format), written 0600 in a folder created 0700,
//! never over an existing file, with geth's standard scrypt cost ([`KEYSTORE_COST`]). Decrypted key bytes, derived
//! keys and passwords held here are wiped on drop ([`Zeroizing`]), and core dumps are turned off before a key is
//! loaded ([`forbid_core_dumps`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::primitives::keccak256;
use alloy::signers::local::PrivateKeySigner;
use clap::Args;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

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
    /// A new keystore's file already exists: keystores are never overwritten.
    #[error("keystore {0} already exists; refusing to overwrite it (choose another --name, or move the old file away)")]
    Exists(PathBuf),
    /// No key was given: neither `--keystore` nor `PROVA_PRIVATE_KEY`.
    #[error("no signing key: pass --keystore FILE or set {PRIVATE_KEY_ENV}")]
    NoKey,
    /// The keystore's MAC does not match: the password is not the one it was written with.
    #[error("cannot decrypt keystore {0}: wrong password")]
    WrongPassword(PathBuf),
    /// No password: `PROVA_KEYSTORE_PASSWORD` is not set and there is no terminal to ask on.
    #[error("no password for keystore {path}: {KEYSTORE_PASSWORD_ENV} is not set and it cannot be asked for")]
    NoPassword {
        /// The keystore.
        path: PathBuf,
        /// Why the prompt failed.
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
    #[arg(long, env = "PROVA_KEYSTORE", hide_env_values = true)]
    pub keystore: Option<PathBuf>,
}

impl KeyArgs {
    /// Loads the signer, with core dumps off from then on. Errors never contain key material.
    pub fn load(&self) -> Result<PrivateKeySigner> {
        forbid_core_dumps();
        if let Some(path) = &self.keystore {
            let password = match std::env::var(KEYSTORE_PASSWORD_ENV) {
                Ok(password) => Zeroizing::new(password),
                Err(_) => Zeroizing::new(
                    rpassword::prompt_password(format!("password for {}: ", path.display()))
                        .map_err(|source| Error::NoPassword { path: path.clone(), source })?,
                ),
            };
            return decrypt_keystore(path, &password);
        }
        match std::env::var(PRIVATE_KEY_ENV) {
            Ok(hex) => parse_private_key(&Zeroizing::new(hex), PRIVATE_KEY_ENV),
            Err(_) => Err(Error::NoKey),
        }
    }
}

/// Parses a hex private key taken from `source` (an environment variable name), with an error that never echoes it.
/// Core dumps are off from then on.
pub fn parse_private_key(hex: &str, source: &str) -> Result<PrivateKeySigner> {
    forbid_core_dumps();
    let invalid = || Error::Key(format!("{source} is not a valid 32-byte hex private key"));
    let mut bytes = Zeroizing::new([0u8; 32]);
    alloy::hex::decode_to_slice(hex.trim(), bytes.as_mut_slice()).map_err(|_| invalid())?;
    PrivateKeySigner::from_slice(bytes.as_slice()).map_err(|_| invalid())
}

/// Turns core dumps off for the rest of the process, before key material is held in memory: the core size limit
/// (soft and hard) goes to 0 and, on Linux, the process is marked not dumpable (which also keeps other processes of
/// the same user from reading its memory through `/proc` or ptrace). Done once; a failure is logged, not fatal.
pub fn forbid_core_dumps() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: setrlimit reads a valid rlimit struct we own.
            if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
                tracing::warn!(error = %std::io::Error::last_os_error(), "cannot turn core dumps off");
            }
        }
        #[cfg(target_os = "linux")]
        {
            // SAFETY: PR_SET_DUMPABLE takes plain integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
                tracing::warn!(error = %std::io::Error::last_os_error(), "cannot mark the process not dumpable");
            }
        }
    });
}

/// Scrypt cost of a keystore: n = 2^`log_n`, block size `r`, parallelism `p` (memory is 128·n·r bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptCost {
    /// log2 of the CPU/memory cost n.
    pub log_n: u8,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

/// The cost of keystores written by prova: geth's standard one (`StandardScryptN = 1 << 18`, `StandardScryptP =
/// 1`, r = 8), 256 MiB and about a second (release build) per derivation, to write or to decrypt.
pub const KEYSTORE_COST: ScryptCost = ScryptCost { log_n: 18, r: 8, p: 1 };

/// Writes a new random key to an encrypted keystore in `dir` (created 0700 if missing) named `name` (default: the
/// keystore's UUID), with [`KEYSTORE_COST`]; returns its path and signer. Refuses ([`Error::Exists`]) if the file
/// exists. Core dumps are off from then on.
pub fn new_keystore(dir: &Path, password: &str, name: Option<&str>) -> Result<(PathBuf, PrivateKeySigner)> {
    write_new_keystore(dir, password, name, KEYSTORE_COST)
}

fn write_new_keystore(
    dir: &Path,
    password: &str,
    name: Option<&str>,
    cost: ScryptCost,
) -> Result<(PathBuf, PrivateKeySigner)> {
    forbid_core_dumps();
    let mut rng = rand::thread_rng();
    let id = uuid_v4(&mut rng);
    let name = name.unwrap_or(&id);
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err(Error::Key(format!("{name:?} is not a file name (the folder is --dir)")));
    }
    let path = dir.join(name);
    create_private_dir(dir)?;
    // Checked first to refuse before the costly derivation; the exclusive create below is what guarantees it.
    if path.symlink_metadata().is_ok() {
        return Err(Error::Exists(path));
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    let signer = loop {
        rng.fill_bytes(secret.as_mut_slice());
        // All but a 2^-128 fraction of 32-byte strings are valid keys.
        if let Ok(signer) = PrivateKeySigner::from_slice(secret.as_slice()) {
            break signer;
        }
    };
    let json = encrypt(secret.as_slice(), password, &id, signer.address(), cost, &mut rng)?;
    write_private_file(&path, json.as_bytes())?;
    Ok((path, signer))
}

/// Creates `dir` (and missing parents) 0700; an existing folder is left as it is, with a warning if other users can
/// read or enter it.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir).map_err(|e| Error::io(dir, e))?;
        let mode = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the keystore folder is open to other users (0700 is safer)");
        }
    }
    #[cfg(not(unix))]
    builder.create(dir).map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// Writes `contents` to a new file at `path`, readable by its owner only (0600); fails if the path exists. A file
/// left half-written by an error is removed.
fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Exists(path.to_owned()),
        _ => Error::io(path, e),
    })?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(|e| {
        let _ = std::fs::remove_file(path);
        Error::io(path, e)
    })
}

/// A random (version 4) UUID.
fn uuid_v4(rng: &mut impl RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = alloy::hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A Web3 Secret Storage v3 keystore file.
#[derive(Serialize, Deserialize)]
struct KeystoreFile {
    /// The key's address, lowercase hex without `0x` (as geth writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(alias = "Crypto")]
    crypto: Crypto,
    id: String,
    version: u8,
}

#[derive(Serialize, Deserialize)]
struct Crypto {
    cipher: String,
    cipherparams: CipherParams,
    ciphertext: String,
    kdf: String,
    kdfparams: serde_json::Value,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParams {
    iv: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    dklen: u32,
    n: u64,
    p: u32,
    r: u32,
    salt: String,
}

/// The scrypt key of `password` (32 bytes: the AES key, then the MAC key).
fn derive(password: &str, salt: &[u8], cost: ScryptCost) -> Result<Zeroizing<[u8; 32]>> {
    let params = scrypt::Params::new(cost.log_n, cost.r, cost.p)
        .map_err(|_| Error::Key(format!("invalid scrypt parameters {cost:?}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.as_bytes(), salt, &params, key.as_mut_slice())
        .map_err(|_| Error::Key("scrypt failed".into()))?;
    Ok(key)
}

/// AES-128-CTR of `data` under the first half of `key`, in place.
fn aes_ctr(key: &[u8; 32], iv: &[u8], data: &mut [u8]) -> Result<()> {
    let mut cipher = ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&key[..16], iv)
        .map_err(|_| Error::Key("the keystore's iv is not 16 bytes".into()))?;
    cipher.apply_keystream(data);
    Ok(())
}

/// The keystore MAC: keccak256 of the derived key's second half and the ciphertext (the copy is wiped).
fn mac(key: &[u8; 32], ciphertext: &[u8]) -> alloy::primitives::B256 {
    let mut data = Zeroizing::new(Vec::with_capacity(16 + ciphertext.len()));
    data.extend_from_slice(&key[16..]);
    data.extend_from_slice(ciphertext);
    keccak256(data.as_slice())
}

/// The keystore JSON of `secret`.
fn encrypt(
    secret: &[u8],
    password: &str,
    id: &str,
    address: alloy::primitives::Address,
    cost: ScryptCost,
    rng: &mut impl RngCore,
) -> Result<String> {
    let (mut salt, mut iv) = ([0u8; 32], [0u8; 16]);
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    let key = derive(password, &salt, cost)?;
    let mut ciphertext = secret.to_vec();
    aes_ctr(&key, &iv, &mut ciphertext)?;
    let mac = mac(&key, &ciphertext);
    let file = KeystoreFile {
        address: Some(alloy::hex::encode(address)),
        crypto: Crypto {
            cipher: "aes-128-ctr".into(),
            cipherparams: CipherParams { iv: alloy::hex::encode(iv) },
            ciphertext: alloy::hex::encode(&ciphertext),
            kdf: "scrypt".into(),
            kdfparams: serde_json::to_value(ScryptParams {
                dklen: 32,
                n: 1 << cost.log_n,
                p: cost.p,
                r: cost.r,
                salt: alloy::hex::encode(salt),
            })
            .map_err(|e| Error::Key(format!("cannot encode the keystore: {e}")))?,
            mac: alloy::hex::encode(mac),
        },
        id: id.to_owned(),
        version: 3,
    };
    serde_json::to_string(&file).map_err(|e| Error::Key(format!("cannot encode the keystore: {e}")))
}

/// Decrypts the keystore at `path`. Scrypt keystores (geth's, foundry's, prova's) are decrypted here, with every
/// intermediate wiped; other KDFs (pbkdf2) go through alloy.
fn decrypt_keystore(path: &Path, password: &str) -> Result<PrivateKeySigner> {
    let fail = |reason: &str| Error::Key(format!("cannot decrypt keystore {}: {reason}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let file: KeystoreFile = serde_json::from_str(&text).map_err(|e| fail(&format!("not a JSON keystore ({e})")))?;
    if file.crypto.kdf != "scrypt" {
        return PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| match keystore_reason(&e) {
            None => Error::WrongPassword(path.to_owned()),
            Some(reason) => fail(&reason),
        });
    }
    if file.version != 3 || file.crypto.cipher != "aes-128-ctr" {
        return Err(fail("only version 3 keystores with aes-128-ctr are supported"));
    }
    let params: ScryptParams =
        serde_json::from_value(file.crypto.kdfparams).map_err(|e| fail(&format!("bad scrypt parameters ({e})")))?;
    if params.dklen != 32 || !params.n.is_power_of_two() || params.n < 2 {
        return Err(fail("unsupported scrypt parameters (dklen must be 32 and n a power of two)"));
    }
    let hex = |field: &str, value: &str| alloy::hex::decode(value).map_err(|_| fail(&format!("{field} is not hex")));
    let salt = hex("salt", &params.salt)?;
    let iv = hex("iv", &file.crypto.cipherparams.iv)?;
    let ciphertext = hex("ciphertext", &file.crypto.ciphertext)?;
    let mac = hex("mac", &file.crypto.mac)?;
    let log_n = u8::try_from(params.n.trailing_zeros()).map_err(|_| fail("n too large"))?;
    let key = derive(password, &salt, ScryptCost { log_n, r: params.r, p: params.p })?;
    if self::mac(&key, &ciphertext).as_slice() != mac.as_slice() {
        return Err(Error::WrongPassword(path.to_owned()));
    }
    let mut secret = Zeroizing::new(ciphertext);
    aes_ctr(&key, &iv, &mut secret)?;
    PrivateKeySigner::from_slice(&secret).map_err(|_| fail("the decrypted bytes are not a valid private key"))
}

/// A short reason for a keystore failure that cannot leak secrets; `None` for a wrong password (a MAC mismatch).
fn keystore_reason(error: &alloy::signers::local::LocalSignerError) -> Option<String> {
    let text = error.to_string();
    (!text.to_lowercase().contains("mac")).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cost that derives in microseconds, for the tests that do not check the cost itself.
    const CHEAP: ScryptCost = ScryptCost { log_n: 4, r: 8, p: 1 };

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn keystores_are_private_files_in_a_private_folder() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys/nested");
        let (path, signer) = write_new_keystore(&dir, "pw", Some("a.json"), CHEAP).unwrap();
        assert_eq!(path, dir.join("a.json"));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("keys")), 0o700);
        // Unnamed: the UUID.
        let (path, _) = write_new_keystore(&dir, "pw", None, CHEAP).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!((name.len(), &name[14..15]), (36, "4"), "{name}");
        assert_eq!(mode(&path), 0o600);
        // Readable by this module and by alloy (eth-keystore), which is what geth and foundry write.
        let first = dir.join("a.json");
        assert_eq!(decrypt_keystore(&first, "pw").unwrap().address(), signer.address());
        assert_eq!(PrivateKeySigner::decrypt_keystore(&first, "pw").unwrap().address(), signer.address());
        let err = decrypt_keystore(&first, "wrong").unwrap_err();
        assert!(matches!(&err, Error::WrongPassword(p) if p == &first), "{err}");
        assert!(err.to_string().ends_with("wrong password"), "{err}");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
        assert_eq!(json["address"], alloy::hex::encode(signer.address()));
    }

    #[test]
    fn an_existing_keystore_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = write_new_keystore(dir.path(), "pw", Some("k.json"), CHEAP).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = write_new_keystore(dir.path(), "other", Some("k.json"), CHEAP).unwrap_err();
        assert!(matches!(&err, Error::Exists(p) if p == &path), "{err}");
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // The exclusive create refuses too (a file that appears after the first check), and a dangling symlink.
        assert!(matches!(write_private_file(&path, b"x"), Err(Error::Exists(_))));
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("link")).unwrap();
        assert!(matches!(write_new_keystore(dir.path(), "pw", Some("link"), CHEAP), Err(Error::Exists(_))));
        assert!(!dir.path().join("nowhere").exists());
        // A name is a file name, not a path out of --dir.
        for name in ["../escape", "a/b", "..", ""] {
            assert!(matches!(write_new_keystore(dir.path(), "pw", Some(name), CHEAP), Err(Error::Key(_))), "{name}");
        }
    }

    /// The one test that pays the real cost: a keystore written by `new_keystore` carries geth's standard scrypt
    /// parameters and decrypts.
    #[test]
    fn new_keystores_use_at_least_geths_standard_scrypt_cost() {
        assert_eq!(1u64 << KEYSTORE_COST.log_n, 262_144);
        assert_eq!((KEYSTORE_COST.r, KEYSTORE_COST.p), (8, 1));
        let dir = tempfile::tempdir().unwrap();
        let (path, signer) = new_keystore(dir.path(), "pw", Some("k.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let params = &json["crypto"]["kdfparams"];
        assert_eq!(json["crypto"]["kdf"], "scrypt");
        assert!(params["n"].as_u64().unwrap() >= 262_144, "{params}");
        assert_eq!(
            (params["r"].as_u64(), params["p"].as_u64(), params["dklen"].as_u64()),
            (Some(8), Some(1), Some(32))
        );
        assert_eq!(decrypt_keystore(&path, "pw").unwrap().address(), signer.address());
    }

    #[test]
    fn keystores_of_other_tools_still_load() {
        // eth-keystore's (and so alloy's and older prova's) cheaper scrypt cost, n = 2^13.
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand::thread_rng();
        let (signer, id) = PrivateKeySigner::new_keystore(dir.path(), &mut rng, "pw", None).unwrap();
        assert_eq!(decrypt_keystore(&dir.path().join(id), "pw").unwrap().address(), signer.address());
    }

    #[test]
    fn private_keys_parse_without_echoing_them() {
        let hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let signer = parse_private_key(hex, "X").unwrap();
        assert_eq!(signer.address().to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        let err = parse_private_key(&hex[..40], "X").unwrap_err().to_string();
        assert!(!err.contains(&hex[2..20]), "{err}");
    }

    #[test]
    fn core_dumps_are_off_once_a_key_is_loaded() {
        forbid_core_dumps();
        let mut limit = libc::rlimit { rlim_cur: 1, rlim_max: 1 };
        // SAFETY: getrlimit writes into a struct we own.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) }, 0);
        assert_eq!((limit.rlim_cur, limit.rlim_max), (0, 0));
        #[cfg(target_os = "linux")]
        // SAFETY: PR_GET_DUMPABLE takes no pointer.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }
}
