//! Where the cluster's Redis is and how to log in to it, read from a `redis://` URL as operators
//! write them: `redis://host`, `redis://host:port/db`, `redis://user:password@host:port/3`,
//! `redis://[::1]:6380`.
//!
//! The user and password are percent-decoded (`p%40ss` is `p@ss`), as in every other Redis
//! client. The password is kept for the handshake but never shown: [`RedisUrl`]'s `Display`,
//! which log lines use, prints `***` in its place.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The port Redis listens on unless told otherwise.
const DEFAULT_PORT: u16 = 6379;

/// Characters a user name keeps unescaped when shown: RFC 3986's unreserved set.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed `redis://` URL. Its `Debug`, like its `Display`, hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// A name or an IP address, without the brackets of an IPv6 address.
    pub host: String,
    pub port: u16,
    /// The ACL user to log in as; `None` with a password means Redis's `default` user.
    pub user: Option<String>,
    pub password: Option<String>,
    /// The database `SELECT`ed after the handshake.
    pub db: u32,
}

impl RedisUrl {
    /// `host:port`, what `ToSocketAddrs` takes; an IPv6 host is bracketed (`[::1]:6379`).
    pub fn addr_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<RedisUrl, String> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!(
                "'{text}' is not a Redis URL: write it as redis://host:port"
            ));
        };
        if scheme.eq_ignore_ascii_case("rediss") {
            return Err("rediss:// (Redis over TLS) is not supported yet: use redis://".into());
        }
        if !scheme.eq_ignore_ascii_case("redis") {
            return Err(format!(
                "the scheme '{scheme}://' is not supported: use redis://host:port"
            ));
        }
        if rest.contains(['?', '#']) {
            return Err(format!(
                "'{text}' has options after '?' or '#', which are not supported: \
                 write redis://user:password@host:port/db"
            ));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        // The last '@' ends the user and password, so a password with an unescaped '@' still works.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                (decoded(user, "user")?, decoded(password, "password")?)
            }
        };
        if let (Some(user), None) = (&user, &password) {
            return Err(format!(
                "the URL names the user '{user}' but no password: write redis://{user}:password@host"
            ));
        }
        let (host, port) = host_and_port(hostport)?;
        let db = match path {
            "" => 0,
            db => db.parse::<u32>().map_err(|_| {
                format!("the database '{db}' is not a number: write redis://host:port/0")
            })?,
        };
        Ok(RedisUrl {
            host,
            port,
            user,
            password,
            db,
        })
    }
}

/// The percent-decoded user or password; `None` when empty.
fn decoded(part: &str, what: &str) -> Result<Option<String>, String> {
    if part.is_empty() {
        return Ok(None);
    }
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| Some(s.into_owned()))
        .map_err(|_| format!("the {what} in the URL is not UTF-8 once percent-decoded"))
}

/// Splits `host[:port]` or `[v6]:port`.
fn host_and_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(format!("'{hostport}' opens a '[' it does not close"));
        };
        let port = match after {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("'{after}' after ']' is not ':port'")),
            },
        };
        (host, port)
    } else {
        match hostport.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err(format!(
                    "'{hostport}': an IPv6 address goes in brackets, as in redis://[::1]:6379"
                ))
            }
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("the URL has no host: write redis://host:port".into());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(format!("'{port}' is not a port number (1 to 65535)")),
        },
    };
    Ok((host.to_owned(), port))
}

