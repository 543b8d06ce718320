//! Erasure on AWS: `DELETE /leads/{id}` through the API function, the erasure job through the
//! score function, then every item of every table and every object of the bucket scanned for
//! the lead's number, name and e-mail address, and Transcribe asked for the call's job.

use serde_json::json;

use crate::chain::{call_id, tenant, wav};
use crate::emulator::Cloud;
use crate::feed;

const NUMBER: &str = "2135550199";
const NAME: &str = "Quillfeather";
const EMAIL: &str = "zebulon@quillhats.example";

/// Every item of every table the template declares, as text.
async fn every_item(cloud: &Cloud) -> String {
    let mut all = String::new();
    for table in cloud
        .dynamo
        .list_tables()
        .send()
        .await
        .unwrap()
        .table_names()
    {
        let mut start = None;
        loop {
            let page = cloud
                .dynamo
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items() {
                all.push_str(&format!("{table}: {item:?}\n"));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
    }
    all
}

/// Every object of the bucket, key and content, as text.
async fn every_object(cloud: &Cloud) -> String {
    feed::every_object(cloud)
        .await
        .into_iter()
        .map(|(key, body)| format!("{key}\n{}\n", String::from_utf8_lossy(&body)))
        .collect()
}

#[tokio::test]
async fn an_erased_lead_leaves_nothing_in_any_table_object_or_transcription_job() {
    let cloud = Cloud::start().await;
    // A recording with its sidecar, transcribed by Amazon Transcribe, analysed and scored.
    let stem = format!("call-{NUMBER}");
    feed::upload(
        &cloud,
        &format!("recordings/acme/{stem}.meta.json"),
        json!({"caller": format!("+1{NUMBER}"), "caller_name": format!("Zebulon {NAME}"),
            "company": "Quillfeather Hats", "direction": "inbound",
            "started_at": "2026-12-01T10:00:00Z"})
        .to_string()
        .as_bytes(),
    )
    .await;
    feed::upload(&cloud, &format!("recordings/acme/{stem}.wav"), &wav(2)).await;
    let id = call_id(&stem);
    crate::chain::transcription_completes(&cloud, &id).await;
    feed::settle(&cloud, 1).await;
    let call = feed::call(&cloud, &tenant(), &id).await;
    let lead = call.lead_id.to_string();
    // An e-mail address, a text, a link, an opt-out.
    let api = |method: &'static str, path: String, body: Option<serde_json::Value>| {
        let cloud = &cloud;
        async move {
            let (status, answer) = feed::api_with(cloud, method, &path, Some("acme"), body).await;
            assert!(
                (200..300).contains(&status),
                "{method} {path}: {status} {answer}"
            );
            answer
        }
    };
    api(
        "PUT",
        format!("/leads/{lead}"),
        Some(json!({"email": EMAIL})),
    )
    .await;
    api(
        "POST",
        format!("/leads/{lead}/messages"),
        Some(json!({"body": format!("Hi {NAME}, the prices")})),
    )
    .await;
    api(
        "POST",
        format!("/leads/{lead}/links"),
        Some(json!({"url": "https://brightline.example/pricing"})),
    )
    .await;
    api(
        "POST",
        format!("/leads/{lead}/consent"),
        Some(json!({"action": "opt_out", "source": "asked on a call"})),
    )
    .await;
    feed::settle(&cloud, 1).await;
    let export = api("GET", format!("/leads/{lead}/export"), None).await;
    assert_eq!(export["calls_total"], 1, "{export:#}");
    assert!(
        every_item(&cloud).await.contains(NAME),
        "the data is there to erase"
    );
    assert!(every_object(&cloud).await.contains(NUMBER));

    // Erased: the API queues it, the score function does it (each message twice).
    let accepted = api("DELETE", format!("/leads/{lead}"), None).await;
    assert_eq!(accepted["state"], "erasing");
    feed::settle(&cloud, 2).await;
    let (status, _) = feed::api(&cloud, "GET", &format!("/leads/{lead}"), Some("acme")).await;
    assert_eq!(status, 404);

    let items = every_item(&cloud).await;
    let objects = every_object(&cloud).await;
    for (place, text) in [("a table", &items), ("the bucket", &objects)] {
        for needle in [NUMBER, NAME, EMAIL, "Zebulon"] {
            assert!(
                !text.contains(needle),
                "`{needle}` is still in {place}:\n{text}"
            );
        }
    }
    let job = cloud
        .transcribe
        .get_transcription_job()
        .transcription_job_name(shared::keys::transcription_job(&tenant(), &id))
        .send()
        .await;
    assert!(job.is_err(), "Transcribe still has the job: {job:?}");
    // What the law asks to keep: the number's digest, on the suppression list.
    let digest = shared::domain::suppression_digest(
        &tenant(),
        &shared::domain::PhoneNumber::parse(&format!("+1{NUMBER}")).unwrap(),
    );
    assert!(items.contains(&format!("SUPPRESS#{digest}")), "{items}");
}
