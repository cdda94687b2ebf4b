//! Tugas 8 HTTP server. Open http://127.0.0.1:10002/sending.html in a
//! browser, or: `curl -d kirim=ISILAH http://127.0.0.1:10002/sending.html`
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net::{announce, bind};
use tugas8::{server, Config, SERVER_CMD};

fn main() -> ExitCode {
    run_main(&SERVER_CMD, |m| {
        let config = Config::from_matches(&m)?;
        let listener = bind(m.value("host"), m.parse("port")?)?;
        let addr = announce(&listener).map_err(|e| AppError::io("cannot print the address", &e))?;
        log::info!(
            "serving {} at http://{addr}/ (the form: http://{addr}/sending.html)",
            config
                .dir
                .canonicalize()
                .unwrap_or_else(|_| config.dir.clone())
                .display()
        );
        server::run(listener, config);
        Ok(())
    })
}
