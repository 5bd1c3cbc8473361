//! What is said about invitations to a room.

use super::texts;

texts! {
    invited(from: &'a str, room: &'a str, within: &'a str) {
        en: "{from} invites you to room {room}: /accept-invite {from} to go there, /decline-invite {from} to say no (within {within})",
        ko: "{from}님이 {room} 방으로 초대했습니다: 가려면 /accept-invite {from}, 거절하려면 /decline-invite {from} ({within} 안에)",
    }
    sent(to: &'a str, room: &'a str) {
        en: "Invited {to} to {room}.",
        ko: "{to}님을 {room} 방으로 초대했습니다.",
    }
    accepted(by: &'a str, room: &'a str) {
        en: "{by} accepted your invitation to {room}.",
        ko: "{by}님이 {room} 방 초대를 받아들였습니다.",
    }
    declined(by: &'a str) {
        en: "{by} declined your invitation.",
        ko: "{by}님이 초대를 거절했습니다.",
    }
    expired(to: &'a str, room: &'a str) {
        en: "Your invitation of {to} to {room} expired.",
        ko: "{to}님에게 보낸 {room} 방 초대가 만료되었습니다.",
    }
    you_declined(from: &'a str) {
        en: "Declined {from}'s invitation.",
        ko: "{from}님의 초대를 거절했습니다.",
    }
    taking() {
        en: "You now take invitations.",
        ko: "이제 초대를 받습니다.",
    }
    refusing() {
        en: "You now refuse all invitations.",
        ko: "이제 모든 초대를 거절합니다.",
    }
    refuses(nick: &'a str) {
        en: "{nick} does not take invitations",
        ko: "{nick}님은 초대를 받지 않습니다",
    }
    already_there(nick: &'a str, room: &'a str) {
        en: "{nick} is already in {room}",
        ko: "{nick}님은 이미 {room} 방에 있습니다",
    }
    none_from(nick: &'a str) {
        en: "you have no invitation from {nick}",
        ko: "{nick}님에게서 받은 초대가 없습니다",
    }
    none() {
        en: "you have no invitation",
        ko: "받은 초대가 없습니다",
    }
}
