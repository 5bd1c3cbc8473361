//! Lines about invitations to a room.

use bytes::BytesMut;

use super::{refuse, reply, Renderer};
use crate::chat::event::InviteNotice;
use crate::render::human::human_duration;
use crate::render::texts::invite as text;

impl Renderer {
    pub(super) fn invite(&self, buf: &mut BytesMut, notice: &InviteNotice) {
        let lang = self.lang;
        match notice {
            InviteNotice::Invited { from, room, secs } => {
                reply(buf, text::invited(lang, from, room, &human_duration(*secs)));
            }
            InviteNotice::Sent { to, room } => reply(buf, text::sent(lang, to, room)),
            InviteNotice::Accepted { by, room } => reply(buf, text::accepted(lang, by, room)),
            InviteNotice::Declined { by } => reply(buf, text::declined(lang, by)),
            InviteNotice::Expired { to, room } => reply(buf, text::expired(lang, to, room)),
            InviteNotice::YouDeclined { from } => reply(buf, text::you_declined(lang, from)),
            InviteNotice::Setting { on: true } => reply(buf, text::taking(lang)),
            InviteNotice::Setting { on: false } => reply(buf, text::refusing(lang)),
            InviteNotice::Refuses { nick } => refuse(buf, "invites-off", text::refuses(lang, nick)),
            InviteNotice::AlreadyThere { nick, room } => {
                refuse(buf, "already-there", text::already_there(lang, nick, room));
            }
            InviteNotice::NoneFrom { nick: Some(nick) } => {
                refuse(buf, "no-invitation", text::none_from(lang, nick));
            }
            InviteNotice::NoneFrom { nick: None } => refuse(buf, "no-invitation", text::none(lang)),
        }
    }
}
