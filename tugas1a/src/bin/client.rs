//! Tugas 1a client: `cargo run -p tugas1a --bin client -- --file file.txt`.
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas1a::CLIENT, |m| {
        let port: u16 = m.parse("port")?;
        let timeout = m.timeout()?;
        let path = tugas1a::choose_file(&m);
        let name = Some(m.value("name")).filter(|n| !n.is_empty());
        let (reply, summary) = tugas1a::upload(m.value("host"), port, &path, name, timeout)?;
        println!("sent {}", summary);
        println!("server: {reply}");
        Ok(())
    })
}
