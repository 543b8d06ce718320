//! `/calls/{id}/recording`: where a call's recording can be played from, and (where the store
//! has no URLs of its own: the local data folder) the audio itself, with byte ranges, so a
//! browser's player can start at any second.

use super::routing::{Build, Routes, get_with};
use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{self, MediaType, SchemaObject, StatusCode as DocStatus};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Deps;
use crate::domain::TenantId;
use crate::error::Error;

use super::AppState;
use super::doc::{Problems, header as doc_header};
use super::extract::{ApiResult, Tenant};

/// How long a presigned recording URL holds.
pub const LINK_SECONDS: u64 = 15 * 60;

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/calls/{id}/recording",
            get_with(recording_link, |op| {
                op.id("get_recording_link")
                    .tag("calls")
                    .summary("Where to play a call's recording")
                    .description(
                        "A URL a browser's audio player can load without credentials: on AWS a \
                         presigned S3 URL that holds for 15 minutes; locally the API's own \
                         `/calls/{id}/recording/audio` (which takes the API's credentials, none \
                         on 127.0.0.1).",
                    )
                    .problem::<404>("No such call, or its recording is not stored")
            }),
        )
        .api_route(
            "/calls/{id}/recording/audio",
            get_with(recording_audio, |op| {
                op.id("get_recording_audio")
                    .tag("calls")
                    .summary("A call's recording")
                    .description(
                        "The audio as stored, in its own format; `Range: bytes=...` answers \
                         206 with that part (a player seeking to a second). Where the store \
                         has URLs of its own (S3), a redirect to one.",
                    )
                    .problem::<404>("No such call, or its recording is not stored")
                    .problem::<416>("The range starts past the recording's end")
            }),
        )
}

/// `{id}` of a call's paths.
#[derive(Deserialize, JsonSchema)]
struct CallPath {
    /// The call's id (`ca_...`).
    #[schemars(pattern(r"^[A-Za-z0-9._-]{1,128}$"))]
    id: String,
}

/// Where a recording can be played from.
#[derive(Serialize, JsonSchema)]
struct RecordingLink {
    url: String,
    /// `audio/wav`, `audio/mpeg`, ...
    content_type: &'static str,
    /// When `url` stops working; `null` when it does not (the API's own path).
    expires_at: Option<DateTime<Utc>>,
}

/// The stored recording's key and media type.
async fn stored_recording(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
) -> ApiResult<(String, &'static str)> {
    let call = super::calls::call_of(deps, tenant, id).await?;
    let key = call
        .recording_key
        .ok_or_else(|| Error::not_found(format!("a stored recording of call {}", call.call_id)))?;
    let media = media_type(&key);
    Ok((key, media))
}

/// The media type of a recording, by its extension.
pub fn media_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        Some("m4a" | "mp4") => "audio/mp4",
        Some("flac") => "audio/flac",
        Some("ogg" | "opus") => "audio/ogg",
        Some("webm") => "audio/webm",
        Some("amr") => "audio/amr",
        _ => "application/octet-stream",
    }
}

async fn recording_link(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(CallPath { id }): Path<CallPath>,
) -> ApiResult<Json<RecordingLink>> {
    let (key, content_type) = stored_recording(&deps, &tenant, &id).await?;
    let lifetime = std::time::Duration::from_secs(LINK_SECONDS);
    let link = match deps.blobs.download_url(&key, lifetime).await? {
        Some(url) => RecordingLink {
            url,
            content_type,
            expires_at: Some(Utc::now() + lifetime),
        },
        None => RecordingLink {
            url: format!("/calls/{id}/recording/audio"),
            content_type,
            expires_at: None,
        },
    };
    Ok(Json(link))
}

async fn recording_audio(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(CallPath { id }): Path<CallPath>,
    headers: HeaderMap,
) -> ApiResult<Audio> {
    let (key, media) = stored_recording(&deps, &tenant, &id).await?;
    let lifetime = std::time::Duration::from_secs(LINK_SECONDS);
    if let Some(url) = deps.blobs.download_url(&key, lifetime).await? {
        return Ok(Audio::Elsewhere(url));
    }
    let bytes = deps.blobs.get(&key).await?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    Ok(match range.map(|r| byte_range(r, bytes.len())) {
        None | Some(Range::Whole) => Audio::Whole(bytes, media),
        Some(Range::Part(start, end)) => Audio::Part {
            total: bytes.len(),
            part: bytes[start..=end].to_vec(),
            start,
            media,
        },
        Some(Range::Unsatisfiable) => Audio::Unsatisfiable(bytes.len()),
    })
}

/// What a `Range` header asks of a body `len` bytes long.
#[derive(Debug, PartialEq)]
enum Range {
    /// No single byte range it understands (several ranges, another unit): all of it.
    Whole,
    /// From `.0` to `.1`, inclusive.
    Part(usize, usize),
    Unsatisfiable,
}

