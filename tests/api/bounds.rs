//! What a request or a file can make grow is bounded: a transcript's bytes (refused by size
//! before it is read), segments and times; what a call stores of its analysis; what one lead's
//! detail returns, whatever its history (the rest is paged).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{drop_into, lead_by_phone, spawn_app};

async fn wait_rejected(app: &crate::helpers::TestApp, name: &str) -> String {
    let note = app.app.rejected_dir().join(format!("{name}.error.txt"));
    for _ in 0..300 {
        if let Ok(reason) = std::fs::read_to_string(&note) {
            return reason;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} was not rejected");
}

#[tokio::test]
async fn transcripts_past_the_limits_are_refused_with_the_limit_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // 17 MiB of text: refused by its size.
    let mut big = b"Agent: hello\n".to_vec();
    big.resize(17 * 1024 * 1024, b'a');
    drop_into(&app.app, "big_+15125550191_inbound.txt", &big);
    let reason = wait_rejected(&app, "big_+15125550191_inbound.txt").await;
    assert!(reason.contains("at most 16777216 bytes"), "{reason}");
    // A cue 1,000 hours in, and (through the API) a segment that ends at 1e300 seconds: not
    // stored as a call's duration.
    drop_into(
        &app.app,
        "forever_+15125550192_inbound.vtt",
        b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Agent>Hello, Acme Solar.\n\n\
          1000:00:00.000 --> 1000:00:02.000\n<v Caller>I want a quote.\n",
    );
    let reason = wait_rejected(&app, "forever_+15125550192_inbound.vtt").await;
    assert!(reason.contains("segment 2"), "{reason}");
    assert!(reason.contains("at most 4 hours"), "{reason}");
    let segments = json!([
        {"speaker": "spk_0", "start": 0.0, "end": 2.0, "text": "Hello, Acme Solar."},
        {"speaker": "spk_1", "start": 2.0, "end": 1e300, "text": "I want a quote."}
    ]);
    let (status, problem) = app
        .send(
            Method::POST,
            "/calls",
            &json!({"caller": "+15125550194", "transcript": {"format": "segments", "segments": segments}})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("segment 2"),
        "{problem}"
    );
    let (_, leads) = app.get("/leads").await;
    for phone in ["+15125550191", "+15125550192"] {
        let lead = lead_by_phone(&leads, phone);
        assert!(
            lead.is_none_or(|l| l["call_count"] == 0 || l["lead_score"].is_null()),
            "{lead:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_long_history_gives_a_bounded_lead_and_pages_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // A caller who asks for the price two thousand times in one call (about three hours).
    let mut text = String::from("Agent: Thanks for calling Acme Solar, this is Maya.\n");
    for i in 0..2000 {
        text.push_str(&format!(
            "Caller: What's the price of option {i}? Can you send me a quote?\n"
        ));
    }
    drop_into(&app.app, "long_+15125550193_inbound.txt", text.as_bytes());
    let leads = app
        .wait_for("/leads", |b| {
            lead_by_phone(b, "+15125550193").is_some_and(|l| l["lead_score"].is_number())
        })
        .await;
    let id = lead_by_phone(&leads, "+15125550193").unwrap()["lead_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..150 {
        let (status, body) = app
            .send(
                Method::POST,
                &format!("/leads/{id}/messages"),
                &json!({"id": format!("m{i}"), "body": format!("Following up, #{i}")}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let resp = app
        .client
        .get(app.url(&format!("/leads/{id}")))
        .send()
        .await
        .unwrap();
    let bytes = resp.bytes().await.unwrap();
    assert!(
        bytes.len() < 120_000,
        "the lead's detail is {} bytes",
        bytes.len()
    );
    let lead: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let call = &lead["calls"][0];
    let analysis = &call["analysis"];
    let pricing = analysis["intents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "pricing")
        .count();
    assert!((1..=5).contains(&pricing), "{pricing} pricing quotes kept");
    assert_eq!(call["call_transcript_truncated"], true);
    assert!(call["call_transcript"].as_str().unwrap().chars().count() <= 2000);
    assert_eq!(
        (
            lead["sms_log_total"].as_u64(),
            lead["sms_log"].as_array().map(Vec::len)
        ),
        (Some(150), Some(100))
    );

    // The whole transcript, a page of segments at a time.
    let path = call["transcript_path"].as_str().unwrap().to_owned();
    let (status, page) = app.get(&format!("{path}?offset=0&limit=500")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 2001);
    assert_eq!(page["items"].as_array().unwrap().len(), 500);
    assert_eq!(page["next_offset"], 500);
    let (_, last) = app.get(&format!("{path}?offset=2000&limit=500")).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert!(last["next_offset"].is_null());
    // The whole SMS log likewise.
    let (_, texts) = app
        .get(&format!("/leads/{id}/sms_log?offset=0&limit=200"))
        .await;
    assert_eq!(texts["items"].as_array().unwrap().len(), 150);
    assert_eq!(texts["total"], 150);
    let (status, _) = app.get(&format!("{path}?limit=lots")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// A tenant that makes more requests in a minute than its limit is answered 429 with
/// `Retry-After` and a problem saying so; `/health` is never counted.
#[tokio::test]
async fn a_tenant_past_its_rate_limit_is_told_when_to_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = shared::Config {
        rate_limit_per_minute: 3,
        ..shared::Config::default()
    };
    let app = crate::helpers::spawn_app_with(dir.path(), config).await;
    // The four requests fall in one minute's window.
    testkit::contract::early_in_window(Duration::from_secs(60), Duration::from_secs(5)).await;
    for n in 1..=3 {
        let (status, _) = app.get("/leads").await;
        assert_eq!(status, StatusCode::OK, "request {n}");
    }
    let resp = app.client.get(app.url("/leads")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "urn:leadscore:problem:rate-limited");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("more than 3 requests"),
        "{body}"
    );
    let (status, _) = app.get("/health").await;
    assert_eq!(status, StatusCode::OK, "health is not counted");
    app.stop().await;
}
