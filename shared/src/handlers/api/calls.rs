//! `/calls`: a call sent through the API (metadata plus a transcript, or an upload URL for
//! its recording), and a call's transcript, paged.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Deps;
use crate::domain::{CallId, CallStatus, TenantId, Transcript, TranscriptFormat};
use crate::error::Error;
use crate::formats::{self, CallMetadata};
use crate::handlers::ingest;
use crate::keys;

use super::ApiError;
use super::extract::{ApiResult, PageQuery, Tenant, body, query};

pub(super) fn routes() -> Router<Deps> {
    Router::new()
        .route("/calls", post(submit_call))
        .route("/calls/{id}/transcript", get(get_transcript))
}

/// `GET /calls/{id}/transcript?offset=&limit=`: a call's stored (redacted) transcript, a page
/// of segments at a time (100 unless `limit` says, at most 500).
async fn get_transcript(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let q = query(q)?;
    let id = CallId::parse(&id).map_err(ApiError)?;
    let call = deps
        .calls
        .get_call(&tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("call {id}")))?;
    let key = call.transcript_key.ok_or_else(|| {
        Error::not_found(format!(
            "a transcript of call {id} (it is {})",
            call.status.as_str()
        ))
    })?;
    let transcript: Transcript =
        serde_json::from_slice(&deps.blobs.get(&key).await?).map_err(Error::from)?;
    let mut page = q.window(transcript.segments);
    page["call_id"] = id.to_string().into();
    Ok(Json(page))
}

#[derive(Serialize)]
struct CallAccepted {
    outcome: ingest::Outcome,
    call_id: String,
    lead_id: String,
    status: CallStatus,
    status_detail: Option<String>,
}

/// A call sent through the API names its lead's number in the request: the error names the
/// JSON field (an API client sent no sidecar file and no file name to read it from).
fn require_lead_number(metadata: &CallMetadata) -> ApiResult<()> {
    if ingest::lead_phone(metadata).is_some() {
        return Ok(());
    }
    Err(ApiError::validation(
        match metadata.direction.unwrap_or_default() {
            crate::domain::Direction::Inbound => {
                "caller: required, the lead's phone number (the caller of an inbound call)"
            }
            crate::domain::Direction::Outbound => {
                "callee: required, the lead's phone number (the callee of an outbound call)"
            }
        },
    ))
}

/// `POST /calls`: call metadata (the sidecar's fields) plus `transcript`:
/// `{"format": "webvtt" | "srt" | "text" | "amazon_transcribe", "content": ...}` or
/// `{"format": "segments", "segments": [{"speaker", "start", "end", "text"}]}`.
async fn submit_call(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    let mut doc: serde_json::Map<String, serde_json::Value> = body(&headers, &bytes)?;
    if let Some(recording) = doc.remove("recording") {
        if doc.contains_key("transcript") {
            return Err(ApiError::validation(
                "recording, transcript: send one of them, not both",
            ));
        }
        return recording_upload(&deps, &tenant, recording, doc).await;
    }
    let transcript = doc.remove("transcript").ok_or_else(|| {
        ApiError::validation(
            "transcript: required (or `recording` to upload audio), e.g. \
             {\"format\": \"text\", \"content\": \"Agent: Hello\"}",
        )
    })?;
    let (format, content) = transcript_body(transcript)?;
    let metadata = CallMetadata::from_sidecar(
        &serde_json::to_vec(&doc).map_err(Error::from)?,
        &deps.config.default_region,
    )?;
    require_lead_number(&metadata)?;
    let name = match &metadata.external_id {
        Some(ext) => ext.clone(),
        None => {
            let mut h = Sha256::new();
            h.update(
                metadata
                    .caller
                    .as_ref()
                    .map(|c| c.as_str())
                    .unwrap_or_default(),
            );
            h.update(&content);
            format!("api-{}", &hex::encode(h.finalize())[..16])
        }
    };
    let ext = match format {
        TranscriptFormat::WebVtt => "vtt",
        TranscriptFormat::Srt => "srt",
        TranscriptFormat::PlainText => "txt",
        TranscriptFormat::AmazonTranscribe | TranscriptFormat::Segments => "json",
    };
    let artifact = ingest::Artifact::Transcript {
        file_name: format!("{name}.{ext}"),
        format,
        content,
    };
    let report = ingest::register(&deps, &tenant, &name, metadata, artifact, Utc::now()).await?;
    let status = match report.outcome {
        ingest::Outcome::Duplicate => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    let location = format!("/leads/{}", report.call.lead_id);
    let accepted = CallAccepted {
        outcome: report.outcome,
        call_id: report.call.call_id.to_string(),
        lead_id: report.call.lead_id.to_string(),
        status: report.call.status,
        status_detail: report.call.status_detail,
    };
    Ok((status, [(header::LOCATION, location)], Json(accepted)).into_response())
}

/// How long an upload URL from `POST /calls` stays valid.
const UPLOAD_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Serialize)]
struct UploadTicket {
    call_id: String,
    /// `PUT` the audio here, as it is, before `expires_at`.
    upload_url: String,
    method: &'static str,
    key: String,
    expires_at: chrono::DateTime<Utc>,
}

