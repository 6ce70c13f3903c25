//! The vocabulary of generated events: categories, resources, types and the people acting.
//! Values follow the OpenAPI subset and the examples in it.

/// An admin audit category: the name filters use, and how an event of it reads.
#[derive(Debug)]
pub(crate) struct AdminCategory {
    pub name: &'static str,
    pub description: &'static str,
    pub target_type: &'static str,
    /// `{actor}` and `{target}` are replaced.
    pub action: &'static str,
}

pub(crate) const ADMIN_CATEGORIES: &[AdminCategory] = &[
    AdminCategory {
        name: "LOGINS",
        description: "An Admin logged in",
        target_type: "TargetResourceType.ORG",
        action: "{actor} logged into organization {target}",
    },
    AdminCategory {
        name: "USERS",
        description: "A user was updated",
        target_type: "TargetResourceType.USER",
        action: "{actor} updated the user {target}",
    },
    AdminCategory {
        name: "LICENSES",
        description: "Licenses were assigned",
        target_type: "TargetResourceType.USER",
        action: "{actor} assigned the Meetings license to {target}",
    },
    AdminCategory {
        name: "DEVICES",
        description: "A device was added",
        target_type: "TargetResourceType.DEVICE",
        action: "{actor} added the device {target}",
    },
    AdminCategory {
        name: "ORG_SETTINGS",
        description: "An organization setting was changed",
        target_type: "TargetResourceType.ORG",
        action: "{actor} changed a setting of organization {target}",
    },
    AdminCategory {
        name: "COMPLIANCE",
        description: "A compliance officer role was assigned",
        target_type: "TargetResourceType.USER",
        action: "{actor} assigned the compliance officer role to {target}",
    },
];

/// Security audit currently returns sign-in and sign-out data only (OpenAPI description).
/// (name, description, action, weight)
pub(crate) const SECURITY_CATEGORIES: &[(&str, &str, &str, u32)] = &[
    (
        "LOGINS",
        "A user logged in",
        "{actor} logged into organization {org}",
        3,
    ),
    (
        "LOGOUT",
        "A user logged out",
        "{actor} logged out of organization {org}",
        2,
    ),
];

/// `EventResourceEnum` with a realistic weight and the types each resource produces
/// (repeats weight a type).
pub(crate) const RESOURCES: &[(&str, u32, &[&str])] = &[
    (
        "messages",
        35,
        &[
            "created", "created", "created", "created", "updated", "deleted",
        ],
    ),
    (
        "memberships",
        12,
        &["created", "created", "updated", "deleted"],
    ),
    ("rooms", 6, &["created", "updated"]),
    ("meetings", 8, &["ended"]),
    ("files", 10, &["created", "created", "deleted"]),
    ("meetingMessages", 6, &["created", "created", "deleted"]),
    ("attachmentActions", 3, &["created"]),
    ("tabs", 2, &["created", "updated", "deleted"]),
    ("call_records", 8, &["created"]),
    ("meetingTranscripts", 3, &["created"]),
    ("file_transcodings", 2, &["updated"]),
    ("businessTexts", 2, &["created"]),
    ("convergedRecordings", 3, &["created", "deleted"]),
];

/// `EventTypeEnum`.
pub(crate) const EVENT_TYPES: &[&str] = &["created", "updated", "deleted", "ended"];

/// (display name, email local part)
pub(crate) const PEOPLE: &[(&str, &str)] = &[
    ("Joe Smith", "joe.smith"),
    ("Ana Lima", "ana.lima"),
    ("Kenji Sato", "kenji.sato"),
    ("Priya Nair", "priya.nair"),
    ("Lars Berg", "lars.berg"),
    ("Fatima Zahra", "fatima.zahra"),
    ("Tom O'Neil", "tom.oneil"),
    ("Chloé Martin", "chloe.martin"),
];

pub(crate) const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/71.0.3578.98 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Webex/44.10.0.30906 (Windows 11; x64)",
];

/// Category filters may name `LOGINS` or `EventCategory.LOGINS` (the form in admin audit
/// `data.eventCategory`); both mean the same category.
pub(crate) fn normalise_category(text: &str) -> String {
    let trimmed = text.trim();
    let name = match trimmed.get(..14) {
        Some(prefix) if prefix.eq_ignore_ascii_case("EventCategory.") => &trimmed[14..],
        _ => trimmed,
    };
    name.to_ascii_uppercase()
}

/// Picks an index with probability proportional to its weight.
pub(crate) fn weighted<T>(
    rng: &mut fastrand::Rng,
    items: &[T],
    weight: impl Fn(&T) -> u32,
) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut ticket = rng.u32(..total.max(1));
    for (index, item) in items.iter().enumerate() {
        let w = weight(item);
        if ticket < w {
            return index;
        }
        ticket -= w;
    }
    items.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names_normalise() {
        let cases = [
            ("LOGINS", "LOGINS"),
            ("EventCategory.LOGINS", "LOGINS"),
            ("eventcategory.logins", "LOGINS"),
            (" org_settings ", "ORG_SETTINGS"),
            ("EventCategory.", ""),
            ("Logout", "LOGOUT"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalise_category(input), expected, "{input}");
        }
    }

    #[test]
    fn weighted_choice_follows_weights() {
        let mut rng = fastrand::Rng::with_seed(3);
        let items = [("never", 0_u32), ("rare", 1), ("common", 9)];
        let mut counts = [0; 3];
        for _ in 0..10_000 {
            counts[weighted(&mut rng, &items, |i| i.1)] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1] > 700 && counts[1] < 1_300, "{counts:?}");
    }

    #[test]
    fn resources_and_types_are_the_openapi_enums() {
        assert_eq!(RESOURCES.len(), 13);
        for (_, _, types) in RESOURCES {
            assert!(types.iter().all(|t| EVENT_TYPES.contains(t)));
        }
    }
}
