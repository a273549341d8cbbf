//! Suggestions' last resorts through the API: a text that matches no name,
//! neither as typed nor corrected, is looked up without its last letter
//! (a slip while typing) before names that look alike are scanned for.
#![allow(clippy::unwrap_used)]

mod common;
mod search_fixture;

use common::TestApp;
use search_fixture as fx;
use serde_json::Value;

async fn suggest(app: &TestApp, typed: &str) -> Vec<(String, String)> {
    let response = app
        .http
        .get(app.url("/api/events/suggest"))
        .query(&[("q", typed)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{typed}");
    let body: Value = response.json().await.unwrap();
    body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["label"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_slip_on_the_last_letter_still_suggests_the_name() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    for (typed, kind, label) in [
        ("taylx", "performer", "Taylor Swift"),
        ("Beyonx", "performer", "Beyoncé"),
        ("kraftwx", "performer", "Kraftwerk"),
        ("lanxesz", "venue", "LANXESS arena"),
    ] {
        let found = suggest(&app, typed).await;
        assert!(
            found.iter().any(|(k, l)| k == kind && l == label),
            "{typed}: {found:?}"
        );
    }
    // Nothing close: an empty list, not an error.
    assert!(suggest(&app, "qqqqzzzz").await.is_empty());
    app.stop().await;
}
