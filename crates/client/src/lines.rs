//! What a server line is, read from its shape (PROTOCOL.md, "Line grammar, server to client").
//!
//! The grammar is made to be parsed without guessing: stamps, `--`, `!`, `*nick*` and the bye
//! words are the same in every language. A few lines the client acts on (the resume key, a rename,
//! a file offer) are matched in English and Korean, the server's two languages. Everything here is
//! pure: a line in, borrowed parts out.

/// The kinds of server line, for styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// `[12:34] alice: text`
    Chat {
        stamp: &'a str,
        nick: &'a str,
        text: &'a str,
    },
    /// `[12:34] *alice* text`
    Whisper {
        stamp: &'a str,
        nick: &'a str,
        text: &'a str,
    },
    /// `[12:34] [scheduled by alice] text`
    Scheduled {
        stamp: &'a str,
        marker: &'a str,
        text: &'a str,
    },
    /// `[12:34] * alice joined`: presence and room events.
    Notice { stamp: &'a str, text: &'a str },
    /// `-- bye reconnect: ...` / `-- bye final: ...`
    Bye { is_final: bool, text: &'a str },
    /// `-- -> *bob* text`: the echo of a whisper you sent.
    WhisperSent { text: &'a str },
    /// `-- text`
    Info { text: &'a str },
    /// `! code: text`
    Error { code: &'a str, text: &'a str },
    /// Anything else.
    Other,
}

/// Splits `[HH:MM] rest` into the stamp and the rest.
pub fn split_stamp(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let stamped = b.len() >= 8
        && b[0] == b'['
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3] == b':'
        && b[4..6].iter().all(u8::is_ascii_digit)
        && b[6] == b']'
        && b[7] == b' ';
    stamped.then(|| (&line[..7], &line[8..]))
}

/// Classifies one line.
pub fn classify(line: &str) -> Kind<'_> {
    if let Some((stamp, rest)) = split_stamp(line) {
        if let Some(text) = rest.strip_prefix("* ") {
            return Kind::Notice { stamp, text };
        }
        if let Some(inner) = rest.strip_prefix('[') {
            if let Some((marker, text)) = inner.split_once("] ") {
                return Kind::Scheduled {
                    stamp,
                    marker,
                    text,
                };
            }
        }
        let (first, text) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Some(nick) = first.strip_suffix(':').filter(|n| !n.is_empty()) {
            return Kind::Chat { stamp, nick, text };
        }
        if let Some(nick) = first
            .strip_prefix('*')
            .and_then(|f| f.strip_suffix('*'))
            .filter(|n| !n.is_empty())
        {
            return Kind::Whisper { stamp, nick, text };
        }
        return Kind::Notice { stamp, text: rest };
    }
    if let Some(rest) = line.strip_prefix("-- bye ") {
        if let Some(text) = rest.strip_prefix("final: ") {
            return Kind::Bye {
                is_final: true,
                text,
            };
        }
        if let Some(text) = rest.strip_prefix("reconnect: ") {
            return Kind::Bye {
                is_final: false,
                text,
            };
        }
    }
    if let Some(text) = line.strip_prefix("-- -> ") {
        return Kind::WhisperSent { text };
    }
    if let Some(text) = line.strip_prefix("-- ") {
        return Kind::Info { text };
    }
    if let Some((code, text)) = line.strip_prefix("! ").and_then(|r| r.split_once(": ")) {
        return Kind::Error { code, text };
    }
    Kind::Other
}

/// The key in `-- Resume key: KEY (...)` (or the Korean `-- 재접속 키: KEY ...`).
pub fn resume_key(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("-- Resume key: ")
        .or_else(|| line.strip_prefix("-- 재접속 키: "))?;
    let key = rest.split(' ').next()?;
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric())).then_some(key)
}

/// Whether a line is the server's nickname prompt: the greeting
/// (`-- Welcome to reactor-chat! Enter your nickname:`) or the prompt again after a refusal, in
/// English or Korean.
pub fn is_nick_prompt(line: &str) -> bool {
    line.starts_with("-- ")
        && (line.ends_with("Enter your nickname:") || line.ends_with("대화명을 입력하세요:"))
}

/// The nickname in a welcome line: `-- Welcome, alice! ...`, `-- Welcome back, alice! ...`, or the
/// Korean `-- alice님, 환영합니다! ...` / `-- alice님, 다시 오신 것을 ...`.
pub fn welcome_nick(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("-- ")?;
    let nick = if let Some(r) = rest
        .strip_prefix("Welcome back, ")
        .or_else(|| rest.strip_prefix("Welcome, "))
    {
        r.split_once("! ")?.0
    } else {
        rest.split_once("님, ")?.0
    };
    (!nick.is_empty() && !nick.contains(' ')).then_some(nick)
}

