//! IRC on the chat port, line by line: registration with CAP negotiation, rooms as channels,
//! chat between IRC and line users both ways, several rooms at once, errors as numerics, kicks,
//! reconnects with the missed lines in a batch, PONG after history answers, OPER with an argon2
//! hash, cloaked hosts, and a listener that speaks only IRC. (irssi and an IRC library the
//! project did not write drive the same server in `irssi` and the e2e suite.)

use std::process::{Command, Stdio};

use crate::support::{Client, Server, TempDir};

/// An IRC client: registers with `caps` (none: no CAP at all) and reads through the MOTD.
fn irc(server: &Server, nick: &str, caps: &[&str]) -> Client {
    let mut c = server.connect();
    register(&mut c, nick, caps);
    c
}

fn register(c: &mut Client, nick: &str, caps: &[&str]) {
    if !caps.is_empty() {
        c.send("CAP LS 302");
        c.expect(" CAP * LS :");
    }
    c.send(&format!("NICK {nick}"));
    c.send(&format!("USER {nick} 0 * :{nick}"));
    if !caps.is_empty() {
        c.send(&format!("CAP REQ :{}", caps.join(" ")));
        c.expect(" ACK :");
        c.send("CAP END");
    }
    c.expect(&format!(" 001 {nick} :Welcome"));
    c.expect_where("ending the MOTD", |l| {
        l.contains(" 376 ") || l.contains(" 422 ")
    });
    let key = c.expect("Your resume key is");
    c.resume_key = key
        .split("Your resume key is ")
        .nth(1)
        .and_then(|k| k.split(':').next())
        .map(str::to_string);
    c.nick = nick.to_string();
}

/// Joins `#room` and reads through the end of its names.
fn join(c: &mut Client, room: &str) -> Vec<String> {
    c.send(&format!("JOIN #{room}"));
    let mut names = Vec::new();
    loop {
        let line = c.next_line();
        if line.contains(&format!(" 366 {} #{room} ", c.nick)) {
            return names;
        }
        if line.contains(" 353 ") {
            names.push(line);
        }
    }
}

/// The host part of the first `nick!user@host` source in `line`.
fn host_in(line: &str) -> &str {
    let at = line.find('@').expect("a source with a host");
    let rest = &line[at + 1..];
    &rest[..rest.find(' ').unwrap_or(rest.len())]
}

#[test]
fn an_irc_client_registers_after_cap_negotiation_with_the_welcome_numerics() {
    let server = Server::start();
    let mut c = server.connect();
    c.send("CAP LS 302");
    let ls = c.expect(" CAP * LS :");
    for cap in [
        "server-time",
        "message-tags",
        "echo-message",
        "batch",
        "away-notify",
        "cap-notify",
    ] {
        assert!(ls.contains(cap), "{ls}");
    }
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice");
    // Registration waits for CAP END.
    c.expect_none_within(
        std::time::Duration::from_millis(300),
        "before CAP END",
        |l| l.contains(" 001 "),
    );
    c.send("CAP REQ :server-time sasl");
    c.expect(" CAP * NAK :server-time sasl");
    c.send("CAP REQ :server-time");
    c.expect(" CAP * ACK :server-time");
    c.send("CAP END");
    c.expect_next("001", |l| {
        l.starts_with(":reactor-chat 001 alice :Welcome to the reactor-chat network, alice!alice@")
    });
    for numeric in ["002", "003", "004"] {
        c.expect(&format!(" {numeric} alice "));
    }
    let isupport = c.expect(" 005 alice ");
    for token in [
        "CHANTYPES=#",
        "PREFIX=(o)@",
        "CHANMODES=",
        "NICKLEN=24",
        "CHANNELLEN=",
        "TOPICLEN=",
    ] {
        assert!(isupport.contains(token), "{isupport}");
    }
    let isupport = c.expect(" 005 alice ");
    for token in ["NETWORK=reactor-chat", "CASEMAPPING=rfc8265", "UTF8ONLY"] {
        assert!(isupport.contains(token), "{isupport}");
    }
    c.expect(" 251 alice ");
    c.expect(" 255 alice ");
    c.expect(" 375 alice ");
    c.expect(" 372 alice :- be kind");
    c.expect(" 376 alice ");
    c.send("CAP LIST");
    c.expect(" CAP alice LIST :cap-notify server-time");
    c.send("USER again 0 * :x");
    c.expect(" 462 alice ");
    c.send("FROBNICATE");
    c.expect(" 421 alice FROBNICATE ");
    c.send("PING :abc");
    c.expect_exact(":reactor-chat PONG reactor-chat :abc");
}

