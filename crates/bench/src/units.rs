//! Numbers for people.

/// `6.52M`, `812k`, `950`: rates for people.
pub fn si(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_prefixes() {
        assert_eq!(si(6_523_000.0), "6.52M");
        assert_eq!(si(812_400.0), "812.4k");
        assert_eq!(si(950.0), "950");
    }
}
