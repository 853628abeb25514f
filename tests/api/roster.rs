//! The owners' roster on the pages (issue 18, item 5): rows imported from a spreadsheet file
//! (CSV in UTF-8 or GBK, XLSX) into the new-filing and edit forms, bad files told plainly, the
//! problems of a bad cell at their row and column, the editor's thresholds taken from the item,
//! and staff shown the count of the vote under the roster with each threshold of the guard.
//! The editor itself is driven in a browser in `browser.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use reqwest::Client;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{ELEVATOR_MATERIALS, TestApp, elevator_form};
use crate::pages::{csrf, page, signed_in};

const NEW: &str = "/filings/new/elevator-installation";

/// The roster as a spreadsheet saves it: a header row of the column labels, then the units.
const ROSTER_CSV: &str = "房号,业主（产权人）,专有部分面积（㎡）,表决意见,已签字\r\n\
                          101,张三,89.5,同意,是\r\n\
                          102,\"张三\",60.5,同意,是\r\n\
                          201,张四,90,反对,否\r\n";

/// The textarea's text once those rows are in it (labels in Chinese, commas between cells).
const ROSTER_TEXT: &str =
    "101, 张三, 89.5, 同意, 是\n102, 张三, 60.5, 同意, 是\n201, 张四, 90, 反对, 否";

/// A file as chosen in the file input: its name and bytes; none chosen.
type File<'a> = Option<(&'a str, Vec<u8>)>;

/// The form as the browser posts it with the import button: every field, and the file.
fn import_form(token: &str, fields: &[(&str, &str)], file: File<'_>) -> Form {
    let mut form = Form::new().text("_csrf", token.to_owned());
    for (k, v) in fields {
        form = form.text((*k).to_owned(), (*v).to_owned());
    }
    let (name, bytes) = file.unwrap_or(("", Vec::new()));
    form.part(
        "_file.owners",
        Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("application/octet-stream")
            .unwrap(),
    )
}

