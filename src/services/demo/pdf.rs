//! A tiny but well-formed PDF for a demo material: one A4 page with a few lines of text (in
//! the standard Helvetica, so ASCII only), a cross-reference table with the right offsets, and
//! a trailer. Each file differs by its lines, so each upload is a file of its own.

/// A one-page PDF showing `lines`.
pub fn material(lines: &[String]) -> Vec<u8> {
    let mut stream = String::from("BT /F1 14 Tf 72 770 Td 18 TL\n");
    for l in lines {
        let safe: String = l
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        let escaped = safe
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        stream.push_str(&format!("({escaped}) Tj T*\n"));
    }
    stream.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}endstream", stream.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let pdf = material(&["permits demo (material)".into()]);
        let text = String::from_utf8_lossy(&pdf).into_owned();
        assert!(text.starts_with("%PDF-1.4"));
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_default();
        assert!(text[xref_at..].starts_with("xref"));
        for line in text[xref_at..].lines().skip(3).take(5) {
            let at: usize = line[..10].parse().unwrap_or_default();
            assert!(text[at..].starts_with(char::is_numeric), "{line}");
            assert!(text[at..].contains(" 0 obj"));
        }
        assert!(text.contains("\\(material\\)"));
    }
}
