//! `/help`, unknown commands, and Korean (`--lang ko`) help, notices and nicknames.

use crate::support::{Client, Server};

/// Every command and alias PROTOCOL.md documents.
const COMMANDS: &[&str] = &[
    "/msg",
    "/whisper",
    "/w",
    "/me",
    "/nick",
    "/rename",
    "/away",
    "/whois",
    "/join",
    "/part",
    "/rooms",
    "/list",
    "/users",
    "/who",
    "/names",
    "/topic",
    "/topiclock",
    "/schedule",
    "/schedules",
    "/unschedule",
    "/op",
    "/kick",
    "/ban",
    "/help",
    "/?",
    "/quit",
    "/exit",
    "/bye",
];

/// Sends `/help` and returns the lines between the header and the end line.
fn help_lines(client: &mut Client, header: &str, end: &str) -> Vec<String> {
    client.send("/help");
    client.expect_next("the help header", |l| l == header);
    let mut lines = Vec::new();
    loop {
        let line = client.next_line();
        if line == end {
            return lines;
        }
        lines.push(line);
    }
}

/// Whether `command` appears as a word of the help text (so `/w` is not found inside `/whois`).
fn mentions(lines: &[String], command: &str) -> bool {
    lines.iter().any(|l| {
        l.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
            .any(|word| word == command)
    })
}

#[test]
fn help_lists_every_command() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let lines = help_lines(&mut alice, "-- Commands:", "-- End of help.");
    for line in &lines {
        assert!(line.starts_with("-- "), "{line:?}");
    }
    for command in COMMANDS {
        assert!(
            mentions(&lines, command),
            "/help does not list {command}: {lines:#?}"
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("--   //text ")),
        "{lines:#?}"
    );
    alice.expect_quiet();
}

#[test]
fn help_for_one_command() {
    let server = Server::start();
    let mut alice = server.login("alice");
    for word in ["msg", "/msg", "w", "/WHISPER"] {
        alice.send(&format!("/help {word}"));
        alice.expect_next("the help for /msg", |l| {
            l == "-- /msg NICK text (/whisper, /w): whisper to one user, in any room"
        });
    }
    alice.send("/help names");
    alice.expect_next("the help for /users", |l| {
        l == "-- /users (/who, /names): who is in your room"
    });
    alice.send("/help nosuch");
    alice.expect_next("unknown-command", |l| {
        l == "! unknown-command: nosuch is not a command (type /help for the list)"
    });
}

#[test]
fn help_and_quit_have_aliases() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    alice.send("/?");
    alice.expect_next("the help header", |l| l == "-- Commands:");
    alice.expect_exact("-- End of help.");
    alice.send("/help bye");
    alice.expect_next("the help for /quit", |l| {
        l == "-- /quit [message] (/exit, /bye): leave, with an optional message"
    });
    bob.send("/bye see you");
    bob.expect_closed();
    alice.expect_stamped("* bob left (see you)");
    alice.send("/EXIT");
    let lines = alice.expect_closed();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("-- bye final: goodbye, alice")
    );
}

#[test]
fn unknown_commands_are_refused_and_double_slash_is_a_message() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect_stamped("* bob joined");
    alice.send("/foo bar baz");
    alice.expect_next("unknown-command", |l| {
        l == "! unknown-command: /foo is not a command (type /help for the list)"
    });
    alice.send("//foo is a message");
    bob.expect_stamped("alice: /foo is a message");
    bob.expect_quiet();
    alice.expect_quiet();
}

/// Terminal columns: a Hangul syllable or other wide character takes two.
fn columns(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(line)
}

#[test]
fn help_fits_an_80_column_terminal_in_both_languages() {
    for (lang, header, end) in [
        ("en", "-- Commands:", "-- End of help."),
        ("ko", "-- 명령어:", "-- 도움말 끝."),
    ] {
        let server = Server::builder().args(["--lang", lang]).start();
        let mut alice = server.login("alice");
        let lines = help_lines(&mut alice, header, end);
        for line in &lines {
            assert!(
                columns(line) <= 80,
                "{lang}: {} columns: {line:?}",
                columns(line)
            );
        }
        // Usage is for programs and the same in both languages; no English prose in it.
        assert!(
            !lines.iter().any(|l| l.contains("then the bytes")),
            "{lang}: {lines:#?}"
        );
    }
}

#[test]
fn korean_help_notices_and_nicknames() {
    let server = Server::builder().args(["--lang", "ko"]).start();
    let mut cheolsu = server.login("김철수");
    let mut younghee = server.login("영희");
    cheolsu.expect_stamped("* 영희님이 입장하셨습니다");

    let lines = help_lines(&mut younghee, "-- 명령어:", "-- 도움말 끝.");
    for command in COMMANDS {
        assert!(
            mentions(&lines, command),
            "/help does not list {command}: {lines:#?}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("귓속말")),
        "the help is not in Korean: {lines:#?}"
    );
    younghee.send("/help msg");
    younghee.expect_next("Korean help for /msg", |l| {
        l == "-- /msg NICK text (/whisper, /w): 한 사람에게 귓속말 (어느 방에 있든)"
    });

    // Korean nicknames work as command arguments.
    younghee.send("/msg 김철수 안녕하세요");
    cheolsu.expect_stamped("*영희* 안녕하세요");
    younghee.expect_next("the confirmation", |l| l == "-- -> *김철수* 안녕하세요");
    cheolsu.send("/whois 영희");
    cheolsu.expect_prefix("-- 영희: lobby 방, 대기 ");
    cheolsu.send("반가워요");
    younghee.expect_stamped("김철수: 반가워요");
    // Error codes stay English; the text is Korean.
    cheolsu.send("/msg 박영수 여보세요");
    cheolsu.expect_next("no-such-user", |l| {
        l == "! no-such-user: 박영수님은 접속해 있지 않습니다"
    });

    // Presence notices: lost, reconnected, left.
    younghee.drop_connection();
    cheolsu.expect_stamped("* 영희님이 접속이 끊겼습니다. (연결 종료)");
    let mut younghee = server.login("영희");
    cheolsu.expect_stamped("* 영희님이 재접속했습니다");
    younghee.send("/quit 잘 있어요");
    younghee.expect_closed();
    cheolsu.expect_stamped("* 영희님이 퇴장하셨습니다. (잘 있어요)");
    cheolsu.expect_quiet();
}
