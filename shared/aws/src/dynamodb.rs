//! The state table (DESIGN §4): one item per cursor, lease and lock, keyed by `pk`. Every write
//! is conditional, so two runs can never both believe they own a stream or both commit.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use collector_core::cursor::{Cursor, CursorKey, DigestAt, LastError, RunStats, Status};
use collector_core::error::ErrorKind;
use collector_core::identity::{IdentityName, IdentityUse};
use collector_core::ports::{
    ClaimStore, CursorStore, DeliveryClaim, DueLedger, LeaseStore, OAuthStateStore, PaceLedger,
    PendingAuthorisation, StoreError, StoreFuture,
};
use collector_core::recent_ids::RecentIds;
use collector_core::time::Timestamp;
use collector_core::window::Window;

use crate::sdk_error::AwsCallError;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoStateStore {
    client: Client,
    table: String,
}

impl DynamoStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A lease or lock item for `owner` until `until`; the caller adds its condition, which
    /// may refer to `#owner` and `:owner`.
    fn lease_put(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(name))
            .item("owner", s(owner))
            .item("expires_at_ms", n(until.millis()))
            // Seconds, for DynamoDB's TTL to remove leases nobody released.
            .item("expires_at", n(until.unix_seconds() + 1))
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
    }

    /// Every cursor of the table, the live units' and the backfills', for `webexctl status`.
    pub async fn list_cursors(&self) -> Result<Vec<(CursorKey, Cursor)>, StoreError> {
        self.cursors_under(&["cursor#", "backfill#"]).await
    }

    /// Every cursor whose item key starts with one of `prefixes`: one scan, for the operator's
    /// commands (the table is keyed by `pk` alone, and a scan reads every item whatever it
    /// keeps).
    async fn cursors_under(
        &self,
        prefixes: &[&str],
    ) -> Result<Vec<(CursorKey, Cursor)>, StoreError> {
        let names: Vec<String> = (0..prefixes.len()).map(|i| format!(":p{i}")).collect();
        let filter = names
            .iter()
            .map(|name| format!("begins_with(pk, {name})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut cursors = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(&filter);
            for (name, prefix) in names.iter().zip(prefixes) {
                scan = scan.expression_attribute_values(name, s(prefix));
            }
            let page = scan
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB Scan", e))?;
            for item in page.items() {
                let pk = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                // An item of another kind whose key happens to start alike: not a cursor.
                let Some(key) = CursorKey::parse(&pk) else {
                    continue;
                };
                cursors.push((key, cursor_from_item(&pk, item)?));
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(cursors),
            }
        }
    }
}

/// How long a webhook delivery's claim is kept: a replay of the same bytes within this lands
/// nowhere new; Webex's own retries end within minutes.
const CLAIM_RETENTION_S: i64 = 30 * 24 * 3600;

fn claim_key(digest: &str) -> String {
    format!("webhook#{digest}")
}

/// `webhook#{digest}`: one item per delivery body, `object` and `until_ms` its claim.
/// The registrar's record of an organisation's webhooks (`webhooks#{org}`): what it must
/// remember between runs, as the JSON text the registrar gives. One registrar runs at a time
/// (the function's reserved concurrency, or an operator's `webexctl webhooks sync`), so the
/// last write wins.
impl DynamoStateStore {
    pub async fn webhooks_record(&self, org_id: &str) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&webhooks_key(org_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB GetItem (webhooks record)", e))?;
        Ok(output
            .item()
            .and_then(|item| item.get("record"))
            .and_then(|v| v.as_s().ok())
            .cloned())
    }

    pub async fn put_webhooks_record(&self, org_id: &str, record: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&webhooks_key(org_id)))
            .item("record", s(record))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB PutItem (webhooks record)", e))?;
        Ok(())
    }
}

fn webhooks_key(org_id: &str) -> String {
    format!("webhooks#{org_id}")
}

