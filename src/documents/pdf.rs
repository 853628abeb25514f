//! A [`Sheet`] typeset as an A4 PDF: the CJK font embedded as a subset, lines broken by the
//! font's own advances (no line starts with closing punctuation), page numbers, the seal drawn
//! in vector form, and the QR code drawn as squares.

use std::sync::OnceLock;

use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, Rgb, TextItem, TextMatrix,
    WindingOrder,
};

use super::{Layout, Sheet};

/// WenQuanYi Micro Hei (Apache-2.0; see fonts/README.md), compiled in so that every machine
/// prints the same Chinese with nothing installed.
static FONT_BYTES: &[u8] = include_bytes!("fonts/wqy-microhei.ttf");

fn font() -> Result<&'static ParsedFont, RenderError> {
    static FONT: OnceLock<Option<ParsedFont>> = OnceLock::new();
    FONT.get_or_init(|| ParsedFont::from_bytes(FONT_BYTES, 0, &mut Vec::new()))
        .as_ref()
        .ok_or(RenderError::Font)
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the compiled-in font could not be parsed")]
    Font,
}

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
/// GB/T 9704 (党政机关公文格式) sets the text block 156 mm wide, 37 mm from the top edge and
/// 28 mm from the left; the bottom keeps room for the page number.
const LEFT: f32 = 28.0;
const TEXT_W: f32 = 156.0;
const TOP: f32 = PAGE_H - 30.0;
const BOTTOM: f32 = 30.0;

const BODY_PT: f32 = 14.0;
const LINE_MM: f32 = 8.0;
const PT_PER_MM: f32 = 72.0 / 25.4;

fn red() -> Color {
    Color::Rgb(Rgb {
        r: 0.82,
        g: 0.06,
        b: 0.06,
        icc_profile: None,
    })
}

fn black() -> Color {
    Color::Rgb(Rgb {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        icc_profile: None,
    })
}

fn pt(mm: f32) -> Pt {
    Mm(mm).into()
}

fn point(x: f32, y: f32) -> Point {
    Point { x: pt(x), y: pt(y) }
}

/// Width of `s` in mm at `size` pt.
fn width_mm(f: &ParsedFont, s: &str, size: f32) -> f32 {
    let upem = f32::from(f.font_metrics.units_per_em.max(1));
    let units: f32 = s
        .chars()
        .map(|c| {
            f.lookup_glyph_index(u32::from(c))
                .map_or(upem, |g| f32::from(f.get_horizontal_advance(g)))
        })
        .sum();
    units / upem * size / PT_PER_MM
}

/// Characters a line may not start with (GB/T 15834's 避头点号).
fn closing(c: char) -> bool {
    "，。、；：？！）》」』】〕”’,.;:?!)".contains(c)
}

