//! Credential tokens, the server-side pepper, and keyed hashing.
//!
//! A token looks like `agid_ag_<64 chars>_<6 chars>`:
//! - `agid_ag_` (agent) or `agid_sa_` (service account): a prefix secret scanners can match;
//! - 64 base64url characters: the credential id's 16 bytes, then 32 secret bytes from the OS
//!   CSPRNG (256 bits), so verification needs the id alone to find its one item;
//! - `_` and 6 base64url characters: CRC-32 of everything before it, so a scanner can reject a
//!   look-alike offline, as GitHub's tokens allow.
//!
//! Only HMAC-SHA-256(pepper, secret) is stored. Comparison is constant time. A secret is returned
//! once, at mint, wrapped in [`RevealedSecret`], whose `Debug` never prints it.
//!
//! Legacy service-account secrets have no format of their own. They are imported once by value:
//! the stored hash is the same keyed hash, and the credential's id is derived from the secret
//! under the pepper (a second, domain-separated HMAC), so verification is still one GetItem.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::ids::CredentialId;
use crate::model::SecretHash;

type HmacSha256 = Hmac<Sha256>;

/// Common start of every token this service mints.
pub const TOKEN_FAMILY: &str = "agid_";
const AGENT_PREFIX: &str = "agid_ag_";
const SERVICE_ACCOUNT_PREFIX: &str = "agid_sa_";
const PREFIX_LEN: usize = 8;
const BODY_LEN: usize = 64; // base64url of 48 bytes
const CHECKSUM_LEN: usize = 6; // base64url of 4 bytes
/// Length of every token.
pub const TOKEN_LEN: usize = PREFIX_LEN + BODY_LEN + 1 + CHECKSUM_LEN;
/// Shortest and longest legacy secret accepted for import.
pub const LEGACY_SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=512;
/// Fewest bytes of pepper accepted.
pub const MIN_PEPPER_BYTES: usize = 32;

/// What a token authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An agent identity.
    Agent,
    /// A service account.
    ServiceAccount,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Agent => AGENT_PREFIX,
            Self::ServiceAccount => SERVICE_ACCOUNT_PREFIX,
        }
    }
}

/// Why a presented string is not a well-formed token. Decided without any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `agid_ag_` or `agid_sa_`.
    #[error("token prefix is not recognised")]
    BadPrefix,
    /// Not exactly [`TOKEN_LEN`] characters.
    #[error("token has the wrong length")]
    BadLength,
    /// A character outside base64url, or a misplaced separator.
    #[error("token contains an invalid character")]
    BadCharacter,
    /// The CRC-32 does not match: a typo or a look-alike.
    #[error("token checksum does not match")]
    BadChecksum,
}

/// Why a credential could not be generated or a secret accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Entropy,
    /// A legacy secret outside the accepted shape.
    #[error("legacy secret must be {min}-{max} printable ASCII characters and must not be a token of this service")]
    LegacySecret {
        /// Shortest accepted.
        min: usize,
        /// Longest accepted.
        max: usize,
    },
    /// A credential id that was not minted by this service cannot go into a token.
    #[error("credential id must be crd_ followed by 32 hex digits")]
    CredentialId,
    /// The pepper is missing, malformed or too short.
    #[error("pepper must be base64 (standard or url-safe) of at least {MIN_PEPPER_BYTES} bytes")]
    Pepper,
}

/// Secret bytes of a minted token. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes([u8; 32]);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// A parsed (or freshly minted) token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it authenticates.
    pub kind: TokenKind,
    /// The credential item to look up.
    pub credential_id: CredentialId,
    secret: SecretBytes,
}

/// A token's text, shown to its owner exactly once. `Debug` and `Display` redact it; read it
/// with [`RevealedSecret::expose`] only to put it in the one response that returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct RevealedSecret(String);

impl RevealedSecret {
    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RevealedSecret(<redacted>)")
    }
}

impl fmt::Display for RevealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn checksum(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(crc32fast::hash(text.as_bytes()).to_be_bytes())
}

fn is_base64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

