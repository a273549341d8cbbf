//! Parsing and checking a search's query string: every parameter known,
//! given once, valid UTF-8 and within its bounds, or a [`SearchError::Invalid`]
//! naming what is wrong. Nothing here touches a database.

use super::{Near, SearchError, Sort};
use chrono::NaiveDate;

/// Longest free text, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// Most words searched in one text.
pub const MAX_WORDS: usize = 10;
/// Results per page: default and bounds.
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 50;
/// Radius around `near`: default and bounds, in km.
pub const DEFAULT_RADIUS_KM: f64 = 25.0;
pub const MAX_RADIUS_KM: f64 = 500.0;
/// Longest query string accepted at all, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;

/// A search as asked, checked (the cursor still opaque).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchParams {
    pub text: Option<String>,
    pub city: Option<String>,
    pub venue: Option<String>,
    pub country: Option<String>,
    pub genre: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub on_sale: bool,
    pub near: Option<Near>,
    pub sort: Sort,
    pub limit: u32,
    pub cursor: Option<String>,
}

impl SearchParams {
    /// What identifies the search apart from the page: a cursor is only
    /// valid for the search it came from.
    pub fn fingerprint(&self) -> String {
        let near = self
            .near
            .map(|n| format!("{},{},{}", n.lat, n.lon, n.radius_km))
            .unwrap_or_default();
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}|{:?}",
            self.text,
            self.city,
            self.venue,
            self.country,
            self.genre,
            self.from,
            self.to,
            self.on_sale,
            near,
            self.sort
        )
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> SearchError {
    SearchError::Invalid(code, message.into())
}

/// Splits and percent-decodes a raw query string, refusing invalid UTF-8
/// and repeated parameters.
pub fn decode_pairs(raw: &str) -> Result<Vec<(String, String)>, SearchError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(invalid(
            "query_too_long",
            format!("the query string is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(invalid(
                "repeated_parameter",
                format!("{key} is given more than once"),
            ));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn percent_decode(s: &str) -> Result<String, SearchError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| invalid("invalid_encoding", "a bad percent escape"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| invalid("invalid_encoding", "the query is not UTF-8"))
}

fn text_value(name: &str, value: &str, max: usize) -> Result<Option<String>, SearchError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(invalid(
            "invalid_parameter",
            format!("{name} is at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            "invalid_parameter",
            format!("{name} has control characters"),
        ));
    }
    Ok((!value.is_empty()).then(|| value.to_string()))
}

fn date_value(name: &str, value: &str) -> Result<NaiveDate, SearchError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| {
            invalid(
                "invalid_date",
                format!("{name} must be a date such as 2027-06-01"),
            )
        })
}

fn number(name: &str, value: &str) -> Result<f64, SearchError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| invalid("invalid_parameter", format!("{name} must be a number")))
}

/// Checks a search's parameters (`GET /api/events`).
pub fn parse_search(raw: Option<&str>) -> Result<SearchParams, SearchError> {
    let mut params = SearchParams {
        limit: DEFAULT_LIMIT,
        ..SearchParams::default()
    };
    let mut near = None;
    let mut radius = None;
    let mut sort = None;
    for (key, value) in decode_pairs(raw.unwrap_or(""))? {
        match key.as_str() {
            "q" => params.text = text_value("q", &value, MAX_TEXT_CHARS)?,
            "city" => params.city = text_value("city", &value, 100)?,
            "venue" => params.venue = text_value("venue", &value, 64)?,
            "genre" => params.genre = text_value("genre", &value, 50)?,
            "country" => {
                let code = value.trim().to_ascii_uppercase();
                if !(code.is_empty()
                    || code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    return Err(invalid(
                        "invalid_parameter",
                        "country must be an ISO 3166-1 alpha-2 code such as DE",
                    ));
                }
                params.country = (!code.is_empty()).then_some(code);
            }
            "from" => params.from = Some(date_value("from", &value)?),
            "to" => params.to = Some(date_value("to", &value)?),
            "on_sale" => {
                params.on_sale = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => {
                        return Err(invalid(
                            "invalid_parameter",
                            "on_sale must be true or false",
                        ))
                    }
                }
            }
            "near" => {
                let (lat, lon) = value.split_once(',').ok_or_else(|| {
                    invalid(
                        "invalid_near",
                        "near must be latitude,longitude such as 52.52,13.40",
                    )
                })?;
                let (lat, lon) = (number("near", lat)?, number("near", lon)?);
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(invalid(
                        "invalid_near",
                        "near's latitude must be from -90 to 90 and longitude from -180 to 180",
                    ));
                }
                near = Some((lat, lon));
            }
            "radius_km" => {
                let r = number("radius_km", &value)?;
                if !(r > 0.0 && r <= MAX_RADIUS_KM) {
                    return Err(invalid(
                        "invalid_radius",
                        format!("radius_km must be more than 0 and at most {MAX_RADIUS_KM}"),
                    ));
                }
                radius = Some(r);
            }
            "sort" => {
                sort = Some(match value.as_str() {
                    "relevance" => Sort::Relevance,
                    "date" => Sort::Date,
                    "distance" => Sort::Distance,
                    _ => {
                        return Err(invalid(
                            "invalid_parameter",
                            "sort must be relevance, date or distance",
                        ))
                    }
                })
            }
            "limit" => {
                params.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        invalid(
                            "invalid_limit",
                            format!("limit must be from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "cursor" => {
                if value.len() > 1024 {
                    return Err(invalid("invalid_cursor", "this cursor is not valid"));
                }
                params.cursor = (!value.is_empty()).then_some(value);
            }
            _ => {
                return Err(invalid(
                    "unknown_parameter",
                    format!(
                        "unknown parameter {}: use q, city, venue, country, genre, from, to, \
                         on_sale, near, radius_km, sort, cursor or limit",
                        key.chars().take(40).collect::<String>()
                    ),
                ))
            }
        }
    }
    if let Some(text) = &params.text {
        if !text.chars().any(char::is_alphanumeric) {
            return Err(invalid(
                "invalid_query",
                "q has no letters or digits to search for",
            ));
        }
        if text.split_whitespace().count() > MAX_WORDS {
            return Err(invalid(
                "invalid_query",
                format!("q has more than {MAX_WORDS} words"),
            ));
        }
    }
    if let (Some(from), Some(to)) = (params.from, params.to) {
        if to < from {
            return Err(invalid("invalid_date_range", "to is before from"));
        }
    }
    params.near = match (near, radius) {
        (Some((lat, lon)), radius) => Some(Near {
            lat,
            lon,
            radius_km: radius.unwrap_or(DEFAULT_RADIUS_KM),
        }),
        (None, Some(_)) => {
            return Err(invalid("invalid_radius", "radius_km needs near"));
        }
        (None, None) => None,
    };
    params.sort = match sort {
        Some(Sort::Distance) if params.near.is_none() => {
            return Err(invalid("invalid_parameter", "sort=distance needs near"));
        }
        Some(Sort::Relevance) if params.text.is_none() => Sort::Date,
        Some(sort) => sort,
        None if params.text.is_some() => Sort::Relevance,
        None => Sort::Date,
    };
    Ok(params)
}

