//! Prints each UDP datagram that arrives on 127.0.0.1:5005 with its sender.
//! Poke it with `cargo run -p tugas2 --bin udp_simple`, or
//! `echo -n halo > /dev/udp/127.0.0.1/5005` in bash.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::error::run_main(&tugas2::app::UDP_SERVER, |m| {
        tugas2::app::run_udp_server(&m)
    })
}
