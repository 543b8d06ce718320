//! `/calls`: a call sent through the API (metadata plus a transcript, or an upload URL for
//! its recording), and a call's transcript, paged.

use super::routing::{Build, Routes, get_with, post_with};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Deps;
use crate::domain::{CallId, CallStatus, Segment, TenantId, Transcript, TranscriptFormat};
use crate::error::Error;
use crate::formats::{self, CallMetadata};
use crate::handlers::{call_log, ingest};
use crate::keys;

use super::ApiError;
use super::AppState;
use super::doc::{Problems, link};
use super::extract::{ApiResult, JsonBody, Page, PageQuery, Q, RepTenant, Tenant};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/calls",
            post_with(submit_call, |op| {
                let op = op
                    .id("submit_call")
                    .tag("calls")
                    .summary("Send a call: its metadata and its transcript, or its recording")
                    .description(
                        "With `transcript`, the call is analysed and its lead scored in the \
                         background (202; 200 when the same call was sent before). With \
                         `recording` (on AWS), the answer is a presigned URL to `PUT` the audio \
                         to (201); its arrival starts the pipeline like any recording.",
                    )
                    .response_with::<202, Json<CallAccepted>, _>(|r| {
                        r.description("Accepted: the call is being analysed and scored")
                    })
                    .response_with::<200, Json<CallAccepted>, _>(|r| {
                        r.description("The same call was sent before: nothing changes")
                    })
                    .response_with::<201, Json<UploadTicket>, _>(|r| {
                        r.description("Where to upload the recording")
                    });
                link(op, 202, "transcript", "get_transcript", "/call_id")
            }),
        )
        .api_route(
            "/calls/import",
            post_with(import_call_log, |op| {
                op.id("import_call_log")
                    .tag("calls")
                    .summary("Import a call log: a CSV export, a call a row")
                    .description(
                        "A telephony provider's or call tracker's CSV export (at most 5,000 rows \
                         and the request's 2 MiB), read through `layout` (`didww_inbound`, \
                         `ivozprovider`) and `columns` (which column holds the caller, the \
                         callee, the start, the duration, the direction, the call's id, and the \
                         URL of its recording or transcript). Each good row's media is fetched \
                         in the background (at most 64 MiB, from a link that needs no \
                         credentials) and scored like any call; rows that are wrong are listed \
                         with their line and why. The same log imported again adds nothing: a \
                         row's call is named by its call id, else by its numbers and time.",
                    )
                    .response_with::<202, Json<call_log::ImportReport>, _>(|r| {
                        r.description("The rows queued and those left out")
                    })
                    .problem::<400>(
                        "The file lacks a mapped column, maps no number or media, or has too \
                         many rows: nothing was queued",
                    )
            }),
        )
        .api_route(
            "/calls/{id}/transcript",
            get_with(get_transcript, |op| {
                op.id("get_transcript")
                    .tag("calls")
                    .summary("A call's transcript, a page of segments at a time")
                    .description(
                        "As stored: personal data (card numbers, e-mail addresses) redacted.",
                    )
                    .problem::<404>("No such call, or it has no transcript yet")
            }),
        )
}

async fn import_call_log(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    JsonBody(request): JsonBody<call_log::CallLogImport>,
) -> ApiResult<(StatusCode, Json<call_log::ImportReport>)> {
    let report = call_log::import(&deps, &tenant, request).await?;
    Ok((StatusCode::ACCEPTED, Json(report)))
}

/// `{id}` of a call's paths.
#[derive(Deserialize, JsonSchema)]
struct CallPath {
    /// The call's id (`ca_...`).
    #[schemars(pattern("^[A-Za-z0-9._-]{1,128}$"))]
    id: String,
}

/// A page of a call's transcript.
#[derive(Serialize, JsonSchema)]
struct TranscriptPage {
    call_id: CallId,
    #[serde(flatten)]
    page: Page<Segment>,
}

/// `GET /calls/{id}/transcript?offset=&limit=`: a call's stored (redacted) transcript, a page
/// of segments at a time (100 unless `limit` says, at most 500).
async fn get_transcript(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Path(CallPath { id }): Path<CallPath>,
    Q(q): Q<PageQuery>,
) -> ApiResult<Json<TranscriptPage>> {
    let call = call_of(&deps, &tenant, &id).await?;
    let id = call.call_id.clone();
    let key = call.transcript_key.ok_or_else(|| {
        Error::not_found(format!(
            "a transcript of call {id} (it is {})",
            call.status.as_str()
        ))
    })?;
    let transcript: Transcript =
        serde_json::from_slice(&deps.blobs.get(&key).await?).map_err(Error::from)?;
    Ok(Json(TranscriptPage {
        page: q.window(transcript.segments),
        call_id: id,
    }))
}

