//! A tenant's brand on its customer pages (pure): display name, two colours checked for
//! contrast, and a logo that cannot carry script.
//!
//! * Colours are `#rrggbb` (or `#rgb`). The primary colour is the background of buttons, with
//!   white text on it; the accent colour is the brand name, links and secondary buttons, as text
//!   on white and on the page background ([`PAGE_BACKGROUND`]). Every pair must reach WCAG 2.x
//!   contrast 4.5:1 (success criterion 1.4.3, level AA, normal text); an unreadable pair is
//!   refused. The pages take colours only from the stylesheet rendered from these parsed values.
//! * Logos are PNG or SVG, at most [`MAX_LOGO_BYTES`]. A PNG must decode completely (within a
//!   memory limit) and be at most [`MAX_LOGO_PIXELS`] on a side. An SVG is parsed (no DTD, so no
//!   entity expansion) and rebuilt from an allow-list of shapes and presentation attributes;
//!   anything that could run script or fetch something — `<script>`, `<foreignObject>`,
//!   `<image>`, `<a>`, `<style>`, animation elements, event handlers, `style` attributes,
//!   namespaced attributes, links or `url(...)` to anything but a fragment of the same document,
//!   CSS escapes — is refused, not silently dropped, so the admin sees why.

use std::fmt::Write as _;

pub const MAX_LOGO_BYTES: usize = 100 * 1024;
/// Pages show the logo 48 px high; 1024 px bounds a decoded RGBA16 frame to 8 MiB.
pub const MAX_LOGO_PIXELS: u32 = 1024;
/// Memory the PNG decoder may allocate for one logo.
const MAX_PNG_DECODE_BYTES: usize = 9 * 1024 * 1024;
/// Nesting of SVG elements (the sanitiser recurses; real logos nest a few levels).
const MAX_SVG_DEPTH: usize = 32;
pub const MAX_NAME_CHARS: usize = 80;
/// WCAG 2.x SC 1.4.3 (AA) for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrandError {
    #[error("the display name must be 1-{MAX_NAME_CHARS} characters without control characters")]
    Name,
    #[error("`{0}` is not a colour (use #rrggbb)")]
    NotAColour(String),
    #[error("{what}: contrast {ratio:.2}:1 is below {MIN_CONTRAST}:1 (WCAG 2.x AA)")]
    Contrast { what: &'static str, ratio: f64 },
    #[error("the logo is larger than {MAX_LOGO_BYTES} bytes")]
    LogoTooLarge,
    #[error("the logo must be a PNG or an SVG image")]
    LogoType,
    #[error("the PNG does not decode or is larger than {MAX_LOGO_PIXELS} px: {0}")]
    BadPng(String),
    #[error("the SVG is not well-formed: {0}")]
    BadSvg(String),
    #[error("the SVG contains {0}, which is not allowed (no script, no external references)")]
    SvgNotAllowed(String),
}