fn byte_range(value: &str, len: usize) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((from, to)) = spec.split_once('-') else {
        return Range::Whole;
    };
    let (from, to) = (from.trim(), to.trim());
    let parsed = match (from.parse::<usize>().ok(), to.parse::<usize>().ok()) {
        // The last `n` bytes.
        (None, Some(n)) if from.is_empty() && n > 0 => {
            Some((len.saturating_sub(n), len.checked_sub(1)))
        }
        (Some(start), None) if to.is_empty() => Some((start, len.checked_sub(1))),
        (Some(start), Some(end)) if start <= end => {
            Some((start, Some(end.min(len.saturating_sub(1)))))
        }
        _ => None,
    };
    match parsed {
        Some((start, Some(end))) if start < len && start <= end => Range::Part(start, end),
        Some(_) => Range::Unsatisfiable,
        None => Range::Whole,
    }
}

/// A recording's bytes, a part of them, or where they are.
enum Audio {
    Whole(Vec<u8>, &'static str),
    Part {
        total: usize,
        part: Vec<u8>,
        start: usize,
        media: &'static str,
    },
    Unsatisfiable(usize),
    Elsewhere(String),
}

impl IntoResponse for Audio {
    fn into_response(self) -> Response {
        let ranges = (header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        match self {
            Audio::Whole(bytes, media) => (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(media)),
                    ranges,
                ],
                bytes,
            )
                .into_response(),
            Audio::Part {
                total,
                part,
                start,
                media,
            } => {
                let end = start + part.len() - 1;
                let content_range = format!("bytes {start}-{end}/{total}");
                (
                    StatusCode::PARTIAL_CONTENT,
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static(media)),
                        ranges,
                        (
                            header::CONTENT_RANGE,
                            HeaderValue::from_str(&content_range).expect("ASCII"),
                        ),
                    ],
                    part,
                )
                    .into_response()
            }
            Audio::Unsatisfiable(total) => {
                let mut response = super::ApiError(Error::validation(format!(
                    "range: the recording is {total} bytes"
                )))
                .into_response();
                *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                response
            }
            Audio::Elsewhere(url) => match HeaderValue::from_str(&url) {
                Ok(location) => (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response(),
                Err(e) => super::ApiError(Error::internal("a presigned URL is not a header", e))
                    .into_response(),
            },
        }
    }
}

impl OperationOutput for Audio {
    type Inner = Vec<u8>;

    fn inferred_responses(
        _: &mut GenContext,
        _: &mut openapi::Operation,
    ) -> Vec<(Option<DocStatus>, openapi::Response)> {
        let audio = |description: &str| {
            let mut content = indexmap::IndexMap::new();
            for media in [
                "audio/wav",
                "audio/mpeg",
                "audio/mp4",
                "audio/flac",
                "audio/ogg",
                "audio/webm",
                "audio/amr",
                "application/octet-stream",
            ] {
                content.insert(
                    media.to_owned(),
                    MediaType {
                        schema: Some(SchemaObject {
                            json_schema: schemars::json_schema!({"type": "string", "format": "binary"}),
                            example: None,
                            external_docs: None,
                        }),
                        ..Default::default()
                    },
                );
            }
            openapi::Response {
                description: description.into(),
                content,
                ..Default::default()
            }
        };
        let mut partial = audio("The part the `Range` header asked for");
        partial.headers.insert(
            "Content-Range".into(),
            doc_header("Which bytes, of how many", "bytes 0-1023/48000", true),
        );
        let mut elsewhere = openapi::Response {
            description: "The recording is at a presigned URL (S3)".into(),
            ..Default::default()
        };
        elsewhere.headers.insert(
            "Location".into(),
            doc_header(
                "The presigned URL",
                "https://bucket.s3.amazonaws.com/...",
                true,
            ),
        );
        vec![
            (Some(DocStatus::Code(200)), audio("The recording")),
            (Some(DocStatus::Code(206)), partial),
            (Some(DocStatus::Code(307)), elsewhere),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_as_http_says() {
        assert_eq!(byte_range("bytes=0-99", 1000), Range::Part(0, 99));
        assert_eq!(byte_range("bytes=900-", 1000), Range::Part(900, 999));
        assert_eq!(byte_range("bytes=-100", 1000), Range::Part(900, 999));
        assert_eq!(byte_range("bytes=990-2000", 1000), Range::Part(990, 999));
        assert_eq!(byte_range("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(byte_range("bytes=5-1", 1000), Range::Whole);
        assert_eq!(byte_range("bytes=0-1,5-9", 1000), Range::Whole);
        assert_eq!(byte_range("items=0-1", 1000), Range::Whole);
        assert_eq!(byte_range("bytes=-0", 1000), Range::Whole);
        assert_eq!(media_type("recordings/acme/ca_1/call.MP3"), "audio/mpeg");
    }
}
