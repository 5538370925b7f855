//! Structured logging with tracing: text for people, JSON for collectors; and [`blocking`],
//! which keeps a request's span (its request id) on work moved to the blocking pool.

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber (once; later calls are ignored, which suits tests).
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Whether text lines carry colours: only for a person at a terminal. A file, a pipe or journald
/// gets plain text (escape codes there break `grep` and log parsers), and `NO_COLOR` with any
/// non-empty value (<https://no-color.org>) turns them off at a terminal too.
fn colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Runs blocking work on actix's blocking pool inside the caller's span, so its log lines carry
/// the request id like every other line of the request. Use it instead of `web::block`.
pub(crate) async fn blocking<F, R>(work: F) -> Result<R, actix_web::error::BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::web::block(move || span.in_scope(work)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_only_for_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(
            colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None), "a file or pipe gets plain text");
        assert!(!colour(false, Some(OsStr::new("1"))));
    }
}