/// Break `text` into lines no wider than `max_mm` (the first line `indent_mm` narrower).
fn wrap(f: &ParsedFont, text: &str, size: f32, max_mm: f32, indent_mm: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut width = 0.0;
    for c in text.chars() {
        let w = width_mm(f, c.encode_utf8(&mut [0; 4]), size);
        let room = if lines.is_empty() {
            max_mm - indent_mm
        } else {
            max_mm
        };
        // Closing punctuation stays on its line even if it overhangs a little.
        if width + w > room && !line.is_empty() && !closing(c) {
            lines.push(std::mem::take(&mut line));
            width = 0.0;
        }
        line.push(c);
        width += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Ops for one run of text at (x, y) mm, baseline.
fn text_at(font: &FontId, s: &str, size: f32, x: f32, y: f32) -> Vec<Op> {
    vec![
        Op::StartTextSection,
        Op::SetFont {
            font: PdfFontHandle::External(font.clone()),
            size: Pt(size),
        },
        Op::SetTextMatrix {
            matrix: TextMatrix::Translate(pt(x), pt(y)),
        },
        Op::ShowText {
            items: vec![TextItem::Text(s.to_owned())],
        },
        Op::EndTextSection,
    ]
}

/// Ops for one glyph rotated by `angle` (radians, counter-clockwise) at (x, y) mm.
fn glyph_rotated(font: &FontId, c: char, size: f32, x: f32, y: f32, angle: f32) -> Vec<Op> {
    let (s, co) = angle.sin_cos();
    vec![
        Op::StartTextSection,
        Op::SetFont {
            font: PdfFontHandle::External(font.clone()),
            size: Pt(size),
        },
        Op::SetTextMatrix {
            matrix: TextMatrix::Raw([co, s, -s, co, pt(x).0, pt(y).0]),
        },
        Op::ShowText {
            items: vec![TextItem::Text(c.to_string())],
        },
        Op::EndTextSection,
    ]
}

fn line(points: &[(f32, f32)], closed: bool) -> Op {
    Op::DrawLine {
        line: Line {
            points: points
                .iter()
                .map(|&(x, y)| LinePoint {
                    p: point(x, y),
                    bezier: false,
                })
                .collect(),
            is_closed: closed,
        },
    }
}

fn filled(rings: Vec<Vec<(f32, f32)>>) -> Op {
    Op::DrawPolygon {
        polygon: Polygon {
            rings: rings
                .into_iter()
                .map(|r| PolygonRing {
                    points: r
                        .into_iter()
                        .map(|(x, y)| LinePoint {
                            p: point(x, y),
                            bezier: false,
                        })
                        .collect(),
                })
                .collect(),
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        },
    }
}

/// The bureau's seal, drawn: a red ring, a five-pointed star, the authority's name along the
/// upper arc and the seal's use below the star (the form of a Chinese official seal, 42 mm).
fn seal(f: &ParsedFont, font: &FontId, authority: &str, role: &str, cx: f32, cy: f32) -> Vec<Op> {
    const R: f32 = 21.0;
    let mut ops = vec![
        Op::SaveGraphicsState,
        Op::SetOutlineColor { col: red() },
        Op::SetFillColor { col: red() },
        Op::SetOutlineThickness { pt: pt(1.1) },
    ];
    let ring: Vec<(f32, f32)> = (0..120)
        .map(|k| {
            let a = k as f32 * std::f32::consts::TAU / 120.0;
            (cx + (R - 0.6) * a.cos(), cy + (R - 0.6) * a.sin())
        })
        .collect();
    ops.push(line(&ring, true));
    // The star: ten points alternating outer and inner radius, the top point up.
    let star: Vec<(f32, f32)> = (0..10)
        .map(|k| {
            let a = std::f32::consts::FRAC_PI_2 + k as f32 * std::f32::consts::PI / 5.0;
            let r = if k % 2 == 0 { 6.5 } else { 2.6 };
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    ops.push(filled(vec![star]));
    // The name along the arc from 210° to −30°, each glyph upright to the centre.
    let name: Vec<char> = authority.chars().collect();
    let n = name.len().max(1) as f32;
    let size = if name.len() > 14 { 9.5 } else { 11.5 };
    let span = (240.0f32).to_radians();
    let start = (210.0f32).to_radians();
    let r_text = R - 2.2 - size / PT_PER_MM;
    for (i, &c) in name.iter().enumerate() {
        let theta = start - span * (i as f32 + 0.5) / n;
        let (ux, uy) = (theta.cos(), theta.sin());
        // The glyph's x axis runs clockwise along the arc, its y axis outwards.
        let (tx, ty) = (uy, -ux);
        let w = width_mm(f, c.encode_utf8(&mut [0; 4]), size);
        let (px, py) = (cx + r_text * ux, cy + r_text * uy);
        let ox = px - tx * w / 2.0;
        let oy = py - ty * w / 2.0;
        ops.extend(glyph_rotated(
            font,
            c,
            size,
            ox,
            oy,
            theta - std::f32::consts::FRAC_PI_2,
        ));
    }
    let role_size = 9.0;
    let rw = width_mm(f, role, role_size);
    ops.extend(text_at(font, role, role_size, cx - rw / 2.0, cy - 11.5));
    ops.push(Op::RestoreGraphicsState);
    ops
}

/// The QR code as dark squares, `size` mm wide, its lower left corner at (x, y).
fn qr(url: &str, x: f32, y: f32, size: f32) -> Vec<Op> {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::M) else {
        return Vec::new();
    };
    let n = code.width();
    // A quiet zone of two modules each side.
    let m = size / (n as f32 + 4.0);
    let mut rings = Vec::new();
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (col, row) = ((i % n) as f32, (i / n) as f32);
            let x0 = x + (col + 2.0) * m;
            let y0 = y + size - (row + 3.0) * m;
            rings.push(vec![(x0, y0), (x0 + m, y0), (x0 + m, y0 + m), (x0, y0 + m)]);
        }
    }
    vec![
        Op::SaveGraphicsState,
        Op::SetFillColor { col: black() },
        filled(rings),
        Op::RestoreGraphicsState,
    ]
}

/// A page being filled from the top.
struct Pages<'a> {
    f: &'a ParsedFont,
    font: FontId,
    done: Vec<Vec<Op>>,
    ops: Vec<Op>,
    y: f32,
}

