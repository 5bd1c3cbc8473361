//! Logging in: the greeting, valid and refused nicknames, and the login-line limits.

use std::time::Duration;

use crate::support::Server;

#[test]
fn greets_asks_for_a_nickname_and_welcomes() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let mut alice = server.connect();
    alice.expect_exact("-- Welcome to reactor-chat! Enter your nickname:");
    alice.send("alice");
    alice.expect_next("welcoming alice", |l| {
        l == "-- Welcome, alice! You are in room lobby."
    });
    alice.expect_next("with the rules", |l| l.starts_with("-- Rules: "));
    alice.expect_next("with a /help hint", |l| {
        l == "-- Type /help for the commands."
    });
    alice.expect_next("listing who is online", |l| {
        l == "-- 2 users online: alice, bob"
    });
    let key = alice.expect_next("ending with the resume key", |l| {
        l.starts_with("-- Resume key: ")
    });
    assert!(key.contains("log in as \"alice "), "{key}");
    bob.expect_stamped("* alice joined");
}

#[test]
fn a_client_may_send_its_nickname_before_the_prompt() {
    let server = Server::builder().args(["--greet-delay-ms", "5000"]).start();
    let mut alice = server.connect();
    alice.send("alice");
    // The prompt still comes first, so replies always follow it.
    alice.expect_next("the prompt", |l| l.ends_with("Enter your nickname:"));
    alice.expect_next("the welcome", |l| l.starts_with("-- Welcome, alice!"));
}

#[test]
fn refused_names_get_a_reason_and_a_new_prompt_and_the_connection_stays() {
    let server = Server::start();
    let _alice = server.login("alice");
    let mut c = server.connect();
    let cases: [(&str, &str); 6] = [
        ("john smith", "! nick-invalid: "),
        ("a/b", "! nick-invalid: "),
        ("abcdefghijklmnopqrstuvwxyz", "! nick-invalid: "),
        ("zero\u{200b}width", "! nick-invalid: "),
        ("ALICE", "! nick-taken: ALICE is already in use"),
        // Cyrillic "а" in place of the Latin "a": looks the same as alice.
        (
            "\u{430}lice",
            "looks the same as the name of a user who is present",
        ),
    ];
    for (name, refusal) in cases {
        c.send(name);
        let line = c.expect_prefix("! ");
        assert!(
            line.contains(refusal),
            "{name:?}: expected {refusal:?}, got {line:?}"
        );
        c.expect_next("a new prompt", |l| l == "-- Enter your nickname:");
    }
    c.login("bob");
    c.send("/users");
    c.expect_exact("-- 2 users in lobby: alice (op), bob");
}

#[test]
fn korean_nicknames_work_and_names_may_use_any_script() {
    let server = Server::start();
    let mut a = server.login("김철수");
    let mut b = server.login("Ünal_2.0-x");
    a.expect_stamped("* Ünal_2.0-x joined");
    a.send("안녕하세요");
    b.expect_stamped("김철수: 안녕하세요");
}

#[test]
fn an_overlong_login_line_is_refused_and_the_prompt_repeats() {
    let server = Server::start();
    let mut c = server.connect();
    c.send(&"x".repeat(300));
    c.expect_exact("! line-too-long: a line longer than 256 bytes was discarded");
    c.expect_exact("-- Enter your nickname:");
    c.login("alice");
}

#[test]
fn login_times_out_even_if_bytes_keep_dribbling_in() {
    let server = Server::builder()
        .args(["--login-timeout", "1", "--linger-ms", "200"])
        .start();
    let mut c = server.connect();
    c.expect_exact("-- Welcome to reactor-chat! Enter your nickname:");
    // A slowloris client: one byte every 100 ms for 3 s, never a line end. If input reset the
    // timer, the goodbye would not come while it dribbles.
    for b in b"slowlorisxxxxxxxxxxxxxxxxxxxxxxx" {
        if c.write_raw(&[*b]).is_err() {
            break;
        }
        if let Some(line) = c.next_line_by(std::time::Instant::now() + Duration::from_millis(100)) {
            assert!(
                line.starts_with("-- bye reconnect: login timeout (1 s)"),
                "{line}"
            );
            c.expect_closed();
            server.wait_for_log("login timeout");
            return;
        }
    }
    c.fail("the login timeout never came");
}

#[test]
fn a_person_may_think_over_a_nickname_for_longer_than_a_script_would() {
    // The default login timeout is a human one: `nc`, read the prompt, think for 12 s, answer.
    let server = Server::start();
    let mut c = server.connect();
    c.expect_exact("-- Welcome to reactor-chat! Enter your nickname:");
    c.expect_none_within(Duration::from_secs(12), "a goodbye while thinking", |l| {
        l.starts_with("-- bye")
    });
    c.login("thinker");
}

#[test]
fn names_reserved_for_the_server_are_refused_at_login_and_at_nick() {
    let server = Server::start();
    let mut c = server.connect();
    c.expect_exact("-- Welcome to reactor-chat! Enter your nickname:");
    for name in ["server", "Admin"] {
        c.send(name);
        let refusal =
            format!("! nick-reserved: {name} is reserved for the server; choose another nickname");
        c.expect_next("the refusal", |l| l == refusal);
        c.expect_next("a new prompt", |l| l == "-- Enter your nickname:");
    }
    c.login("alice");
    c.send("/nick ROOT");
    c.expect_exact("! nick-reserved: ROOT is reserved for the server; choose another nickname");
    c.send("/users");
    c.expect_exact("-- 1 user in lobby: alice (op)");
}

#[test]
fn the_reserved_refusal_is_in_the_servers_language() {
    let server = Server::builder().args(["--lang", "ko"]).start();
    let mut c = server.connect();
    c.send("관리자");
    c.expect_exact(
        "! nick-reserved: 관리자은(는) 서버용으로 예약된 이름입니다. 다른 대화명을 고르세요",
    );
    c.login("철수");
}

#[test]
fn reserved_nicks_replaces_the_default_list() {
    let server = Server::builder().args(["--reserved-nicks", "bot"]).start();
    let mut c = server.connect();
    c.expect_exact("-- Welcome to reactor-chat! Enter your nickname:");
    for name in ["bot", "BOT_2"] {
        c.send(name);
        let refusal =
            format!("! nick-reserved: {name} is reserved for the server; choose another nickname");
        c.expect_next("the refusal", |l| l == refusal);
        c.expect_next("a new prompt", |l| l == "-- Enter your nickname:");
    }
    c.login("server");
}