impl ClaimStore for DynamoStateStore {
    async fn claim_of(&self, digest: &str) -> Result<Option<DeliveryClaim>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&claim_key(digest)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB GetItem (webhook claim)", e))?;
        let Some(item) = output.item() else {
            return Ok(None);
        };
        let object = item.get("object").and_then(|v| v.as_s().ok());
        match (object, number(item, "until_ms")) {
            (Some(object), Some(until)) => Ok(Some(DeliveryClaim {
                object: object.clone(),
                until: Timestamp::from_millis(until),
            })),
            _ => Err(StoreError::Invalid {
                item: claim_key(digest),
                reason: "a claim without its object or lease".into(),
            }),
        }
    }

    async fn put_claim(
        &self,
        digest: &str,
        claim: &DeliveryClaim,
        replacing: Option<&DeliveryClaim>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&claim_key(digest)))
            .item("object", s(&claim.object))
            .item("until_ms", n(claim.until.millis()))
            .item(
                "expires_at",
                n(claim.until.unix_seconds() + CLAIM_RETENTION_S),
            );
        let request = match replacing {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(old) => request
                .condition_expression("#object = :object AND until_ms = :until")
                .expression_attribute_names("#object", "object")
                .expression_attribute_values(":object", s(&old.object))
                .expression_attribute_values(":until", n(old.until.millis())),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable("DynamoDB PutItem (webhook claim)", e)),
        }
    }
}

impl CursorStore for DynamoStateStore {
    async fn load_cursor(&self, key: &CursorKey) -> Result<Option<Cursor>, StoreError> {
        let pk = key.item_key();
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB GetItem", e))?;
        output
            .item()
            .map(|item| cursor_from_item(&pk, item))
            .transpose()
    }

    async fn save_cursor(&self, key: &CursorKey, cursor: &Cursor) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(cursor_item(key, cursor)));
        let request = if cursor.version <= 1 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("#version = :previous")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":previous", n(cursor.version - 1))
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable("DynamoDB PutItem", e)),
        }
    }

    async fn delete_cursor(&self, key: &CursorKey, version: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&key.item_key()))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable("DynamoDB DeleteItem (cursor)", e)),
        }
    }

    async fn backfills(
        &self,
        stream: &str,
        org_id: &str,
    ) -> Result<Vec<(CursorKey, Cursor)>, StoreError> {
        // `backfill#{stream}#{org}#`: the `#` ends the names, so no other unit's start alike.
        self.cursors_under(&[&CursorKey::backfills_of(stream, org_id)])
            .await
    }
}

impl LeaseStore for DynamoStateStore {
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .lease_put(name, owner, until)
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at_ms < :now OR #owner = :owner",
            )
            .expression_attribute_values(":now", n(now.millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable("DynamoDB PutItem (lease)", e)),
        }
    }

    async fn renew_lease(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        // Only the same owner, expired or not: if it expired and nobody took it over, nobody
        // wrote under it meanwhile either.
        let result = self
            .lease_put(name, owner, until)
            .condition_expression("#owner = :owner")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable("DynamoDB PutItem (lease renewal)", e)),
        }
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(name))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Expired and taken over, or already gone: either way not ours to release.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable("DynamoDB DeleteItem (lease)", e)),
        }
    }
}

/// Attempts at moving a shared request schedule before giving up: each lost race means another
/// process moved it, and tells the new end.
const PACE_ATTEMPTS: usize = 8;

