//! Nickname validation: never panics; an accepted name is 1 to 24 visible characters; its
//! collision key is stable (a name collides with itself, in any case).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reactor_chat::chat::nick::{collision_key, validate, MAX_NICK_CHARS};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let key = collision_key(name);
    if validate(name).is_ok() {
        let chars = name.chars().count();
        assert!((1..=MAX_NICK_CHARS).contains(&chars));
        assert!(!name.chars().any(char::is_whitespace));
        assert!(!key.is_empty());
        assert_eq!(collision_key(&name.to_uppercase()), collision_key(&name.to_lowercase()));
    }
    assert_eq!(collision_key(name), key, "the collision key is not stable");
});
