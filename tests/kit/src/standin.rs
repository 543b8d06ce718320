//! What every vendor stand-in does with its socket: bind a free port on 127.0.0.1, serve its
//! router there, and stop serving when dropped.

/// A port bound on 127.0.0.1, and the base URL it answers at.
pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// A router served on a bound port until this is dropped.
pub struct Serving(tokio::task::JoinHandle<()>);

impl Serving {
    pub fn start(listener: tokio::net::TcpListener, app: axum::Router) -> Self {
        Self(tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        }))
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}