#[test]
fn commands_before_registration_are_refused_and_a_taken_nickname_can_be_retried() {
    let server = Server::start();
    let _alice = server.login("alice");
    let mut c = server.connect();
    c.send("NICK Alice");
    c.send("JOIN #lobby");
    c.expect(" 451 * :You have not registered");
    c.send("USER x 0 * :x");
    c.expect(" 433 * Alice :");
    c.send("NICK");
    c.expect(" 431 ");
    c.send("NICK bad@name");
    c.expect(" 432 * bad@name :");
    c.send("NICK [bob]");
    c.expect(" 001 [bob] :Welcome");
}

#[test]
fn an_irc_user_and_a_line_user_chat_both_ways() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = irc(&server, "bob", &[]);
    let names = join(&mut bob, "lobby");
    assert!(
        names
            .iter()
            .any(|l| l.contains("@alice") && l.contains("bob")),
        "{names:?}"
    );
    alice.expect_stamped("* bob joined");

    alice.send("hi bob");
    let line = bob.expect(" PRIVMSG #lobby :hi bob");
    assert!(line.starts_with(":alice!alice@"), "{line}");
    assert!(
        !host_in(&line).contains("127.0.0.1"),
        "the host is cloaked: {line}"
    );

    bob.send("PRIVMSG #lobby :hello \u{2}alice\u{2}");
    alice.expect_stamped("bob: hello alice");

    alice.send("/me waves");
    bob.expect(" PRIVMSG #lobby :\u{1}ACTION waves\u{1}");
    bob.send("PRIVMSG #lobby :\u{1}ACTION bows\u{1}");
    alice.expect_stamped("* bob bows");

    alice.send("/msg bob psst");
    bob.expect(" PRIVMSG bob :psst");
    bob.send("PRIVMSG alice :back at you");
    alice.expect_stamped("*bob* back at you");

    alice.send("/topic news");
    bob.expect(" TOPIC #lobby :news");
    bob.send("TOPIC #lobby :fresher news");
    alice.expect_stamped("* bob set the topic: fresher news");

    alice.send("/nick alicia");
    bob.expect_where("a NICK", |l| l.contains(" NICK :alicia"));

    // A line user's departure is a QUIT with its reason.
    alice.drop_connection();
    bob.expect_where("a QUIT for the lost connection", |l| {
        l.starts_with(":alicia!") && l.contains(" QUIT :")
    });
}