/// One item per identity, `pace#{identity}`, holding the end of its request schedule
/// (`next_at_ms`). Moved with a conditional write on the value last seen; a lost race returns
/// the item as it is, so a reservation costs one write, two when another process moved first.
impl PaceLedger for DynamoStateStore {
    fn reserve<'a>(&'a self, key: &'a str, now_ms: i64, span_ms: i64) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let pk = format!("pace#{key}");
            // Optimistic: an idle schedule ends in the past.
            let mut seen: Option<i64> = None;
            for _ in 0..PACE_ATTEMPTS {
                let start = seen.map_or(now_ms, |end| end.max(now_ms));
                let end = start + span_ms;
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", s(&pk))
                    .item("next_at_ms", n(end))
                    // An idle identity's item goes away by itself.
                    .item("expires_at", n(end / 1000 + 3600))
                    .return_values_on_condition_check_failure(
                        aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                    );
                let put = match seen {
                    None => put
                        .condition_expression("attribute_not_exists(pk) OR next_at_ms <= :now")
                        .expression_attribute_values(":now", n(now_ms)),
                    Some(end) => put
                        .condition_expression("next_at_ms = :seen")
                        .expression_attribute_values(":seen", n(end)),
                };
                match put.send().await {
                    Ok(_) => return Ok(start),
                    Err(e) if is_condition_failure(&e) => {
                        let old = e.as_service_error().and_then(|se| match se {
                            aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item().and_then(|item| number(item, "next_at_ms")),
                            _ => None,
                        });
                        seen = match old {
                            Some(end) => Some(end),
                            None => Some(self.pace_end(&pk).await?.unwrap_or(now_ms)),
                        };
                    }
                    Err(e) => return Err(unavailable("DynamoDB PutItem (request pace)", e)),
                }
            }
            Err(StoreError::Conflict)
        })
    }

    fn give_back<'a>(&'a self, key: &'a str, from_ms: i64, to_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            // A whole-item put, as `reserve` writes it: the roles need no other action.
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&format!("pace#{key}")))
                .item("next_at_ms", n(to_ms))
                .item("expires_at", n(to_ms / 1000 + 3600))
                .condition_expression("next_at_ms = :from")
                .expression_attribute_values(":from", n(from_ms))
                .send()
                .await;
            match result {
                Ok(_) => Ok(true),
                // Someone reserved after us: the turns stay ours.
                Err(e) if is_condition_failure(&e) => Ok(false),
                Err(e) => Err(unavailable("DynamoDB PutItem (request pace)", e)),
            }
        })
    }
}

/// One item per stream, `due#{stream}`, holding when its next scheduled run is due
/// (`next_at_ms`), moved only by the invocation whose conditional write finds it passed.
impl DueLedger for DynamoStateStore {
    fn claim<'a>(
        &'a self,
        stream: &'a str,
        now_ms: i64,
        interval_ms: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let next = now_ms + interval_ms;
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&format!("due#{stream}")))
                .item("next_at_ms", n(next))
                // A stream taken out of the document leaves no item behind for long.
                .item("expires_at", n(next / 1000 + 24 * 3600))
                .condition_expression("attribute_not_exists(pk) OR next_at_ms <= :now")
                .expression_attribute_values(":now", n(now_ms))
                .send()
                .await;
            match result {
                Ok(_) => Ok(true),
                Err(e) if is_condition_failure(&e) => Ok(false),
                Err(e) => Err(unavailable("DynamoDB PutItem (stream due)", e)),
            }
        })
    }

    fn release<'a>(
        &'a self,
        stream: &'a str,
        now_ms: i64,
        interval_ms: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(&format!("due#{stream}")))
                // Only this claim: an item moved since is another run's.
                .condition_expression("next_at_ms = :claimed")
                .expression_attribute_values(":claimed", n(now_ms + interval_ms))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if is_condition_failure(&e) => Ok(()),
                Err(e) => Err(unavailable("DynamoDB DeleteItem (stream due)", e)),
            }
        })
    }
}

impl DynamoStateStore {
    /// The end of a request schedule as stored, for when a lost race did not return it.
    async fn pace_end(&self, pk: &str) -> Result<Option<i64>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB GetItem (request pace)", e))?;
        Ok(item.item().and_then(|item| number(item, "next_at_ms")))
    }
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

impl OAuthStateStore for DynamoStateStore {
    async fn put_oauth_state(
        &self,
        state: &str,
        pending: &PendingAuthorisation,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(oauth_state_item(state, pending, expires_at)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB PutItem (OAuth state)", e))?;
        Ok(())
    }

    async fn take_oauth_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingAuthorisation>, StoreError> {
        // One conditional delete: of two callbacks with the same state, exactly one gets it.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&oauth_state_key(state)))
            .condition_expression("attribute_exists(pk) AND expires_at_ms > :now")
            .expression_attribute_values(":now", n(now.millis()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.attributes().and_then(pending_from_item)),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable("DynamoDB DeleteItem (OAuth state)", e)),
        }
    }
}

fn oauth_state_key(state: &str) -> String {
    format!("oauth-state#{state}")
}

