//! Lists come a page at a time: the page's size is said and bounded (a limit the service will
//! not give is refused, not quietly cut), the whole list's count comes with every page, and the
//! next page is a `Link` with a cursor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::Value;

use crate::helpers::{TestApp, User, error_paths, fire_form};

/// Every page of `path`, following `Link: <…>; rel="next"`; the ids in order and the totals.
async fn walk(app: &TestApp, user: &User, path: &str) -> (Vec<String>, Vec<i64>, usize) {
    let mut ids = Vec::new();
    let mut totals = Vec::new();
    let mut pages = 0;
    let mut next = Some(path.to_owned());
    while let Some(p) = next.take() {
        let r = app.get(user, &p).await;
        assert_eq!(r.status(), 200, "{p}");
        totals.push(
            r.headers()["x-total-count"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with(">; rel=\"next\""), "{l}");
            let url = &l[1..l.find('>').unwrap()];
            url.to_owned()
        });
        let body: Vec<Value> = r.json().await.unwrap();
        ids.extend(body.iter().map(|f| {
            f["id"]
                .as_str()
                .map_or_else(|| f["id"].to_string(), str::to_owned)
        }));
        pages += 1;
        assert!(pages < 20, "the pages never end");
    }
    (ids, totals, pages)
}

#[actix_web::test]
async fn a_list_pages_on_with_a_cursor_and_says_its_total_on_every_page() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let mut made = Vec::new();
    for _ in 0..5 {
        let f = app
            .create(&builder, "fire-acceptance-filing", fire_form())
            .await;
        made.push(f["id"].as_str().unwrap().to_owned());
        app.clock.advance(chrono::Duration::seconds(1));
    }
    let (ids, totals, pages) = walk(
        &app,
        &builder,
        "/api/v1/filings?limit=2&item=fire-acceptance-filing",
    )
    .await;
    // Newest first, each once, in three pages of 2, 2 and 1.
    made.reverse();
    assert_eq!(ids, made);
    assert_eq!(pages, 3);
    assert_eq!(totals, [5, 5, 5]);

    // A filing made while paging comes before the cursor and is not shown twice or skipped.
    let r = app.get(&builder, "/api/v1/filings?limit=2").await;
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    app.create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let next = &link[1..link.find('>').unwrap()];
    let r = app.get(&builder, next).await;
    assert_eq!(r.headers()["x-total-count"], "6");
    let second: Vec<Value> = r.json().await.unwrap();
    let second: Vec<&str> = second.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(second, [made[2].as_str(), made[3].as_str()]);
    app.allow_unsent_mail();
}

#[actix_web::test]
async fn a_limit_the_list_will_not_give_and_a_forged_cursor_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let admin = app
        .user("admin", "staff", Some("window"), &[Role::Admin])
        .await;
    for (user, path, bad) in [
        (&builder, "/api/v1/filings?limit=10000", vec!["limit"]),
        (&builder, "/api/v1/filings?limit=0", vec!["limit"]),
        (
            &builder,
            "/api/v1/filings?limit=-1&offset=-5",
            vec!["limit", "offset"],
        ),
        (
            &builder,
            "/api/v1/filings?cursor=bm90LWEtY3Vyc29y",
            vec!["cursor"],
        ),
        (&clerk, "/api/v1/queue?limit=10000", vec!["limit"]),
        (&clerk, "/api/v1/queue?cursor=eyJ4IjoxfQ", vec!["cursor"]),
        (&admin, "/api/v1/admin/users?limit=201", vec!["limit"]),
    ] {
        let r = app.get(user, path).await;
        assert_eq!(r.status(), 422, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(error_paths(&body), bad, "{path}: {body}");
    }
    // The largest page is given, and said to be the whole list when it is.
    let r = app.get(&admin, "/api/v1/admin/users?limit=200").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-total-count"], "3");
    assert!(r.headers().get("link").is_none());
}

#[actix_web::test]
async fn the_queue_and_the_accounts_page_on_with_cursors_too() {
    let app = TestApp::spawn().await;
    let admin = app
        .user("admin", "staff", Some("window"), &[Role::Admin])
        .await;
    for i in 0..4 {
        app.staff(&format!("clerk{i}"), "fire", &[Role::Clerk])
            .await;
    }
    let (ids, totals, pages) = walk(&app, &admin, "/api/v1/admin/users?limit=2").await;
    assert_eq!(ids.len(), 5);
    assert_eq!(pages, 3);
    assert!(totals.iter().all(|t| *t == 5));
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "no account twice");

    let builder = app.applicant("builder").await;
    for _ in 0..3 {
        let f = app
            .create(&builder, "fire-acceptance-filing", fire_form())
            .await;
        let id = f["id"].as_str().unwrap().to_owned();
        app.upload_all(&builder, &id, crate::helpers::FIRE_MATERIALS)
            .await;
        let f = app.filing(&builder, &id).await;
        app.act(&builder, &f, "submit", serde_json::json!({})).await;
    }
    let clerk = app
        .relogin(&User {
            id: uuid::Uuid::nil(),
            username: "clerk0".into(),
            token: String::new(),
        })
        .await;
    let (tasks, totals, pages) = walk(&app, &clerk, "/api/v1/queue?limit=2&scope=all").await;
    assert_eq!(tasks.len(), 3);
    assert_eq!(pages, 2);
    assert_eq!(totals, [3, 3]);
    app.allow_unsent_mail();
}