/// The new nickname in the server's answer to `/nick NEW`: `-- You are now known as NEW` (the
/// English sentence has no full stop, and a name may end with one) or `-- 이제 대화명은 NEW입니다.`.
/// Only the server writes `-- ` lines, and a name has no spaces, so neither a chat line nor the
/// room's `[12:34] * alice is now known as alice2` can pass for it.
pub fn renamed_to(line: &str) -> Option<&str> {
    let nick = match line.strip_prefix("-- You are now known as ") {
        Some(n) => n,
        None => line
            .strip_prefix("-- 이제 대화명은 ")?
            .strip_suffix("입니다.")?,
    };
    (!nick.is_empty() && !nick.contains(' ')).then_some(nick)
}

/// Whether a line refuses a name, at login or for `/nick` (`! nick-taken: ...`, `! nick-held: ...`,
/// `! nick-invalid: ...`, `! nick-reserved: ...`, `! nick-banned: ...`): the code is the same in
/// both languages.
pub fn is_nick_refusal(line: &str) -> bool {
    matches!(classify(line), Kind::Error { code, .. } if code.starts_with("nick-"))
}

/// Whether a `bye` says another connection took this session over with its resume key. Coming
/// back would take it back in turn, and two clients would push each other out for ever.
pub fn is_taken_over(text: &str) -> bool {
    text.starts_with("your session was resumed from another connection")
        || text.starts_with("다른 연결에서 세션을 이어받았습니다")
}

/// A file offered to the room: `[12:34] * alice offers the file NAME (SIZE) as #ID: LINK`, the
/// link being the offer's download address (`.../files/ID/NAME?key=...`); this client takes it
/// with `/accept ID`, which sends the file framed on the chat connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: u64,
    pub from: String,
    pub name: String,
    /// The largest size the rounded size shown could stand for (`1.2 KiB` is at most 1280 bytes).
    pub max_bytes: u64,
}

/// Parses an offer line (English or Korean); `None` for anything else.
///
/// Note that `/me` lines share the notice shape, so an offer line can be forged by a user; the
/// caller checks the delivery itself (its size and sender) before saving an automatic accept.
pub fn offer(line: &str) -> Option<Offer> {
    let (_, rest) = split_stamp(line)?;
    let rest = rest.strip_prefix("* ")?;
    let (from, rest) = rest.split_once(' ')?;
    let (from, name_size, id, link) = if let Some(r) = rest.strip_prefix("offers the file ") {
        let (head, tail) = r.rsplit_once(" as #")?;
        let (id, link) = tail.split_once(": ")?;
        (from, head, id, link)
    } else if let Some(r) = rest.strip_prefix("파일 ") {
        let (head, tail) = r.rsplit_once("을(를) #")?;
        let (id, link) = tail.split_once("(으)로 보냈습니다: ")?;
        (from.strip_suffix("님이")?, head, id, link)
    } else {
        return None;
    };
    // The link names the same offer: `.../files/ID/...`, one word.
    (!link.contains(' ') && link.contains(&format!("/files/{id}/"))).then_some(())?;
    let (name, size) = name_size.strip_suffix(')')?.rsplit_once(" (")?;
    Some(Offer {
        id: id.parse().ok()?,
        from: from.to_string(),
        name: name.to_string(),
        max_bytes: max_bytes(size)?,
    })
}

