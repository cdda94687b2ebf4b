//! Tugas 1b client: `cargo run -p tugas1b --bin client` asks "nama file: ",
//! or `-- --file gambar.png`; saves into downloads/.
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas1b::CLIENT, |m| {
        let port: u16 = m.parse("port")?;
        let timeout = m.timeout()?;
        let name = match m.value("file") {
            "" => {
                let stdin = std::io::stdin();
                let echo = !stdin.is_terminal();
                tugas1b::ask_name(&mut stdin.lock(), &mut std::io::stdout(), echo)?
            }
            n => n.to_string(),
        };
        let dest = match m.value("output") {
            "" => tugas1b::default_output(&name)?,
            p => PathBuf::from(p),
        };
        let summary = tugas1b::fetch(m.value("host"), port, &name, &dest, timeout)?;
        println!("received {summary}");
        println!("saved to {}", dest.display());
        Ok(())
    })
}
