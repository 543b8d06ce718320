//! Log capture for a test process: every line is kept in memory (so a test can check what was
//! logged), and shown on stderr too when `TEST_LOG` is set.

use std::sync::{Mutex, Once};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Everything logged in this test process so far (every test's lines).
pub fn captured() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

struct Tee;

impl std::io::Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One subscriber for the whole test process.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let level = if std::env::var_os("TEST_LOG").is_some() {
            "debug"
        } else {
            "info"
        };
        tracing_subscriber::fmt()
            .with_env_filter(level)
            // Through the redaction the product's processes write through.
            .with_writer(shared::telemetry::Redacting::new(|| Tee))
            .with_ansi(false)
            .init();
    });
}
