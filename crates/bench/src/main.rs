//! reactor-chat-bench: load clients for reactor-chat.
//!
//! One thread and one `mio::Poll` drive every client connection, so on a two-core machine the
//! bench takes one core and leaves the other to the server. Each message carries its sender, a
//! sequence number and its send time ([`wire`]); every receiver checks per-sender order and loss
//! ([`order`]) and records latency in an HDR histogram. [`driver`] runs the phases (connect, warm
//! up, measure, drain) and documents how unpaced senders are acknowledged; [`report`] prints the
//! table or JSON; [`server`] can start the server itself with the load flags; [`procstat`] reads
//! CPU and memory of both processes.
//!
//! ```sh
//! reactor-chat-bench --spawn-server target/release/reactor-chat --preset saturate
//! reactor-chat-bench --addr 127.0.0.1:8080 --server-pid 1234 --clients 200 --rate 5 --json
//! reactor-chat-bench --spawn-server target/release/reactor-chat --tls --preset handshakes
//! reactor-chat-bench --proto irc --addr 127.0.0.1:6667 --server-pid 1234 --preset room100
//! reactor-chat-bench --addr 127.0.0.1:8080 --addr '[::1]:8080' --server-pid 1234 --preset room100
//! ```
//!
//! With several `--addr` the clients go round them ([`targets`]): for the nodes of one cluster
//! (or one server reached several ways), each `--server-pid` measured and their CPU added up.
//!
//! With `--tls` every connection goes through [`tls`]: a rustls session per connection, driven
//! sans-IO by the same loop; [`handshakes`] measures full handshakes per second.
//!
//! With `--proto irc` the clients speak IRC instead ([`irc`]): to reactor-chat's IRC front end,
//! or to ngIRCd and InspIRCd run with the configurations in `crates/bench/peers/`, side by side
//! (`crates/bench/scripts/irc-rounds.sh`).

mod cli;
mod client;
mod driver;
mod filemix;
mod files;
mod handshakes;
mod irc;
mod order;
mod procstat;
mod report;
mod scrape;
mod server;
mod targets;
mod tls;
mod units;
mod wire;

use std::process::ExitCode;

use clap::Parser;

use cli::{Args, Protocol, Scenario};
use driver::{Driver, ProcessSample};
use report::{Report, ServerInfo};
use targets::Targets;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reactor-chat-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Scenario::from_args(args)?;
    let given = Targets::from_args(args)?;
    // Every connection is a descriptor; the hard limit is what the process may use.
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::increase_nofile_limit(hard);
    }
    // --tls with --spawn-server: the certificate the bench makes and trusts.
    let mut made_ca = None;
    let spawned = match &args.spawn_server {
        Some(path) => {
            // Room for every connection plus a margin for reconnects the server has not reaped.
            let mut max_clients = scenario.clients + scenario.joiners + scenario.idle_flood + 100;
            if args.preset == Some(cli::Preset::Handshakes) {
                // Closed connections the server has not reaped yet while new ones arrive.
                max_clients += 2000;
            }
            Some(match scenario.protocol {
                Protocol::Redis => server::spawn_redis(path, max_clients, &args.server_arg)?,
                // reactor-chat serves IRC on its chat port; other IRC servers are started
                // elsewhere (crates/bench/scripts/irc-rounds.sh) and given with --addr and
                // --server-pid.
                Protocol::ReactorChat | Protocol::Irc => {
                    let mut extra = Vec::new();
                    if scenario.tls {
                        let (cert, key) = tls::write_self_signed(&server::run_dir()?)?;
                        extra.extend(["--tls-cert".into(), path_arg(&cert)]);
                        extra.extend(["--tls-key".into(), path_arg(&key)]);
                        made_ca = Some(cert);
                    }
                    extra.extend(args.server_arg.iter().cloned());
                    server::spawn(path, server::load_flags(max_clients, &extra))?
                }
            })
        }
        None => None,
    };
    let targets = match &spawned {
        Some(s) => Targets::one(s.addr, s.pid()),
        None => given,
    };
    // The loads of one server (Targets refuses several for them).
    let (addr, pid) = (targets.first(), targets.only_pid());
    let tls = match (scenario.tls, args.ca.as_ref().or(made_ca.as_ref())) {
        (false, _) => None,
        (true, Some(ca)) => Some(tls::TlsClient::new(ca, &args.tls_name)?),
        (true, None) => {
            return Err(
                "--tls needs --ca FILE (the server's certificate, or its CA's), \
                        or --spawn-server, which makes a certificate and trusts it"
                    .into(),
            )
        }
    };
    if args.preset == Some(cli::Preset::Handshakes) {
        let Some(tls) = tls else {
            return Err("--preset handshakes needs --tls".into());
        };
        let mut report = handshakes::run(addr, pid, &scenario, &tls, !args.quiet)?;
        report.server_flags = spawned.as_ref().map(|s| s.flags.clone());
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.table());
        }
        drop(spawned);
        return Ok(());
    }
    if args.preset == Some(cli::Preset::Filefanout) {
        let report = files::run(addr, pid, scenario.clients, scenario.size, tls.as_ref())?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.table());
        }
        drop(spawned);
        return Ok(());
    }
    let before_connect = ProcessSample::take_all(&targets.pids);
    let outcome = Driver::new(targets.clone(), scenario.clone(), !args.quiet, tls)?.run()?;
    let flags = spawned.as_ref().map(|s| s.flags.clone());
    let server = ServerInfo::new(&targets, flags, &scenario, &outcome);
    let report = Report::new(scenario, server, &outcome, &before_connect);
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    drop(spawned);
    Ok(())
}

/// A path as a command-line argument.
fn path_arg(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}