impl BrandError {
    /// Stable codes for problem+json and the console page.
    pub fn code(&self) -> &'static str {
        match self {
            BrandError::Name => "brand_name_invalid",
            BrandError::NotAColour(_) => "colour_invalid",
            BrandError::Contrast { .. } => "contrast_too_low",
            BrandError::LogoTooLarge => "logo_too_large",
            BrandError::LogoType => "logo_type",
            BrandError::BadPng(_) => "logo_malformed",
            BrandError::BadSvg(_) => "logo_malformed",
            BrandError::SvgNotAllowed(_) => "svg_not_allowed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

pub const WHITE: Rgb = Rgb(255, 255, 255);
/// The customer pages' background behind sections (`static/app.css`, `body`).
pub const PAGE_BACKGROUND: Rgb = Rgb(0xf6, 0xf7, 0xf9);

impl Rgb {
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

pub fn parse_colour(raw: &str) -> Result<Rgb, BrandError> {
    let bad = || BrandError::NotAColour(raw.chars().take(16).collect());
    let h = raw.trim().strip_prefix('#').ok_or_else(bad)?;
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let n = |s: &str| u8::from_str_radix(s, 16).map_err(|_| bad());
    match h.len() {
        6 => Ok(Rgb(n(&h[0..2])?, n(&h[2..4])?, n(&h[4..6])?)),
        3 => {
            let d = |i: usize| n(&h[i..i + 1]).map(|v| v * 17);
            Ok(Rgb(d(0)?, d(1)?, d(2)?))
        }
        _ => Err(bad()),
    }
}

/// WCAG 2.x relative luminance.
fn luminance(c: Rgb) -> f64 {
    let ch = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(c.0) + 0.7152 * ch(c.1) + 0.0722 * ch(c.2)
}

/// WCAG 2.x contrast ratio, 1..=21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// Both colour pairs as the pages use them.
pub fn check_colours(primary: Rgb, accent: Rgb) -> Result<(), BrandError> {
    let r = contrast(WHITE, primary);
    if r < MIN_CONTRAST {
        return Err(BrandError::Contrast {
            what: "white text on the primary colour",
            ratio: r,
        });
    }
    // The page background is darker than white, so it is the stricter of the two.
    for (background, what) in [
        (WHITE, "the accent colour on white"),
        (PAGE_BACKGROUND, "the accent colour on the page background"),
    ] {
        let r = contrast(accent, background);
        if r < MIN_CONTRAST {
            return Err(BrandError::Contrast { what, ratio: r });
        }
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<String, BrandError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(BrandError::Name);
    }
    Ok(name.to_string())
}

/// A logo that passed the checks, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub fn check_logo(bytes: &[u8]) -> Result<Logo, BrandError> {
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(BrandError::LogoTooLarge);
    }
    if bytes.starts_with(PNG_SIGNATURE) {
        check_png(bytes)?;
        return Ok(Logo {
            content_type: "image/png",
            bytes: bytes.to_vec(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| BrandError::LogoType)?;
    if !text.contains("<svg") {
        return Err(BrandError::LogoType);
    }
    Ok(Logo {
        content_type: "image/svg+xml",
        bytes: sanitise_svg(text)?.into_bytes(),
    })
}

fn check_png(bytes: &[u8]) -> Result<(), BrandError> {
    let decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: MAX_PNG_DECODE_BYTES,
        },
    );
    let mut reader = decoder
        .read_info()
        .map_err(|e| BrandError::BadPng(e.to_string()))?;
    let info = reader.info();
    if info.width > MAX_LOGO_PIXELS || info.height > MAX_LOGO_PIXELS {
        return Err(BrandError::BadPng(format!(
            "{}x{} px",
            info.width, info.height
        )));
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    reader
        .next_frame(&mut buf)
        .map_err(|e| BrandError::BadPng(e.to_string()))?;
    Ok(())
}

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "title",
    "desc",
    "defs",
    "linearGradient",
    "radialGradient",
    "stop",
    "clipPath",
    "use",
];

const ATTRIBUTES: &[&str] = &[
    "id",
    "d",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "width",
    "height",
    "viewBox",
    "points",
    "fill",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "opacity",
    "fill-opacity",
    "stroke-opacity",
    "fill-rule",
    "clip-rule",
    "clip-path",
    "transform",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "font-family",
    "font-size",
    "font-weight",
    "text-anchor",
    "preserveAspectRatio",
    "version",
    "role",
    "aria-label",
];

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

/// A value may reference only a fragment of this document (`url(#id)`). Presentation
/// attributes are CSS values, where an escape (`\75 rl(`) spells `url(` unseen: refused too.
fn references_outside(value: &str) -> bool {
    if value.contains('\\') {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        let after = rest[at + 4..].trim_start_matches([' ', '\'', '"']);
        if !after.starts_with('#') {
            return true;
        }
        rest = &rest[at + 4..];
    }
    lower.contains("javascript:") || lower.contains("data:")
}

fn write_node(
    out: &mut String,
    node: roxmltree::Node<'_, '_>,
    depth: usize,
) -> Result<(), BrandError> {
    if node.is_text() {
        escape(out, node.text().unwrap_or_default());
        return Ok(());
    }
    if !node.is_element() {
        return Ok(()); // comments and processing instructions are dropped
    }
    if depth > MAX_SVG_DEPTH {
        return Err(BrandError::SvgNotAllowed(format!(
            "nesting deeper than {MAX_SVG_DEPTH} elements"
        )));
    }
    let tag = node.tag_name();
    let name = tag.name();
    if tag.namespace() != Some(SVG_NS) || !ELEMENTS.contains(&name) {
        return Err(BrandError::SvgNotAllowed(format!("<{name}>")));
    }
    out.push('<');
    out.push_str(name);
    if name == "svg" && node.parent().is_some_and(|p| p.is_root()) {
        out.push_str(" xmlns=\"");
        out.push_str(SVG_NS);
        out.push('"');
    }
    for attr in node.attributes() {
        let aname = attr.name();
        let value = attr.value();
        if aname.to_ascii_lowercase().starts_with("on") {
            return Err(BrandError::SvgNotAllowed(format!(
                "the event handler `{aname}`"
            )));
        }
        let is_href =
            aname == "href" && (attr.namespace().is_none() || attr.namespace() == Some(XLINK_NS));
        if is_href {
            if !value.starts_with('#') {
                return Err(BrandError::SvgNotAllowed(format!(
                    "a link to `{}`",
                    value.chars().take(40).collect::<String>()
                )));
            }
            let _ = write!(out, " href=\"");
            escape(out, value);
            out.push('"');
            continue;
        }
        if attr.namespace().is_some() || !ATTRIBUTES.contains(&aname) {
            return Err(BrandError::SvgNotAllowed(format!(
                "the attribute `{aname}`"
            )));
        }
        if references_outside(value) {
            return Err(BrandError::SvgNotAllowed(format!(
                "an external reference in `{aname}`"
            )));
        }
        let _ = write!(out, " {aname}=\"");
        escape(out, value);
        out.push('"');
    }
    out.push('>');
    for child in node.children() {
        write_node(out, child, depth + 1)?;
    }
    let _ = write!(out, "</{name}>");
    Ok(())
}

/// Parse and rebuild an SVG from the whitelist (see the module comment).
pub fn sanitise_svg(text: &str) -> Result<String, BrandError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| BrandError::BadSvg(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace() != Some(SVG_NS) {
        return Err(BrandError::BadSvg("the root element is not <svg>".into()));
    }
    let mut out = String::with_capacity(text.len());
    write_node(&mut out, root, 0)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn colours_parse_and_contrast_matches_wcag() {
        assert_eq!(parse_colour("#1f5fbf").unwrap(), Rgb(0x1f, 0x5f, 0xbf));
        assert_eq!(parse_colour("#fff").unwrap(), WHITE);
        for bad in ["red", "#12345", "#gggggg", "1f5fbf", "#1f5fbf;x", ""] {
            assert!(
                matches!(parse_colour(bad), Err(BrandError::NotAColour(_))),
                "{bad}"
            );
        }
        // WCAG's own extremes and a known mid value.
        assert!((contrast(WHITE, Rgb(0, 0, 0)) - 21.0).abs() < 1e-9);
        assert!((contrast(WHITE, WHITE) - 1.0).abs() < 1e-9);
        assert!((contrast(WHITE, Rgb(0x77, 0x77, 0x77)) - 4.48).abs() < 0.01);
    }

    #[test]
    fn unreadable_pairs_are_refused() {
        assert!(check_colours(Rgb(0x1f, 0x5f, 0xbf), Rgb(0x1f, 0x5f, 0xbf)).is_ok());
        let yellow = parse_colour("#ffe600").unwrap();
        assert!(matches!(
            check_colours(yellow, Rgb(0, 0, 0)),
            Err(BrandError::Contrast { .. })
        ));
        assert!(matches!(
            check_colours(Rgb(0, 0, 0), Rgb(0x99, 0x99, 0x99)),
            Err(BrandError::Contrast { .. })
        ));
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(check_name("  Acme Bank ").unwrap(), "Acme Bank");
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(81)).is_err());
        assert!(check_name("a\u{7}b").is_err());
    }