fn oauth_state_item(state: &str, pending: &PendingAuthorisation, expires_at: Timestamp) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(&oauth_state_key(state)));
    item.insert("identity".into(), s(pending.identity.as_str()));
    // The release before identities reads `profile`, and knows only these two: a link made now
    // still completes if the callback is rolled back while it is open.
    if pending.identity == IdentityName::ADMIN || pending.identity == IdentityName::COMPLIANCE {
        item.insert("profile".into(), s(pending.identity.as_str()));
    }
    if let Some(email) = &pending.expected_email {
        item.insert("expected_email".into(), s(email));
    }
    item.insert("scopes".into(), s(&pending.scopes));
    item.insert("expires_at_ms".into(), n(expires_at.millis()));
    item.insert("expires_at".into(), n(expires_at.unix_seconds() + 1));
    item
}

/// `None` for an item without a valid identity name: such a state is as good as unknown.
/// Items of the release before identities name theirs in `profile` (`admin` or `compliance`).
fn pending_from_item(item: &Item) -> Option<PendingAuthorisation> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    let identity = text("identity")
        .or_else(|| text("profile"))
        .and_then(|name| IdentityName::parse(name).ok())?;
    Some(PendingAuthorisation {
        expected_email: text("expected_email").cloned(),
        // Links made before the scopes were kept asked for the profile's own.
        scopes: text("scopes")
            .cloned()
            .unwrap_or_else(|| IdentityUse::by_default(&identity).requested_scopes()),
        identity,
    })
}

fn cursor_item(key: &CursorKey, c: &Cursor) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(&key.item_key()));
    item.insert("stream".into(), s(&key.stream));
    item.insert("org_id".into(), s(&key.org_id));
    item.insert("version".into(), n(c.version));
    item.insert("status".into(), s(c.status.name()));
    item.insert("consecutive_failures".into(), n(c.consecutive_failures));
    match &c.digest {
        DigestAt::Inline(ids) if ids.is_empty() => {}
        DigestAt::Inline(ids) => {
            item.insert(
                "recent_ids".into(),
                AttributeValue::B(Blob::new(ids.encoded().to_vec())),
            );
        }
        DigestAt::Object { key, ids } => {
            item.insert("recent_ids_object".into(), s(key));
            item.insert("recent_ids_count".into(), n(ids));
        }
    }
    if let Some(limit) = c.window_limit {
        item.insert("window_limit_ms".into(), n(limit.as_millis()));
    }
    if let Some(t) = c.committed_until {
        item.insert("committed_until".into(), s(&t.to_rfc3339()));
    }
    if !c.pending.is_empty() {
        let windows = c.pending.iter().map(|w| {
            map([
                ("from", s(&w.from.to_rfc3339())),
                ("to", s(&w.to.to_rfc3339())),
            ])
        });
        item.insert("pending".into(), AttributeValue::L(windows.collect()));
    }
    if let Some(e) = &c.last_error {
        item.insert(
            "last_error".into(),
            map([
                ("kind", s(e.kind.name())),
                ("message", s(&e.message)),
                ("at", s(&e.at.to_rfc3339())),
            ]),
        );
    }
    if let Some(t) = c.last_success_at {
        item.insert("last_success_at".into(), s(&t.to_rfc3339()));
    }
    if let Some(r) = c.last_run {
        item.insert(
            "last_run".into(),
            map([
                ("events", n(r.events)),
                ("pages", n(r.pages)),
                ("windows", n(r.windows)),
                ("duration_ms", n(r.duration_ms)),
            ]),
        );
    }
    item
}

