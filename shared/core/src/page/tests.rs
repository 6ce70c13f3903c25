use super::*;

fn path(p: &str) -> JsonPath {
    JsonPath::parse(p).unwrap()
}

fn shape(items: &str, id: EventId, time: &str, format: TimeFormat, hints: HintPaths) -> PageShape {
    PageShape::new(
        Items {
            path: path(items),
            missing_is_empty: false,
            id,
            time: path(time),
            time_format: format,
        },
        hints,
    )
}

fn parse(shape: &PageShape, body: &str) -> Result<ParsedPage, PageError> {
    shape.parse(&Bytes::copy_from_slice(body.as_bytes()))
}

fn at(t: &str) -> Timestamp {
    Timestamp::parse(t).unwrap()
}

#[test]
fn webex_pages_keep_each_event_byte_for_byte() {
    let body = Bytes::from_static(
        br#"{"items":[{"id":"a","created":"2026-11-22T10:00:00.000Z","data":{"x": 1}},{"created":"2026-11-22T10:00:01.000Z","id":"b"}]}"#,
    );
    let page = PageShape::webex().parse(&body).unwrap();
    let events = page.events;
    assert_eq!(events.len(), 2);
    assert_eq!(
        &events[0].json[..],
        br#"{"id":"a","created":"2026-11-22T10:00:00.000Z","data":{"x": 1}}"#
    );
    assert_eq!(
        &events[1].json[..],
        br#"{"created":"2026-11-22T10:00:01.000Z","id":"b"}"#
    );
    // The keys stored in cursors before sources were configuration: the id's text.
    assert_eq!(events[0].key, EventKey::of("a"));
    assert_eq!(events[1].created, at("2026-11-22T10:00:01Z"));
    assert_eq!(page.hints, Hints::default());
}

#[test]
fn pretty_printed_events_become_one_line() {
    let body = Bytes::from_static(
        b"{\"items\":[{\n  \"id\": \"a\",\r\n  \"created\": \"2026-11-22T10:00:00Z\"\n}]}",
    );
    let events = PageShape::webex().parse(&body).unwrap().events;
    assert_eq!(
        &events[0].json[..],
        b"{  \"id\": \"a\",  \"created\": \"2026-11-22T10:00:00Z\"}"
    );
}

#[test]
fn cut_off_bodies_are_retried_and_misshapen_pages_named() {
    let webex = PageShape::webex();
    for body in [
        r#"{"items":[{"id":"a","created":"2026-11-22T10:00:00Z"},{"id":"b","#,
        "",
        "<html>",
    ] {
        let e = parse(webex, body).unwrap_err();
        assert_eq!(e, PageError::Malformed, "{body}");
        assert!(e.is_retryable());
    }
    let cases = [
        (
            r#"{"message":"oops","trackingId":"T"}"#,
            "the page has no $.items (its keys: message, trackingId)",
        ),
        (
            r#"{"items":{"id":"a"}}"#,
            "the page's $.items is an object, not an array of items",
        ),
        (
            r#"{"items":[{"created":"2026-11-22T10:00:00Z","x":1}]}"#,
            "item 0 of the page has no $.id (its keys: created, x)",
        ),
        (
            r#"{"items":[{"id":"a","created":"2026-11-22T10:00:00Z"},{"id":"b","created":"soon"}]}"#,
            "item 1 of the page has $.created \"soon\", which is not rfc3339",
        ),
        (
            r#"{"items":[{"id":{"x":1},"created":"2026-11-22T10:00:00Z"}]}"#,
            "item 0 of the page has $.id an object, which is not a string or a number",
        ),
    ];
    for (body, message) in cases {
        let e = parse(webex, body).unwrap_err();
        assert_eq!(e.to_string(), message);
        assert!(!e.is_retryable(), "{body}");
    }
}

