//! A snapshot of rooms and users for operators (`GET /status`), as plain data.

use serde::Serialize;

use super::nick::cmp_nicks;
use super::Chat;

/// Every room with its users.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub users_online: usize,
    pub users_reconnecting: usize,
    pub rooms: Vec<RoomStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomStatus {
    pub name: String,
    pub topic: Option<String>,
    pub users: Vec<UserStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserStatus {
    pub nick: String,
    pub op: bool,
    pub away: Option<String>,
    /// False while the user is held for a reconnect.
    pub connected: bool,
}

impl Chat {
    /// Rooms sorted by name, users sorted case-insensitively.
    pub fn status(&self) -> Status {
        let mut rooms: Vec<RoomStatus> = self
            .rooms
            .iter()
            .map(|(_, room)| {
                let mut users: Vec<UserStatus> = room
                    .members()
                    .iter()
                    .map(|&sid| {
                        let s = &self.sessions[sid];
                        UserStatus {
                            nick: s.nick().to_string(),
                            op: s.is_op(),
                            away: s.away().map(|a| a.to_string()),
                            connected: s.is_connected(),
                        }
                    })
                    .collect();
                users.sort_by(|a, b| cmp_nicks(&a.nick, &b.nick));
                RoomStatus {
                    name: room.name().to_string(),
                    topic: room.topic().map(|(t, _)| t.to_string()),
                    users,
                }
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        let online = self.sessions.live();
        Status {
            users_online: online,
            users_reconnecting: self.sessions.len() - online,
            rooms,
        }
    }

    /// Rooms that exist now.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }
}
