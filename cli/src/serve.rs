//! `leadscore serve`: the REST API on a socket, the inbox watched, the worker running.

use anyhow::{Context, Result};
use shared::local::{self, LocalApp};

pub(crate) async fn serve(app: LocalApp, bind: std::net::IpAddr, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .with_context(|| {
            format!("cannot listen on {bind}:{port} (is another server using it? try --port 0)")
        })?;
    let addr = listener.local_addr()?;
    let access = if let Some(provider) = &app.identity {
        format!(
            "people sign in with {} (the web app offers it) and every request needs its token \
             or an API key",
            provider.issuer
        )
    } else if bind.is_loopback() {
        "requests from this machine act as the tenant's admin".to_owned()
    } else {
        "every request needs an API key (`leadscore keys create --name <n> --role <r>`)".to_owned()
    };
    // One write, and a closed stdout is no reason for a server to stop.
    let banner = format!(
        "leadscore is serving http://{addr} (data in {})\n\
         the web app: http://{addr}/ ; drop calls into {} ; GET http://{addr}/leads for the \
         ranked leads; the API's reference at http://{addr}/docs; {access}; Ctrl-C stops\n",
        app.data_dir.display(),
        app.inbox_dir().display()
    );
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    local::serve(app, listener, shutdown).await?;
    Ok(())
}