async fn import(c: &Client, app: &TestApp, path: &str, token: &str, form: Form) -> (u16, String) {
    let r = c
        .post(app.url(&format!("{path}?_csrf={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The text of the textarea `id` in a page (the rows as the form holds them).
fn textarea(html: &str, id: &str) -> String {
    let open = format!("<textarea id=\"{id}\"");
    let at = html.find(&open).unwrap_or_else(|| panic!("no {open}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</textarea>").unwrap();
    html[start..end].replace("&#x2c;", ",")
}

#[actix_web::test]
async fn a_roster_is_imported_from_a_utf8_or_gbk_csv_into_the_new_form_and_saved_only_with_it() {
    let app = TestApp::spawn().await;
    app.user("resident", "person", None, &[Role::Applicant])
        .await;
    let c = signed_in(&app, "resident").await;
    let (status, html) = page(&c, &app, NEW).await;
    assert_eq!(status, 200);
    // The file input sits beside the roster and posts the whole form to the import route.
    assert!(html.contains("name=\"_file.owners\""), "{html}");
    assert!(
        html.contains("formaction=\"/filings/new/elevator-installation/import/owners?_csrf="),
        "{html}"
    );
    let token = csrf(&html);
    let key = {
        let at = html.find("name=\"_key\" value=\"").unwrap() + 19;
        html[at..at + 36].to_owned()
    };
    let typed = [
        ("_key", key.as_str()),
        ("residential_area", "幸福里小区"),
        ("building_address", "幸福里 3 栋 2 单元"),
        ("owners", ""),
    ];

    // UTF-8 with Excel's BOM, the header row skipped.
    let mut utf8 = b"\xEF\xBB\xBF".to_vec();
    utf8.extend_from_slice(ROSTER_CSV.as_bytes());
    let form = import_form(&token, &typed, Some(("名册.csv", utf8)));
    let (status, html) = import(&c, &app, &format!("{NEW}/import/owners"), &token, form).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(
            "已从文件「名册.csv」导入 3 行到「业主名册及表决情况」（已跳过首行列名）。尚未保存"
        ),
        "{html}"
    );
    assert_eq!(textarea(&html, "owners"), ROSTER_TEXT);
    // What else was typed is kept, with the draft's key; nothing is stored.
    assert!(html.contains("value=\"幸福里小区\""), "{html}");
    assert!(html.contains(&format!("value=\"{key}\"")));
    assert_eq!(app.count("filings"), 0);

    // GBK, as Excel in China saves "CSV (逗号分隔)": the same rows.
    let (gbk, _, _) = encoding_rs::GBK.encode(ROSTER_CSV);
    assert!(std::str::from_utf8(&gbk).is_err());
    let form = import_form(&token, &typed, Some(("名册-gbk.csv", gbk.into_owned())));
    let (status, html) = import(&c, &app, &format!("{NEW}/import/owners"), &token, form).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(textarea(&html, "owners"), ROSTER_TEXT);

    // Saved with the form, the rows are the filing's.
    let r = c
        .post(app.url(NEW))
        .form(&[
            ("_csrf", token.as_str()),
            ("_key", key.as_str()),
            ("residential_area", "幸福里小区"),
            ("owners", textarea(&html, "owners").as_str()),
            ("_file.owners", "名册-gbk.csv"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("filings"), 1);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = page(&c, &app, &location).await;
    assert!(
        html.contains("<tr><td data-label=\"房号：\">201</td><td data-label=\"业主（产权人）：\">张四</td><td data-label=\"专有部分面积（㎡）：\">90</td><td data-label=\"表决意见：\">反对</td><td data-label=\"已签字：\">否</td></tr>"),
        "{html}"
    );
}

#[actix_web::test]
async fn an_xlsx_roster_fills_the_edit_form_and_a_bad_cell_is_told_at_its_row_and_column() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let f = app
        .create(&resident, "elevator-installation", elevator_form(2, 2))
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let c = signed_in(&app, "resident").await;
    let edit = format!("/filings/{id}/edit");
    let (status, html) = page(&c, &app, &edit).await;
    assert_eq!(status, 200);
    let token = csrf(&html);

    // A workbook as Excel writes it: numbers as numbers, a yes/no as a boolean, no header.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows: [(f64, &str, &str, &str, bool); 3] = [
        (101.0, "张三", "89.37", "同意", true),
        (102.0, "李四", "八十", "同意", true),
        (201.0, "王五", "90", "赞成", false),
    ];
    for (r, (unit, owner, area, vote, signed)) in rows.iter().enumerate() {
        let r = r as u32;
        sheet.write_number(r, 0, *unit).unwrap();
        sheet.write_string(r, 1, *owner).unwrap();
        match area.parse::<f64>() {
            Ok(n) => sheet.write_number(r, 2, n).unwrap(),
            Err(_) => sheet.write_string(r, 2, *area).unwrap(),
        };
        sheet.write_string(r, 3, *vote).unwrap();
        sheet.write_boolean(r, 4, *signed).unwrap();
    }
    let xlsx = book.save_to_buffer().unwrap();

    let fields = [
        ("version", "1"),
        ("residential_area", "幸福里小区"),
        ("owners", "999, 旧行, 1, 同意, 是"),
    ];
    let form = import_form(&token, &fields, Some(("roster.xlsx", xlsx)));
    let (status, html) = import(&c, &app, &format!("{edit}/import/owners"), &token, form).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("已从文件「roster.xlsx」导入 3 行"), "{html}");
    // The rows replace what the textarea held, each cell as it was in the file.
    assert_eq!(
        textarea(&html, "owners"),
        "101, 张三, 89.37, 同意, 是\n102, 李四, 八十, 同意, 是\n201, 王五, 90, 赞成, 否"
    );
    // Without the script: a list under the table, each problem naming its row and column.
    assert!(
        html.contains(
            "<ul class=\"field-error\" id=\"owners-error\"><li>「业主名册及表决情况」第 2 行：「专有部分面积（㎡）」不是有效的数字"
        ),
        "{html}"
    );
    assert!(html.contains(
        "<li>「业主名册及表决情况」第 3 行：「表决意见」只能选择：同意、反对、弃权、未参与"
    ));
    // For the editor: the same problems at their row (from 0) and column.
    let editor = editor_config(&html, "owners");
    let problems = editor["problems"].as_array().unwrap();
    assert_eq!(
        problems
            .iter()
            .map(|p| (p["row"].as_u64().unwrap(), p["column"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(1, "area"), (2, "vote")]
    );
    // The version the form was opened at is kept, and nothing was saved.
    assert!(html.contains("name=\"version\" value=\"1\""));
    let f = app.filing(&resident, &id).await;
    assert_eq!(f["version"], 1);
    assert_eq!(f["form"]["owners"].as_array().unwrap().len(), 2);
}

/// The `data-editor` JSON of a table's textarea.
fn editor_config(html: &str, id: &str) -> Value {
    let open = format!("<textarea id=\"{id}\" name=\"{id}\" rows=\"6\" data-editor=\"");
    let at = html
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in {html}"))
        + open.len();
    let end = at + html[at..].find('"').unwrap();
    let raw = &html[at..end];
    // Entities as askama writes them: &#NN; and the named five.
    let mut text = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        text.push_str(&rest[..i]);
        let j = i + rest[i..].find(';').unwrap();
        let entity = &rest[i + 1..j];
        text.push(match entity {
            "quot" => '"',
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "apos" => '\'',
            n => char::from_u32(n.trim_start_matches('#').parse().unwrap()).unwrap(),
        });
        rest = &rest[j + 1..];
    }
    text.push_str(rest);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[actix_web::test]
async fn the_editor_takes_the_columns_and_thresholds_from_the_item_as_the_city_rules_set_them() {
    let app = TestApp::spawn().await;
    app.user("resident", "person", None, &[Role::Applicant])
        .await;
    let c = signed_in(&app, "resident").await;
    let (_, html) = page(&c, &app, NEW).await;
    assert!(html.contains("<script src=\"/static/roster.js\" defer></script>"));
    let cfg = editor_config(&html, "owners");
    assert_eq!(cfg["max_rows"], 2000);
    let cols: Vec<(&str, &str)> = cfg["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        cols,
        [
            ("unit", "text"),
            ("owner", "text"),
            ("area", "number"),
            ("vote", "select"),
            ("signed", "boolean")
        ]
    );
    assert_eq!(
        cfg["columns"][3]["options"][3],
        json!({"value": "absent", "label": "未参与", "zh": "未参与", "en": "Did not vote"})
    );
    // The test authority runs Changsha's rules: two thirds of all owners agree (not 3/4 of
    // those taking part, the item's own default).
    let consent = &cfg["consent"];
    assert_eq!(consent["owner"], "owner");
    let t: Vec<(&str, u64, u64, &str)> = consent["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["code"].as_str().unwrap(),
                t["num"].as_u64().unwrap(),
                t["den"].as_u64().unwrap(),
                t["of"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        t,
        [
            ("participation_area", 2, 3, "total"),
            ("participation_headcount", 2, 3, "total"),
            ("approval_area", 2, 3, "total"),
            ("approval_headcount", 2, 3, "total"),
        ]
    );
    assert_eq!(
        consent["thresholds"][2]["label"],
        "同意（已签字）的专有部分面积占总面积"
    );
    // The fund's vote: more than half of those taking part.
    let fund = editor_config(&html, "fund_owners");
    assert_eq!(fund["consent"]["thresholds"][3]["share"], "> 1/2");
    assert_eq!(fund["consent"]["thresholds"][3]["of"], "participating");
    // The script is served.
    let r = c.get(app.url("/static/roster.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

#[actix_web::test]
async fn bad_files_are_refused_with_a_page_that_names_the_problem_and_keeps_the_form() {
    let app = TestApp::spawn().await;
    app.user("resident", "person", None, &[Role::Applicant])
        .await;
    let c = signed_in(&app, "resident").await;
    let (_, html) = page(&c, &app, NEW).await;
    let token = csrf(&html);
    let typed = [
        ("residential_area", "幸福里小区"),
        ("owners", "101, 张三, 89.5, 同意, 是"),
    ];
    let url = format!("{NEW}/import/owners");
    let many: String = (0..2001)
        .map(|i| format!("{i},业主{i},80,同意,是\n"))
        .collect();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec();
    let cases: Vec<(File<'_>, u16, &str)> = vec![
        (
            None,
            422,
            "文件未能导入：请先选择要导入的文件（.xlsx 或 .csv）",
        ),
        (
            Some(("empty.csv", Vec::new())),
            422,
            "文件未能导入：文件是空的",
        ),
        (Some(("photo.csv", png)), 422, "文件未能导入：文件不是表格"),
        (
            Some((
                "old.xls",
                vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
            )),
            422,
            "文件未能导入：这是旧版 Excel（.xls）",
        ),
        (
            Some(("many.csv", many.into_bytes())),
            422,
            "文件未能导入：文件有 2001 行数据，「业主名册及表决情况」最多 2000 行",
        ),
        (
            Some(("big.csv", vec![b'a'; 2 * 1024 * 1024 + 1])),
            413,
            "文件未能导入：文件超过 2 MB 的上限",
        ),
        (
            Some(("broken.xlsx", b"PK\x03\x04not really a workbook".to_vec())),
            422,
            "文件未能导入：文件已损坏或不是有效的 Excel 工作簿",
        ),
    ];
    for (file, want_status, want) in cases {
        let name = file.as_ref().map(|f| f.0).unwrap_or("(none)").to_owned();
        let form = import_form(&token, &typed, file);
        let (status, html) = import(&c, &app, &url, &token, form).await;
        assert_eq!(status, want_status, "{name}: {html}");
        assert!(html.contains(want), "{name}: {want} missing: {html}");
        // Said at the top; the form as it was, nothing marked red.
        assert!(
            html.contains("<div class=\"notice bad\" role=\"alert\">"),
            "{name}"
        );
        assert!(!html.contains("请按提示修改标红的内容"), "{name}");
        assert_eq!(
            textarea(&html, "owners"),
            "101, 张三, 89.5, 同意, 是",
            "{name}"
        );
        assert!(html.contains("value=\"幸福里小区\""), "{name}");
    }
    assert_eq!(app.count("filings"), 0);

    // In English, in English.
    let r = c
        .get(app.url(&format!("/lang/en?next={NEW}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let form = import_form(&token, &typed, Some(("photo.csv", b"GIF89a\0\0".to_vec())));
    let (status, html) = import(&c, &app, &url, &token, form).await;
    assert_eq!(status, 422);
    assert!(
        html.contains(
            "The file was not imported: The file is not a table: import an Excel workbook (.xlsx) or a CSV text file"
        ),
        "{html}"
    );

    // A token that is not the viewer's: refused before the body is read.
    let form = import_form(&token, &typed, Some(("a.csv", b"1,2".to_vec())));
    let (status, _) = import(&c, &app, &url, "ffffffffffffffffffffffffffffffff", form).await;
    assert_eq!(status, 403);
    // A field that is no table: not found.
    let form = import_form(&token, &typed, Some(("a.csv", b"1,2".to_vec())));
    let (status, _) = import(&c, &app, &format!("{NEW}/import/floors"), &token, form).await;
    assert_eq!(status, 404);
}

/// A roster with an owner of two units, an unsigned agreement, an abstention and an absence.
fn mixed_roster() -> Value {
    json!([
        { "unit": "101", "owner": "张三", "area": "90", "vote": "agree", "signed": true },
        { "unit": "102", "owner": "张三", "area": "60.5", "vote": "agree", "signed": true },
        { "unit": "201", "owner": "张四", "area": "90", "vote": "agree", "signed": true },
        { "unit": "202", "owner": "王五", "area": "80", "vote": "object", "signed": true },
        { "unit": "301", "owner": "赵六", "area": "70", "vote": "abstain", "signed": false },
        { "unit": "302", "owner": "钱七", "area": "90", "vote": "agree", "signed": false },
        { "unit": "401", "owner": "孙八", "area": "90", "vote": "absent", "signed": false },
    ])
}

async fn submitted(app: &TestApp, resident: &crate::helpers::User, form: Value) -> String {
    let f = app.create(resident, "elevator-installation", form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(resident, &id).await;
    app.act(resident, &f, "submit", json!({})).await;
    id
}

#[actix_web::test]
async fn staff_see_the_count_of_the_vote_under_the_roster_with_each_threshold_met_or_not() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    app.staff("window-clerk", "window", &[Role::Clerk]).await;
    app.staff("admin", "window", &[Role::Admin]).await;
    let mut form = elevator_form(0, 0);
    form["owners"] = mixed_roster();
    let short = submitted(&app, &resident, form).await;
    let carried = submitted(&app, &resident, elevator_form(10, 12)).await;

    let clerk = signed_in(&app, "window-clerk").await;
    let (status, html) = page(&clerk, &app, &format!("/filings/{short}")).await;
    assert_eq!(status, 200);
    // Each row's vote and signature in words.
    assert!(
        html.contains("<tr><td data-label=\"房号：\">301</td><td data-label=\"业主（产权人）：\">赵六</td><td data-label=\"专有部分面积（㎡）：\">70</td><td data-label=\"表决意见：\">弃权</td><td data-label=\"已签字：\">否</td></tr>"),
        "{html}"
    );
    let at = html.find("id=\"count-owners\"").expect("the count");
    let count = &html[at..at + html[at..].find("</div>").unwrap()];
    for line in [
        // 7 units, 6 owners: 张三's two units are one head with both areas.
        "<th scope=\"row\">专有部分（户）</th><td>7</td><td></td>",
        "<th scope=\"row\">业主（一人多套按一人计）</th><td>6</td><td>570.5</td>",
        "<th scope=\"row\">同意</th><td>3</td><td>330.5</td>",
        "<th scope=\"row\">其中同意但未签字</th><td>1</td><td>90</td>",
        "<th scope=\"row\">反对</th><td>1</td><td>80</td>",
        "<th scope=\"row\">弃权</th><td>1</td><td>70</td>",
        "<th scope=\"row\">未参与</th><td>1</td><td>90</td>",
        // Changsha: shares of all the owners and all the area.
        "<td>参与表决的专有部分面积占总面积 ≥ 2/3</td><td>480.5 / 570.5 ㎡（84.2%）</td><td><span class=\"badge green\">达到</span>",
        "<td>参与表决的业主人数占业主总人数 ≥ 2/3</td><td>5 / 6 人（83.3%）</td><td><span class=\"badge green\">达到</span>",
        "<td>同意（已签字）的专有部分面积占总面积 ≥ 2/3</td><td>240.5 / 570.5 ㎡（42.2%）</td><td><span class=\"badge red\">未达到</span>",
        "<td>同意（已签字）的业主人数占业主总人数 ≥ 2/3</td><td>2 / 6 人（33.3%）</td><td><span class=\"badge red\">未达到</span>",
        "<p class=\"verdict failed\">表决未通过：未达到本事项规定的业主共同决定要求（民法典第二百七十八条）</p>",
    ] {
        assert!(count.contains(line), "{line} missing: {count}");
    }

    let (_, html) = page(&clerk, &app, &format!("/filings/{carried}")).await;
    assert!(
        html.contains(
            "<td>同意（已签字）的业主人数占业主总人数 ≥ 2/3</td><td>10 / 12 人（83.3%）</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"verdict carried\">表决通过"),
        "{html}"
    );

    // An administrator sees the owners masked (张* twice), but the count is made from the
    // names: still six owners, not five.
    let admin = signed_in(&app, "admin").await;
    let (status, html) = page(&admin, &app, &format!("/filings/{short}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            "<td data-label=\"房号：\">201</td><td data-label=\"业主（产权人）：\">张*</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<th scope=\"row\">业主（一人多套按一人计）</th><td>6</td><td>570.5</td>"),
        "{html}"
    );

    // In English.
    clerk
        .get(app.url(&format!("/lang/en?next=/filings/{short}")))
        .send()
        .await
        .unwrap();
    let (_, html) = page(&clerk, &app, &format!("/filings/{short}")).await;
    assert!(
        html.contains("<td>Area of the owners agreeing (signed), of all the area ≥ 2/3</td><td>240.5 / 570.5 m² (42.2%)</td>"),
        "{html}"
    );
    assert!(html.contains("Not carried"), "{html}");
}

#[actix_web::test]
async fn a_roster_that_cannot_be_counted_says_why_and_names_no_owner_to_a_masked_viewer() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    app.staff("admin", "window", &[Role::Admin]).await;
    let mut form = elevator_form(0, 0);
    form["owners"] = json!([
        { "unit": "101", "owner": "张三", "area": "90", "vote": "agree", "signed": true },
        { "unit": "102", "owner": "张三", "area": "90", "vote": "object", "signed": true },
    ]);
    // Submitted: the count is the window's to check when it accepts.
    let id = submitted(&app, &resident, form).await;
    let c = signed_in(&app, "resident").await;
    let (_, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("名册有误，无法计票："), "{html}");
    assert!(
        html.contains("业主「张三」在第 1、2 行的表决意见或签字不一致"),
        "{html}"
    );
    let admin = signed_in(&app, "admin").await;
    let (_, html) = page(&admin, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("名册有误，无法计票："), "{html}");
    assert!(!html.contains("张三"), "{html}");
    assert!(
        html.contains("中有业主在不同行的表决意见或签字不一致"),
        "{html}"
    );
}
