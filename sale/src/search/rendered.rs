//! An answer as it goes on the wire, made once: its JSON body and the
//! ETag of that body (SHA-256, 128 bits, hex). The answer cache keeps
//! this, so a hit is sent as the bytes already made (and a matching
//! `If-None-Match` answered 304) without serialising or hashing again.

use super::SearchError;
use axum::body::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// An answer with its JSON and ETag.
#[derive(Debug, Clone)]
pub struct Rendered<T> {
    pub value: T,
    /// The JSON body (cheap to clone: shared).
    pub json: Bytes,
    /// The strong ETag of `json`, quoted.
    pub etag: String,
}

impl<T: Serialize> Rendered<T> {
    pub fn new(value: T) -> Result<Self, SearchError> {
        let json = serde_json::to_vec(&value).map_err(|e| SearchError::Encode(e.to_string()))?;
        let etag = etag(&json);
        Ok(Self {
            value,
            json: Bytes::from(json),
            etag,
        })
    }
}

impl<T> Rendered<T> {
    /// What it holds: the length of its JSON.
    pub fn bytes(&self) -> usize {
        self.json.len()
    }
}

/// The quoted strong ETag of a body.
pub fn etag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_values_json_and_the_etag_its_digest() {
        let r = Rendered::new(vec!["Köln", "Beyoncé"]).unwrap();
        assert_eq!(&r.json[..], "[\"Köln\",\"Beyoncé\"]".as_bytes());
        assert_eq!(r.etag, etag(&r.json));
        assert_eq!(r.etag.len(), 34);
        assert_ne!(r.etag, Rendered::new(vec!["Koln"]).unwrap().etag);
    }
}
