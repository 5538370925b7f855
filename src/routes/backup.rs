//! `GET /v1/backup`: a consistent snapshot of the database, streamed (write scope; it holds
//! every customer record). The snapshot is first written to an unlinked file in the data
//! directory — writers wait only for that local copy, never for the download — then streamed
//! with its SHA-256 in `X-Backup-Sha256` (also the snapshot's own trailer).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use chrono::Utc;
use futures_util::stream;

use crate::access::extract::Write;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;

/// Bytes read per streamed chunk.
const CHUNK: usize = 256 * 1024;

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ApiError + '_ {
    move |source| {
        ApiError::Storage(StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// An unlinked read-write file in `dir`: its space is freed when the last handle closes.
fn scratch_file(dir: &std::path::Path) -> Result<File, ApiError> {
    let path = dir.join(format!(".backup-{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(io(&path))?;
    std::fs::remove_file(&path).map_err(io(&path))?;
    Ok(file)
}

/// `GET /v1/backup`
pub(crate) async fn get_backup(
    caller: Write,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let dir = state.settings.storage.data_dir.clone();
    let (file, summary, len) = crate::telemetry::blocking(move || -> Result<_, ApiError> {
        let mut file = scratch_file(&dir)?;
        let summary = store.snapshot(&file, Utc::now().timestamp_millis())?;
        let len = file.seek(SeekFrom::End(0)).map_err(io(&dir))?;
        file.seek(SeekFrom::Start(0)).map_err(io(&dir))?;
        Ok((file, summary, len))
    })
    .await??;
    tracing::info!(
        actor = %caller.0.actor(),
        trees = summary.trees,
        entries = summary.entries,
        bytes = len,
        sha256 = %summary.sha256,
        "backup snapshot taken; streaming it"
    );
    let chunks = stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = crate::telemetry::blocking(move || {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((file, buf))) => Some((Ok(web::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "reading the backup snapshot failed");
                Some((
                    Err(actix_web::error::ErrorInternalServerError("read")),
                    None,
                ))
            }
            Err(e) => Some((Err(actix_web::Error::from(e)), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/octet-stream"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"koolicense-{}.backup\"",
                Utc::now().format("%Y%m%dT%H%M%SZ")
            ),
        ))
        .insert_header(("X-Backup-Sha256", summary.sha256))
        .no_chunking(len)
        .streaming(chunks))
}
