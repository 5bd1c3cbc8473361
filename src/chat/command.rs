//! Parses a logged-in user's line into a command.

/// What a chat line asks for. Borrowed from the line: parsing allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// A message to the room.
    Say(&'a str),
    /// `/quit [message]`.
    Quit(Option<&'a str>),
    /// `/users`, `/who`.
    Users,
    /// `/help`.
    Help,
    /// A `/word` that is not a command; carries the word with its slash.
    Unknown(&'a str),
}

/// Parses one cleaned, non-empty line. `//text` is the message `/text`.
pub fn parse(line: &str) -> Command<'_> {
    let Some(rest) = line.strip_prefix('/') else {
        return Command::Say(line);
    };
    if rest.starts_with('/') {
        return Command::Say(rest);
    }
    let (word, args) = match rest.split_once(' ') {
        Some((w, a)) => (w, a.trim()),
        None => (rest, ""),
    };
    let arg = (!args.is_empty()).then_some(args);
    match word.to_ascii_lowercase().as_str() {
        "quit" | "exit" | "bye" => Command::Quit(arg),
        "users" | "who" => Command::Users,
        "help" | "?" => Command::Help,
        _ => Command::Unknown(line.split(' ').next().unwrap_or(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_aliases() {
        assert_eq!(parse("hello"), Command::Say("hello"));
        assert_eq!(parse("//slash"), Command::Say("/slash"));
        assert_eq!(parse("/quit"), Command::Quit(None));
        assert_eq!(parse("/QUIT bye all "), Command::Quit(Some("bye all")));
        assert_eq!(parse("/users"), Command::Users);
        assert_eq!(parse("/who"), Command::Users);
        assert_eq!(parse("/help"), Command::Help);
        assert_eq!(parse("/nosuch thing"), Command::Unknown("/nosuch"));
        assert_eq!(parse("/"), Command::Unknown("/"));
    }
}