impl Token {
    /// Mints a new token with a fresh credential id and 256 bits from the OS CSPRNG.
    pub fn generate(kind: TokenKind) -> Result<Self, CredentialError> {
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|_| CredentialError::Entropy)?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[..16]);
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes[16..]);
        Ok(Self {
            kind,
            credential_id: credential_id_from(id),
            secret: SecretBytes(secret),
        })
    }

    /// Mints a new token for a credential id chosen by the caller (an idempotent request fixes
    /// the id), with 256 fresh bits of secret. The id must be a minted one (`crd_` + 32 hex).
    pub fn generate_with_id(
        kind: TokenKind,
        credential_id: CredentialId,
    ) -> Result<Self, CredentialError> {
        let id = Uuid::try_parse(credential_id.as_str().trim_start_matches("crd_"))
            .map_err(|_| CredentialError::CredentialId)?;
        let mut token = Self::generate(kind)?;
        token.credential_id = credential_id_from(*id.as_bytes());
        Ok(token)
    }

    /// The token's text.
    pub fn reveal(&self) -> RevealedSecret {
        let mut raw = [0u8; 48];
        raw[..16].copy_from_slice(self.id_bytes().as_bytes());
        raw[16..].copy_from_slice(&self.secret.0);
        let mut text = String::with_capacity(TOKEN_LEN);
        text.push_str(self.kind.prefix());
        URL_SAFE_NO_PAD.encode_string(raw, &mut text);
        let sum = checksum(&text);
        text.push('_');
        text.push_str(&sum);
        RevealedSecret(text)
    }

    fn id_bytes(&self) -> Uuid {
        // Minted and parsed ids are always `crd_` + 32 hex digits.
        Uuid::try_parse(&self.credential_id.as_str()[4..]).unwrap_or_default()
    }

    /// Parses a presented token, checking prefix, length, alphabet and checksum.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let kind = if text.starts_with(AGENT_PREFIX) {
            TokenKind::Agent
        } else if text.starts_with(SERVICE_ACCOUNT_PREFIX) {
            TokenKind::ServiceAccount
        } else {
            return Err(TokenError::BadPrefix);
        };
        if text.len() != TOKEN_LEN {
            return Err(TokenError::BadLength);
        }
        let bytes = text.as_bytes();
        let separator = PREFIX_LEN + BODY_LEN;
        if bytes[separator] != b'_'
            || !bytes[PREFIX_LEN..separator]
                .iter()
                .all(|&c| is_base64url(c))
            || !bytes[separator + 1..].iter().all(|&c| is_base64url(c))
        {
            return Err(TokenError::BadCharacter);
        }
        let (signed, sum) = (&text[..separator], &text[separator + 1..]);
        if checksum(signed) != sum {
            return Err(TokenError::BadChecksum);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(&text[PREFIX_LEN..separator])
            .map_err(|_| TokenError::BadCharacter)?;
        if raw.len() != 48 {
            return Err(TokenError::BadLength);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&raw[..16]);
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&raw[16..]);
        Ok(Self {
            kind,
            credential_id: credential_id_from(id),
            secret: SecretBytes(secret),
        })
    }

    /// The bytes that are hashed and verified.
    fn secret_bytes(&self) -> &[u8] {
        &self.secret.0
    }
}

fn credential_id_from(bytes: [u8; 16]) -> CredentialId {
    CredentialId::parse(format!("crd_{}", Uuid::from_bytes(bytes).simple()))
        .expect("crd_ followed by 32 hex digits is a valid credential id")
}

/// What a bearer presented: one of this service's tokens, or a legacy service-account secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A token minted here.
    Token(Token),
    /// Anything else of a plausible shape: looked up as an imported legacy secret.
    Legacy(LegacySecret),
}

/// Classifies a bearer string without I/O. Strings that start like a token must be a valid
/// token; anything else must at least have the shape of an importable legacy secret.
pub fn classify(text: &str) -> Result<Presented, TokenError> {
    if text.starts_with(TOKEN_FAMILY) {
        return Token::parse(text).map(Presented::Token);
    }
    LegacySecret::parse(text)
        .map(Presented::Legacy)
        .map_err(|_| TokenError::BadPrefix)
}

/// A pre-migration service-account secret, by value. Never printed, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct LegacySecret(String);

impl fmt::Debug for LegacySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacySecret(<redacted>)")
    }
}

impl LegacySecret {
    /// Accepts a legacy secret of plausible shape: 16-512 printable ASCII characters, and not
    /// something that claims to be a token of this service.
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        let ok = LEGACY_SECRET_LEN.contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_graphic())
            && !text.starts_with(TOKEN_FAMILY);
        if !ok {
            return Err(CredentialError::LegacySecret {
                min: *LEGACY_SECRET_LEN.start(),
                max: *LEGACY_SECRET_LEN.end(),
            });
        }
        Ok(Self(text.to_owned()))
    }
}

/// The server-side key of every credential hash. Loaded once at init; never printed.
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

