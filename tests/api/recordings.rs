//! A call's stored recording, played from the API: where to load it, the audio itself, and
//! the byte ranges a browser's player asks for when it seeks.

use reqwest::StatusCode;

use crate::helpers::{repo_root, spawn_app};

#[tokio::test]
async fn a_stored_recording_is_served_whole_and_in_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path()).await;
    // No speech engine here: the recording is stored and waits for its transcript.
    let name = "20261121T181500Z_+17205550122_+14155550100_inbound.flac";
    let audio = std::fs::read(repo_root().join("samples/audio").join(name)).unwrap();
    std::fs::write(app.app.inbox_dir().join(name), &audio).unwrap();
    let lead = app
        .wait_for("/leads/+17205550122", |l| {
            l["calls"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["recording_key"].is_string()))
        })
        .await;
    let call = lead["calls"][0]["call_id"].as_str().unwrap().to_owned();

    let (status, link) = app.get(&format!("/calls/{call}/recording")).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert_eq!(link["content_type"], "audio/flac");
    assert_eq!(link["expires_at"], serde_json::Value::Null);
    let url = format!("http://{}{}", app.addr, link["url"].as_str().unwrap());

    let whole = app.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "audio/flac");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), audio.as_slice());

    // A player seeking: the part asked for, and where it sits in the whole.
    let part = app
        .client
        .get(&url)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-1999/{}", audio.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &audio[1000..2000]);
    let past = app
        .client
        .get(&url)
        .header("range", format!("bytes={}-", audio.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // A call without a recording, and no call at all, say which.
    let (_, page) = app.get("/leads?limit=1").await;
    assert_eq!(page["leads"][0]["phone_number"], "+17205550122");
    let (status, problem) = app
        .get("/calls/ca_000000000000000000000000/recording")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("call ca_0000"),
        "{problem}"
    );
}
