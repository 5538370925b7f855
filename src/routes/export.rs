//! `/v1/export/*`: every license or every audit event as JSON Lines, streamed from storage in
//! chunks (never built in memory).

use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Store, StoreError};

const CHUNK: usize = 32 * 1024;

type Chunk = Result<Bytes, ApiError>;

/// Runs `produce` on the blocking pool, streaming what it writes as JSON Lines.
fn stream_lines<T, F>(store: Store, produce: F) -> HttpResponse
where
    T: Serialize,
    F: FnOnce(&Store, &mut dyn FnMut(T) -> bool) -> Result<(), StoreError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(8);
    actix_web::rt::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        let mut open = true;
        let result = produce(&store, &mut |line| {
            if serde_json::to_writer(&mut buf, &line).is_err() {
                return false;
            }
            buf.push(b'\n');
            if buf.len() >= CHUNK {
                let chunk = Bytes::from(std::mem::replace(
                    &mut buf,
                    Vec::with_capacity(CHUNK + 4096),
                ));
                open = tx.blocking_send(Ok(chunk)).is_ok();
            }
            open
        });
        match result {
            Ok(()) if open && !buf.is_empty() => {
                let _ = tx.blocking_send(Ok(Bytes::from(buf)));
            }
            Ok(()) => {}
            Err(e) => {
                tracing::error!(error = %e, "export failed part-way");
                let _ = tx.blocking_send(Err(ApiError::Storage(e)));
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(body)
}

/// `GET /v1/export/licenses`
pub(crate) async fn export_licenses(caller: Read, state: web::Data<AppState>) -> HttpResponse {
    tracing::info!(actor = %caller.0.actor(), "exporting licenses");
    stream_lines(state.store.clone(), |store, emit| {
        store.for_each_license(emit)
    })
}

/// `GET /v1/export/audit`
pub(crate) async fn export_audit(caller: Read, state: web::Data<AppState>) -> HttpResponse {
    tracing::info!(actor = %caller.0.actor(), "exporting the audit log");
    stream_lines(state.store.clone(), |store, emit| {
        store.for_each_audit_event(emit)
    })
}
