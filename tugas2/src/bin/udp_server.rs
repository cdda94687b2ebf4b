//! Prints each UDP datagram that arrives on 127.0.0.1:5005 with its sender.
//! Poke it with `cargo run -p tugas2 --bin udp_simple`, or
//! `echo -n halo > /dev/udp/127.0.0.1/5005` in bash.
use std::process::ExitCode;

use common::error::AppError;
use common::stop::Shutdown;
use tugas2::app::{self, BindConfig, UDP_SERVER};

fn main() -> ExitCode {
    common::error::run_main(&UDP_SERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        app::run_udp_server(&BindConfig::from_matches(&m)?, &shutdown)
    })
}