impl fmt::Display for RedisUrl {
    /// `redis://user:***@host:port/db`: the password is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        if let Some(user) = &self.user {
            write!(f, "{}", utf8_percent_encode(user, USERINFO))?;
        }
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        if self.user.is_some() || self.password.is_some() {
            f.write_str("@")?;
        }
        write!(f, "{}/{}", self.addr_string(), self.db)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> RedisUrl {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn error(text: &str) -> String {
        match text.parse::<RedisUrl>() {
            Ok(parsed) => panic!("{text} parsed as {parsed:?}"),
            Err(e) => e,
        }
    }

    fn plain(host: &str, port: u16, db: u32) -> RedisUrl {
        RedisUrl {
            host: host.into(),
            port,
            user: None,
            password: None,
            db,
        }
    }

    #[test]
    fn host_alone_takes_the_default_port_and_db_0() {
        assert_eq!(
            url("redis://cache.internal"),
            plain("cache.internal", 6379, 0)
        );
        assert_eq!(
            url("redis://cache.internal/"),
            plain("cache.internal", 6379, 0)
        );
    }

    #[test]
    fn port_and_db() {
        assert_eq!(url("redis://10.0.0.5:6380"), plain("10.0.0.5", 6380, 0));
        assert_eq!(url("redis://10.0.0.5:6380/7"), plain("10.0.0.5", 6380, 7));
        assert_eq!(url("REDIS://h:1/0"), plain("h", 1, 0));
    }

    #[test]
    fn password_alone_means_the_default_user() {
        let parsed = url("redis://:secret@h");
        assert_eq!(parsed.user, None);
        assert_eq!(parsed.password.as_deref(), Some("secret"));
        assert_eq!((parsed.port, parsed.db), (6379, 0));
    }

    #[test]
    fn user_password_port_and_db() {
        assert_eq!(
            url("redis://alice:pw@h:6390/3"),
            RedisUrl {
                host: "h".into(),
                port: 6390,
                user: Some("alice".into()),
                password: Some("pw".into()),
                db: 3,
            }
        );
    }

    #[test]
    fn user_and_password_are_percent_decoded() {
        let parsed = url("redis://al%3Aice:p%40ss%2Fw%C3%B6rd@h");
        assert_eq!(parsed.user.as_deref(), Some("al:ice"));
        assert_eq!(parsed.password.as_deref(), Some("p@ss/wörd"));
        // An unescaped '@' in the password: the last '@' ends it.
        assert_eq!(url("redis://:a@b@h").password.as_deref(), Some("a@b"));
        assert!(error("redis://:%FF@h").contains("not UTF-8"));
    }

    #[test]
    fn ipv6_hosts_in_brackets() {
        assert_eq!(url("redis://[::1]:6380"), plain("::1", 6380, 0));
        assert_eq!(url("redis://[fe80::1]/2"), plain("fe80::1", 6379, 2));
        assert_eq!(url("redis://[::1]:6380").addr_string(), "[::1]:6380");
        assert!(error("redis://::1:6380").contains("in brackets"));
        assert!(error("redis://[::1:6380").contains("does not close"));
        assert!(error("redis://[::1]6380").contains("not ':port'"));
    }

    #[test]
    fn addr_string_is_host_colon_port() {
        assert_eq!(url("redis://h").addr_string(), "h:6379");
        assert_eq!(
            url("redis://127.0.0.1:7000/1").addr_string(),
            "127.0.0.1:7000"
        );
    }

    #[test]
    fn tls_is_refused_with_what_to_use_instead() {
        assert_eq!(
            error("rediss://h:6380"),
            "rediss:// (Redis over TLS) is not supported yet: use redis://"
        );
    }

    #[test]
    fn other_schemes_and_no_scheme_are_refused() {
        assert_eq!(
            error("http://h"),
            "the scheme 'http://' is not supported: use redis://host:port"
        );
        assert!(error("unix:///run/redis.sock").contains("'unix://' is not supported"));
        assert!(error("localhost:6379").contains("is not a Redis URL"));
    }

    #[test]
    fn empty_host_is_refused() {
        let expected = "the URL has no host: write redis://host:port";
        assert_eq!(error("redis://"), expected);
        assert_eq!(error("redis://:6379"), expected);
        assert_eq!(error("redis://:pw@/1"), expected);
        assert_eq!(error("redis://[]:6379"), expected);
    }

    #[test]
    fn bad_ports_are_refused() {
        assert_eq!(
            error("redis://h:http"),
            "'http' is not a port number (1 to 65535)"
        );
        assert_eq!(
            error("redis://h:65536"),
            "'65536' is not a port number (1 to 65535)"
        );
        assert_eq!(
            error("redis://h:0"),
            "'0' is not a port number (1 to 65535)"
        );
        assert_eq!(error("redis://h:"), "'' is not a port number (1 to 65535)");
    }

    #[test]
    fn db_must_be_a_number() {
        assert_eq!(
            error("redis://h/sessions"),
            "the database 'sessions' is not a number: write redis://host:port/0"
        );
        assert!(error("redis://h/-1").contains("'-1' is not a number"));
        assert!(error("redis://h/1/2").contains("'1/2' is not a number"));
    }

    #[test]
    fn user_without_password_and_options_are_refused() {
        assert!(error("redis://alice@h").contains("names the user 'alice' but no password"));
        assert!(error("redis://h/0?protocol=resp3").contains("options after '?'"));
    }

    #[test]
    fn display_never_shows_the_password() {
        assert_eq!(url("redis://h").to_string(), "redis://h:6379/0");
        assert_eq!(
            url("redis://:secret@h:1/2").to_string(),
            "redis://:***@h:1/2"
        );
        assert_eq!(
            url("redis://al%40ice:s3cr3t@[::1]:6380/3").to_string(),
            "redis://al%40ice:***@[::1]:6380/3"
        );
        let debug = format!("{:?}", url("redis://:s3cr3t@h"));
        assert!(debug.contains("password: Some(\"***\")") && !debug.contains("s3cr3t"));
    }
}
