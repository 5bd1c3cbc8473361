//! The line client at a real terminal (tmux), where it runs its line editor: the prompt follows
//! the login and every rename (in English and Korean, and across a reconnect), `--name` logs in
//! without showing the server's nickname prompt, and `/quit` leaves the terminal clean.

use crate::support::{last_line, Server, Terminal};

fn client(server: &Server, args: &str) -> Terminal {
    let bin = env!("CARGO_BIN_EXE_reactor-chat-client");
    Terminal::run(&format!("{bin} {} {args}", server.addr))
}

fn wait_for_last_line(terminal: &Terminal, want: &str) {
    terminal.wait_until(&format!("the prompt {want:?}"), |screen| {
        last_line(screen) == want
    });
}

#[test]
fn the_prompt_becomes_the_nickname_as_soon_as_the_login_is_answered() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let terminal = client(&server, "");
    terminal.wait_for("Enter your nickname:");
    wait_for_last_line(&terminal, "nickname>");
    terminal.type_line("bob");
    terminal.wait_for("! nick-taken");
    wait_for_last_line(&terminal, "nickname>");
    terminal.type_line("alice");
    terminal.wait_for("-- Resume key:");
    wait_for_last_line(&terminal, "alice>");
    bob.expect_stamped("* alice joined");
    terminal.type_line("/quit bye");
    bob.expect_stamped("* alice left (bye)");
    terminal.wait_for("-- bye final:");
    // The process is gone: no prompt is left behind under the goodbye.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let last = terminal.last_line();
    assert!(
        !last.ends_with('>'),
        "a stray prompt {last:?}:\n{}",
        terminal.screen()
    );
}

#[test]
fn with_a_name_the_nickname_prompt_is_not_shown() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let terminal = client(&server, "--name carol");
    terminal.wait_for("-- Resume key:");
    bob.expect_stamped("* carol joined");
    wait_for_last_line(&terminal, "carol>");
    let screen = terminal.screen();
    assert!(!screen.contains("Enter your nickname"), "{screen}");
}

/// `/nick` answered: the next prompt is the new name, with no other line typed first. A refused
/// one (bob holds his name) keeps it; bob's line after the refusal proves the refusal was handled
/// before the prompt is read.
#[test]
fn a_rename_shows_in_the_prompt_at_once_and_a_refused_one_keeps_the_name() {
    let server = Server::start();
    let mut bob = server.login("bob");
    let terminal = client(&server, "");
    wait_for_last_line(&terminal, "nickname>");
    terminal.type_line("alice");
    terminal.wait_for("-- Resume key:");
    wait_for_last_line(&terminal, "alice>");
    terminal.type_line("/nick alice2");
    bob.expect_stamped("* alice is now known as alice2");
    terminal.wait_for("-- You are now known as alice2");
    wait_for_last_line(&terminal, "alice2>");
    terminal.type_line("/nick bob");
    terminal.wait_for("! nick-taken: bob");
    bob.send("still bob");
    terminal.wait_for("bob: still bob");
    wait_for_last_line(&terminal, "alice2>");
    terminal.type_line("hello as alice2");
    bob.expect_stamped("alice2: hello as alice2");
    wait_for_last_line(&terminal, "alice2>");
}

/// The server drops the idle client (`--idle-timeout`); it reconnects by itself with its resume
/// key under the name it took with `/nick`, and the prompt says that name.
#[test]
fn after_a_rename_the_prompt_keeps_the_new_name_across_a_reconnect() {
    let server = Server::builder().args(["--idle-timeout", "2"]).start();
    let terminal = client(&server, "--name alice");
    terminal.wait_for("-- Resume key:");
    wait_for_last_line(&terminal, "alice>");
    terminal.type_line("/nick alice2");
    terminal.wait_for("-- You are now known as alice2");
    wait_for_last_line(&terminal, "alice2>");
    terminal.wait_for("-- bye reconnect: ping timeout");
    terminal.wait_for("-- Welcome back, alice2!");
    terminal.wait_for("reconnected as alice2");
    wait_for_last_line(&terminal, "alice2>");
}

/// The same with a Korean server (`--lang ko`), whose rename answer is `-- 이제 대화명은 NEW입니다.`,
/// and a Korean name, two columns a character wide.
#[test]
fn a_rename_shows_in_the_prompt_with_a_korean_server() {
    let server = Server::builder().args(["--lang", "ko"]).start();
    let mut bob = server.login("bob");
    let terminal = client(&server, "--name 철수");
    terminal.wait_for("-- 재접속 키:");
    wait_for_last_line(&terminal, "철수>");
    terminal.type_line("/nick 영희");
    terminal.wait_for("-- 이제 대화명은 영희입니다.");
    wait_for_last_line(&terminal, "영희>");
    terminal.type_line("/nick bob");
    terminal.wait_for("! nick-taken: bob");
    bob.send("still bob");
    terminal.wait_for("bob: still bob");
    wait_for_last_line(&terminal, "영희>");
}
