//! The web client end to end, in a real headless Chromium: `node --test tests/e2e/` drives
//! Debian's `chromium` through `playwright-core` against this build's binary (the scenarios are in
//! `tests/e2e/chat.test.mjs`, over `https://` in `tests/e2e/tls.test.mjs`, and with IRC users of
//! the `irc-framework` library in `tests/e2e/irc.test.mjs`; screenshots land in
//! `target/e2e-artifacts/`). It needs Node.js, the
//! npm packages in `tests/e2e/node_modules` and `/usr/bin/chromium`; `scripts/test.sh` installs
//! them and then runs `cargo test`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The whole browser run: normally about 15 s; the scenarios bound their own waits too.
const RUN_LIMIT: Duration = Duration::from_secs(300);

const INSTALL_HINT: &str = "run scripts/test.sh, which installs them";

#[test]
fn the_web_client_works_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut missing = Vec::new();
    if !node_ok {
        missing.push("node (Node.js)".to_string());
    }
    for package in ["playwright-core", "irc-framework"] {
        if !root.join("tests/e2e/node_modules").join(package).is_dir() {
            missing.push(format!(
                "tests/e2e/node_modules/{package} (npm ci in tests/e2e)"
            ));
        }
    }
    if !Path::new(&chromium).exists() {
        missing.push(format!("{chromium} (Debian's chromium)"));
    }
    assert!(
        missing.is_empty(),
        "the browser tests need {}: {INSTALL_HINT}",
        missing.join(", ")
    );

    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/e2e/"])
        .current_dir(root)
        .env("REACTOR_CHAT_BIN", env!("CARGO_BIN_EXE_reactor-chat"))
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    // Drain both pipes while waiting, so a chatty run cannot fill one and stall.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
    let report = format!("--- node --test output ---\n{out}\n--- stderr ---\n{err}");
    match status {
        Some(s) if s.success() => println!("{report}"),
        Some(s) => {
            panic!("the browser tests failed ({s}); screenshots in target/e2e-artifacts/\n{report}")
        }
        None => panic!("the browser tests ran over {RUN_LIMIT:?} and were stopped\n{report}"),
    }
}
