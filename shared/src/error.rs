//! One error type for the whole crate. Each variant tells the caller what to do about it:
//! fix the input (`Validation`), look elsewhere (`NotFound`), re-read and retry or give up
//! (`Conflict`), retry later (`Transient`), or report a bug (`Internal`).

pub type Result<T, E = Error> = std::result::Result<T, E>;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is wrong; the message says what and where. Retrying will not help.
    #[error("{0}")]
    Validation(String),
    /// The request does not say who makes it (no tenant in its credentials).
    #[error("{0}")]
    Unauthorized(String),
    /// The request says who makes it, but is not allowed or not genuine (a webhook whose
    /// signature does not verify). Nothing was done.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (in the caller's tenant).
    #[error("{0} not found")]
    NotFound(String),
    /// The write clashes with what is stored (a duplicate with different content, a phone
    /// number another lead has). Nothing was changed; retrying will not help.
    #[error("{0}")]
    Conflict(String),
    /// An idempotency key came back with another request: the first request's result stands,
    /// and this one was not carried out (HTTP 422, as the IETF's Idempotency-Key draft and
    /// Stripe answer).
    #[error("{0}")]
    KeyReused(String),
    /// The request is well formed, but a rule of the law or of the tenant forbids it now (a
    /// text to a lead who opted out, or in the lead's quiet hours). Nothing was done; `rule`
    /// names the rule (`opted-out`, `no-consent`, `quiet-hours`), the message why.
    #[error("{message}")]
    Refused { rule: &'static str, message: String },
    /// Someone else updated the record between our read and our write (optimistic
    /// concurrency). Nothing was changed: read again and retry.
    #[error("{0}")]
    Concurrent(String),
    /// A dependency failed in a way that may pass: retry.
    #[error("{message}")]
    Transient {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// A bug or a broken invariant.
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    pub fn validation(msg: impl Into<String>) -> Self {
        Error::Validation(msg.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }

    pub fn concurrent(msg: impl Into<String>) -> Self {
        Error::Concurrent(msg.into())
    }

    pub fn internal(msg: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Internal {
            message: msg.into(),
            source: Some(source.into()),
        }
    }

    pub fn transient(msg: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Transient {
            message: msg.into(),
            source: Some(source.into()),
        }
    }

    /// Whether trying the same work again may succeed (queue consumers use this to decide
    /// between a retry and recording a permanent failure).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Transient { .. } | Error::Concurrent(_))
    }

    /// Prefix a validation message with where the bad input came from.
    pub fn context(self, place: impl std::fmt::Display) -> Self {
        match self {
            Error::Validation(m) => Error::Validation(format!("{place}: {m}")),
            other => other,
        }
    }

    /// The message followed by its chain of sources, for logs and stored failure reasons.
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal("stored JSON does not match the current schema", e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::transient("file system error", e)
    }
}
