//! Parses a logged-in user's line into a command.
//!
//! Parsing borrows from the line and allocates nothing; checking arguments beyond their shape
//! (does the nick exist, is the room name valid) is the chat core's job.

/// `/game ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameCommand<'a> {
    /// `/game start [CATEGORY]`.
    Start(Option<&'a str>),
    /// `/game stop`.
    Stop,
    /// `/game` or `/game status`.
    Status,
    /// `/game categories`.
    Categories,
}

/// What a chat line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// A message to the room.
    Say(&'a str),
    /// `/me action`.
    Me(&'a str),
    /// `/msg NICK text` (`/whisper`, `/w`).
    Whisper { to: &'a str, text: &'a str },
    /// `/nick NEW` (`/rename`).
    Nick(&'a str),
    /// `/away [message]`.
    Away(Option<&'a str>),
    /// `/whois NICK`.
    Whois(&'a str),
    /// `/join ROOM`.
    Join(&'a str),
    /// `/part`.
    Part,
    /// `/rooms` (`/list`).
    Rooms,
    /// `/users` (`/who`, `/names`).
    Users,
    /// `/topic [text]`.
    Topic(Option<&'a str>),
    /// `/topiclock on|off`.
    TopicLock(bool),
    /// `/schedule WHEN text`.
    Schedule { when: &'a str, text: &'a str },
    /// `/schedules`.
    Schedules,
    /// `/unschedule ID`.
    Unschedule(&'a str),
    /// `/op KEY`.
    Op(&'a str),
    /// `/kick NICK [reason]`.
    Kick {
        nick: &'a str,
        reason: Option<&'a str>,
    },
    /// `/ban NICK [minutes]`.
    Ban {
        nick: &'a str,
        minutes: Option<&'a str>,
    },
    /// `/file NAME SIZE`: SIZE raw bytes follow the line. NAME may contain spaces.
    File { name: &'a str, size: &'a str },
    /// `/files`.
    Files,
    /// `/accept ID`.
    Accept(&'a str),
    /// `/decline ID`.
    Decline(&'a str),
    /// `/game start [CATEGORY]`, `/game stop`, `/game categories`, `/game`.
    Game(GameCommand<'a>),
    /// `/score [NICK]`.
    Score(Option<&'a str>),
    /// `/invite NICK [ROOM]`.
    Invite {
        nick: &'a str,
        room: Option<&'a str>,
    },
    /// `/accept-invite [NICK]`.
    AcceptInvite(Option<&'a str>),
    /// `/decline-invite [NICK]`.
    DeclineInvite(Option<&'a str>),
    /// `/invites on|off`.
    Invites(bool),
    /// `/history [N | YYYY-MM-DD]`: the argument, possibly empty.
    History(&'a str),
    /// `/search WORDS`.
    Search(&'a str),
    /// `/help [COMMAND]`.
    Help(Option<&'a str>),
    /// `/quit [message]`.
    Quit(Option<&'a str>),
    /// A command given without the arguments it needs: carries its canonical name for the usage line.
    Usage(&'static str),
    /// A `/word` that is not a command; carries the word with its slash.
    Unknown(&'a str),
}

/// The canonical name of a command word (aliases folded), if it is one.
pub fn canonical(word: &str) -> Option<&'static str> {
    let word = word.strip_prefix('/').unwrap_or(word);
    let name = match word.to_ascii_lowercase().as_str() {
        "me" => "me",
        "msg" | "whisper" | "w" => "msg",
        "nick" | "rename" => "nick",
        "away" => "away",
        "whois" => "whois",
        "join" => "join",
        "part" => "part",
        "rooms" | "list" => "rooms",
        "users" | "who" | "names" => "users",
        "topic" => "topic",
        "topiclock" => "topiclock",
        "schedule" => "schedule",
        "schedules" => "schedules",
        "unschedule" => "unschedule",
        "op" => "op",
        "kick" => "kick",
        "ban" => "ban",
        "game" => "game",
        "score" | "scores" => "score",
        "invite" => "invite",
        "accept-invite" => "accept-invite",
        "decline-invite" => "decline-invite",
        "invites" => "invites",
        "file" => "file",
        "files" => "files",
        "accept" => "accept",
        "decline" => "decline",
        "history" => "history",
        "search" => "search",
        "help" | "?" => "help",
        "quit" | "exit" | "bye" => "quit",
        _ => return None,
    };
    Some(name)
}

/// Splits off the first space-separated word; the rest is trimmed.
fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.split_once(' ') {
        Some((w, rest)) => (w, rest.trim()),
        None => (s, ""),
    }
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Parses one cleaned, non-empty line. `//text` is the message `/text`.
pub fn parse(line: &str) -> Command<'_> {
    let Some(rest) = line.strip_prefix('/') else {
        return Command::Say(line);
    };
    if rest.starts_with('/') {
        return Command::Say(rest);
    }
    let (word, args) = first_word(rest);
    let Some(name) = canonical(word) else {
        return Command::Unknown(line.split(' ').next().unwrap_or(line));
    };
    let (arg1, tail) = first_word(args);
    let needs = |ok: bool, cmd: Command<'static>| if ok { None } else { Some(cmd) };
    let missing = match name {
        "me" | "nick" | "whois" | "join" | "op" | "unschedule" | "accept" | "decline"
        | "invite" | "search" => needs(!args.is_empty(), Command::Usage(name)),
        "msg" | "schedule" | "file" => needs(!tail.is_empty(), Command::Usage(name)),
        "kick" | "ban" => needs(!arg1.is_empty(), Command::Usage(name)),
        _ => None,
    };
    if let Some(usage) = missing {
        return usage;
    }
    match name {
        "me" => Command::Me(args),
        "msg" => Command::Whisper {
            to: arg1,
            text: tail,
        },
        // The whole argument, so "/nick john smith" is refused as at login rather than silently
        // becoming "john".
        "nick" => Command::Nick(args),
        "away" => Command::Away(opt(args)),
        "whois" => Command::Whois(arg1),
        "join" => Command::Join(args),
        "part" => Command::Part,
        "rooms" => Command::Rooms,
        "users" => Command::Users,
        "topic" => Command::Topic(opt(args)),
        "topiclock" => match args.to_ascii_lowercase().as_str() {
            "on" => Command::TopicLock(true),
            "off" => Command::TopicLock(false),
            _ => Command::Usage("topiclock"),
        },
        "schedule" => Command::Schedule {
            when: arg1,
            text: tail,
        },
        "schedules" => Command::Schedules,
        "unschedule" => Command::Unschedule(arg1.trim_start_matches('#')),
        "op" => Command::Op(args),
        "kick" => Command::Kick {
            nick: arg1,
            reason: opt(tail),
        },
        "ban" => Command::Ban {
            nick: arg1,
            minutes: opt(tail),
        },
        "file" => {
            // The size is the last word, so a name may contain spaces.
            let (name, size) = args.rsplit_once(' ').unwrap_or((args, ""));
            Command::File {
                name: name.trim(),
                size,
            }
        }
        "files" => Command::Files,
        "game" => match arg1.to_ascii_lowercase().as_str() {
            "start" | "new" => Command::Game(GameCommand::Start(opt(tail))),
            "stop" | "end" => Command::Game(GameCommand::Stop),
            "" | "status" => Command::Game(GameCommand::Status),
            "categories" | "list" => Command::Game(GameCommand::Categories),
            _ => Command::Usage("game"),
        },
        "score" => Command::Score(opt(arg1)),
        "invite" => Command::Invite {
            nick: arg1,
            room: opt(tail),
        },
        "accept-invite" => Command::AcceptInvite(opt(arg1)),
        "decline-invite" => Command::DeclineInvite(opt(arg1)),
        "invites" => match args.to_ascii_lowercase().as_str() {
            "on" => Command::Invites(true),
            "off" => Command::Invites(false),
            _ => Command::Usage("invites"),
        },
        "accept" => Command::Accept(arg1.trim_start_matches('#')),
        "decline" => Command::Decline(arg1.trim_start_matches('#')),
        "history" => Command::History(args),
        "search" => Command::Search(args),
        "help" => Command::Help(opt(arg1)),
        "quit" => Command::Quit(opt(args)),
        _ => Command::Unknown(word),
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
        assert_eq!(parse("/names"), Command::Users);
        assert_eq!(parse("/list"), Command::Rooms);
        assert_eq!(parse("/help"), Command::Help(None));
        assert_eq!(parse("/help /msg"), Command::Help(Some("/msg")));
        assert_eq!(parse("/nosuch thing"), Command::Unknown("/nosuch"));
        assert_eq!(parse("/"), Command::Unknown("/"));
    }

    #[test]
    fn parses_arguments() {
        assert_eq!(parse("/me waves hello"), Command::Me("waves hello"));
        for w in ["/msg", "/whisper", "/w", "/W"] {
            assert_eq!(
                parse(&format!("{w} bob  psst there")),
                Command::Whisper {
                    to: "bob",
                    text: "psst there"
                }
            );
        }
        assert_eq!(parse("/rename alice2"), Command::Nick("alice2"));
        assert_eq!(parse("/nick john smith"), Command::Nick("john smith"));
        assert_eq!(parse("/away"), Command::Away(None));
        assert_eq!(
            parse("/away out to lunch"),
            Command::Away(Some("out to lunch"))
        );
        assert_eq!(parse("/topic"), Command::Topic(None));
        assert_eq!(parse("/topiclock ON"), Command::TopicLock(true));
        assert_eq!(parse("/topiclock maybe"), Command::Usage("topiclock"));
        assert_eq!(
            parse("/schedule +90s stand-up now"),
            Command::Schedule {
                when: "+90s",
                text: "stand-up now"
            }
        );
        assert_eq!(parse("/unschedule #7"), Command::Unschedule("7"));
        assert_eq!(
            parse("/kick bob being rude"),
            Command::Kick {
                nick: "bob",
                reason: Some("being rude")
            }
        );
        assert_eq!(
            parse("/ban bob"),
            Command::Ban {
                nick: "bob",
                minutes: None
            }
        );
    }

    #[test]
    fn parses_game_and_invitation_commands() {
        assert_eq!(
            parse("/game start 영화"),
            Command::Game(GameCommand::Start(Some("영화")))
        );
        assert_eq!(
            parse("/game START"),
            Command::Game(GameCommand::Start(None))
        );
        assert_eq!(parse("/game"), Command::Game(GameCommand::Status));
        assert_eq!(parse("/game stop"), Command::Game(GameCommand::Stop));
        assert_eq!(
            parse("/game categories"),
            Command::Game(GameCommand::Categories)
        );
        assert_eq!(parse("/game dance"), Command::Usage("game"));
        assert_eq!(parse("/score"), Command::Score(None));
        assert_eq!(parse("/score bob"), Command::Score(Some("bob")));
        assert_eq!(
            parse("/invite bob games"),
            Command::Invite {
                nick: "bob",
                room: Some("games")
            }
        );
        assert_eq!(parse("/invite"), Command::Usage("invite"));
        assert_eq!(parse("/accept-invite"), Command::AcceptInvite(None));
        assert_eq!(
            parse("/decline-invite alice"),
            Command::DeclineInvite(Some("alice"))
        );
        assert_eq!(parse("/invites OFF"), Command::Invites(false));
        assert_eq!(parse("/invites"), Command::Usage("invites"));
    }

    #[test]
    fn parses_file_commands() {
        assert_eq!(
            parse("/file my notes.txt 1234"),
            Command::File {
                name: "my notes.txt",
                size: "1234"
            }
        );
        assert_eq!(parse("/file a.png"), Command::Usage("file"));
        assert_eq!(parse("/files"), Command::Files);
        assert_eq!(parse("/accept #3"), Command::Accept("3"));
        assert_eq!(parse("/decline 3"), Command::Decline("3"));
        assert_eq!(parse("/accept"), Command::Usage("accept"));
    }

    #[test]
    fn missing_arguments_ask_for_usage() {
        assert_eq!(parse("/msg bob"), Command::Usage("msg"));
        assert_eq!(parse("/msg"), Command::Usage("msg"));
        assert_eq!(parse("/join"), Command::Usage("join"));
        assert_eq!(parse("/schedule +5m"), Command::Usage("schedule"));
        assert_eq!(parse("/kick"), Command::Usage("kick"));
        assert_eq!(parse("/search"), Command::Usage("search"));
    }

    #[test]
    fn history_and_search() {
        assert_eq!(parse("/history"), Command::History(""));
        assert_eq!(parse("/HISTORY 50"), Command::History("50"));
        assert_eq!(parse("/history 2024-05-17"), Command::History("2024-05-17"));
        assert_eq!(
            parse("/search \"quoted\" OR -x"),
            Command::Search("\"quoted\" OR -x")
        );
    }
}
