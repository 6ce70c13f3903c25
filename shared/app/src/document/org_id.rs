//! Webex organisation ids: one rule for every place that takes one (`webexctl auth init
//! --org-id` and a stream's `orgs`).

/// Why a text is not one Webex organisation id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgIdProblem {
    /// Several ids separated by commas, as the stack's `OrgId` parameter may hold.
    List,
    /// Not base64 text (of `ciscospark://us/ORGANIZATION/...`), or empty, or too long.
    NotAnId,
}

/// One Webex organisation id: base64 text (standard or URL-safe alphabet) of at most 256
/// characters.
pub fn check_org_id(org_id: &str) -> Result<(), OrgIdProblem> {
    if org_id.contains(',') {
        return Err(OrgIdProblem::List);
    }
    let valid = !org_id.is_empty()
        && org_id.len() <= 256
        && org_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'));
    if !valid {
        return Err(OrgIdProblem::NotAnId);
    }
    Ok(())
}

/// An organisation id an `http` stream lists: an id of its own API (`eu`, `tenant-1`), 1 to 128
/// of A-Z, a-z, 0-9 and `._:-`.
pub fn is_listed_org(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// The organisation of any unit of work: a Webex organisation id, or one a stream of another
/// source lists (its `-` when it has none).
pub fn is_unit_org(text: &str) -> bool {
    check_org_id(text).is_ok() || is_listed_org(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_org_id_is_one_base64_text() {
        assert_eq!(
            check_org_id("Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn"),
            Ok(())
        );
        assert_eq!(check_org_id("a,b"), Err(OrgIdProblem::List));
        for bad in ["", "org id", "org\u{1b}[31m", "ünï", &"a".repeat(300)] {
            assert_eq!(check_org_id(bad), Err(OrgIdProblem::NotAnId), "{bad:?}");
        }
    }
}
