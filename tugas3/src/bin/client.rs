//! Tugas 3 client: `cargo run -p tugas3 --bin client -- contoh.txt gambar.png besar.txt`
//! downloads all three at the same time into downloads/.
use std::path::PathBuf;
use std::process::ExitCode;

use common::error::{run_main, AppError};

fn main() -> ExitCode {
    run_main(&tugas3::CLIENT, |m| {
        let job = tugas3::Job {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            names: tugas3::names_from(&m)?,
            out_dir: PathBuf::from(m.value("out")),
            sequential: m.is_set("sequential"),
            timeout: m.timeout()?,
        };
        let mode = if job.sequential {
            "sequential"
        } else {
            "concurrent"
        };
        let report = tugas3::run_client(&job, tugas3::live_progress());
        print!("{}", report.render(mode));
        if !report.all_ok() {
            let failed = report.outcomes.iter().filter(|o| o.result.is_err()).count();
            return Err(AppError::new(
                "download",
                format!("{failed} of {} files failed", job.names.len()),
            )
            .into());
        }
        Ok(())
    })
}
