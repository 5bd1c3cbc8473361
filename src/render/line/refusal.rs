//! Refusals (`! code: sentence`) and goodbyes (`-- bye reconnect: ...`, `-- bye final: ...`).
//! The codes and the reconnect word are for programs (PROTOCOL.md, "Refusals and goodbyes")
//! and are the same in every language.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::{line, refuse, Out, Renderer};
use crate::chat::event::{Bye, Refusal};
use crate::render::human::human_duration;
use crate::render::texts::refusal as text;
use crate::render::texts::reply::command_help;

impl Renderer {
    pub(super) fn refusal(&self, buf: &mut BytesMut, refusal: &Refusal) {
        let lang = self.lang;
        match refusal {
            Refusal::NickInvalid(why) => {
                refuse(buf, "nick-invalid", text::nick_invalid(lang, *why));
            }
            Refusal::NickTaken {
                nick,
                lookalike: false,
            } => refuse(buf, "nick-taken", text::nick_taken(lang, nick)),
            Refusal::NickTaken {
                nick,
                lookalike: true,
            } => refuse(buf, "nick-taken", text::nick_lookalike(lang, nick)),
            Refusal::NickHeld {
                nick,
                secs_left,
                wrong_key: false,
            } => refuse(buf, "nick-held", text::nick_held(lang, nick, *secs_left)),
            Refusal::NickHeld {
                nick,
                secs_left,
                wrong_key: true,
            } => refuse(
                buf,
                "nick-held",
                text::wrong_resume_key(lang, nick, *secs_left),
            ),
            Refusal::NickBanned { nick, minutes_left } => refuse(
                buf,
                "nick-banned",
                text::nick_banned(lang, nick, *minutes_left),
            ),
            Refusal::NickReserved { nick } => {
                refuse(buf, "nick-reserved", text::nick_reserved(lang, nick));
            }
            Refusal::ClusterDown => refuse(buf, "cluster-down", text::cluster_down(lang)),
            Refusal::LineTooLong { max } => {
                refuse(buf, "line-too-long", text::line_too_long(lang, *max));
            }
            Refusal::InvalidUtf8 => refuse(buf, "invalid-utf8", text::invalid_utf8(lang)),
            Refusal::UnknownCommand { command } => {
                refuse(buf, "unknown-command", text::unknown_command(lang, command))
            }
            Refusal::Usage(entry) => {
                line!(
                    buf,
                    "! usage: {} ({})",
                    entry.usage,
                    command_help(lang, entry)
                );
            }
            Refusal::NoSuchUser { nick } => {
                refuse(buf, "no-such-user", text::no_such_user(lang, nick));
            }
            Refusal::BadTarget => refuse(buf, "bad-target", text::bad_target(lang)),
            Refusal::AlreadyThere { room } => {
                refuse(buf, "already-there", text::already_there(lang, room));
            }
            Refusal::BadRoom { max_chars } => {
                refuse(buf, "bad-room", text::bad_room(lang, *max_chars));
            }
            Refusal::TopicLocked { room } => {
                refuse(buf, "topic-locked", text::topic_locked(lang, room));
            }
            Refusal::NotOperator => refuse(buf, "not-operator", text::not_operator(lang)),
            Refusal::BadKey => refuse(buf, "bad-key", text::bad_key(lang)),
            Refusal::NoAdminKey => refuse(buf, "no-admin-key", text::no_admin_key(lang)),
            Refusal::BadTime { horizon_secs } => {
                let horizon = human_duration(*horizon_secs);
                refuse(buf, "bad-time", text::bad_time(lang, &horizon));
            }
            Refusal::TooManySchedules { max } => refuse(
                buf,
                "too-many-schedules",
                text::too_many_schedules(lang, *max),
            ),
            Refusal::NoSuchSchedule { id } => {
                refuse(buf, "no-such-schedule", text::no_such_schedule(lang, id));
            }
            Refusal::Flood => refuse(buf, "flood", text::flood(lang)),
            Refusal::HistoryOff => refuse(buf, "history-off", text::history_off(lang)),
            Refusal::HistoryFailed => refuse(buf, "history-failed", text::history_failed(lang)),
            Refusal::BadDate => refuse(buf, "bad-date", text::bad_date(lang)),
            Refusal::NoSuchRoom { room } => {
                refuse(buf, "no-such-room", text::no_such_room(lang, room));
            }
            Refusal::NotInRoom { room } => {
                refuse(buf, "not-in-room", text::not_in_room(lang, room));
            }
            Refusal::TargetNotInRoom { nick, room } => refuse(
                buf,
                "target-not-in-room",
                text::target_not_in_room(lang, nick, room),
            ),
            Refusal::NotRoomOperator { room } => refuse(
                buf,
                "not-room-operator",
                text::not_room_operator(lang, room),
            ),
            Refusal::NoRoomYet => refuse(buf, "no-room", text::no_room_yet(lang)),
            Refusal::TooManyRooms { max } => {
                refuse(buf, "too-many-rooms", text::too_many_rooms(lang, *max));
            }
            Refusal::NotOverThisProtocol { command } => refuse(
                buf,
                "not-over-this-protocol",
                text::not_over_this_protocol(lang, command),
            ),
        }
    }

    pub(super) fn bye(&self, buf: &mut BytesMut, bye: &Bye) {
        let lang = self.lang;
        let how = if bye.may_reconnect() {
            "reconnect"
        } else {
            "final"
        };
        let _ = write!(Out(buf), "-- bye {how}: ");
        match bye {
            Bye::Quit { nick } => line!(buf, "{}", text::goodbye(lang, nick)),
            Bye::ServerFull { max } => line!(buf, "{}", text::server_full(lang, *max)),
            Bye::TooManyFromAddress { max } => {
                line!(buf, "{}", text::too_many_from_address(lang, *max));
            }
            Bye::TooManyWaitingFromAddress { max } => {
                line!(buf, "{}", text::too_many_waiting_from_address(lang, *max));
            }
            Bye::TooManyWaiting => line!(buf, "{}", text::too_many_waiting(lang)),
            Bye::LoginTimeout { secs } => line!(buf, "{}", text::login_timeout(lang, *secs)),
            Bye::PingTimeout { secs } => line!(buf, "{}", text::idle_timeout(lang, *secs)),
            Bye::ShuttingDown => line!(buf, "{}", text::shutting_down(lang)),
            Bye::ResumedElsewhere => line!(buf, "{}", text::resumed_elsewhere(lang)),
            Bye::Kicked { by, reason: None } => line!(buf, "{}", text::kicked_by(lang, by)),
            Bye::Kicked {
                by,
                reason: Some(r),
            } => line!(buf, "{}", text::kicked_by_for(lang, by, r)),
            Bye::Banned { minutes_left } => line!(buf, "{}", text::banned(lang, *minutes_left)),
            Bye::ExcessFlood => line!(buf, "{}", text::flooded_out(lang)),
            Bye::TlsOnly => line!(buf, "{}", text::tls_only(lang)),
        }
    }
}