    #[test]
    fn svg_is_rebuilt_from_the_whitelist() {
        let ok = r##"<?xml version="1.0"?><!-- c --><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><title>Acme</title><defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs><rect width="10" height="10" fill="url(#g)"/><use href="#g"/></svg>"##;
        let clean = sanitise_svg(ok).unwrap();
        assert!(clean.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(clean.contains("fill=\"url(#g)\"") && !clean.contains("<!--"));
        for (bad, code) in [
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/x.png"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><use x:href="https://evil.example/a.svg#b"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://evil.example/p)"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:red"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>"#,
                "logo_malformed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>"#,
                "logo_malformed",
            ),
            (r#"<html><svg/></html>"#, "logo_malformed"),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><rect fill="\75 rl(https://evil.example/p)"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><a href="https://evil.example"><rect/></a></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="href" to="javascript:alert(1)"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><rect fill="javascript:alert(1)"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><use href=" javascript:alert(1)"/></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><style>rect{fill:url(https://e.example)}</style></svg>"#,
                "svg_not_allowed",
            ),
            (
                r#"<svg xmlns="http://www.w3.org/2000/svg"><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>"#,
                "svg_not_allowed",
            ),
            (r#"<svg><rect/></svg>"#, "logo_malformed"),
        ] {
            let err = check_logo(bad.as_bytes()).unwrap_err();
            assert_eq!(err.code(), code, "{bad}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_and_entities_are_re_escaped() {
        let deep = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg">{}{}</svg>"#,
            "<g>".repeat(40),
            "</g>".repeat(40)
        );
        assert_eq!(
            check_logo(deep.as_bytes()).unwrap_err().code(),
            "svg_not_allowed"
        );
        let text = r#"<svg xmlns="http://www.w3.org/2000/svg"><text>&lt;script&gt; &amp; &#x3c;b&#x3e;</text></svg>"#;
        let clean = sanitise_svg(text).unwrap();
        assert!(
            clean.contains("<text>&lt;script&gt; &amp; &lt;b&gt;</text>"),
            "{clean}"
        );
    }

    #[test]
    fn the_default_colour_passes_against_both_backgrounds() {
        let d = parse_colour("#1f5fbf").unwrap();
        assert!(check_colours(d, d).is_ok());
        // #767676 reaches 4.54:1 on white but not on the page background.
        let grey = parse_colour("#767676").unwrap();
        assert!(contrast(grey, WHITE) >= MIN_CONTRAST);
        let err = check_colours(d, grey).unwrap_err();
        assert!(err.to_string().contains("page background"), "{err}");
    }

    #[test]
    fn png_must_decode_and_fit() {
        let mut png_bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut png_bytes, 2, 2);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[0u8; 12]).unwrap();
        }
        assert_eq!(check_logo(&png_bytes).unwrap().content_type, "image/png");
        let truncated = &png_bytes[..png_bytes.len() - 20];
        assert_eq!(check_logo(truncated).unwrap_err().code(), "logo_malformed");
        assert_eq!(check_logo(b"GIF89a....").unwrap_err().code(), "logo_type");
        let mut wide = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut wide, MAX_LOGO_PIXELS + 1, 1);
            enc.set_color(png::ColorType::Grayscale);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&vec![0u8; MAX_LOGO_PIXELS as usize + 1])
                .unwrap();
        }
        assert_eq!(check_logo(&wide).unwrap_err().code(), "logo_malformed");
        let big = vec![b' '; MAX_LOGO_BYTES + 1];
        assert_eq!(check_logo(&big).unwrap_err().code(), "logo_too_large");
    }
}
