//! Optimistic concurrency for edits of events and venues: a change names
//! the version it was made from in `If-Match` (`"7"`, as the `ETag` of the
//! row's answers says), and a stale one is refused with 412 instead of
//! silently overwriting another operator's change. Without `If-Match` (or
//! with `*`) a change applies to whatever version is current (scripts).

use super::error::ApiError;
use axum::http::{header, HeaderMap, HeaderValue};

/// The version `If-Match` names (`None`: absent or `*`).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::BadRequest(
            "invalid_if_match",
            "If-Match must be the version the change was made from, as its ETag says (\"7\")"
                .into(),
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
    bare.unwrap_or(text)
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(Some)
        .ok_or_else(bad)
}

/// The `ETag` of a row at `version`.
pub fn etag(version: i64) -> [(header::HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    [(header::ETAG, value)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_quoted_bare_and_any() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match(&with("\"7\"")).unwrap(), Some(7));
        assert_eq!(if_match(&with("12")).unwrap(), Some(12));
        assert_eq!(if_match(&with("*")).unwrap(), None);
        for bad in ["\"x\"", "W/\"3\"", "0", "-1", "\"\"", "\"1\", \"2\""] {
            assert!(if_match(&with(bad)).is_err(), "{bad}");
        }
    }
}
