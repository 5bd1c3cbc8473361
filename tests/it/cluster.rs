//! Several nodes of one cluster through a real `redis-server`: users of different nodes share
//! rooms, see each other come and go and in `/users`, and chat on when Redis goes away and comes
//! back. Each test has its own Redis on a free port and its own nodes.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::{run_to_exit, Client, Redis, Server};

/// A node of the cluster at `redis`.
fn node(redis: &Redis) -> Server {
    Server::builder().args(["--cluster", &redis.url()]).start()
}

/// Asks `/users` until it lists exactly `nicks` (the cluster's view of a room arrives a moment
/// after the login: it is read from Redis), and returns the line.
fn users_become(client: &mut Client, nicks: &[&str]) -> String {
    let want = match nicks.len() {
        1 => "-- 1 user in".to_string(),
        n => format!("-- {n} users in"),
    };
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        client.send("/users");
        let line = client.expect_prefix("-- ");
        let listed = line.starts_with(&want) && nicks.iter().all(|n| line.contains(n));
        if listed {
            return line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/users never listed {nicks:?}; last: {line}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn healthz(server: &Server) -> String {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw
}

#[test]
fn users_of_three_nodes_chat_in_one_room_and_see_each_other() {
    let redis = Redis::start();
    let (a, b, c) = (node(&redis), node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    let mut minji = c.login("민지");
    alice.expect_stamped("* 민지 joined");
    bob.expect_stamped("* 민지 joined");
    users_become(&mut minji, &["alice", "bob", "민지"]);
    users_become(&mut alice, &["alice", "bob", "민지"]);
    // The welcome's count of who is online is the cluster's (nodes tell theirs with their
    // heartbeats, so it may take one to be right).
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        let (mut dave, welcome) = crate::restart::welcome(&c, "dave", "dave");
        let online = welcome
            .iter()
            .find(|l| l.contains("users online"))
            .cloned()
            .unwrap_or_default();
        dave.send("/quit");
        dave.expect_closed();
        if online == "-- 4 users online: alice, bob, dave, 민지" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{welcome:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // Messages and actions cross, once each, Korean included.
    alice.send("hello from node a");
    bob.expect_stamped("alice: hello from node a");
    minji.expect_stamped("alice: hello from node a");
    minji.send("안녕하세요");
    alice.expect_stamped("민지: 안녕하세요");
    bob.expect_stamped("민지: 안녕하세요");
    bob.send("/me waves");
    alice.expect_stamped("* bob waves");
    minji.expect_stamped("* bob waves");

    // A topic set on one node is the room's on all of them.
    minji.send("/topic cluster day");
    alice.expect("cluster day");
    bob.expect("cluster day");
    alice.sync();
    alice.send("/topic");
    alice.expect("cluster day");

    // A rename follows the user everywhere, /users included.
    bob.send("/nick robert");
    alice.expect("robert");
    users_become(&mut alice, &["alice", "robert", "민지"]);

    // Rooms are separate across nodes too: a room of two nodes, and the lobby not told its lines.
    alice.send("/join games");
    alice.expect("games");
    // A room's first member on a node subscribes it; a join on another node at the same
    // instant could pass it by, so the test waits until Redis has the subscription.
    redis.wait_for(&["PUBSUB", "SHARDNUMSUB", "rc:{games}:events"], |out| {
        out.ends_with("1\n")
    });
    minji.send("/join games");
    alice.expect_stamped("* 민지 joined");
    robert_sees_no_games_line(&mut bob, &mut alice, &mut minji);
    users_become(&mut alice, &["alice", "민지"]);
    users_become(&mut bob, &["robert"]);
    // /rooms lists the cluster's rooms, those of no member here too, with the cluster's counts.
    bob.send("/rooms");
    bob.expect_exact("-- 2 rooms: games (2), lobby (1)");

    // Leaving: a quit on one node is a departure everywhere.
    minji.send("/quit bye");
    alice.expect("민지");
    users_become(&mut alice, &["alice"]);

    // Redis holds each room's members by node; the emptied room's hash has gone with them.
    redis.wait_for(&["HGETALL", "rc:{lobby}:members"], |out| {
        out.contains("robert") && !out.contains("bob\n")
    });
}

/// A line said in `games` reaches its members on both nodes and not robert in the lobby.
fn robert_sees_no_games_line(robert: &mut Client, alice: &mut Client, minji: &mut Client) {
    minji.send("only for games");
    alice.expect_stamped("민지: only for games");
    let seen = robert.sync();
    assert!(
        seen.iter().all(|l| !l.contains("only for games")),
        "{seen:?}"
    );
}

#[test]
fn a_node_id_held_by_a_live_node_is_refused() {
    let redis = Redis::start();
    let first = Server::builder()
        .args(["--cluster", &redis.url(), "--node-id", "7"])
        .start();
    let out = run_to_exit(&["--ephemeral", "--cluster", &redis.url(), "--node-id", "7"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("node id 7 is held by a live node"), "{err}");
    // The first node holds it and says so in /metrics; a third node takes another id.
    assert_eq!(redis.cli(&["EXISTS", "rc:{nodes}:node:7"]).trim(), "1");
    let other = node(&redis);
    let mut a = first.login("a");
    let mut b = other.login("b");
    a.expect_stamped("* b joined");
    b.send("hi");
    a.expect_stamped("b: hi");
}

#[test]
fn an_unreachable_redis_at_start_is_a_clear_error() {
    let redis = Redis::start();
    let url = redis.url();
    drop(redis);
    let out = run_to_exit(&["--ephemeral", "--cluster", &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot claim a node id in Redis"), "{err}");
    let out = run_to_exit(&["--ephemeral", "--cluster", "rediss://127.0.0.1:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("rediss://"), "{err}");
}

#[test]
fn chat_goes_on_while_redis_is_down_and_the_cluster_heals_when_it_returns() {
    let mut redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut ann = a.login("ann");
    alice.expect_stamped("* ann joined");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    users_become(&mut bob, &["alice", "ann", "bob"]);

    redis.stop();
    for user in [&mut alice, &mut ann, &mut bob] {
        user.expect("The link to the other servers is down");
    }
    assert!(healthz(&a).starts_with("HTTP/1.1 200"));
    assert!(healthz(&a).contains("degraded"), "{}", healthz(&a));
    // Users of one node still chat among themselves.
    alice.send("still here");
    ann.expect_stamped("alice: still here");
    // ann leaves while the link is down: Redis must not list her once it is back.
    ann.send("/quit");
    alice.expect("ann");

    // The nodes try again and again (the log says so each time); users are told once.
    for server in [&a, &b] {
        let deadline = std::time::Instant::now() + crate::support::WAIT;
        while server.log().matches("cluster link down").count() < 3 {
            assert!(std::time::Instant::now() < deadline, "{}", server.log());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    redis.restart();
    for user in [&mut alice, &mut bob] {
        let mut before = Vec::new();
        loop {
            let line = user.next_line();
            if line.contains("The link to the other servers is back") {
                break;
            }
            before.push(line);
        }
        assert!(
            !before.iter().any(|l| l.contains("is down")),
            "told twice: {before:?}"
        );
    }
    users_become(&mut bob, &["alice", "bob"]);
    users_become(&mut alice, &["alice", "bob"]);
    assert!(healthz(&a).ends_with("ok\n"), "{}", healthz(&a));
    alice.send("and across again");
    bob.expect_stamped("alice: and across again");
    bob.send("welcome back");
    alice.expect_stamped("bob: welcome back");
}

#[test]
fn metrics_show_the_cluster_link() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    bob.send("one");
    alice.expect_stamped("bob: one");
    let metrics = {
        let mut stream = TcpStream::connect(a.addr).expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    };
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("reactor_chat_cluster_link_up"), 1.0);
    // alice's join went out; bob's join and line came in.
    assert!(value("reactor_chat_cluster_published_total") >= 1.0);
    assert!(value("reactor_chat_cluster_received_total") >= 2.0);
    assert_eq!(value("reactor_chat_cluster_dropped_total"), 0.0);
    assert_eq!(value("reactor_chat_cluster_skipped_total"), 0.0);
}

#[test]
fn a_node_killed_mid_chat_leaves_its_users_lost_and_nobody_else_loses_a_line() {
    let redis = Redis::start();
    let node = |redis: &Redis| {
        Server::builder()
            .args(["--cluster", &redis.url(), "--cluster-timeout", "2"])
            .start()
    };
    let (a, b, c) = (node(&redis), node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    let carol = c.login("carol");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");
    users_become(&mut alice, &["alice", "bob", "carol"]);

    // Lines go both ways while c dies: every one of them arrives, in order.
    for i in 0..20 {
        alice.send(&format!("a{i}"));
        bob.send(&format!("b{i}"));
        if i == 10 {
            c.signal("KILL");
        }
    }
    for i in 0..20 {
        bob.expect_stamped(&format!("alice: a{i}"));
        alice.expect_stamped(&format!("bob: b{i}"));
    }
    for user in [&mut alice, &mut bob] {
        user.expect_stamped("* carol lost the connection (their server stopped answering)");
    }
    users_become(&mut alice, &["alice", "bob"]);
    users_become(&mut bob, &["alice", "bob"]);
    // The gone node's field is taken out of the room's members in Redis.
    redis.wait_for(&["HKEYS", "rc:{lobby}:members"], |out| {
        !out.contains("carol")
    });
    drop(carol);
}

#[test]
fn a_nickname_is_one_users_across_the_cluster_and_a_race_has_one_winner() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    // Taken on another node, in any case or look-alike spelling.
    for name in ["alice", "ALICE", "a1ice"] {
        let mut other = b.connect();
        other.expect("Enter your nickname");
        other.send(name);
        other.expect_prefix("! nick-taken:");
    }
    // A rename to a name another node holds is refused; the old name stays.
    let mut bob = b.login("bob");
    bob.send("/nick Alice");
    bob.expect_prefix("! nick-taken:");
    bob.send("/nick robert");
    bob.expect("You are now known as robert");
    alice.expect("bob is now known as robert");
    // bob is free again: a user of node a takes it.
    let mut newbob = a.login("bob");
    newbob.sync();

    // Twenty pairs race for twenty names, one of each pair on each node: one wins each. (Each
    // pair from its own address: one address may have only so many connections waiting.)
    let mut pairs: Vec<(Client, Client)> = (0..20u8)
        .map(|i| {
            let (mut x, mut y) = (a.connect_from(10 + i), b.connect_from(10 + i));
            x.expect("Enter your nickname");
            y.expect("Enter your nickname");
            (x, y)
        })
        .collect();
    for (i, (x, y)) in pairs.iter_mut().enumerate() {
        x.send(&format!("racer{i}"));
        y.send(&format!("racer{i}"));
    }
    for (i, (x, y)) in pairs.iter_mut().enumerate() {
        let won = |c: &mut Client| {
            let line = c.expect_where("a welcome or a refusal", |l| {
                l.starts_with("-- Welcome,") || l.starts_with("! nick-taken:")
            });
            line.starts_with("-- Welcome,")
        };
        let (x_won, y_won) = (won(x), won(y));
        assert!(
            x_won != y_won,
            "racer{i}: node a won {x_won}, node b won {y_won}"
        );
    }
    // Redis holds one claim a name, naming its node.
    let claim = redis.cli(&["GET", "rc:nick:alice"]);
    assert!(claim.ends_with(" alice\n"), "{claim:?}");
}

#[test]
fn a_name_is_free_again_everywhere_when_its_session_ends() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    alice.send("/quit");
    alice.expect_closed();
    redis.wait_for(&["EXISTS", "rc:nick:alice"], |out| out.trim() == "0");
    let mut again = b.login("alice");
    again.sync();
}

#[test]
fn whispers_reach_users_of_other_nodes_and_nobody_else() {
    let redis = Redis::start();
    let (a, b, c) = (node(&redis), node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    let mut minji = c.login("민지");
    alice.send("/msg BOB psst");
    bob.expect("*alice* psst");
    alice.expect("-> *bob* psst");
    bob.send("/msg 민지 a secret for you");
    minji.expect("*bob* a secret for you");
    // Nobody in the cluster has the name.
    alice.send("/msg nobody hello?");
    alice.expect_prefix("! no-such-user:");
    // Whispers are for their target alone.
    for (user, text) in [(&mut minji, "psst"), (&mut alice, "a secret for you")] {
        let seen = user.sync();
        assert!(seen.iter().all(|l| !l.contains(text)), "{seen:?}");
    }
    // /whois of a user of another node is that node's answer; an away mark shows there and
    // answers a whisper, as on one server.
    bob.send("/away lunch");
    bob.expect_prefix("-- ");
    alice.send("/whois BOB");
    let whois = alice.expect_prefix("-- bob: room lobby, idle ");
    assert!(whois.contains("away: lunch"), "{whois}");
    alice.send("/msg bob still there?");
    alice.expect("-> *bob* still there?");
    alice.expect_exact("-- bob is away: lunch");
    // /users marks it on every node.
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        alice.send("/users");
        let line = alice.expect_prefix("-- ");
        if line.contains("bob (away)") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{line}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bob.send("/away");
    bob.expect_prefix("-- ");
    alice.send("/whois nobody");
    alice.expect_prefix("! no-such-user:");

    // A user who reconnects within the grace period gets what was whispered meanwhile; the
    // sender is told it waits.
    let key = bob.resume_key.clone().expect("bob's resume key");
    bob.drop_connection();
    alice.expect("bob lost the connection");
    alice.send("/msg bob are you back?");
    alice.expect("-> *bob* are you back?");
    alice.expect_exact("-- bob is reconnecting; your whisper will be delivered when they return");
    let mut bob = b.connect();
    bob.expect("Enter your nickname");
    bob.login(&format!("bob {key}"));
    bob.expect("*alice* are you back?");
}

#[test]
fn what_changed_while_redis_was_away_is_set_right_when_it_returns_with_its_data() {
    let mut redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut ann = a.login("ann");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    users_become(&mut bob, &["alice", "ann", "bob"]);
    // Redis goes away keeping what it holds: ann's claim and her field in the lobby's members.
    redis.stop_saving();
    alice.expect("The link to the other servers is down");
    ann.send("/quit");
    alice.expect("ann");
    redis.restart();
    alice.expect("The link to the other servers is back");
    bob.expect("The link to the other servers is back");
    // Node a let ann's name and field go once it could.
    redis.wait_for(&["HKEYS", "rc:{lobby}:members"], |out| {
        out.contains("alice") && !out.contains("ann")
    });
    redis.wait_for(&["EXISTS", "rc:nick:ann"], |out| out.trim() == "0");
    users_become(&mut bob, &["alice", "bob"]);
    let mut again = b.login("ann");
    again.sync();
}

#[test]
fn two_users_of_one_node_racing_for_a_name_cannot_both_have_it() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut x = a.login("xavier");
    let mut y = a.login("yvonne");
    // Both ask before either is answered.
    x.send("/nick bob");
    y.send("/nick bob");
    let outcome = |c: &mut Client| {
        let line = c.expect_where("the rename's answer", |l| {
            l.contains("You are now known as bob") || l.starts_with("! nick-taken:")
        });
        !line.starts_with('!')
    };
    let (x_won, y_won) = (outcome(&mut x), outcome(&mut y));
    assert!(x_won != y_won, "xavier {x_won}, yvonne {y_won}");
    // The winner holds the name everywhere; when the winner leaves it is free everywhere.
    let mut winner = if x_won { x } else { y };
    let mut other = b.connect();
    other.expect("Enter your nickname");
    other.send("bob");
    other.expect_prefix("! nick-taken:");
    winner.send("/quit");
    winner.expect_closed();
    redis.wait_for(&["EXISTS", "rc:nick:bob"], |out| out.trim() == "0");
    other.login("bob");
}

#[test]
fn print_config_never_shows_redis_s_password() {
    let out = run_to_exit(&[
        "--cluster",
        "redis://:s3cret@127.0.0.1:6399/2",
        "--print-config",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("redis://:***@127.0.0.1:6399/2"), "{text}");
}

#[test]
fn a_redis_that_stops_answering_is_left_and_found_again() {
    let redis = Redis::start();
    let node = |redis: &Redis| {
        Server::builder()
            .args(["--cluster", &redis.url(), "--cluster-timeout", "2"])
            .start()
    };
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    // Redis keeps the connections open and answers nothing for 3 s: the nodes notice from
    // their heartbeats, say so, and connect again when it answers.
    redis.cli(&["CLIENT", "PAUSE", "3000", "ALL"]);
    alice.expect("The link to the other servers is down");
    alice.expect("The link to the other servers is back");
    bob.expect("The link to the other servers is back");
    users_become(&mut alice, &["alice", "bob"]);
    alice.send("after the pause");
    bob.expect_stamped("alice: after the pause");
}

/// A node whose operators need the admin key, closing banned connections at once.
fn node_with_operators(redis: &Redis) -> Server {
    Server::builder()
        .args(["--cluster", &redis.url(), "--admin-key", "s3cret"])
        .args(["--linger-ms", "100"])
        .start()
}

/// Waits until `node` turns away the address …7 and the name `nick` as banned for `minutes`.
fn expect_banned_on(node: &Server, nick: &str, minutes: u64) {
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        let mut again = node.connect_from(7);
        again.send("innocent");
        let answer = again.expect_where("a goodbye or a welcome", |l| {
            l.starts_with("-- bye final: ") || l.starts_with("-- Welcome, ")
        });
        if answer == format!("-- bye final: you are banned for {minutes} more min") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the address was never banned on {}: {answer}",
            node.addr
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut other = node.connect_from(8);
    other.send(nick);
    other.expect_exact(&format!(
        "! nick-banned: {nick} is banned for {minutes} more min"
    ));
}

#[test]
fn operators_kick_and_ban_users_of_other_nodes_and_every_node_keeps_the_ban() {
    let redis = Redis::start();
    let (a, b, c) = (
        node_with_operators(&redis),
        node_with_operators(&redis),
        node_with_operators(&redis),
    );
    let mut alice = a.login("alice");
    alice.send("/op s3cret");
    alice.expect_exact("-- You are now an operator.");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    let mut carol = c.login("carol");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");

    // A kick of a user of another node: their goodbye, and their room sees it on every node.
    alice.send("/kick BOB spamming the room");
    let last = bob.expect_closed();
    assert_eq!(
        last.last().map(String::as_str),
        Some("-- bye final: kicked by alice (spamming the room)"),
        "{last:?}"
    );
    alice.expect_stamped("* bob was kicked by alice (spamming the room)");
    carol.expect_stamped("* bob was kicked by alice (spamming the room)");
    users_become(&mut carol, &["alice", "carol"]);
    alice.send("/kick nobody");
    alice.expect_exact("! no-such-user: nobody is not here");

    // A ban of a user of another node, in a room the operator is not in: the operator is
    // shown it, and every node keeps the name and the address out.
    let mut mallory = c.connect_from(7);
    mallory.login("mallory");
    alice.expect_stamped("* mallory joined");
    mallory.send("/join den");
    mallory.expect_exact("-- 1 user in den: mallory");
    alice.expect_stamped("* mallory went to room den");
    alice.send("/ban mallory 5");
    let last = mallory.expect_closed();
    assert_eq!(
        last.last().map(String::as_str),
        Some("-- bye final: kicked by alice (banned for 5 min)"),
        "{last:?}"
    );
    alice.expect_stamped("* mallory was kicked by alice (banned for 5 min)");
    for node in [&a, &b, &c] {
        expect_banned_on(node, "mallory", 5);
    }
    // A node that joins later reads it from Redis.
    let d = node_with_operators(&redis);
    expect_banned_on(&d, "mallory", 5);

    // A topic lock is the room's on every node.
    alice.send("/topiclock on");
    alice.expect_prefix("-- ");
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        carol.send("/topic free for all");
        let line = carol.next_line();
        if line.starts_with("! topic-locked: ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never locked: {line}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // The operator's grant is the cluster's: back through another node with the resume key,
    // alice is an operator there, and kicks from there.
    let key = alice.resume_key.clone().expect("alice's resume key");
    alice.send("/quit");
    alice.expect_closed();
    let (mut alice, welcome) = crate::restart::welcome(&d, "alice", &format!("alice {key}"));
    assert!(
        welcome.contains(&"-- You are now an operator.".to_string()),
        "{welcome:?}"
    );
    carol.expect_stamped("* alice joined");
    alice.send("/kick carol");
    carol.expect_closed();
    alice.expect_stamped("* carol was kicked by alice");
}

#[test]
fn a_resume_key_works_on_any_node_and_the_session_moves_there() {
    let redis = Redis::start();
    let (a, b, c) = (node(&redis), node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    let mut carol = c.login("carol");
    alice.expect_stamped("* carol joined");
    bob.expect_stamped("* carol joined");

    // alice's connection drops; she comes back through node b, with her key.
    let key = alice.resume_key.clone().expect("alice's resume key");
    alice.drop_connection();
    bob.expect("alice lost the connection");
    carol.expect("alice lost the connection");
    let (mut alice, welcome) = crate::restart::welcome(&b, "alice", &format!("alice {key}"));
    assert!(
        welcome.contains(&"-- Welcome back, alice! You are in room lobby.".to_string()),
        "{welcome:?}"
    );
    assert!(
        welcome.last().is_some_and(|l| l.contains(&key)),
        "the session keeps its key: {welcome:?}"
    );
    alice.expect_exact(
        "-- Your session moved here from another server: what was said while you were away \
         is not available here.",
    );
    bob.expect_stamped("* alice reconnected");
    carol.expect_stamped("* alice reconnected");
    users_become(&mut carol, &["alice", "bob", "carol"]);
    alice.send("back through b");
    bob.expect_stamped("alice: back through b");
    carol.expect_stamped("alice: back through b");
    carol.send("/msg alice welcome back");
    alice.expect("*carol* welcome back");
    // Node a let her go: the name is node b's now.
    let mut other = a.connect();
    other.send("alice");
    other.expect_prefix("! nick-taken: ");

    // A wrong key moves nothing.
    let mut mallory = c.connect();
    mallory.send("alice 0123456789ab");
    mallory.expect_prefix("! nick-taken: ");
    alice.send("still here");
    carol.expect_stamped("alice: still here");

    // With her key on node c while still connected through b: b lets the connection go.
    let (mut alice_on_c, _) = crate::restart::welcome(&c, "alice", &format!("alice {key}"));
    alice.expect_exact("-- bye final: your session was resumed from another connection");
    alice.expect_closed();
    alice_on_c.send("now on c");
    bob.expect_stamped("alice: now on c");
    users_become(&mut bob, &["alice", "bob", "carol"]);
    redis.wait_for(&["HGETALL", "rc:{lobby}:members"], |out| {
        out.matches("alice").count() == 1
    });
}

#[test]
fn invitations_reach_users_of_other_nodes_and_their_answers_come_back() {
    let redis = Redis::start();
    let args = |redis: &Redis| {
        Server::builder()
            .args(["--cluster", &redis.url(), "--invite-ttl", "2"])
            .start()
    };
    let (a, b) = (args(&redis), args(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    let mut carol = b.login("carol");
    alice.expect_stamped("* carol joined");
    alice.send("/join games");
    alice.expect_prefix("-- You are now in room games.");
    redis.wait_for(&["PUBSUB", "SHARDNUMSUB", "rc:{games}:events"], |out| {
        out.ends_with("1\n")
    });

    alice.send("/invite BOB");
    alice.expect_exact("-- Invited bob to games.");
    bob.expect_exact(
        "-- alice invites you to room games: /accept-invite alice to go there, /decline-invite alice to say no (within 2s)",
    );
    bob.send("/accept-invite");
    bob.expect_exact("-- You are now in room games.");
    alice.expect_stamped("* bob joined");
    alice.expect_exact("-- bob accepted your invitation to games.");

    // The answers of one server, from the other node.
    carol.send("/invites off");
    carol.expect_exact("-- You now refuse all invitations.");
    alice.send("/invite carol");
    alice.expect_exact("! invites-off: carol does not take invitations");
    alice.send("/invite bob");
    alice.expect_exact("! already-there: bob is already in games");
    alice.send("/invite nobody");
    alice.expect_exact("! no-such-user: nobody is not here");
    carol.send("/invites on");
    carol.expect_exact("-- You now take invitations.");
    alice.send("/invite carol");
    carol.expect_prefix("-- alice invites you to room games");
    alice.expect_exact("-- Invited carol to games.");
    alice.expect_exact("-- Your invitation of carol to games expired.");
    alice.send("/invite carol lobby");
    alice.expect_exact("! already-there: carol is already in lobby");
    alice.send("/invite carol den");
    carol.expect_prefix("-- alice invites you to room den");
    carol.send("/decline-invite alice");
    carol.expect_prefix("-- ");
    alice.expect_exact("-- carol declined your invitation.");
}

#[test]
fn after_a_partition_the_earlier_claim_keeps_a_name_and_the_other_user_is_renamed() {
    let redis = Redis::start();
    let (a, b) = (node(&redis), node(&redis));
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    alice.expect_stamped("* bob joined");
    // As after node a was cut off from Redis longer than its claims live: Redis has forgotten
    // alice's claim, and node b grants the name to another user.
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    let mut later = loop {
        redis.cli(&["DEL", "rc:nick:alice"]);
        let mut c = b.connect();
        c.nick = "alice".into();
        c.send("alice");
        let answer = c.expect_where("a welcome or a refusal", |l| {
            l.starts_with("-- Welcome, ") || l.starts_with("! ")
        });
        if answer.starts_with("-- Welcome, alice!") {
            break c;
        }
        // Node a's refresh took it again in between: once more.
        assert!(std::time::Instant::now() < deadline, "{answer}");
    };
    // The earlier claim keeps the name: node a takes it back, and node b, at its next
    // refresh, renames its user, who is told why.
    let notice = later.expect_prefix("-- Another user of the cluster had the name alice first");
    let new = notice
        .rsplit_once("you are ")
        .and_then(|(_, rest)| rest.strip_suffix(" now."))
        .expect("the new name")
        .to_string();
    assert!(
        new.starts_with("alice-") && new.len() == "alice-".len() + 4,
        "{new}"
    );
    bob.expect_stamped(&format!("* alice is now known as {new}"));
    alice.send("still the first alice");
    bob.expect_stamped("alice: still the first alice");
    later.expect_stamped("alice: still the first alice");
    users_become(&mut bob, &["alice", &new, "bob"]);
    users_become(&mut alice, &["alice", &new, "bob"]);
}