/// The tenant's call `id` (a path's `{id}`), or 404 naming it.
pub(super) async fn call_of(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
) -> ApiResult<crate::domain::Call> {
    let id = CallId::parse(id).map_err(ApiError)?;
    Ok(deps
        .calls
        .get_call(tenant, &id)
        .await?
        .ok_or_else(|| Error::not_found(format!("call {id}")))?)
}

/// What `POST /calls` accepted.
#[derive(Serialize, JsonSchema)]
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
    if metadata.lead_phone().is_some() {
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

/// `POST /calls`: the call's metadata (a sidecar's fields), and its transcript or the
/// recording to upload. Read field by field (see `submit_call`), so that each error names its
/// field; this type says the shape for the document.
#[derive(Deserialize, JsonSchema)]
#[schemars(example = serde_json::json!({
    "caller": "+14155550134",
    "started_at": "2026-11-02T14:15:03Z",
    "first_name": "Dana",
    "transcript": {"format": "text", "content": "Agent: Thanks for calling.\nCaller: We need a new roof before winter, what does it cost?"}
}))]
struct CallSubmission {
    /// The call's transcript; or send `recording` instead.
    #[schemars(with = "Option<TranscriptInput>")]
    transcript: Option<serde_json::Value>,
    /// The recording to upload (AWS only; locally, drop it into the inbox).
    #[schemars(with = "Option<RecordingInput>")]
    recording: Option<serde_json::Value>,
    #[serde(flatten)]
    #[schemars(with = "formats::Sidecar")]
    metadata: serde_json::Map<String, serde_json::Value>,
}

/// A transcript in one of the formats the pipeline reads.
#[derive(JsonSchema)]
#[allow(dead_code)] // A shape for the document; `transcript_body` reads it.
struct TranscriptInput {
    /// `webvtt`, `srt`, `text` (`Speaker: text` lines), `amazon_transcribe` (its output
    /// JSON), `gong` (Gong's `callTranscripts` JSON, with the call's `parties` and
    /// `metaData`, which then say who the lead is) or `segments`. JSON content may be a string
    /// or an object.
    #[schemars(extend("enum" = ["webvtt", "vtt", "srt", "text", "plain_text", "txt", "amazon_transcribe", "transcribe", "gong", "segments"]))]
    format: String,
    /// The transcript in that format (all but `segments`).
    content: Option<serde_json::Value>,
    /// With `"format": "segments"`: the turns, in order.
    segments: Option<Vec<Segment>>,
}

/// The recording `POST /calls` answers an upload URL for.
#[derive(JsonSchema)]
#[allow(dead_code)] // A shape for the document; `recording_upload` reads it.
struct RecordingInput {
    /// A plain file name with an audio extension, such as `call-7.wav`.
    file_name: String,
}

async fn submit_call(
    State(deps): State<AppState>,
    RepTenant(tenant): RepTenant,
    JsonBody(call): JsonBody<CallSubmission>,
) -> ApiResult<Response> {
    let CallSubmission {
        transcript,
        recording,
        metadata: doc,
    } = call;
    if let Some(recording) = recording {
        if transcript.is_some() {
            return Err(ApiError::validation(
                "recording, transcript: send one of them, not both",
            ));
        }
        return recording_upload(&deps, &tenant, recording, doc).await;
    }
    let transcript = transcript.ok_or_else(|| {
        ApiError::validation(
            "transcript: required (or `recording` to upload audio), e.g. \
             {\"format\": \"text\", \"content\": \"Agent: Hello\"}",
        )
    })?;
    let (format, content) = transcript_body(transcript)?;
    let region = &deps.config.default_region;
    let mut metadata =
        CallMetadata::from_sidecar(&serde_json::to_vec(&doc).map_err(Error::from)?, region)?;
    // What the transcript says of its call (a Gong document's parties) fills in the rest.
    if let Some(own) = formats::embedded_metadata(format, &content, region)
        .map_err(|e| e.context("transcript.content"))?
    {
        metadata = metadata.or(own);
    }
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
        TranscriptFormat::AmazonTranscribe
        | TranscriptFormat::Gong
        | TranscriptFormat::Segments => "json",
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

/// Where to upload a call's recording.
#[derive(Serialize, JsonSchema)]
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
        "gong" => TranscriptFormat::Gong,
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
                "transcript.format: `{other}` is not one of webvtt, srt, text, amazon_transcribe, gong, segments"
            )));
        }
    };
    let content = match t.remove("content") {
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        Some(obj @ serde_json::Value::Object(_))
            if matches!(
                format,
                TranscriptFormat::AmazonTranscribe | TranscriptFormat::Gong
            ) =>
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
