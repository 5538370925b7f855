//! The restart contract: when storage fails (see `store::failure`) the service answers
//! `/readyz` with 503 and the reason for [`GRACE`], stops serving, and exits non-zero, so that
//! its supervisor (systemd `Restart=on-failure`) starts it again on a healthy disk. A watchdog
//! ends the process after [`HARD_DEADLINE`] should anything hang on the way out.

use std::time::Duration;

use actix_web::dev::Server;
use futures_util::future::{join, select, Either};

use crate::state::AppState;
use crate::store::Store;

/// How long `/readyz` reports the failure before the server stops.
pub(crate) const GRACE: Duration = Duration::from_secs(2);
/// When the watchdog ends the process whatever still runs.
pub(crate) const HARD_DEADLINE: Duration = Duration::from_secs(15);
/// Exit status of the watchdog (EX_SOFTWARE).
const WATCHDOG_EXIT: i32 = 70;

/// How often the server task looks at the store's failure record.
const POLL: Duration = Duration::from_millis(100);

/// Resolves with the reason once the store failed.
pub(crate) async fn failed(store: Store) -> String {
    loop {
        if let Some(reason) = store.failure().reason() {
            return reason.to_string();
        }
        actix_web::rt::time::sleep(POLL).await;
    }
}

/// Serves until the server stops (`None`) or storage fails: then, after [`GRACE`], stops the
/// server and returns the reason.
pub(crate) async fn serve(
    server: Server,
    state: &AppState,
) -> (std::io::Result<()>, Option<String>) {
    let handle = server.handle();
    let failed = Box::pin(failed(state.store.clone()));
    match select(server, failed).await {
        Either::Left((result, _)) => (result, None),
        Either::Right((reason, server)) => {
            state.set_not_ready();
            tracing::error!(
                grace = ?GRACE,
                "storage failed: /readyz reports it; stopping the server after the grace period"
            );
            actix_web::rt::time::sleep(GRACE).await;
            // The server future itself carries out the stop, so it is polled meanwhile.
            let (result, ()) = join(server, handle.stop(false)).await;
            tracing::error!("server stopped after the storage failure");
            (result, Some(reason))
        }
    }
}

/// Starts the watchdog thread (the binary only: it ends the whole process).
pub(crate) fn arm_watchdog(store: Store) {
    let spawned = std::thread::Builder::new()
        .name("koolicense-fail-stop".into())
        .spawn(move || {
            store.failure().wait();
            std::thread::sleep(HARD_DEADLINE);
            eprintln!(
                "storage failed and the service did not stop within {HARD_DEADLINE:?}: exiting"
            );
            std::process::exit(WATCHDOG_EXIT);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the fail-stop watchdog");
    }
}