#[test]
fn an_irc_user_sits_in_several_rooms_and_messages_name_theirs() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut carol = server.login("carol");
    carol.send("/join side");
    carol.expect("You are now in room side");
    let mut bob = irc(&server, "bob", &["echo-message"]);
    join(&mut bob, "lobby");
    join(&mut bob, "side");
    alice.expect_stamped("* bob joined");
    carol.expect_stamped("* bob joined");

    bob.send("PRIVMSG #side :only side");
    carol.expect_stamped("bob: only side");
    // echo-message: the sender gets its own line back.
    bob.expect(":bob!bob@");
    alice.send("lobby line");
    bob.expect(" PRIVMSG #lobby :lobby line");
    alice.expect_none_within(
        std::time::Duration::from_millis(200),
        "the side room's line",
        |l| l.contains("only side"),
    );

    bob.send("PART #side :bye side");
    bob.expect(" PART #side :bye side");
    carol.expect_stamped("* bob left the room (bye side)");
    alice.send("still here?");
    bob.expect(" PRIVMSG #lobby :still here?");

    // Errors are numerics.
    bob.send("PRIVMSG #side :not in it");
    bob.expect(" 404 bob #side ");
    bob.send("PRIVMSG #nowhere :x");
    bob.expect(" 403 bob #nowhere ");
    bob.send("PRIVMSG nobody :x");
    bob.expect(" 401 bob nobody ");
    bob.send("PRIVMSG #lobby");
    bob.expect(" 412 bob ");
    bob.send("TOPIC #side :x");
    bob.expect(" 442 bob #side ");
    bob.send("JOIN lobby");
    bob.expect(" 403 bob lobby ");

    // The lists clients ask for after a join.
    bob.send("MODE #lobby");
    bob.expect(" 324 bob #lobby +n");
    bob.expect(" 329 bob #lobby ");
    bob.send("MODE #lobby b");
    bob.expect(" 368 bob #lobby ");
    bob.send("WHO #lobby");
    bob.expect(" 352 bob #lobby alice ");
    bob.expect(" 315 bob #lobby ");
    bob.send("WHOIS carol");
    bob.expect(" 311 bob carol carol ");
    bob.expect(" 319 bob carol :@#side");
    bob.expect(" 318 bob carol ");
    bob.send("ISON alice nobody carol");
    bob.expect(" 303 bob :alice carol");
    bob.send("LIST");
    bob.expect(" 322 bob #lobby 2 :");
    bob.expect(" 323 bob ");
    // A line-protocol command by its name, in the room it names.
    bob.send("USERS #lobby");
    bob.expect("NOTICE bob :2 users in lobby");
    bob.send("USERS #side");
    bob.expect(" 442 bob #side ");
}

#[test]
fn a_room_operator_kicks_from_the_room_and_a_server_operator_from_the_server() {
    let server = Server::start();
    let mut op = server.login("op"); // the first user: a server operator
    let mut bob = irc(&server, "bob", &[]);
    join(&mut bob, "den"); // the first member of #den: its operator
    let mut carol = server.login("carol");
    carol.send("/join den");
    carol.expect("You are now in room den");
    bob.expect(":carol!carol@");

    bob.send("KICK #den carol :not now");
    bob.expect(" KICK #den carol :not now");
    carol.expect_stamped("* carol was kicked by bob (not now)");
    // A line user always has a room: the lobby.
    carol.expect("You are now in room lobby");
    carol.send("/users");
    carol.expect("users in lobby");

    // A non-operator of the room may not.
    let mut dave = irc(&server, "dave", &[]);
    join(&mut dave, "den");
    dave.send("KICK #den bob");
    dave.expect(" 482 dave #den ");

    // A server operator's /kick ends the IRC user's session.
    join(&mut bob, "lobby");
    op.send("/kick bob enough");
    let error = bob.expect_prefix("ERROR :Closing link:");
    assert!(error.contains("kicked by op (enough)"), "{error}");
    carol.expect_stamped("* bob was kicked by op (enough)");
    bob.expect_closed();
}

#[test]
fn a_returning_irc_client_gets_its_rooms_and_missed_lines_in_a_batch_with_their_times() {
    let server = Server::builder().args(["--grace", "30"]).start();
    let mut alice = server.login("alice");
    let mut bob = irc(&server, "bob", &["batch", "server-time", "message-tags"]);
    join(&mut bob, "lobby");
    alice.expect_stamped("* bob joined");
    bob.drop_connection();
    alice.expect("bob lost the connection");
    alice.send("while you were away");
    alice.send("second line");
    std::thread::sleep(std::time::Duration::from_millis(20));

    let mut back = server.connect();
    register(&mut back, "bob", &["batch", "server-time", "message-tags"]);
    back.expect(":bob!bob@");
    back.expect(" 366 bob #lobby ");
    let open = back.expect_prefix("BATCH +");
    let id = open
        .split(' ')
        .nth(1)
        .unwrap()
        .trim_start_matches('+')
        .to_string();
    assert!(open.ends_with("reactor-chat/missed"), "{open}");
    let first = back.expect("PRIVMSG #lobby :while you were away");
    assert!(first.starts_with("@time="), "{first}");
    assert!(first.contains(&format!("batch={id}")), "{first}");
    back.expect("PRIVMSG #lobby :second line");
    back.expect_exact(&format!("BATCH -{id}"));
    alice.expect_stamped("* bob reconnected");

    // PASS with the resume key reclaims the name from another address.
    let key = back.resume_key.clone().expect("the resume key notice");
    back.drop_connection();
    alice.expect("bob lost the connection");
    let mut elsewhere = server.connect_from(9);
    elsewhere.send(&format!("PASS {key}"));
    register(&mut elsewhere, "bob", &[]);
    alice.expect_stamped("* bob reconnected");
}

