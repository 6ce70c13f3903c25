//! Validating an event query: the parameters each endpoint takes, their limits, and where the
//! page starts. Every refusal names the parameter, as Webex's 400 messages do.

use axum::http::{StatusCode, Uri};

use crate::catalog::{EVENT_TYPES, RESOURCES, normalise_category};
use crate::config::Stream;
use crate::paging::Cursor;
use crate::query::Params;
use crate::selection::Filter;
use crate::state::Shared;
use crate::tokens::Grant;

/// "A maximum of one year of audit events can be returned per request."
const MAX_SPAN_MS: i64 = 365 * 86_400_000;
const DEFAULT_MAX: u64 = 100;

/// Why a query gets no page: a 400/403 with a message, or the 504 of the `max` limit.
pub(crate) enum Refusal {
    Invalid(StatusCode, String),
    GatewayTimeout,
}

impl From<String> for Refusal {
    fn from(message: String) -> Refusal {
        Refusal::Invalid(StatusCode::BAD_REQUEST, message)
    }
}

/// How the next page is addressed.
pub(crate) enum Paging {
    /// Admin audit: `offset=<n>`, and a `Link` only when configured.
    Offset,
    /// Security audit and compliance: always a `Link` with an opaque `cursor`.
    Cursor { as_of_ms: i64 },
}

/// A validated query.
pub(crate) struct PageQuery {
    /// Whose events: the `orgId` named (audit), or the token's own org (compliance).
    pub org_id: String,
    pub filter: Filter,
    pub offset: usize,
    pub max: usize,
    pub shuffle_key: u64,
    pub paging: Paging,
}

/// The validated query of a request to `stream`'s endpoint by `grant`, read at sim time
/// `now_ms`.
pub(crate) fn parse(
    shared: &Shared,
    stream: Stream,
    uri: &Uri,
    now_ms: i64,
    grant: &Grant,
) -> Result<PageQuery, Refusal> {
    let params = Params::from_uri(uri)?;
    match stream {
        Stream::AdminAudit => admin_query(shared, &params, now_ms, grant),
        Stream::SecurityAudit => security_query(shared, &params, now_ms, grant),
        Stream::ComplianceEvents => compliance_query(shared, &params, now_ms, grant),
    }
}

fn admin_query(
    shared: &Shared,
    params: &Params,
    now_ms: i64,
    grant: &Grant,
) -> Result<PageQuery, Refusal> {
    let org_id = check_org(shared, params, grant, Stream::AdminAudit)?;
    let from_ms = params.required_time("from")?;
    let to_ms = params.required_time("to")?;
    check_span(from_ms, to_ms, "from", "to")?;
    refuse_actor_filter(params)?;
    Ok(PageQuery {
        org_id,
        filter: Filter {
            from_ms,
            to_ms,
            as_of_ms: now_ms,
            categories: categories(params),
            ..Filter::default()
        },
        offset: to_usize(params.integer("offset", 0, 0, u64::MAX)?),
        max: to_usize(params.integer("max", DEFAULT_MAX, 1, 200)?),
        shuffle_key: params.query_key(shared.config.seed, &["offset", "max"]),
        paging: Paging::Offset,
    })
}

fn security_query(
    shared: &Shared,
    params: &Params,
    now_ms: i64,
    grant: &Grant,
) -> Result<PageQuery, Refusal> {
    let org_id = check_org(shared, params, grant, Stream::SecurityAudit)?;
    let from_ms = params.required_time("startTime")?;
    let to_ms = params.required_time("endTime")?;
    check_span(from_ms, to_ms, "startTime", "endTime")?;
    refuse_actor_filter(params)?;
    let cursor = cursor(params, now_ms)?;
    Ok(PageQuery {
        org_id,
        filter: Filter {
            from_ms,
            to_ms,
            as_of_ms: cursor.as_of_ms,
            categories: categories(params),
            ..Filter::default()
        },
        offset: cursor.offset,
        max: to_usize(params.integer("max", DEFAULT_MAX, 1, 1_000)?),
        shuffle_key: params.query_key(shared.config.seed, &["cursor", "max"]),
        paging: Paging::Cursor {
            as_of_ms: cursor.as_of_ms,
        },
    })
}

/// Compliance events are always those of the token's own org: the endpoint takes no `orgId`
/// ("events in your user's organization").
fn compliance_query(
    shared: &Shared,
    params: &Params,
    now_ms: i64,
    grant: &Grant,
) -> Result<PageQuery, Refusal> {
    let org_id = grant.person.org_id.clone();
    check_refusal(shared, &org_id, Stream::ComplianceEvents)?;
    let cursor = cursor(params, now_ms)?;
    let to_ms = match params.time("to")? {
        Some(to) if to > now_ms => {
            return Err("Invalid 'to': it cannot be in the future."
                .to_owned()
                .into());
        }
        Some(to) => to,
        // "If not specified, events up to the present time will be listed."
        None => cursor.as_of_ms,
    };
    let from_ms = params.time("from")?.unwrap_or(i64::MIN);
    if from_ms >= to_ms {
        return Err("'from' must be before 'to'.".to_owned().into());
    }
    let resource = one_of(params, "resource", RESOURCES.iter().map(|r| r.0))?;
    let event_type = one_of(params, "type", EVENT_TYPES.iter().copied())?;
    let service_type = one_of(params, "serviceType", ["calling"])?;
    if resource.as_deref() == Some("convergedRecordings") && service_type.is_none() {
        return Err(
            "'serviceType' is required when 'resource' is convergedRecordings."
                .to_owned()
                .into(),
        );
    }
    refuse_actor_filter(params)?;
    Ok(PageQuery {
        org_id,
        filter: Filter {
            from_ms,
            to_ms,
            as_of_ms: cursor.as_of_ms,
            resource,
            event_type,
            ..Filter::default()
        },
        offset: cursor.offset,
        max: to_usize(params.integer("max", DEFAULT_MAX, 1, 1_000)?),
        shuffle_key: params.query_key(shared.config.seed, &["cursor", "max"]),
        paging: Paging::Cursor {
            as_of_ms: cursor.as_of_ms,
        },
    })
}

