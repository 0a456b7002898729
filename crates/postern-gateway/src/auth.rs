//! SMTP AUTH credentials: checking a username and password against `[security]` users,
//! and making the Argon2 hashes the configuration stores.

use std::io::Read as _;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::config::User;

/// Whether `password` is the password of user `username` among `users`.
///
/// An unknown user costs the same as a known one: the password is then checked against
/// the first configured user's hash (same algorithm and parameters) and the result is
/// thrown away, so the reply time does not tell which names exist. Argon2 is slow by
/// design; call this from a blocking thread ([`verify_blocking`] does).
pub fn verify(users: &[User], username: &str, password: &str) -> bool {
    let found = users.iter().find(|u| u.name == username);
    let Some(user) = found.or_else(|| users.first()) else {
        return false;
    };
    let Ok(hash) = PasswordHash::new(&user.password_hash) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok();
    ok && found.is_some()
}

/// [`verify`] on tokio's blocking pool, so a slow hash never stalls other sessions.
pub async fn verify_blocking(users: Vec<User>, username: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&users, &username, &password))
        .await
        .unwrap_or(false)
}

/// Hashes `password` into an Argon2id PHC string (`$argon2id$v=19$m=…`) with the crate's
/// default parameters and a 16-byte salt from `/dev/urandom`; used by
/// `postern config hash-password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .map_err(|e| format!("cannot read /dev/urandom for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Params, Version};

    /// A cheap hash for tests (m=64 KiB, t=1, p=1).
    fn quick_hash(password: &str) -> String {
        let a = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        a.hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    fn users() -> Vec<User> {
        vec![
            User {
                name: "alice".into(),
                password_hash: quick_hash("wonderland"),
            },
            User {
                name: "bob".into(),
                password_hash: quick_hash("builder"),
            },
        ]
    }

    #[test]
    fn verifies_known_users() {
        let u = users();
        assert!(verify(&u, "alice", "wonderland"));
        assert!(verify(&u, "bob", "builder"));
        assert!(!verify(&u, "alice", "builder"));
        assert!(!verify(&u, "Alice", "wonderland"));
    }

    #[test]
    fn unknown_user_fails_even_with_first_users_password() {
        assert!(!verify(&users(), "mallory", "wonderland"));
        assert!(!verify(&[], "alice", "wonderland"));
    }

    #[test]
    fn hash_password_round_trips() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        let u = vec![User {
            name: "x".into(),
            password_hash: h.clone(),
        }];
        assert!(verify(&u, "x", "s3cret"));
        assert!(!verify(&u, "x", "s3cret "));
        // Fresh salt every time.
        assert_ne!(h, hash_password("s3cret").unwrap());
    }
}