#[test]
fn a_pong_comes_after_the_history_answers_asked_before_it() {
    let dir = TempDir::new("irc-history");
    let server = Server::builder()
        .args(["--data-dir", dir.path().to_str().unwrap(), "--rate", "0"])
        .start();
    let mut alice = server.login("alice");
    for i in 0..5 {
        alice.send(&format!("searchable line {i}"));
    }
    let mut bob = irc(&server, "bob", &[]);
    join(&mut bob, "lobby");
    // The search goes to the storage thread; the PING right after it is answered after it.
    std::thread::sleep(std::time::Duration::from_millis(400));
    bob.send("SEARCH #lobby searchable");
    bob.send("PING :after");
    let mut seen_result = false;
    loop {
        let line = bob.next_line();
        if line.contains("searchable line") {
            seen_result = true;
        }
        if line.contains("PONG") {
            assert!(seen_result, "PONG before the search results: {line}");
            break;
        }
    }
}

#[test]
fn korean_and_irc_nicknames_work_from_every_protocol() {
    let server = Server::start();
    let mut line = server.login("[bot]|1");
    let mut minsu = irc(&server, "민수", &[]);
    join(&mut minsu, "lobby");
    line.expect_stamped("* 민수 joined");
    minsu.send("PRIVMSG #lobby :안녕하세요");
    line.expect_stamped("민수: 안녕하세요");
    line.send("반가워요");
    minsu.expect(":[bot]|1![bot]|1@");
    minsu.send("NICK 영희");
    minsu.expect(":민수!민수@");
    line.expect_stamped("* 민수 is now known as 영희");
    // A name a line user holds in another case is taken for IRC too.
    let mut other = server.connect();
    other.send("NICK [BOT]|1");
    other.send("USER x 0 * :x");
    other.expect(" 433 * [BOT]|1 :");
}

#[test]
fn a_non_utf8_line_is_refused_with_fail_and_the_connection_stays() {
    let server = Server::start();
    let mut bob = irc(&server, "bob", &[]);
    bob.send_raw(b"PRIVMSG #lobby :caf\xe9\r\n");
    bob.expect_prefix("FAIL PRIVMSG INVALID_UTF8 :");
    bob.send("PING :still");
    bob.expect("PONG reactor-chat :still");
}

#[test]
fn oper_takes_an_argon2_hash_and_operators_see_real_addresses() {
    let mut hasher = Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("reactor-chat hash-password");
    use std::io::Write;
    hasher.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = hasher.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("$argon2"), "{hash}");
    let server = Server::builder()
        .without_first_user_op()
        .arg("--irc-oper")
        .arg(format!("root={hash}"))
        .start();
    let mut alice = server.login("alice");
    let mut bob = irc(&server, "bob", &[]);
    bob.send("WHOIS alice");
    let whois = bob.expect(" 311 bob alice ");
    assert!(!whois.contains("127.0.0.1"), "{whois}");
    bob.expect(" 318 bob alice ");
    bob.send("OPER root wrong");
    bob.expect(" 464 bob :Password incorrect");
    // One check a second, server-wide: the next one, right away, is not even tried.
    bob.send("OPER root s3cret");
    bob.expect(" 464 bob :Too many OPER attempts");
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        bob.send("OPER root s3cret");
        let answer = bob.expect_where("an OPER answer", |l| {
            l.contains(" 381 ") || l.contains(" 464 ")
        });
        if answer.contains(" 381 bob ") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "OPER never got through"
        );
    }
    bob.send("WHOIS alice");
    bob.expect(" 338 bob alice 127.0.0.1 ");
    bob.send("WHO alice");
    bob.expect(" 352 bob #lobby alice 127.0.0.1 ");
    alice.send("/users");
    alice.expect("in lobby: alice");
}