impl Pages<'_> {
    fn need(&mut self, mm: f32) {
        if self.y - mm < BOTTOM {
            self.done.push(std::mem::take(&mut self.ops));
            self.y = TOP;
        }
    }

    fn centered(&mut self, s: &str, size: f32, gap: f32) {
        self.need(gap);
        self.y -= gap;
        let w = width_mm(self.f, s, size);
        let font = self.font.clone();
        self.ops
            .extend(text_at(&font, s, size, LEFT + (TEXT_W - w) / 2.0, self.y));
    }

    /// A paragraph: the first line indented two characters (or hanging for list items).
    fn paragraph(&mut self, text: &str, size: f32, indent_chars: f32, left_extra: f32) {
        let em = size / PT_PER_MM;
        let indent = indent_chars * em;
        let lines = wrap(self.f, text, size, TEXT_W - left_extra, indent.max(0.0));
        let font = self.font.clone();
        for (i, l) in lines.iter().enumerate() {
            self.need(LINE_MM);
            self.y -= LINE_MM;
            let x = LEFT + left_extra + if i == 0 { indent.max(0.0) } else { 0.0 };
            self.ops.extend(text_at(&font, l, size, x, self.y));
        }
    }

    fn finish(mut self) -> Vec<Vec<Op>> {
        self.done.push(self.ops);
        self.done
    }
}

/// Render a sheet to PDF bytes.
pub fn render(sheet: &Sheet) -> Result<Vec<u8>, RenderError> {
    let f = font()?;
    let mut doc = PdfDocument::new(&sheet.title);
    let font = doc.add_font(f);
    let pages = match sheet.layout {
        Layout::Notice => notice(f, &font, sheet),
        Layout::Certificate => certificate(f, &font, sheet),
    };
    let total = pages.len();
    let pages = pages
        .into_iter()
        .enumerate()
        .map(|(i, mut ops)| {
            // 第 n 页 共 m 页, and the number of the document on every page.
            let footer = format!("{}　第 {} 页 共 {} 页", sheet.number, i + 1, total);
            let w = width_mm(f, &footer, 9.0);
            ops.extend(text_at(&font, &footer, 9.0, (PAGE_W - w) / 2.0, 14.0));
            PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops)
        })
        .collect();
    let opts = PdfSaveOptions {
        subset_fonts: true,
        ..PdfSaveOptions::default()
    };
    Ok(doc.with_pages(pages).save(&opts, &mut Vec::new()))
}