#[test]
fn number_ids_keep_their_digits_and_several_parts_make_one_id() {
    let secure_endpoint = shape(
        "data",
        EventId::Paths(vec![path("id")]),
        "date",
        TimeFormat::Rfc3339,
        HintPaths {
            next: Some(path("metadata.links.next")),
            ..HintPaths::default()
        },
    );
    let body = r#"{"version":"v1.2.0","metadata":{"links":{"self":"s","next":"https://api.amp.cisco.com/v1/events?offset=500"}},
        "data":[{"id":6180351977805840123,"date":"2021-01-13T10:13:08+00:00"},{"id":6180351977805840124,"date":"2021-01-13T10:13:08+00:00"}]}"#;
    let page = parse(&secure_endpoint, body).unwrap();
    assert_eq!(page.events[0].key, EventKey::of("6180351977805840123"));
    // A float would read both as 6180351977805840000: one event.
    assert_ne!(page.events[0].key, page.events[1].key);
    assert_eq!(page.events[0].created, at("2021-01-13T10:13:08Z"));
    assert_eq!(
        page.hints.next.as_deref(),
        Some("https://api.amp.cisco.com/v1/events?offset=500")
    );

    let two_parts = shape(
        "$",
        EventId::Paths(vec![path("source"), path("seq")]),
        "ts",
        TimeFormat::EpochMs,
        HintPaths::default(),
    );
    let page = parse(&two_parts, r#"[{"source":"fw1","seq":7,"ts":1795342500123},{"source":"fw1","seq":"7","ts":1795342500123}]"#).unwrap();
    assert_eq!(page.events[0].key, EventKey::of("fw1\u{1f}7"));
    // A number and a string of the same text are one id, as their text is.
    assert_eq!(page.events[0].key, page.events[1].key);
    assert_eq!(page.events[0].created, at("2026-11-22T10:15:00.123Z"));
}

#[test]
fn hints_are_read_from_the_same_pass_and_must_have_their_type() {
    let cursor = shape(
        "data.events",
        EventId::Hash,
        "time",
        TimeFormat::Rfc3339,
        HintPaths {
            cursor: Some(path("meta.next_cursor")),
            has_more: Some(path("meta.has_more")),
            total: Some(path("meta.total")),
            next: Some(path("$['@odata.nextLink']")),
        },
    );
    let page = parse(
        &cursor,
        r#"{"data":{"events":[{"time":"2026-11-22T12:15:00.123+02:00","a":1}]},"meta":{"next_cursor":"c2","has_more":true,"total":1},"@odata.nextLink":null}"#,
    )
    .unwrap();
    assert_eq!(
        page.hints,
        Hints {
            next: None,
            cursor: Some("c2".to_string()),
            total: Some(1),
            has_more: Some(true),
        }
    );
    let e = parse(
        &cursor,
        r#"{"data":{"events":[]},"meta":{"next_cursor":"","has_more":"yes"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the page's $.meta.has_more is \"yes\", which is not true or false"
    );
    let missing_is_empty = PageShape::new(
        Items {
            missing_is_empty: true,
            ..cursor.items().clone()
        },
        HintPaths::default(),
    );
    assert!(
        parse(&missing_is_empty, r#"{"meta":{}}"#)
            .unwrap()
            .events
            .is_empty()
    );
}

#[test]
fn hashed_items_read_back_the_same_with_or_without_custom_fields() {
    let hashed = shape(
        "$",
        EventId::Hash,
        "t",
        TimeFormat::EpochS,
        HintPaths::default(),
    );
    let body = "[ {\"t\": 1795342500, \"v\": \"x\"}, {\"t\":1795342500,\"v\":\"y\"}, {\"t\":1795342500,\"v\":\"x\"}]";
    let events = parse(&hashed, body).unwrap().events;
    assert_ne!(events[0].key, events[1].key);
    // Same members, other blanks: other bytes, another event (documented: bytes are the id).
    assert_ne!(events[0].key, events[2].key);
    for (fields, key) in [
        (
            crate::object::CustomFields::new(
                vec![("team".into(), "a}b,\"c".into())],
                Some("collector"),
            ),
            Some("collector"),
        ),
        (crate::object::CustomFields::new(vec![], None), None),
    ] {
        for event in &events {
            let line = fields.line(&event.json);
            let read = hashed.parse_line(&line, key).unwrap();
            assert_eq!(
                read,
                (event.key, event.created),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }
    // Webex lines are read back by their id, whatever opens them.
    let webex = PageShape::webex();
    let line = br#"{"collector":{"a":"b"},"id":"e1","created":"2026-12-01T10:00:00.000Z"}"#;
    assert_eq!(
        webex.parse_line(line, Some("collector")).unwrap(),
        (EventKey::of("e1"), at("2026-12-01T10:00:00Z"))
    );
}