fn cursor_from_item(pk: &str, item: &Item) -> Result<Cursor, StoreError> {
    let invalid = |reason: String| StoreError::Invalid {
        item: pk.to_string(),
        reason,
    };
    let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let time = |item: &Item, name: &str| -> Result<Option<Timestamp>, StoreError> {
        text(item, name)
            .map(|t| Timestamp::parse(&t).map_err(|e| invalid(format!("{name}: {e}"))))
            .transpose()
    };
    let number = |item: &Item, name: &str| -> u64 {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let nested = |name: &str| item.get(name).and_then(|v| v.as_m().ok()).cloned();
    let window = |w: &AttributeValue| match w.as_m() {
        Ok(w) => match (time(w, "from")?, time(w, "to")?) {
            (Some(from), Some(to)) => Ok(Window { from, to }),
            _ => Err(invalid("pending window without from/to".into())),
        },
        Err(_) => Err(invalid("pending window is not a map".into())),
    };
    // Items written before windows were fetched concurrently hold one window as a map.
    let pending = match item.get("pending") {
        None => Vec::new(),
        Some(AttributeValue::L(windows)) => windows.iter().map(window).collect::<Result<_, _>>()?,
        Some(one) => vec![window(one)?],
    };
    let digest = match (
        text(item, "recent_ids_object"),
        item.get("recent_ids").and_then(|v| v.as_b().ok()),
    ) {
        (Some(key), _) => DigestAt::Object {
            key,
            ids: number(item, "recent_ids_count"),
        },
        (None, Some(blob)) => DigestAt::Inline(
            RecentIds::decode(Bytes::copy_from_slice(blob.as_ref()))
                .map_err(|e| invalid(e.to_string()))?,
        ),
        (None, None) => DigestAt::Inline(RecentIds::default()),
    };
    let last_error = match nested("last_error") {
        Some(e) => Some(LastError {
            kind: text(&e, "kind")
                .as_deref()
                .and_then(ErrorKind::parse)
                .unwrap_or(ErrorKind::Upstream),
            message: text(&e, "message").unwrap_or_default(),
            at: time(&e, "at")?.unwrap_or(Timestamp::from_millis(0)),
        }),
        None => None,
    };
    Ok(Cursor {
        committed_until: time(item, "committed_until")?,
        pending,
        digest,
        window_limit: item
            .contains_key("window_limit_ms")
            .then(|| Duration::from_millis(number(item, "window_limit_ms"))),
        version: number(item, "version"),
        status: text(item, "status")
            .as_deref()
            .and_then(Status::parse)
            .unwrap_or(Status::Collecting),
        last_error,
        consecutive_failures: number(item, "consecutive_failures") as u32,
        last_success_at: time(item, "last_success_at")?,
        last_run: nested("last_run").map(|r| RunStats {
            events: number(&r, "events"),
            pages: number(&r, "pages"),
            windows: number(&r, "windows"),
            duration_ms: number(&r, "duration_ms"),
        }),
    })
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn map<const N: usize>(entries: [(&str, AttributeValue); N]) -> AttributeValue {
    AttributeValue::M(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    e: &SdkError<E, R>,
) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

fn unavailable<E, R>(operation: &'static str, e: SdkError<E, R>) -> StoreError
where
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable {
        operation,
        source: Box::new(AwsCallError::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use collector_core::event::EventKey;

    #[test]
    fn cursor_items_round_trip() {
        let key = CursorKey::live("admin-audit", "ORG");
        let t = |ms| Timestamp::from_millis(ms);
        let recent_ids =
            RecentIds::default().advanced(t(0), vec![(EventKey::of("e1"), t(1_795_000_000_000))]);
        let cursors = [
            Cursor::default(),
            Cursor {
                digest: DigestAt::Object {
                    key: "webex/admin-audit/_state/org=ORG/recent-ids_x.bin".into(),
                    ids: 120_000,
                },
                window_limit: Some(Duration::from_secs(14)),
                ..Cursor::default()
            },
            Cursor {
                committed_until: Some(t(1_795_000_000_000)),
                pending: vec![
                    Window {
                        from: t(1_795_000_000_000),
                        to: t(1_795_003_600_000),
                    },
                    Window {
                        from: t(1_795_003_600_000),
                        to: t(1_795_007_200_000),
                    },
                ],
                digest: DigestAt::Inline(recent_ids),
                window_limit: None,
                version: 7,
                status: Status::Error,
                last_error: Some(LastError {
                    kind: ErrorKind::Config,
                    message: "m".into(),
                    at: t(5_000),
                }),
                consecutive_failures: 2,
                last_success_at: Some(t(4_000)),
                last_run: Some(RunStats {
                    events: 1,
                    pages: 2,
                    windows: 3,
                    duration_ms: 4,
                }),
            },
        ];
        for cursor in cursors {
            let item = cursor_item(&key, &cursor);
            assert_eq!(cursor_from_item("pk", &item).unwrap(), cursor);
        }
    }

    #[test]
    fn oauth_states_round_trip_with_and_without_a_person() {
        let expires = Timestamp::from_millis(1_795_000_600_000);
        let scopes = |name: &IdentityName| IdentityUse::by_default(name).requested_scopes();
        let partner = IdentityName::parse("partner").unwrap();
        for pending in [
            PendingAuthorisation {
                identity: IdentityName::ADMIN,
                expected_email: None,
                scopes: scopes(&IdentityName::ADMIN),
            },
            PendingAuthorisation {
                identity: IdentityName::COMPLIANCE,
                expected_email: Some("alice@example.com".into()),
                scopes: scopes(&IdentityName::COMPLIANCE),
            },
            PendingAuthorisation {
                identity: partner.clone(),
                expected_email: None,
                scopes: "audit:events_read spark:people_read".into(),
            },
        ] {
            let item = oauth_state_item("ab", &pending, expires);
            assert_eq!(item["pk"], s("oauth-state#ab"));
            assert_eq!(item["identity"], s(pending.identity.as_str()));
            assert_eq!(pending_from_item(&item), Some(pending));
        }
        let mut unknown = oauth_state_item(
            "ab",
            &PendingAuthorisation {
                identity: partner,
                expected_email: None,
                scopes: scopes(&IdentityName::ADMIN),
            },
            expires,
        );
        assert!(
            !unknown.contains_key("profile"),
            "the release before identities knows no partner"
        );
        unknown.insert("identity".into(), s("root#x"));
        assert_eq!(pending_from_item(&unknown), None);
    }

    #[test]
    fn a_state_the_release_before_identities_wrote_still_reads() {
        let expires = Timestamp::from_millis(1_795_000_600_000);
        // As that release wrote them: `profile`, and `scopes` since links kept them.
        let legacy = |profile: &str, scopes: Option<&str>| {
            let mut item = Item::new();
            item.insert("pk".into(), s("oauth-state#ab"));
            item.insert("profile".into(), s(profile));
            if let Some(scopes) = scopes {
                item.insert("scopes".into(), s(scopes));
            }
            item.insert("expires_at_ms".into(), n(expires.millis()));
            item.insert("expires_at".into(), n(expires.unix_seconds() + 1));
            item
        };
        let read = |item: Item| pending_from_item(&item);
        assert_eq!(
            read(legacy(
                "admin",
                Some("audit:events_read spark:people_read spark-admin:organizations_read")
            )),
            Some(PendingAuthorisation {
                identity: IdentityName::ADMIN,
                expected_email: None,
                scopes: "audit:events_read spark:people_read spark-admin:organizations_read".into(),
            })
        );
        assert_eq!(
            read(legacy("compliance", None)),
            Some(PendingAuthorisation {
                identity: IdentityName::COMPLIANCE,
                expected_email: None,
                scopes: "spark-compliance:events_read spark:people_read".into(),
            }),
            "links made before the scopes were kept asked for the profile's own"
        );
        // And what this release writes for those two, the release before reads.
        let item = oauth_state_item(
            "ab",
            &PendingAuthorisation {
                identity: IdentityName::COMPLIANCE,
                expected_email: None,
                scopes: "spark-compliance:events_read spark:people_read".into(),
            },
            expires,
        );
        assert_eq!(item["profile"], s("compliance"));
    }

    #[test]
    fn reads_a_pending_window_stored_as_one_map() {
        let key = CursorKey::live("admin-audit", "ORG");
        let window = Window {
            from: Timestamp::from_millis(1_795_000_000_000),
            to: Timestamp::from_millis(1_795_003_600_000),
        };
        let mut item = cursor_item(&key, &Cursor::default());
        item.insert(
            "pending".into(),
            map([
                ("from", s(&window.from.to_rfc3339())),
                ("to", s(&window.to.to_rfc3339())),
            ]),
        );
        assert_eq!(cursor_from_item("pk", &item).unwrap().pending, vec![window]);
    }
}
