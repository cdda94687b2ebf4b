//! The course's "two computers": the server on one host, the client on the
//! other, as two Linux network namespaces joined by a virtual cable.
//! Needs root and `ip` (iproute2); run with `cargo test -- --ignored`.

use std::net::TcpListener;
use std::time::Duration;

use common::testkit::netns::{Side, TwoHosts};
use tugas1::{run_client, Target, DEFAULT_MESSAGE};

#[test]
#[ignore = "needs ip netns (root)"]
fn echo_across_two_computers_on_three_ports() {
    let hosts =
        TwoHosts::up().expect("cannot create network namespaces (root and iproute2 needed)");
    // Host A: one server process listening on the course's three ports.
    let listeners: Vec<TcpListener> = hosts
        .run_in(Side::A, || {
            [31000, 31001, 31002]
                .iter()
                .map(|p| common::net::bind("0.0.0.0", *p))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .expect("bind in host A");
    let server = tugas1::start_server(listeners, tugas1::Config::default()).unwrap();

    // Host A's own loopback is not host B's: the server is reachable only
    // over the cable, at A's address.
    let targets: Vec<Target> = [31000, 31001, 31002]
        .iter()
        .map(|&port| Target {
            host: TwoHosts::IP_A.into(),
            port,
        })
        .collect();
    let (result, out) = hosts
        .run_in(Side::B, move || {
            let mut out = Vec::new();
            let r = run_client(&targets, DEFAULT_MESSAGE, Duration::from_secs(10), &mut out)
                .map_err(|e| e.to_string());
            (r, String::from_utf8(out).unwrap())
        })
        .unwrap();
    assert_eq!(result, Ok(()), "{out}");
    for port in [31000, 31001, 31002] {
        assert!(
            out.contains(&format!(
                "received from 10.77.0.1:{port}: {DEFAULT_MESSAGE}"
            )),
            "{out}"
        );
    }
    // The stop wakes each accept by connecting to the listener: from inside
    // host A, where its address is.
    hosts.run_in(Side::A, move || server.stop()).unwrap();
}
