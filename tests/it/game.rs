//! The word game and invitations through the real binary, on a fast clock (`--hint-interval 1`,
//! `--invite-ttl 1`) and a word list of one known word (`--words`).

use crate::support::{Server, TempDir};

/// A server whose game has the single category `pets` with the single word `cat` (beside the
/// built-in lists), hints every second.
fn game_server(dir: &TempDir, extra: &[&str]) -> Server {
    let words = dir.path().join("words.tsv");
    std::fs::write(&words, "# test words\npets\tcat\n").unwrap();
    Server::builder()
        .args(["--hint-interval", "1", "--words", words.to_str().unwrap()])
        .args(extra.iter().copied())
        .start()
}

#[test]
fn a_full_round_is_won_and_scored() {
    let dir = TempDir::new("game");
    let server = game_server(&dir, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("/game categories");
    let categories = alice.expect_prefix("-- Categories: ");
    assert!(
        categories.contains("pets (1)") && categories.contains("영화"),
        "{categories}"
    );
    alice.send("/game start pets");
    for c in [&mut alice, &mut bob] {
        c.expect_stamped(
            "* alice started a word game: pets, 3 letters: _ _ _ (a letter every 1 s; type the answer to win)",
        );
    }
    bob.expect_where("a hint", |l| {
        l.contains("* hint: ") && l.matches('_').count() == 2
    });
    bob.send("Cat");
    alice.expect_stamped("bob: Cat");
    let won = alice.expect_where("the win", |l| l.contains("* bob guessed it: cat (+"));
    assert!(won.contains("+66 points"), "{won}");
    bob.expect_where("the win", |l| l.contains("* bob guessed it: cat"));
    alice.send("/score");
    alice.expect_exact("-- Leaderboard of lobby:");
    alice.expect_exact("--   1. bob 66 points (1 win)");
    alice.expect_exact("-- End of leaderboard.");
    alice.send("/score alice");
    alice.expect_exact("-- alice in lobby: 0 points, 0 wins");
}

#[test]
fn a_round_times_out_and_chat_flows_during_it() {
    let dir = TempDir::new("game");
    let server = game_server(&dir, &[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send("/game start pets");
    alice.send("/game start");
    alice.expect_exact("! game-running: a round is already running in lobby; /game stop ends it");
    bob.send("just chatting");
    alice.expect_stamped("bob: just chatting");
    alice.expect_where("the time-out", |l| {
        l.ends_with("* time is up! The word was cat.")
    });
    alice.send("/game");
    alice.expect_exact("-- No round is running in lobby. /game start [CATEGORY] starts one.");
}

#[test]
fn bad_word_files_are_refused_at_start_with_the_line() {
    let dir = TempDir::new("words");
    let words = dir.path().join("bad.tsv");
    std::fs::write(&words, "pets\tcat\npets dog\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reactor-chat"))
        // --ephemeral: a server started here must not write ./reactor-chat-data.
        .args(["--bind", "127.0.0.1:0", "--ephemeral"])
        .args(["--words", words.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: expected CATEGORY<TAB>WORD"), "{err}");
}

#[test]
fn invitations_accepted_refused_and_expired() {
    let dir = TempDir::new("invite");
    let server = game_server(&dir, &["--invite-ttl", "1"]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    alice.send("/join games");
    alice.expect_prefix("-- You are now in room games.");
    alice.send("/invite bob");
    alice.expect_exact("-- Invited bob to games.");
    bob.expect_exact(
        "-- alice invites you to room games: /accept-invite alice to go there, /decline-invite alice to say no (within 1s)",
    );
    bob.send("/accept-invite");
    bob.expect_exact("-- You are now in room games.");
    alice.expect_stamped("* bob joined");
    alice.expect_exact("-- bob accepted your invitation to games.");

    // Refused: carol takes no invitations.
    carol.send("/invites off");
    carol.expect_exact("-- You now refuse all invitations.");
    alice.send("/invite carol");
    alice.expect_exact("! invites-off: carol does not take invitations");
    alice.send("/invite bob");
    alice.expect_exact("! already-there: bob is already in games");
    alice.send("/invite nobody");
    alice.expect_exact("! no-such-user: nobody is not here");

    // Expired.
    carol.send("/invites on");
    carol.expect_exact("-- You now take invitations.");
    alice.send("/invite carol");
    carol.expect_prefix("-- alice invites you to room games");
    alice.expect_exact("-- Your invitation of carol to games expired.");
    carol.send("/accept-invite alice");
    carol.expect_exact("! no-invitation: you have no invitation from alice");
}

#[test]
fn scores_and_round_results_survive_a_restart() {
    let dir = TempDir::new("game-history");
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut server = game_server(&dir, &["--data-dir", data]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    for round in 0..2 {
        alice.send("/game start pets");
        bob.expect_where("the start", |l| l.contains("started a word game"));
        bob.send("cat");
        alice.expect_where("bob's win", |l| l.contains("* bob guessed it: cat"));
        let _ = round;
    }
    alice.send("/game start pets");
    alice.expect_where("the time-out", |l| {
        l.ends_with("* time is up! The word was cat.")
    });
    server.signal("TERM");
    assert!(server.wait_exit(crate::support::WAIT).success());

    let server = game_server(&dir, &["--data-dir", data]);
    let mut carol = server.login("carol");
    carol.send("/score");
    carol.expect_exact("-- Leaderboard of lobby:");
    let line = carol.expect_prefix("--   1. bob ");
    assert!(line.ends_with("points (2 wins)"), "{line}");
    carol.expect_exact("-- End of leaderboard.");
    carol.send("/score BOB");
    let line = carol.expect_prefix("-- bob in lobby: ");
    assert!(line.ends_with(", 2 wins"), "{line}");
    // The round results are in the room's history too.
    carol.send("/history 50");
    carol.expect_where("a stored win", |l| l.contains("* bob guessed it: cat (+"));
    carol.expect_where("the stored time-out", |l| {
        l.ends_with("* time is up! The word was cat.")
    });
}