fn notice(f: &ParsedFont, font: &FontId, s: &Sheet) -> Vec<Vec<Op>> {
    let mut p = Pages {
        f,
        font: font.clone(),
        done: Vec::new(),
        ops: Vec::new(),
        y: TOP,
    };
    // The issuing authority in red over the title (the 版头 of a letter), then the title.
    p.ops.push(Op::SetFillColor { col: red() });
    p.centered(&s.authority, 20.0, 8.0);
    p.ops.push(Op::SetFillColor { col: black() });
    p.ops.push(Op::SetOutlineColor { col: red() });
    p.ops.push(Op::SetOutlineThickness { pt: pt(0.6) });
    p.y -= 5.0;
    p.ops
        .push(line(&[(LEFT, p.y), (LEFT + TEXT_W, p.y)], false));
    let title = match &s.mark {
        Some(m) => format!("{}（{m}）", s.title),
        None => s.title.clone(),
    };
    p.centered(&title, 20.0, 14.0);
    p.centered(&s.number, 11.0, 9.0);
    p.y -= 4.0;
    if let Some(a) = &s.addressee {
        p.paragraph(&format!("{a}："), BODY_PT, 0.0, 0.0);
    }
    for para in &s.paragraphs {
        p.paragraph(para, BODY_PT, 2.0, 0.0);
    }
    for (i, item) in s.items.iter().enumerate() {
        p.paragraph(&format!("{}. {item}", i + 1), BODY_PT, 0.0, 8.0);
    }
    if !s.rows.is_empty() {
        p.y -= 2.0;
        for (label, value) in &s.rows {
            p.paragraph(&format!("{label}：{value}"), 12.0, 2.0, 0.0);
        }
    }
    for para in &s.closing {
        p.paragraph(para, BODY_PT, 2.0, 0.0);
    }
    if let Some(b) = &s.basis {
        p.y -= 2.0;
        p.paragraph(&format!("依据：{b}"), 11.0, 0.0, 0.0);
    }
    // Signature block: the authority and the date at the right, the seal over them, the QR
    // code at the left. Kept together on one page.
    p.need(52.0);
    let x_right = LEFT + TEXT_W - 8.0;
    let aw = width_mm(f, &s.authority, BODY_PT);
    let dw = width_mm(f, &s.date, BODY_PT);
    let base = p.y - 30.0;
    p.ops
        .extend(text_at(font, &s.authority, BODY_PT, x_right - aw, base));
    p.ops
        .extend(text_at(font, &s.date, BODY_PT, x_right - dw, base - 8.0));
    p.ops.extend(seal(
        f,
        font,
        &s.authority,
        &s.seal_role,
        x_right - aw.max(dw) / 2.0,
        base - 2.0,
    ));
    if let Some(url) = &s.verify_url {
        p.ops.extend(qr(url, LEFT, base - 16.0, 30.0));
        p.ops
            .extend(text_at(font, "扫码核验", 9.0, LEFT + 7.5, base - 19.0));
    }
    if let Some(id) = &s.identifier {
        p.ops.extend(text_at(
            font,
            &format!("证照标识：{id}"),
            8.0,
            LEFT,
            base - 25.0,
        ));
    }
    p.finish()
}

