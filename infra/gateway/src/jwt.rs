//! Local JWTs for humans: HS256 under a dev key generated on first run (never a hard-coded
//! secret), validated the way the API Gateway JWT authorizer validates real ones: signature,
//! algorithm, issuer, audience, expiry.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Issuer of local tokens.
pub const ISSUER: &str = "agentid-local";
/// Audience of local tokens.
pub const AUDIENCE: &str = "agentid";

/// The claims a local token carries, as API Gateway passes them on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The human.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (epoch seconds).
    pub exp: u64,
    /// Issued at (epoch seconds).
    pub iat: u64,
    /// Groups, e.g. `agentid-admins`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Bad signature, wrong algorithm, issuer, audience, expired, or malformed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The dev key could not be read or written.
    #[error("dev key: {0}")]
    Key(String),
}

/// The dev signing key. Never printed.
pub struct DevJwt {
    key: Vec<u8>,
}

impl std::fmt::Debug for DevJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevJwt(<redacted>)")
    }
}

impl DevJwt {
    /// A key from raw bytes (tests).
    pub fn from_key(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// The key stored at `path`, generated (32 bytes from the OS CSPRNG) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, JwtError> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let key = URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|e| JwtError::Key(e.to_string()))?;
            return Ok(Self { key });
        }
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).map_err(|e| JwtError::Key(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| JwtError::Key(e.to_string()))?;
        }
        std::fs::write(path, URL_SAFE_NO_PAD.encode(&key))
            .map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(Self { key })
    }

    /// A token for `sub`, valid for `ttl_seconds`.
    pub fn issue(&self, sub: &str, admin: bool, ttl_seconds: u64) -> Result<String, JwtError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims {
            sub: sub.to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + ttl_seconds,
            iat: now,
            groups: if admin {
                vec![agentid::api::ADMIN_GROUP.into()]
            } else {
                vec![]
            },
        };
        let key = EncodingKey::from_secret(&self.key).map_err(|e| JwtError::Key(e.to_string()))?;
        encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 0;
        let key = DecodingKey::from_secret(&self.key).map_err(|e| JwtError::Key(e.to_string()))?;
        decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| JwtError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampered_tokens_are_refused() {
        let jwt = DevJwt::from_key(vec![9; 32]);
        let token = jwt.issue("govind", true, 60).unwrap();
        let claims = jwt.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.groups.len()), ("govind", 1));

        // Another key's signature.
        let other = DevJwt::from_key(vec![8; 32])
            .issue("govind", true, 60)
            .unwrap();
        assert!(jwt.verify(&other).is_err());
        // alg: none, with the payload kept.
        let payload = token.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(jwt.verify(&none).is_err());
        // A payload edited after signing.
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"root","iss":"agentid-local","aud":"agentid","exp":9999999999,"iat":0,"groups":["agentid-admins"]}"#);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_payload;
        assert!(jwt.verify(&parts.join(".")).is_err());
        // Expired, and the wrong audience.
        let now = chrono::Utc::now().timestamp() as u64;
        let expired = Claims {
            sub: "g".into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now - 10,
            iat: now - 100,
            groups: vec![],
        };
        let expired = encode(
            &Header::new(Algorithm::HS256),
            &expired,
            &EncodingKey::from_secret(&[9; 32]).unwrap(),
        )
        .unwrap();
        assert!(jwt.verify(&expired).is_err());
        let wrong_aud = Claims {
            sub: "g".into(),
            iss: ISSUER.into(),
            aud: "someone-else".into(),
            exp: now + 60,
            iat: now,
            groups: vec![],
        };
        let wrong_aud = encode(
            &Header::new(Algorithm::HS256),
            &wrong_aud,
            &EncodingKey::from_secret(&[9; 32]).unwrap(),
        )
        .unwrap();
        assert!(jwt.verify(&wrong_aud).is_err());
        assert!(jwt.verify("not.a.jwt").is_err());
    }

    #[test]
    fn the_dev_key_is_generated_once_and_reused() {
        let dir =
            std::env::temp_dir().join(format!("agentid-jwt-{}", uuid::Uuid::new_v4().simple()));
        let path = dir.join("dev-jwt.key");
        let first = DevJwt::load_or_create(&path).unwrap();
        let token = first.issue("govind", false, 60).unwrap();
        let second = DevJwt::load_or_create(&path).unwrap();
        assert!(second.verify(&token).is_ok());
        assert_eq!(format!("{second:?}"), "DevJwt(<redacted>)");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