/// The most bytes a size shown as `532 B`, `1.2 KiB`, `3.4 MiB` or `1.0 GiB` can mean (the server
/// rounds to one decimal, so the bound adds half a tenth of the unit).
pub fn max_bytes(shown: &str) -> Option<u64> {
    let (number, unit) = shown.split_once(' ')?;
    let unit: u64 = match unit {
        "B" => return number.parse().ok(),
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    let (whole, tenths) = number.split_once('.')?;
    let (whole, tenths): (u64, u64) = (whole.parse().ok()?, tenths.parse().ok()?);
    if tenths > 9 {
        return None;
    }
    // (whole + tenths/10 + 0.05) * unit, in integers: (whole*100 + tenths*10 + 5) * unit / 100.
    whole
        .checked_mul(100)?
        .checked_add(tenths * 10 + 5)?
        .checked_mul(unit)
        .map(|v| v.div_ceil(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nickname_prompts_in_both_languages() {
        assert!(is_nick_prompt(
            "-- Welcome to reactor-chat! Enter your nickname:"
        ));
        assert!(is_nick_prompt("-- Enter your nickname:"));
        assert!(is_nick_prompt("-- 대화명을 입력하세요:"));
        assert!(!is_nick_prompt("[12:34] bob: Enter your nickname:"));
        assert!(!is_nick_prompt("-- Welcome, alice! You are in room lobby."));
    }

    #[test]
    fn classifies_every_shape() {
        assert_eq!(
            classify("[12:34] alice: hello: there"),
            Kind::Chat {
                stamp: "[12:34]",
                nick: "alice",
                text: "hello: there"
            }
        );
        assert_eq!(
            classify("[12:34] *alice* psst"),
            Kind::Whisper {
                stamp: "[12:34]",
                nick: "alice",
                text: "psst"
            }
        );
        assert_eq!(
            classify("[12:34] [scheduled by alice] stand-up!"),
            Kind::Scheduled {
                stamp: "[12:34]",
                marker: "scheduled by alice",
                text: "stand-up!"
            }
        );
        assert_eq!(
            classify("[12:34] * alice joined"),
            Kind::Notice {
                stamp: "[12:34]",
                text: "alice joined"
            }
        );
        assert_eq!(
            classify("-- bye final: goodbye, alice"),
            Kind::Bye {
                is_final: true,
                text: "goodbye, alice"
            }
        );
        assert_eq!(
            classify("-- bye reconnect: ping timeout (no input for 2 s)"),
            Kind::Bye {
                is_final: false,
                text: "ping timeout (no input for 2 s)"
            }
        );
        assert_eq!(
            classify("-- -> *bob* hi"),
            Kind::WhisperSent { text: "*bob* hi" }
        );
        assert_eq!(
            classify("-- 2 users online: a, b"),
            Kind::Info {
                text: "2 users online: a, b"
            }
        );
        assert_eq!(
            classify("! nick-taken: bob is taken"),
            Kind::Error {
                code: "nick-taken",
                text: "bob is taken"
            }
        );
        for other in ["", "hello", "[1:2] x", "!", "--", "[12:34]"] {
            assert_eq!(classify(other), Kind::Other, "{other:?}");
        }
    }

    #[test]
    fn finds_the_resume_key_and_the_names() {
        let en = "-- Resume key: 3kq9x2m7c0ve (if your connection drops, log in as \"alice 3kq9x2m7c0ve\" within 120 s)";
        assert_eq!(resume_key(en), Some("3kq9x2m7c0ve"));
        assert_eq!(
            resume_key("-- 재접속 키: abc123 (연결이 ...)"),
            Some("abc123")
        );
        assert_eq!(resume_key("[12:00] bob: -- Resume key: x"), None);
        assert_eq!(resume_key("-- Resume key: \x1b[31m"), None);
        assert_eq!(
            welcome_nick("-- Welcome, alice! You are in room lobby."),
            Some("alice")
        );
        assert_eq!(
            welcome_nick("-- Welcome back, 김철수! You are in room lobby."),
            Some("김철수")
        );
        assert_eq!(
            welcome_nick("-- 김철수님, 환영합니다! 지금 lobby 방에 있습니다."),
            Some("김철수")
        );
        assert_eq!(welcome_nick("-- Type /help for the commands."), None);
    }

    /// Every line the server renders, in both languages: its pinned snapshot, where each
    /// `## En <event>` or `## Ko <event>` heading is followed by the lines of that event.
    fn server_lines() -> Vec<(&'static str, &'static str)> {
        let snapshot = include_str!("../../../src/render/line/snapshot.txt");
        let mut event = "";
        let mut lines = Vec::new();
        for line in snapshot.lines() {
            match line.strip_prefix("## ") {
                Some(heading) => event = heading,
                None => lines.push((event, line)),
            }
        }
        lines
    }

    #[test]
    fn a_rename_is_read_from_the_servers_answer_in_both_languages() {
        let answers: Vec<_> = server_lines()
            .into_iter()
            .filter_map(|(event, line)| {
                let nick = renamed_to(line);
                let is_answer = event.ends_with(" Info(NickChanged { nick: \"alicia\" })");
                assert_eq!(nick.is_some(), is_answer, "{event}\n{line}");
                nick.map(|n| (&event[..2], n))
            })
            .collect();
        assert_eq!(answers, [("En", "alicia"), ("Ko", "alicia")]);
        assert_eq!(renamed_to("-- You are now known as bob2"), Some("bob2"));
        assert_eq!(renamed_to("-- You are now known as j.r."), Some("j.r."));
        assert_eq!(renamed_to("-- 이제 대화명은 철수입니다."), Some("철수"));
        for not in [
            "[12:34] * alice is now known as alice2",
            "[12:34] bob: -- You are now known as bob2",
            "-- You are now known as ",
            "-- You are now known as a b",
            "-- 이제 대화명은 철수",
            "-- 이제 대화명은 입니다.",
        ] {
            assert_eq!(renamed_to(not), None, "{not:?}");
        }
    }

    #[test]
    fn a_refused_name_is_read_from_the_code_in_both_languages() {
        let mut refusals = 0;
        for (event, line) in server_lines() {
            let is_refusal = event.contains(" Refused(Nick");
            assert_eq!(is_nick_refusal(line), is_refusal, "{event}\n{line}");
            refusals += usize::from(is_refusal);
        }
        // Invalid (6 reasons), taken (2), held (2), banned and reserved, in each language.
        assert_eq!(refusals, 2 * 12);
        assert!(!is_nick_refusal("[12:34] bob: ! nick-taken: x"));
    }

    #[test]
    fn parses_offers_conservatively() {
        let line = "[12:34] * alice offers the file my (draft) notes.txt (1.2 KiB) as #3: http://127.0.0.1:8080/files/3/my%20%28draft%29%20notes.txt?key=abc";
        assert_eq!(
            offer(line),
            Some(Offer {
                id: 3,
                from: "alice".into(),
                name: "my (draft) notes.txt".into(),
                max_bytes: 1280,
            })
        );
        let ko = "[12:34] * alice님이 파일 a.png (532 B)을(를) #7(으)로 보냈습니다: http://[::1]:8080/files/7/a.png?key=abc";
        assert_eq!(
            offer(ko),
            Some(Offer {
                id: 7,
                from: "alice".into(),
                name: "a.png".into(),
                max_bytes: 532,
            })
        );
        for not in [
            "[12:34] * alice shares the file a.png (5 B) as #3",
            "[12:34] alice: offers the file a (5 B) as #3: http://h/files/3/a?key=k",
            "[12:34] * alice offers the file a (5 B) as #3: http://h/files/4/a?key=k",
            "[12:34] * alice offers the file a (five B) as #3: http://h/files/3/a?key=k",
            "[12:34] * alice offers the file a as #3: http://h/files/3/a?key=k",
            "[12:34] * alice offers the file a (5 B) as #3: see http://h/files/3/a?key=k",
        ] {
            assert_eq!(offer(not), None, "{not}");
        }
    }

    /// The server's rendering of sizes (`render::line::human_size` in the server).
    fn human_size(bytes: u64) -> String {
        let (b, kib) = (bytes as f64, 1024.0);
        match bytes {
            0..1024 => format!("{bytes} B"),
            _ if b < kib * kib => format!("{:.1} KiB", b / kib),
            _ if b < kib * kib * kib => format!("{:.1} MiB", b / (kib * kib)),
            _ => format!("{:.1} GiB", b / (kib * kib * kib)),
        }
    }

    #[test]
    fn sizes_are_read_as_their_upper_bound() {
        assert_eq!(max_bytes("0 B"), Some(0));
        assert_eq!(max_bytes("1023 B"), Some(1023));
        assert_eq!(max_bytes("1.0 KiB"), Some(1076)); // 1.05 KiB = 1075.2
        assert_eq!(max_bytes("1.5 KiB"), Some(1588)); // 1.55 KiB = 1587.2
        assert_eq!(max_bytes("3.4 MiB"), Some(3617588)); // 3.45 MiB = 3617587.2
        assert_eq!(max_bytes("1.0 GiB"), Some(1127428916)); // 1.05 GiB = 1127428915.2
        for bad in [
            "",
            "1",
            "1.2",
            "1.2 kB",
            "1.23 KiB",
            "-1 B",
            "x.5 KiB",
            "99999999999999999999.9 GiB",
        ] {
            assert_eq!(max_bytes(bad), None, "{bad:?}");
        }
        // Every size the server can render is within the bound it maps to.
        for bytes in (0..5_000_000u64).step_by(997) {
            let shown = human_size(bytes);
            assert!(max_bytes(&shown).unwrap() >= bytes, "{bytes} -> {shown}");
        }
    }
}