fn certificate(f: &ParsedFont, font: &FontId, s: &Sheet) -> Vec<Vec<Op>> {
    let mut ops = vec![
        Op::SetOutlineColor { col: red() },
        Op::SetOutlineThickness { pt: pt(1.4) },
        line(
            &[(12.0, 12.0), (198.0, 12.0), (198.0, 285.0), (12.0, 285.0)],
            true,
        ),
        Op::SetOutlineThickness { pt: pt(0.4) },
        line(
            &[(15.0, 15.0), (195.0, 15.0), (195.0, 282.0), (15.0, 282.0)],
            true,
        ),
        Op::SetFillColor { col: black() },
    ];
    let centered = |ops: &mut Vec<Op>, text: &str, size: f32, y: f32| {
        let w = width_mm(f, text, size);
        ops.extend(text_at(font, text, size, (PAGE_W - w) / 2.0, y));
    };
    centered(&mut ops, "中华人民共和国", 18.0, 258.0);
    centered(&mut ops, &s.title, 26.0, 243.0);
    centered(&mut ops, &format!("编号：{}", s.number), 12.0, 232.0);
    // The fields in a ruled table: label column 45 mm, values wrapped in the rest.
    let (x0, x1, x2) = (24.0, 69.0, 186.0);
    let size = 10.5;
    let mut y = 226.0;
    ops.push(Op::SetOutlineColor { col: black() });
    ops.push(Op::SetOutlineThickness { pt: pt(0.3) });
    ops.push(line(&[(x0, y), (x2, y)], false));
    let top = y;
    for (label, value) in &s.rows {
        let lines = wrap(f, value, size, x2 - x1 - 4.0, 0.0);
        let label_lines = wrap(f, label, size, x1 - x0 - 4.0, 0.0);
        let n = lines.len().max(label_lines.len()) as f32;
        for (i, l) in label_lines.iter().enumerate() {
            ops.extend(text_at(font, l, size, x0 + 2.0, y - 5.2 - 5.0 * i as f32));
        }
        for (i, l) in lines.iter().enumerate() {
            ops.extend(text_at(font, l, size, x1 + 2.0, y - 5.2 - 5.0 * i as f32));
        }
        y -= 2.6 + 5.0 * n;
        ops.push(line(&[(x0, y), (x2, y)], false));
        // Room is kept for the text, the issuer, the seal and the QR code below.
        if y < 92.0 {
            break;
        }
    }
    ops.push(line(&[(x0, top), (x0, y)], false));
    ops.push(line(&[(x1, top), (x1, y)], false));
    ops.push(line(&[(x2, top), (x2, y)], false));
    let mut ty = y - 8.0;
    for para in s.paragraphs.iter().chain(s.closing.iter()) {
        for l in wrap(f, para, 11.0, x2 - x0, 2.0 * 11.0 / PT_PER_MM) {
            ops.extend(text_at(font, &l, 11.0, x0, ty));
            ty -= 6.0;
        }
    }
    // Issuer, date and seal at the lower right; the QR code and identifier at the lower left.
    let aw = width_mm(f, &format!("发证机关：{}", s.authority), 12.0);
    ops.extend(text_at(
        font,
        &format!("发证机关：{}", s.authority),
        12.0,
        180.0 - aw,
        52.0,
    ));
    let dw = width_mm(f, &format!("发证日期：{}", s.date), 12.0);
    ops.extend(text_at(
        font,
        &format!("发证日期：{}", s.date),
        12.0,
        180.0 - dw,
        44.0,
    ));
    ops.extend(seal(f, font, &s.authority, &s.seal_role, 150.0, 52.0));
    if let Some(url) = &s.verify_url {
        ops.extend(qr(url, 24.0, 34.0, 32.0));
        ops.extend(text_at(font, "扫码核验", 9.0, 32.0, 31.0));
    }
    if let Some(id) = &s.identifier {
        ops.extend(text_at(font, &format!("证照标识：{id}"), 8.0, 24.0, 24.0));
    }
    if let Some(b) = &s.basis {
        ops.extend(text_at(font, &format!("依据：{b}"), 8.0, 24.0, 19.0));
    }
    vec![ops]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sheet(layout: Layout) -> Sheet {
        Sheet {
            layout,
            authority: "长沙市岳麓区住房和城乡建设局".into(),
            title: "建筑工程施工许可证".into(),
            number: "430104202612040101".into(),
            addressee: Some("长沙某某置业有限公司".into()),
            mark: None,
            paragraphs: vec!["根据《中华人民共和国建筑法》第八条规定，经审查，本建筑工程符合施工条件，准予施工。".repeat(3)],
            items: vec!["建设工程规划许可证".into()],
            rows: vec![("建设单位".into(), "长沙某某置业有限公司".into())],
            closing: vec![],
            basis: Some("《中华人民共和国建筑法》第八条".into()),
            date: "2026年12月4日".into(),
            seal_role: "行政审批专用章".into(),
            identifier: Some(
                "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0".into(),
            ),
            verify_url: Some("http://127.0.0.1:8080/verify?id=x".into()),
        }
    }

    #[test]
    fn both_layouts_render_a_pdf_with_the_font_subset() {
        for layout in [Layout::Notice, Layout::Certificate] {
            let bytes = render(&sheet(layout)).expect("renders");
            assert!(bytes.starts_with(b"%PDF-"), "a PDF");
            // A subset, not the 4.6 MB font.
            assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
        }
    }

    #[test]
    fn lines_break_within_the_width_and_never_before_closing_punctuation() {
        let f = font().expect("font");
        let text = "经审查，本建筑工程符合施工条件，准予施工。".repeat(5);
        let lines = wrap(f, &text, BODY_PT, 60.0, 0.0);
        assert!(lines.len() > 3);
        assert_eq!(lines.concat(), text, "nothing lost");
        for l in &lines {
            assert!(!l.starts_with(closing), "{l}");
            assert!(width_mm(f, l, BODY_PT) <= 60.0 + 5.0, "{l}");
        }
    }
}