#[test]
fn an_irc_listener_speaks_irc_from_the_first_line_and_never_greets() {
    let server = Server::builder()
        .args(["--listen", "irc=127.0.0.1:0"])
        .start();
    let addr = crate::listen::listening(&server, "irc", 1)[0];
    let mut c = Client::connect(addr);
    c.expect_none_within(std::time::Duration::from_millis(500), "a greeting", |_| {
        true
    });
    c.send("nick lower");
    c.send("user lower 0 * :x");
    c.expect(" 001 lower ");
}

#[test]
fn irc_users_get_file_offers_as_links_and_away_changes_when_they_ask() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = irc(&server, "bob", &["away-notify"]);
    let mut carol = irc(&server, "carol", &[]);
    join(&mut bob, "lobby");
    join(&mut carol, "lobby");
    alice.send("/file notes.txt 4");
    alice.send_raw(b"data");
    alice.expect_prefix("-- Offered #");
    let offer = bob.expect("NOTICE #lobby :");
    assert!(offer.contains("alice offers the file notes.txt"), "{offer}");
    let link = offer.rsplit(": ").next().unwrap();
    assert!(link.starts_with("http://127.0.0.1:"), "{offer}");
    let (status, _, body) = crate::web::http_to(
        server.addr,
        format!(
            "GET {} HTTP/1.1\r\n\r\n",
            &link[link.find("/files/").unwrap()..]
        )
        .as_bytes(),
    );
    assert_eq!((status, &body[..]), (200, &b"data"[..]));

    // `/file` cannot travel over IRC.
    bob.send("FILE x.txt 4");
    bob.expect("NOTICE bob :! not-over-this-protocol");

    alice.send("/away lunch");
    let away = bob.expect(" AWAY :lunch");
    assert!(away.starts_with(":alice!alice@"), "{away}");
    carol.send("AWAY :brb");
    carol.expect(" 306 carol ");
    bob.expect(" AWAY :brb");
    carol.send("AWAY");
    carol.expect(" 305 carol ");
    bob.expect_where("AWAY without a message", |l| l.ends_with(" AWAY"));
    // carol did not ask for away-notify.
    carol.expect_none_within(std::time::Duration::from_millis(200), "an AWAY", |l| {
        l.contains(" AWAY")
    });
}

#[test]
fn rooms_per_user_and_targets_per_command_are_capped() {
    let server = Server::builder()
        .args(["--max-rooms-per-user", "2", "--max-targets", "2"])
        .start();
    let mut c = server.connect();
    c.send("NICK bob");
    c.send("USER bob 0 * :bob");
    let isupport = c.expect("CHANLIMIT=");
    assert!(
        isupport.contains("CHANLIMIT=#:2 MAXTARGETS=2"),
        "{isupport}"
    );
    c.expect("Your resume key is");
    c.nick = "bob".into();
    c.send("JOIN #a,#b,#c");
    c.expect(" 407 bob #c :Too many targets (2 at most)");
    c.expect(" 366 bob #b ");
    c.send("JOIN #d");
    c.expect(" 405 bob #d :");
    c.send("PRIVMSG #a,#b,#c :hi");
    c.expect(" 407 bob #c ");
}

#[test]
fn a_user_in_several_shared_rooms_quits_and_renames_once_for_each_irc_client() {
    let server = Server::start();
    let mut bob = irc(&server, "bob", &[]);
    let mut carol = irc(&server, "carol", &[]);
    for c in [&mut bob, &mut carol] {
        join(c, "lobby");
        join(c, "side");
    }
    carol.send("NICK caroline");
    bob.expect(" NICK :caroline");
    bob.expect_none_within(
        std::time::Duration::from_millis(300),
        "a second NICK",
        |l| l.contains(" NICK :caroline"),
    );
    carol.send("QUIT :bye now");
    bob.expect(" QUIT :Quit: bye now");
    bob.expect_none_within(
        std::time::Duration::from_millis(300),
        "a second QUIT",
        |l| l.contains(" QUIT "),
    );
}
