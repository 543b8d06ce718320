//! Call-log imports (`POST /calls/import`): a CSV export of calls read through a column
//! mapping (`formats::call_log`), each good row queued as a job that fetches its recording or
//! transcript from its URL and takes it in as a call (`ingest::register`), named by the row's
//! call id (or its numbers and time), so importing the same log again adds nothing.

use chrono::Utc;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tracing::{info, instrument};

use crate::Deps;
use crate::domain::{CallId, TenantId};
use crate::error::{Error, Result};
use crate::formats::call_log::{self, Columns, Layout, LoggedCall, Rejected};
use crate::formats::{self, CallMetadata, FileKind};
use crate::keys;
use crate::ports::{Job, VendorRequest};
use crate::voice::MAX_RECORDING_BYTES;

use super::ingest::{self, Artifact, Media};
use super::voice::DOWNLOAD_TIMEOUT;

/// A call log to import.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({"layout": "ivozprovider", "columns": {"recording_url": "Recording"}, "time_zone": "Europe/Madrid", "csv": "callid,startTime,duration,caller,callee,price,direction,ddiId,endpointType,endpointId,endpointName,Recording\na84d@10.0.0.1,2026-11-02 09:15:03,95,+34944048182,+14155550134,0.02,outbound,7,RetailAccount,3,desk,https://files.example.com/a84d.wav\n"}))]
pub struct CallLogImport {
    /// A vendor's export known by name (`didww_inbound`, `ivozprovider`); `columns` adds to
    /// it or replaces its columns.
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Which column holds what, by header.
    #[serde(default)]
    pub columns: Columns,
    /// The zone of times written without an offset (IANA name); UTC by default.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The export, header line first: at most 5,000 rows.
    pub csv: String,
}

/// What an import took and left.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// Rows queued, each with the call it becomes (its transcript at `GET
    /// /calls/{call_id}/transcript` once fetched and heard).
    pub accepted: Vec<Accepted>,
    /// Rows left out, each with its line and why.
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Accepted {
    pub line: u64,
    pub call_id: CallId,
}

/// Read the log and queue a fetch for each good row. A file refused whole (`Validation`)
/// queues nothing.
#[instrument(skip_all, fields(tenant = %tenant))]
pub async fn import(
    deps: &Deps,
    tenant: &TenantId,
    request: CallLogImport,
) -> Result<ImportReport> {
    let zone: Tz = match request.time_zone.as_deref() {
        None => chrono_tz::UTC,
        Some(name) => name.parse().map_err(|_| {
            Error::validation(format!(
                "time_zone: `{name}` is not an IANA time zone (e.g. America/Chicago)"
            ))
        })?,
    };
    let (read, mut rejected) = call_log::read(
        &request.csv,
        request.layout,
        &request.columns,
        zone,
        &deps.config.default_region,
    )?;
    // A link this deployment may not fetch (a private address, a host that does not resolve)
    // is refused now, naming its row; each host is asked once.
    let mut hosts: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut rows = Vec::with_capacity(read.len());
    for (line, call) in read {
        let host = host_of(&call.media_url);
        if !hosts.contains_key(&host) {
            let refusal = deps.http.check_base(&host).await.err().map(|e| {
                let why = e.to_string();
                why.strip_prefix("base_url: ").unwrap_or(&why).to_owned()
            });
            hosts.insert(host.clone(), refusal);
        }
        match &hosts[&host] {
            Some(why) => rejected.push(Rejected {
                line,
                problem: format!("{}: {why}", media_column(&call)),
            }),
            None => rows.push((line, call)),
        }
    }
    rejected.sort_by_key(|r| r.line);
    let accepted: Vec<Accepted> = rows
        .iter()
        .map(|(line, call)| Accepted {
            line: *line,
            call_id: keys::call_of_stem(tenant, &call.name),
        })
        .collect();
    let jobs: Vec<Job> = rows
        .into_iter()
        .map(|(_, call)| Job::FetchLoggedCall {
            tenant_id: tenant.clone(),
            call,
        })
        .collect();
    deps.queue.send_all(&jobs).await?;
    info!(
        accepted = accepted.len(),
        rejected = rejected.len(),
        "call log imported"
    );
    Ok(ImportReport { accepted, rejected })
}