/// Checks a suggestion's parameters (`GET /api/events/suggest`): the text
/// and how many.
pub fn parse_suggest(raw: Option<&str>) -> Result<(String, u32), SearchError> {
    let mut text = None;
    let mut limit = 8;
    for (key, value) in decode_pairs(raw.unwrap_or(""))? {
        match key.as_str() {
            "q" => text = text_value("q", &value, 100)?,
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=20).contains(l))
                    .ok_or_else(|| invalid("invalid_limit", "limit must be from 1 to 20"))?;
            }
            _ => {
                return Err(invalid(
                    "unknown_parameter",
                    "unknown parameter: use q or limit",
                ))
            }
        }
    }
    let text = text
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .ok_or_else(|| invalid("invalid_query", "give q, with a letter or digit"))?;
    Ok((text, limit))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(raw: &str) -> &'static str {
        match parse_search(Some(raw)) {
            Err(SearchError::Invalid(code, _)) => code,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn bad_input_is_refused_with_a_code() {
        assert_eq!(code(&format!("q={}", "a".repeat(10_000))), "query_too_long");
        assert_eq!(code(&format!("q={}", "a".repeat(201))), "invalid_parameter");
        assert_eq!(code("q=%26%20%7C%20!"), "invalid_query");
        assert_eq!(code("q=%27"), "invalid_query");
        assert_eq!(code("q=%3A*"), "invalid_query");
        assert_eq!(code("from=2027-02-01&to=2027-01-01"), "invalid_date_range");
        assert_eq!(code("from=2027-13-01"), "invalid_date");
        assert_eq!(code("near=52.5,13.4&radius_km=-1"), "invalid_radius");
        assert_eq!(code("near=52.5,13.4&radius_km=50000"), "invalid_radius");
        assert_eq!(code("near=52.5,13.4&radius_km=NaN"), "invalid_parameter");
        assert_eq!(code("radius_km=5"), "invalid_radius");
        assert_eq!(code("near=95,13"), "invalid_near");
        assert_eq!(code("limit=0"), "invalid_limit");
        assert_eq!(code("limit=10000"), "invalid_limit");
        assert_eq!(code("colour=red"), "unknown_parameter");
        assert_eq!(code("q=%FF%FE"), "invalid_encoding");
        assert_eq!(code("q=%zz"), "invalid_encoding");
        assert_eq!(code("q=a&q=b"), "repeated_parameter");
        assert_eq!(code("sort=distance"), "invalid_parameter");
        assert_eq!(code("country=Germany"), "invalid_parameter");
        assert_eq!(code("q=a%00b"), "invalid_parameter");
    }

    #[test]
    fn good_input_is_read() {
        let p = parse_search(Some(
            "q=tayler+swfit&city=K%C3%B6ln&from=2027-06-01&to=2027-06-30&on_sale=true&near=50.9,6.9&limit=5",
        ))
        .unwrap();
        assert_eq!(p.text.as_deref(), Some("tayler swfit"));
        assert_eq!(p.city.as_deref(), Some("Köln"));
        assert!(p.on_sale);
        assert_eq!(p.near.unwrap().radius_km, DEFAULT_RADIUS_KM);
        assert_eq!(p.sort, Sort::Relevance);
        assert_eq!(p.limit, 5);
        assert_eq!(parse_search(None).unwrap().sort, Sort::Date);
        // SQL and tsquery syntax among words is only text.
        assert!(parse_search(Some("q=a+%26+%7C+!+%27%3B+drop+table+events")).is_ok());
    }
}
