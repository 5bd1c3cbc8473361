//! The line client at a real terminal (tmux), where it runs its line editor: the prompt follows
//! the login, `--name` logs in without showing the server's nickname prompt, and `/quit` leaves
//! the terminal clean.

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
