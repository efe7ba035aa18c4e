//! Subscription plans and the caps the estimate measures against.

use std::fmt;
use std::str::FromStr;

/// The subscription plan, which sets the caps of the estimated windows.
///
/// `used` in every window is list-price cost in US dollars of the responses in that window.
/// The caps it is measured against:
///
/// | plan | five-hour cap | weekly cap (all models, Sonnet, Opus) | messages per 5 h (legacy) |
/// |---|---|---|---|
/// | `pro` | $18 | $180 | 45 |
/// | `max5` | $35 | $350 | 225 |
/// | `max20` | $140 | $1,400 | 900 |
/// | `unknown` | none | none | none |
///
/// - The five-hour caps are the per-session cost limits Claude-Code-Usage-Monitor uses.
/// - The weekly cap is ten times the five-hour cap, for the all-models window and the
///   per-model windows alike. This is a rough guide, not a published figure.
/// - The message caps are Anthropic's published guide ("about 45 messages per 5 hours" for
///   Pro, scaled by 5 and 20 for Max).
/// - `unknown` has no cap: `cap` and `pct` are `None`; a percentage is never invented.
/// - `pct = used / cap * 100`, rounded to 0.1 and not clamped: an estimate can exceed 100.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Plan {
    /// Claude Pro.
    Pro,
    /// Claude Max 5x.
    Max5,
    /// Claude Max 20x.
    Max20,
    /// Not known (an API key, a team plan, no credentials).
    #[default]
    Unknown,
}

impl Plan {
    /// Every plan.
    pub const ALL: [Plan; 4] = [Plan::Pro, Plan::Max5, Plan::Max20, Plan::Unknown];

    /// `pro`, `max5`, `max20` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Pro => "pro",
            Plan::Max5 => "max5",
            Plan::Max20 => "max20",
            Plan::Unknown => "unknown",
        }
    }

    /// The plan of a credential's `subscriptionType` and `rateLimitTier`.
    ///
    /// A tier containing `max_20x` is Max 20x, one containing `max_5x` is Max 5x; otherwise a
    /// subscription `pro` is Pro and `max` is Max 5x (the smaller Max plan, when the tier does
    /// not tell which); anything else is unknown. Comparisons ignore ASCII case.
    pub fn from_subscription(
        subscription_type: Option<&str>,
        rate_limit_tier: Option<&str>,
    ) -> Plan {
        let tier = rate_limit_tier.map(str::to_ascii_lowercase);
        let tier = tier.as_deref().unwrap_or("");
        if tier.contains("max_20x") {
            return Plan::Max20;
        }
        if tier.contains("max_5x") {
            return Plan::Max5;
        }
        match subscription_type
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("pro") => Plan::Pro,
            Some("max") => Plan::Max5,
            _ => Plan::Unknown,
        }
    }

    /// The five-hour cap in US dollars of list price, or `None` for an unknown plan.
    pub fn five_hour_cap_usd(self) -> Option<f64> {
        match self {
            Plan::Pro => Some(18.0),
            Plan::Max5 => Some(35.0),
            Plan::Max20 => Some(140.0),
            Plan::Unknown => None,
        }
    }

    /// The weekly cap in US dollars of list price (ten times the five-hour cap, a rough
    /// guide), or `None` for an unknown plan.
    pub fn weekly_cap_usd(self) -> Option<f64> {
        self.five_hour_cap_usd().map(|cap| cap * 10.0)
    }

    /// Anthropic's published guide of messages per five hours, or `None` for an unknown plan.
    pub fn message_cap(self) -> Option<u64> {
        match self {
            Plan::Pro => Some(45),
            Plan::Max5 => Some(225),
            Plan::Max20 => Some(900),
            Plan::Unknown => None,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plan name that is not `pro`, `max5`, `max20` or `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan {name:?}: expected pro, max5, max20 or unknown")]
pub struct ParsePlanError {
    /// The text that was given.
    pub name: String,
}

impl FromStr for Plan {
    type Err = ParsePlanError;

    /// Parses `pro`, `max5`, `max20` or `unknown` (ASCII case and surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Plan, ParsePlanError> {
        let lower = s.trim().to_ascii_lowercase();
        Plan::ALL
            .into_iter()
            .find(|plan| plan.as_str() == lower)
            .ok_or_else(|| ParsePlanError { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_parse(text: &str, expected: Option<Plan>) {
        assert_eq!(text.parse::<Plan>().ok(), expected, "{text:?}");
    }

    #[test]
    fn parses_and_prints() {
        check_parse("pro", Some(Plan::Pro));
        check_parse("max5", Some(Plan::Max5));
        check_parse("max20", Some(Plan::Max20));
        check_parse("unknown", Some(Plan::Unknown));
        check_parse(" Max20 ", Some(Plan::Max20));
        check_parse("max", None);
        check_parse("", None);
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>(), Ok(plan));
            assert_eq!(plan.to_string(), plan.as_str());
        }
        let err = "team".parse::<Plan>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown plan \"team\": expected pro, max5, max20 or unknown"
        );
    }

    #[track_caller]
    fn check_subscription(subscription: Option<&str>, tier: Option<&str>, expected: Plan) {
        assert_eq!(
            Plan::from_subscription(subscription, tier),
            expected,
            "{subscription:?} {tier:?}"
        );
    }

    #[test]
    fn from_subscription() {
        check_subscription(Some("max"), Some("default_claude_max_20x"), Plan::Max20);
        check_subscription(Some("max"), Some("default_claude_max_5x"), Plan::Max5);
        check_subscription(None, Some("default_claude_max_20x"), Plan::Max20);
        check_subscription(None, Some("DEFAULT_CLAUDE_MAX_5X"), Plan::Max5);
        check_subscription(Some("max"), None, Plan::Max5);
        check_subscription(Some("max"), Some("default_claude_ai"), Plan::Max5);
        check_subscription(Some("pro"), None, Plan::Pro);
        check_subscription(Some("Pro"), Some("default_claude_ai"), Plan::Pro);
        check_subscription(Some("team"), None, Plan::Unknown);
        check_subscription(Some("enterprise"), Some("default_claude_ai"), Plan::Unknown);
        check_subscription(None, None, Plan::Unknown);
        check_subscription(Some(""), Some(""), Plan::Unknown);
    }

    #[track_caller]
    fn check_caps(plan: Plan, five_hour: Option<f64>, weekly: Option<f64>, messages: Option<u64>) {
        assert_eq!(plan.five_hour_cap_usd(), five_hour, "{plan}");
        assert_eq!(plan.weekly_cap_usd(), weekly, "{plan}");
        assert_eq!(plan.message_cap(), messages, "{plan}");
    }

    #[test]
    fn caps() {
        check_caps(Plan::Pro, Some(18.0), Some(180.0), Some(45));
        check_caps(Plan::Max5, Some(35.0), Some(350.0), Some(225));
        check_caps(Plan::Max20, Some(140.0), Some(1400.0), Some(900));
        check_caps(Plan::Unknown, None, None, None);
    }
}