/// Domain separation: the verification hash and the legacy lookup id never coincide.
const HASH_CONTEXT: &[u8] = b"agentid/secret-hash/v1\0";
const LEGACY_ID_CONTEXT: &[u8] = b"agentid/legacy-credential-id/v1\0";

impl Pepper {
    /// A pepper from base64 text (standard or url-safe, padded or not), at least 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CredentialError> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(CredentialError::Pepper)?;
        Self::from_bytes(bytes)
    }

    /// A pepper from raw bytes, at least 32.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CredentialError> {
        if bytes.len() < MIN_PEPPER_BYTES {
            return Err(CredentialError::Pepper);
        }
        Ok(Self(bytes))
    }

    fn mac(&self, context: &[u8], data: &[u8]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.0).expect("HMAC-SHA-256 takes keys of any length");
        mac.update(context);
        mac.update(data);
        mac
    }

    /// The stored form of a minted token's secret.
    pub fn hash_token(&self, token: &Token) -> SecretHash {
        self.hash_bytes(token.secret_bytes())
    }

    /// The stored form of a legacy secret.
    pub fn hash_legacy(&self, secret: &LegacySecret) -> SecretHash {
        self.hash_bytes(secret.0.as_bytes())
    }

    fn hash_bytes(&self, secret: &[u8]) -> SecretHash {
        let digest = self.mac(HASH_CONTEXT, secret).finalize().into_bytes();
        SecretHash(URL_SAFE_NO_PAD.encode(digest))
    }

    /// Whether a presented token matches a stored hash, compared in constant time.
    pub fn verify_token(&self, token: &Token, stored: &SecretHash) -> bool {
        self.verify_bytes(token.secret_bytes(), stored)
    }

    /// Whether a presented legacy secret matches a stored hash, compared in constant time.
    pub fn verify_legacy(&self, secret: &LegacySecret, stored: &SecretHash) -> bool {
        self.verify_bytes(secret.0.as_bytes(), stored)
    }

    fn verify_bytes(&self, secret: &[u8], stored: &SecretHash) -> bool {
        let Ok(expected) = URL_SAFE_NO_PAD.decode(&stored.0) else {
            return false;
        };
        // `verify_slice` compares in constant time.
        self.mac(HASH_CONTEXT, secret)
            .verify_slice(&expected)
            .is_ok()
    }

    /// The credential id an imported legacy secret is stored under: derived from the secret
    /// under the pepper, so presenting the secret finds its item with one GetItem.
    pub fn legacy_credential_id(&self, secret: &LegacySecret) -> CredentialId {
        let digest = self
            .mac(LEGACY_ID_CONTEXT, secret.0.as_bytes())
            .finalize()
            .into_bytes();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        credential_id_from(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pepper() -> Pepper {
        Pepper::from_bytes(vec![7u8; 32]).unwrap()
    }

    #[test]
    fn minted_tokens_have_the_documented_shape() {
        let token = Token::generate(TokenKind::Agent).unwrap();
        let text = token.reveal();
        assert_eq!(text.expose().len(), TOKEN_LEN);
        assert!(text.expose().starts_with("agid_ag_"));
        assert_eq!(Token::parse(text.expose()).unwrap(), token);
        let sa = Token::generate(TokenKind::ServiceAccount).unwrap();
        assert!(sa.reveal().expose().starts_with("agid_sa_"));
        assert_ne!(token.credential_id, sa.credential_id);
    }

    #[test]
    fn parse_errors_are_typed() {
        let text = Token::generate(TokenKind::Agent)
            .unwrap()
            .reveal()
            .expose()
            .to_owned();
        assert_eq!(Token::parse("ghp_abc"), Err(TokenError::BadPrefix));
        assert_eq!(
            Token::parse(&text[..TOKEN_LEN - 1]),
            Err(TokenError::BadLength)
        );
        let mut bad_char = text.clone().into_bytes();
        bad_char[20] = b'!';
        assert_eq!(
            Token::parse(std::str::from_utf8(&bad_char).unwrap()),
            Err(TokenError::BadCharacter)
        );
        let mut no_sep = text.clone().into_bytes();
        no_sep[PREFIX_LEN + BODY_LEN] = b'A';
        assert_eq!(
            Token::parse(std::str::from_utf8(&no_sep).unwrap()),
            Err(TokenError::BadCharacter)
        );
    }

    #[test]
    fn hashes_verify_only_the_right_secret_under_the_right_pepper() {
        let token = Token::generate(TokenKind::Agent).unwrap();
        let other = Token::generate(TokenKind::Agent).unwrap();
        let hash = pepper().hash_token(&token);
        assert!(pepper().verify_token(&token, &hash));
        assert!(!pepper().verify_token(&other, &hash));
        let other_pepper = Pepper::from_bytes(vec![8u8; 32]).unwrap();
        assert!(!other_pepper.verify_token(&token, &hash));
        assert!(!pepper().verify_token(&token, &SecretHash("garbage!".into())));
        assert!(
            !hash
                .0
                .contains(&token.reveal().expose()[PREFIX_LEN..PREFIX_LEN + 20]),
            "the stored hash holds nothing of the token"
        );
    }

    #[test]
    fn legacy_secrets_hash_and_map_to_a_stable_credential_id() {
        let secret = LegacySecret::parse("sk_live_0123456789abcdef").unwrap();
        let id = pepper().legacy_credential_id(&secret);
        assert_eq!(id, pepper().legacy_credential_id(&secret));
        assert_ne!(
            id,
            pepper()
                .legacy_credential_id(&LegacySecret::parse("sk_live_0123456789abcdeX").unwrap())
        );
        let hash = pepper().hash_legacy(&secret);
        assert!(pepper().verify_legacy(&secret, &hash));
        assert!(LegacySecret::parse("short").is_err());
        assert!(LegacySecret::parse("has a space in it....").is_err());
        assert!(LegacySecret::parse(&format!("agid_ag_{}", "x".repeat(20))).is_err());
        assert_eq!(format!("{secret:?}"), "LegacySecret(<redacted>)");
    }

    #[test]
    fn classification_needs_no_io_and_rejects_malformed_tokens() {
        let token = Token::generate(TokenKind::Agent).unwrap();
        assert!(matches!(
            classify(token.reveal().expose()),
            Ok(Presented::Token(_))
        ));
        assert!(matches!(
            classify("legacy-secret-value-123"),
            Ok(Presented::Legacy(_))
        ));
        assert_eq!(classify("agid_ag_short"), Err(TokenError::BadLength));
        assert_eq!(classify("tiny"), Err(TokenError::BadPrefix));
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let token = Token::generate(TokenKind::Agent).unwrap();
        let revealed = token.reveal();
        let printed = format!("{token:?} {revealed:?} {revealed} {:?}", pepper());
        assert!(!printed.contains(&revealed.expose()[PREFIX_LEN..PREFIX_LEN + 16]));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn peppers_must_be_long_enough() {
        assert!(matches!(
            Pepper::from_base64("c2hvcnQ="),
            Err(CredentialError::Pepper)
        ));
        let long = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert!(Pepper::from_base64(&long).is_ok());
        assert!(Pepper::from_base64("not base64 at all!!").is_err());
    }

    proptest! {
        #[test]
        fn parse_of_format_is_identity(seed in any::<[u8; 48]>(), agent in any::<bool>()) {
            let mut id = [0u8; 16];
            id.copy_from_slice(&seed[..16]);
            let mut secret = [0u8; 32];
            secret.copy_from_slice(&seed[16..]);
            let token = Token {
                kind: if agent { TokenKind::Agent } else { TokenKind::ServiceAccount },
                credential_id: credential_id_from(id),
                secret: SecretBytes(secret),
            };
            prop_assert_eq!(Token::parse(token.reveal().expose()).unwrap(), token);
        }

        #[test]
        fn arbitrary_text_never_panics_the_parsers(
            text in prop_oneof![
                any::<String>(),
                "agid_(ag|sa)_.{0,80}",
                "agid_ag_[A-Za-z0-9_-]{64}_.{0,8}",
                prop::collection::vec(any::<char>(), 70..80).prop_map(|c| c.into_iter().collect()),
            ]
        ) {
            // Whatever arrives in an Authorization header: an answer, never a panic.
            let _ = Token::parse(&text);
            let _ = LegacySecret::parse(&text);
            let _ = classify(&text);
        }

        #[test]
        fn any_single_character_change_is_rejected(position in 0usize..TOKEN_LEN, replacement in "[A-Za-z0-9_-]") {
            let text = Token::generate(TokenKind::Agent).unwrap().reveal().expose().to_owned();
            let replacement = replacement.as_bytes()[0];
            prop_assume!(text.as_bytes()[position] != replacement);
            let mut changed = text.into_bytes();
            changed[position] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(Token::parse(&changed).is_err(), "{}", changed);
        }
    }
}
