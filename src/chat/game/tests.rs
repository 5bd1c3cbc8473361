//! The word game: winning, timing out, stopping.

use crate::chat::testing::*;
use crate::chat::*;

fn game_settings() -> ChatSettings {
    let mut words = crate::chat::game::words::WordBank::default();
    words.add_text("pets\tcat\n").unwrap();
    ChatSettings {
        words: Arc::new(words),
        hint_interval: Duration::from_secs(10),
        ..settings()
    }
}

fn game_notices(h: &Harness, conn: usize) -> Vec<GameNotice> {
    h.delivered_to(conn)
        .into_iter()
        .filter_map(|e| match e {
            Event::Game(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[test]
fn a_round_is_won_by_the_first_matching_line_and_scored() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice");
    h.login(2, "bob");
    h.line(1, "/game start PETS");
    assert!(matches!(
        &game_notices(&h, 2)[..],
        [GameNotice::Started { mask, letters: 3, .. }] if &**mask == "_ _ _"
    ));
    h.line(1, "/game start");
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::AlreadyRunning { .. }]
    ));
    h.advance(10);
    assert!(
        matches!(&game_notices(&h, 1)[..], [GameNotice::Hint { mask, .. }] if mask.matches('_').count() == 2)
    );
    // A wrong guess is only a chat line; the right one wins for everybody to see.
    h.line(2, "dog");
    assert!(game_notices(&h, 1).is_empty());
    h.line(2, " CAT! ");
    let seen_by_alice = h.delivered_to(1);
    assert!(matches!(&seen_by_alice[0], Event::Message { text, .. } if &**text == " CAT!"));
    assert!(matches!(
        &seen_by_alice[1],
        Event::Game(GameNotice::Won { nick, points: 66, secs: 10, .. }) if &**nick == "bob"
    ));
    h.line(1, "/score");
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::Leaderboard { entries, .. }] if entries.len() == 1 && entries[0].points == 66 && entries[0].wins == 1
    ));
    // The round is over: its timer does nothing, and "cat" is just chat.
    h.advance(10);
    assert!(game_notices(&h, 1).is_empty());
}

#[test]
fn a_round_nobody_guesses_times_out_after_its_hints() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice");
    h.line(1, "/game start");
    h.advance(10); // c _ _ (two letters remain hidden)
    h.advance(10); // c a _ (the last letter is never shown)
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::Hint { .. }]
    ));
    h.advance(10);
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::TimeUp { word, .. }] if &**word == "cat"
    ));
    h.line(1, "/game");
    assert!(matches!(
        &game_notices(&h, 1)[..],
        [GameNotice::Status { round: None, .. }]
    ));
}

#[test]
fn only_the_starter_or_an_operator_stops_a_round() {
    let mut h = Harness::with(game_settings());
    h.login(1, "alice"); // operator: first user
    h.login(2, "bob");
    h.login(3, "carol");
    h.line(2, "/game start");
    h.line(3, "/game stop");
    assert!(matches!(&game_notices(&h, 3)[..], [GameNotice::NotYours { by }] if &**by == "bob"));
    h.line(1, "/game stop");
    assert!(
        matches!(&game_notices(&h, 3)[..], [GameNotice::Stopped { word, .. }] if &**word == "cat")
    );
    h.line(2, "/game stop");
    assert!(matches!(&game_notices(&h, 2)[..], [GameNotice::NoRound]));
    h.line(2, "/game start birds");
    assert!(matches!(
        &game_notices(&h, 2)[..],
        [GameNotice::NoSuchCategory { .. }]
    ));
}
