//! A web server holding files, as a call tracker's media links are: `GET /media/{name}`
//! answers the file, or 404; each file's downloads are counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

/// The files a [`MediaHost`] holds, and each one's downloads.
type Files = Arc<(BTreeMap<String, Vec<u8>>, Mutex<BTreeMap<String, u32>>)>;

/// A web server holding files at `/media/{name}`, counting each file's downloads.
pub struct MediaHost {
    /// Its base URL (`http://127.0.0.1:<port>`); files are under `/media/`.
    pub url: String,
    files: Files,
    _serving: crate::standin::Serving,
}

impl MediaHost {
    /// Serve `files` (name and bytes).
    pub async fn start(files: &[(&str, Vec<u8>)]) -> Self {
        let files: Files = Arc::new((
            files
                .iter()
                .map(|(n, b)| (n.to_string(), b.clone()))
                .collect(),
            Mutex::new(BTreeMap::new()),
        ));
        let (listener, url) = crate::standin::bind().await;
        let app = axum::Router::new()
            .route(
                "/media/{name}",
                axum::routing::get(
                    |State(files): State<Files>, Path(name): Path<String>| async move {
                        *files.1.lock().unwrap().entry(name.clone()).or_default() += 1;
                        match files.0.get(&name) {
                            Some(bytes) => bytes.clone().into_response(),
                            None => StatusCode::NOT_FOUND.into_response(),
                        }
                    },
                ),
            )
            .with_state(files.clone());
        Self {
            url,
            files,
            _serving: crate::standin::Serving::start(listener, app),
        }
    }

    /// How often `name` was asked for.
    pub fn hits(&self, name: &str) -> u32 {
        self.files
            .1
            .lock()
            .unwrap()
            .get(name)
            .copied()
            .unwrap_or_default()
    }
}
