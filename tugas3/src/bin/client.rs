//! Tugas 3 client: `cargo run -p tugas3 --bin client -- contoh.txt gambar.png besar.txt`
//! downloads all three at the same time into downloads/.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use tugas3::{live_progress, prepare_out_dir, run_client, ClientConfig, CLIENT};

fn main() -> ExitCode {
    run_main(&CLIENT, |m| {
        let config = ClientConfig::from_matches(&m)?;
        prepare_out_dir(&config.out_dir)?;
        let mode = if config.sequential {
            "sequential"
        } else {
            "concurrent"
        };
        let report = run_client(&config, live_progress());
        print!("{}", report.render(mode));
        if !report.all_ok() {
            let failed = report.outcomes.iter().filter(|o| o.result.is_err()).count();
            return Err(AppError::new(
                "download",
                format!("{failed} of {} files failed", config.names.len()),
            )
            .into());
        }
        Ok(())
    })
}
