//! Webhook signatures: `Lineup-Signature: t=<unix seconds>,v1=<hex>` where
//! the hex is HMAC-SHA256(secret, "<t>.<raw body>"). A signature is accepted
//! only within [`TOLERANCE_SECS`] of now (either side), so a captured request
//! cannot be replayed later; replays inside the window are stopped by the
//! event id.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "lineup-signature";
/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature does not match")]
    Mismatch,
    #[error("the signature's timestamp is outside the accepted window")]
    Stale,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Checks a header value against `body` at time `now` (unix seconds).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(decode_hex(v).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // Constant-time comparison, by the hmac crate's verify_slice.
    let matches = signatures
        .iter()
        .any(|sig| mac(secret, timestamp, body).verify_slice(sig).is_ok());
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Hex of at most 64 bytes (a signature is 32).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (text.len() <= 128)
        .then(|| hex::decode(text).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_signature_verifies() {
        let header = sign(b"secret", 1_000, b"{}");
        assert_eq!(verify(b"secret", &header, b"{}", 1_100), Ok(()));
    }

    #[test]
    fn tampering_and_staleness_are_caught() {
        let header = sign(b"secret", 1_000, b"{}");
        assert_eq!(
            verify(b"other", &header, b"{}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", &header, b"{ }", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", &header, b"{}", 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"secret", &header, b"{}", 699),
            Err(SignatureError::Stale)
        );
        let moved = header.replace("t=1000", "t=1200");
        assert_eq!(
            verify(b"secret", &moved, b"{}", 1_200),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "t=1,v1=0"] {
            assert_eq!(
                verify(b"secret", header, b"{}", 1),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }
}