/// `Job::FetchLoggedCall`: the row's media fetched (at most 64 MiB) and taken in with its
/// metadata. A call already holding its media fetches nothing. A refusal (the URL answers
/// 4xx, the file is not audio or a transcript) is permanent and named; no answer or a 5xx is
/// tried again.
#[instrument(skip_all, fields(tenant = %tenant, call = %call.name))]
pub async fn fetch(deps: &Deps, tenant: &TenantId, call: &LoggedCall) -> Result<()> {
    let call_id = keys::call_of_stem(tenant, &call.name);
    if deps
        .calls
        .get_call(tenant, &call_id)
        .await?
        .is_some_and(|c| c.recording_key.is_some() || c.transcript_key.is_some())
    {
        return Ok(());
    }
    let what = media_column(call);
    let request = VendorRequest {
        method: "GET",
        url: call.media_url.clone(),
        headers: Vec::new(),
        body: None,
    };
    let media = deps
        .http
        .download(&request, MAX_RECORDING_BYTES, DOWNLOAD_TIMEOUT)
        .await
        .map_err(|e| {
            if e.starts_with("the file is longer") || e.starts_with("not sent") {
                Error::validation(format!("{what}: {e}"))
            } else {
                Error::transient(format!("{what}: no answer"), e)
            }
        })?;
    match media.status {
        200..=299 => {}
        500..=599 => {
            return Err(Error::transient(
                format!("{what}: the server answered {}", media.status),
                "call log media",
            ));
        }
        status => {
            return Err(Error::validation(format!(
                "{what}: the server answered {status}; the import needs a link that serves \
                 the file without credentials"
            )));
        }
    }
    let extension = extension(&call.media_url);
    let artifact = if call.transcript {
        let file_name = format!("{}.{}", call.name, extension.as_deref().unwrap_or("txt"));
        match formats::classify(&file_name, &media.bytes)?.kind {
            FileKind::Transcript(format) => Artifact::Transcript {
                file_name,
                format,
                content: media.bytes,
            },
            _ => {
                return Err(Error::validation(format!(
                    "{what}: not a transcript file (.vtt, .srt, .txt or .json)"
                )));
            }
        }
    } else {
        let extension = extension
            .filter(|e| formats::AUDIO_EXTENSIONS.contains(&e.as_str()))
            .or_else(|| sniff_audio(&media.bytes).map(str::to_owned))
            .ok_or_else(|| {
                Error::validation(format!(
                    "{what}: not a recording ({})",
                    formats::AUDIO_EXTENSIONS.join(", ")
                ))
            })?;
        Artifact::Audio {
            file_name: format!("{}.{extension}", call.name),
            media: Media::Bytes(media.bytes),
        }
    };
    let metadata = CallMetadata::from_sidecar(
        call.sidecar.to_string().as_bytes(),
        &deps.config.default_region,
    )?;
    let report = ingest::register(deps, tenant, &call.name, metadata, artifact, Utc::now()).await?;
    info!(call_id = %report.call.call_id, outcome = ?report.outcome, "a logged call taken in");
    Ok(())
}

fn media_column(call: &LoggedCall) -> &'static str {
    if call.transcript {
        "transcript_url"
    } else {
        "recording_url"
    }
}

/// `scheme://host[:port]` of a URL.
fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

/// The URL path's file extension, lower-case.
fn extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next()?;
    let (_, ext) = file.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 5).then(|| ext.to_ascii_lowercase())
}

/// An audio file's kind from its first bytes, for a URL that does not say.
fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'A',
            b'V',
            b'E',
            ..,
        ] => Some("wav"),
        [b'I', b'D', b'3', ..] | [0xFF, 0xFB | 0xF3 | 0xF2, ..] => Some("mp3"),
        [b'O', b'g', b'g', b'S', ..] => Some("ogg"),
        [b'f', b'L', b'a', b'C', ..] => Some("flac"),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some("m4a"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_urls_kind_comes_from_its_path_or_its_first_bytes() {
        assert_eq!(
            extension("https://x.example/r/CA1.MP3?sig=a.b").as_deref(),
            Some("mp3")
        );
        assert_eq!(extension("https://x.example/recording/42"), None);
        assert_eq!(sniff_audio(b"RIFF\0\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff_audio(b"ID3\x04"), Some("mp3"));
        assert_eq!(sniff_audio(b"\0\0\0\x20ftypM4A "), Some("m4a"));
        assert_eq!(sniff_audio(b"<html>"), None);
    }
}
