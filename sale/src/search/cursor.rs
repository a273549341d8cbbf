//! The opaque page cursor: the sort key of the last hit shown (keyset
//! pagination: the next page starts strictly after it, so inserts neither
//! repeat nor skip what was there), bound to the search it came from and
//! signed (HMAC-SHA256, 128 bits kept), base64url. A cursor altered, made
//! up, or used with other parameters is refused.

use super::{After, SearchError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAC_BYTES: usize = 16;

/// What a cursor carries (short field names: it travels in URLs).
#[derive(Serialize, Deserialize)]
struct Payload {
    /// The search's fingerprint (first 8 bytes of its SHA-256, hex).
    f: String,
    /// Relevance rank (f32 bits) or distance (f64 bits), when sorted so.
    r: Option<u32>,
    d: Option<u64>,
    /// Start, in microseconds since the epoch.
    t: i64,
    i: String,
}

fn fingerprint(search: &str) -> String {
    hex::encode(&Sha256::digest(search.as_bytes())[..8])
}

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"lineup.search.cursor/1");
    mac.update(body);
    mac
}

/// The cursor for the page after `after` of the search `search`
/// (its [`super::query::SearchParams::fingerprint`]).
pub fn encode(key: &[u8], search: &str, after: &After) -> String {
    let payload = Payload {
        f: fingerprint(search),
        r: after.rank.map(f32::to_bits),
        d: after.distance.map(f64::to_bits),
        t: after.starts_at.timestamp_micros(),
        i: after.id.clone(),
    };
    let mut body = serde_json::to_vec(&payload).expect("a cursor serialises");
    let tag = mac(key, &body).finalize().into_bytes();
    body.extend_from_slice(&tag[..MAC_BYTES]);
    URL_SAFE_NO_PAD.encode(body)
}

/// The position a cursor stands for, if it is genuine and from this search.
pub fn decode(key: &[u8], search: &str, cursor: &str) -> Result<After, SearchError> {
    let invalid = || SearchError::Invalid("invalid_cursor", "this cursor is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    if bytes.len() <= MAC_BYTES {
        return Err(invalid());
    }
    let (body, tag) = bytes.split_at(bytes.len() - MAC_BYTES);
    mac(key, body)
        .verify_truncated_left(tag)
        .map_err(|_| invalid())?;
    let payload: Payload = serde_json::from_slice(body).map_err(|_| invalid())?;
    if payload.f != fingerprint(search) {
        return Err(SearchError::Invalid(
            "invalid_cursor",
            "this cursor belongs to another search".into(),
        ));
    }
    Ok(After {
        rank: payload.r.map(f32::from_bits),
        distance: payload.d.map(f64::from_bits),
        starts_at: DateTime::<Utc>::from_timestamp_micros(payload.t).ok_or_else(invalid)?,
        id: payload.i,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn after() -> After {
        After {
            rank: Some(0.607_927_1),
            distance: None,
            starts_at: DateTime::<Utc>::from_timestamp_micros(1_800_000_000_123_456).unwrap(),
            id: "ts-koln".into(),
        }
    }

    #[test]
    fn a_cursor_round_trips_exactly() {
        let c = encode(b"key", "search", &after());
        let back = decode(b"key", "search", &c).unwrap();
        assert_eq!(back.rank, after().rank);
        assert_eq!(back.starts_at, after().starts_at);
        assert_eq!(back.id, "ts-koln");
    }

    #[test]
    fn a_tampered_foreign_or_garbled_cursor_is_refused() {
        let c = encode(b"key", "search", &after());
        assert!(decode(b"other key", "search", &c).is_err());
        assert!(decode(b"key", "another search", &c).is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
        bytes[5] ^= 1;
        assert!(decode(b"key", "search", &URL_SAFE_NO_PAD.encode(bytes)).is_err());
        assert!(decode(b"key", "search", "not a cursor!").is_err());
        assert!(decode(b"key", "search", "").is_err());
    }
}