/// The `orgId` of an audit request, if the token may read it: the user's own org, or one
/// they manage as a partner administrator; and if that org is not refusing the stream.
fn check_org(
    shared: &Shared,
    params: &Params,
    grant: &Grant,
    stream: Stream,
) -> Result<String, Refusal> {
    let org_id = params.required("orgId")?;
    if !shared.lock().orgs.may_see(&grant.person, org_id) {
        return Err(Refusal::Invalid(
            StatusCode::FORBIDDEN,
            format!("The token is not allowed to read events of organization '{org_id}'."),
        ));
    }
    check_refusal(shared, org_id, stream)?;
    Ok(org_id.to_owned())
}

/// A 403 scripted with `Simulator::refuse_org`, worded as Webex words its two usual causes.
fn check_refusal(shared: &Shared, org_id: &str, stream: Stream) -> Result<(), Refusal> {
    if !shared.lock().orgs.refuses(org_id, stream) {
        return Ok(());
    }
    let message = match stream {
        Stream::SecurityAudit => format!(
            "Security audit events of organization '{org_id}' require Pro Pack and the \"Allow user authentication data\" setting."
        ),
        Stream::AdminAudit | Stream::ComplianceEvents => {
            format!("The user is no longer allowed to access organization '{org_id}'.")
        }
    };
    Err(Refusal::Invalid(StatusCode::FORBIDDEN, message))
}

fn check_span(from_ms: i64, to_ms: i64, from: &str, to: &str) -> Result<(), Refusal> {
    if from_ms >= to_ms {
        return Err(format!("'{from}' must be before '{to}'.").into());
    }
    if to_ms.saturating_sub(from_ms) > MAX_SPAN_MS {
        return Err(format!(
            "The range from '{from}' to '{to}' may span at most one year (365 days)."
        )
        .into());
    }
    Ok(())
}

/// The simulator does not model who acted, and silently ignoring the filter would hand a
/// client more events than it asked for.
fn refuse_actor_filter(params: &Params) -> Result<(), Refusal> {
    if params.has("actorId") {
        return Err("'actorId' filtering is not supported by webex-sim."
            .to_owned()
            .into());
    }
    Ok(())
}

/// The cursor-paged endpoints page only by `Link`: an `offset` is refused loudly so a client
/// that pages by offset there fails a test instead of looping over the first page.
fn cursor(params: &Params, now_ms: i64) -> Result<Cursor, Refusal> {
    if params.has("offset") {
        return Err(
            "Unknown parameter 'offset': follow the Link header to page."
                .to_owned()
                .into(),
        );
    }
    match params.get("cursor") {
        None => Ok(Cursor {
            offset: 0,
            as_of_ms: now_ms,
        }),
        Some(text) => Cursor::decode(text)
            .ok_or_else(|| Refusal::from(format!("Invalid 'cursor': '{text}'."))),
    }
}

fn categories(params: &Params) -> Option<Vec<String>> {
    params
        .list("eventCategories")
        .map(|names| names.iter().map(|n| normalise_category(n)).collect())
}

fn one_of<'a>(
    params: &Params,
    name: &str,
    allowed: impl IntoIterator<Item = &'a str>,
) -> Result<Option<String>, Refusal> {
    let Some(value) = params.get(name) else {
        return Ok(None);
    };
    let allowed: Vec<&str> = allowed.into_iter().collect();
    if allowed.contains(&value) {
        Ok(Some(value.to_owned()))
    } else {
        Err(format!(
            "Invalid '{name}': '{value}'. It must be one of: {}.",
            allowed.join(", ")
        )
        .into())
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_checked() {
        let day = 86_400_000;
        assert!(check_span(0, 365 * day, "from", "to").is_ok());
        assert!(check_span(0, 365 * day + 1, "from", "to").is_err());
        assert!(check_span(5, 5, "from", "to").is_err());
        assert!(check_span(6, 5, "from", "to").is_err());
    }

    #[test]
    fn enums_are_checked() {
        let uri: Uri = "/v1/events?resource=messages&type=bogus".parse().unwrap();
        let params = Params::from_uri(&uri).unwrap();
        let resources = RESOURCES.iter().map(|r| r.0);
        assert_eq!(
            one_of(&params, "resource", resources).ok(),
            Some(Some("messages".to_owned()))
        );
        assert!(one_of(&params, "type", EVENT_TYPES.iter().copied()).is_err());
        assert!(matches!(one_of(&params, "absent", ["x"]), Ok(None)));
    }
}