/// `POST /calls` with `"recording": {"file_name": "call-7.wav"}`: the call's metadata is kept
/// beside where the recording will land (`<name>.meta.json`, as a telephony export would
/// write it) and the answer carries a presigned URL to `PUT` the audio to; its arrival starts
/// the pipeline like any recording. Where the blob store has no such URLs (local mode), the
/// answer says to drop the file into the inbox instead, and nothing is stored.
async fn recording_upload(
    deps: &Deps,
    tenant: &TenantId,
    recording: serde_json::Value,
    doc: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<Response> {
    let file_name = recording
        .get("file_name")
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .trim();
    if file_name.is_empty() || file_name.contains(['/', '\\']) || file_name.starts_with('.') {
        return Err(ApiError::validation(
            "recording.file_name: required, a plain file name such as \"call-7.wav\"",
        ));
    }
    if !formats::is_audio(file_name) {
        return Err(ApiError::validation(format!(
            "recording.file_name: `{}` is not a recording this service transcribes ({})",
            file_name,
            formats::AUDIO_EXTENSIONS.join(", ")
        )));
    }
    let sidecar = serde_json::to_vec(&doc).map_err(Error::from)?;
    let metadata = CallMetadata::from_sidecar(&sidecar, &deps.config.default_region)?;
    require_lead_number(&metadata)?;
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .unwrap_or_default();
    let name = match &metadata.external_id {
        Some(external) => external.clone(),
        None => formats::stem(file_name).to_owned(),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(ApiError::validation(
            "external_id: cannot name a file; use letters, digits, dashes",
        ));
    }
    let key = keys::drop(tenant, &format!("{name}.{}", ext.to_ascii_lowercase()));
    let Some(upload_url) = deps.blobs.upload_url(&key, UPLOAD_URL_LIFETIME).await? else {
        return Err(ApiError::validation(
            "recording: this deployment takes recordings through its inbox folder, not by \
             upload URL; drop the file (and its .meta.json) into the inbox, or send a transcript",
        ));
    };
    deps.blobs
        .put(&keys::drop(tenant, &format!("{name}.meta.json")), &sidecar)
        .await?;
    let ticket = UploadTicket {
        call_id: keys::call_of_stem(tenant, &name).to_string(),
        upload_url,
        method: "PUT",
        key,
        expires_at: Utc::now() + UPLOAD_URL_LIFETIME,
    };
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

fn transcript_body(v: serde_json::Value) -> ApiResult<(TranscriptFormat, Vec<u8>)> {
    let serde_json::Value::Object(mut t) = v else {
        return Err(ApiError::validation(
            "transcript: must be an object with \"format\" and \"content\"",
        ));
    };
    let format = t
        .get("format")
        .and_then(|f| f.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let format = match format.as_str() {
        "webvtt" | "vtt" => TranscriptFormat::WebVtt,
        "srt" => TranscriptFormat::Srt,
        "text" | "plain_text" | "txt" => TranscriptFormat::PlainText,
        "amazon_transcribe" | "transcribe" => TranscriptFormat::AmazonTranscribe,
        "segments" => {
            let segments = t
                .remove("segments")
                .ok_or_else(|| ApiError::validation("transcript.segments: required"))?;
            let doc = serde_json::json!({ "format": "segments", "segments": segments });
            // Check the shape now, so the error names the field.
            serde_json::from_value::<Transcript>(doc.clone())
                .map_err(|e| ApiError::validation(format!("transcript.segments: {e}")))?;
            return Ok((
                TranscriptFormat::Segments,
                serde_json::to_vec(&doc).map_err(Error::from)?,
            ));
        }
        other => {
            return Err(ApiError::validation(format!(
                "transcript.format: `{other}` is not one of webvtt, srt, text, amazon_transcribe, segments"
            )));
        }
    };
    let content = match t.remove("content") {
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        Some(obj @ serde_json::Value::Object(_))
            if format == TranscriptFormat::AmazonTranscribe =>
        {
            serde_json::to_vec(&obj).map_err(Error::from)?
        }
        _ => {
            return Err(ApiError::validation(
                "transcript.content: required, the transcript as a string",
            ));
        }
    };
    Ok((format, content))
}
