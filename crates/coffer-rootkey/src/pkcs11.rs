//! The root key sealed by a PKCS#11 token.
//!
//! Design: an AES-256 secret key object on the token (`CKA_SENSITIVE`, not
//! `CKA_EXTRACTABLE`: its value never leaves the token) encrypts the root key with
//! AES-GCM *on the token*; the data directory keeps only that ciphertext (in
//! `root-key.json`). At start-up the token decrypts it and the root key lives in memory
//! only, zeroized on drop. So the data directory alone holds a ciphertext under a key no
//! file holds, and a different token key fails the GCM tag at start-up, before any object
//! is touched. Sealing (rather than deriving the root key on the token) keeps the token's
//! work to one call per start and lets the token key be re-wrapped without touching the
//! KMS state.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::{AuthPin, Ulong};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use coffer_kms::RootKey;

use crate::{Pin, Pkcs11Spec, RootKeyError};

/// Binds the ciphertext to its purpose: a blob sealed for something else does not open.
const AAD: &[u8] = b"coffer/root-key/pkcs11/v1";
const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;

/// An open, logged-in session on the token `spec.token`. The library is finalized when
/// this is dropped (the session first).
struct Token {
    session: Session,
    _context: Pkcs11,
}

fn err(spec: &Pkcs11Spec, what: &str, e: impl std::fmt::Debug) -> RootKeyError {
    RootKeyError::Source(format!(
        "PKCS#11 token `{}` ({}): {what}: {e:?}",
        spec.token,
        spec.module.display()
    ))
}

impl Token {
    fn open(spec: &Pkcs11Spec, pin: Option<&Pin>, read_write: bool) -> Result<Token, RootKeyError> {
        let pin = pin.ok_or_else(|| {
            RootKeyError::Source(format!(
                "the token `{}` needs its user PIN: give --root-key-pin-file or COFFER_ROOT_KEY_PIN",
                spec.token
            ))
        })?;
        if !spec.module.exists() {
            return Err(RootKeyError::Source(format!(
                "the PKCS#11 module {} does not exist",
                spec.module.display()
            )));
        }
        let context = Pkcs11::new(&spec.module).map_err(|e| err(spec, "loading the module", e))?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| err(spec, "initializing", e))?;
        let slot = find_slot(&context, spec)?;
        let session = if read_write {
            context.open_rw_session(slot)
        } else {
            context.open_ro_session(slot)
        }
        .map_err(|e| err(spec, "opening a session", e))?;
        let auth = AuthPin::from(pin.expose().to_owned());
        session
            .login(UserType::User, Some(&auth))
            .map_err(|e| err(spec, "logging in with the user PIN", e))?;
        Ok(Token {
            session,
            _context: context,
        })
    }

    /// The secret key labelled `spec.key`; exactly one must exist.
    fn key(&self, spec: &Pkcs11Spec) -> Result<Option<ObjectHandle>, RootKeyError> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(spec.key.as_bytes().to_vec()),
            ])
            .map_err(|e| err(spec, "looking up the key", e))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(RootKeyError::Source(format!(
                "the token `{}` holds {} secret keys labelled `{}`; the label must be unique",
                spec.token,
                found.len(),
                spec.key
            ))),
        }
    }

    fn existing_key(&self, spec: &Pkcs11Spec) -> Result<ObjectHandle, RootKeyError> {
        self.key(spec)?.ok_or_else(|| {
            RootKeyError::Source(format!(
                "the token `{}` has no secret key labelled `{}`; create it with \
                 `coffer root-key init-pkcs11 --root-key '{}'`",
                spec.token,
                spec.key,
                crate::RootKeySource::Pkcs11(spec.clone())
            ))
        })
    }
}

fn find_slot(context: &Pkcs11, spec: &Pkcs11Spec) -> Result<cryptoki::slot::Slot, RootKeyError> {
    let slots = context
        .get_slots_with_token()
        .map_err(|e| err(spec, "listing slots", e))?;
    let mut labels = Vec::new();
    for slot in slots {
        let info = context
            .get_token_info(slot)
            .map_err(|e| err(spec, "reading token info", e))?;
        if info.label().trim_end() == spec.token {
            return Ok(slot);
        }
        labels.push(info.label().trim_end().to_owned());
    }
    Err(RootKeyError::Source(format!(
        "no PKCS#11 token labelled `{}` in {} (tokens found: {})",
        spec.token,
        spec.module.display(),
        if labels.is_empty() {
            "none".to_owned()
        } else {
            labels.join(", ")
        }
    )))
}

/// Creates the token key: AES-256, on the token, private, sensitive, never extractable,
/// usable only to encrypt and decrypt. Refuses when a key with the label exists.
pub fn create_key(spec: &Pkcs11Spec, pin: Option<&Pin>) -> Result<(), RootKeyError> {
    let token = Token::open(spec, pin, true)?;
    if token.key(spec)?.is_some() {
        return Err(RootKeyError::Source(format!(
            "the token `{}` already holds a key labelled `{}`; refusing to create another",
            spec.token, spec.key
        )));
    }
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(Ulong::from(32)),
        Attribute::Label(spec.key.as_bytes().to_vec()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ];
    token
        .session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|e| err(spec, "generating the AES-256 key", e))?;
    Ok(())
}

/// Encrypts `root` on the token: IV (12 bytes) || ciphertext || tag (16 bytes).
pub(crate) fn seal(
    spec: &Pkcs11Spec,
    pin: Option<&Pin>,
    root: &RootKey,
) -> Result<Vec<u8>, RootKeyError> {
    let token = Token::open(spec, pin, false)?;
    let key = token.existing_key(spec)?;
    let mut iv = [0u8; IV_LEN];
    SystemRandom::new()
        .fill(&mut iv)
        .map_err(|_| RootKeyError::Source("system random number generator failed".into()))?;
    let mut iv_param = iv;
    let params = GcmParams::new(&mut iv_param, AAD, Ulong::from(TAG_BITS))
        .map_err(|e| err(spec, "GCM parameters", e))?;
    let sealed = token
        .session
        .encrypt(&Mechanism::AesGcm(params), key, root.expose_for_sealing())
        .map_err(|e| err(spec, "sealing the root key", e))?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts a sealed root key on the token. A different token key (or a damaged blob)
/// fails the GCM tag, reported as [`RootKeyError::Refused`].
pub(crate) fn unseal(
    spec: &Pkcs11Spec,
    pin: Option<&Pin>,
    sealed: &[u8],
) -> Result<RootKey, RootKeyError> {
    if sealed.len() != IV_LEN + 32 + 16 {
        return Err(RootKeyError::Io(format!(
            "the sealed root key in {} is {} bytes, not {}",
            crate::record::RECORD_FILE,
            sealed.len(),
            IV_LEN + 48
        )));
    }
    let token = Token::open(spec, pin, false)?;
    let key = token.existing_key(spec)?;
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&sealed[..IV_LEN]);
    let params = GcmParams::new(&mut iv, AAD, Ulong::from(TAG_BITS))
        .map_err(|e| err(spec, "GCM parameters", e))?;
    let plain = token
        .session
        .decrypt(&Mechanism::AesGcm(params), key, &sealed[IV_LEN..])
        .map(Zeroizing::new)
        .map_err(|e| {
            RootKeyError::Refused(format!(
                "the key `{}` on token `{}` does not open this data directory's sealed root key \
                 ({e:?}): it is not the token key the data directory was sealed with",
                spec.key, spec.token
            ))
        })?;
    RootKey::from_slice(&plain).ok_or_else(|| {
        RootKeyError::Refused("the token returned a root key of the wrong length".into())
    })
}
