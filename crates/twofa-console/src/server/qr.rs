//! QR codes as inline SVG, for authenticator enrolment.

use qrcode::{QrCode, render::svg};

use super::html::text;

/// `payload` as an SVG QR code; a note when it does not fit one.
pub fn svg(payload: &str) -> String {
    match QrCode::new(payload.as_bytes()) {
        Ok(code) => {
            let image = code
                .render::<svg::Color<'_>>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .dark_color(svg::Color("#000000"))
                .light_color(svg::Color("#ffffff"))
                .build();
            // The renderer starts with an XML declaration, which has no place inside HTML.
            let start = image.find("<svg").unwrap_or(0);
            format!("<figure class=\"qr\" role=\"img\" aria-label=\"enrolment QR code\">{}</figure>", &image[start..])
        }
        Err(_) => format!(
            "<p class=\"error\">{}</p>",
            text("The enrolment data is too long for a QR code; use the key below.")
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_otpauth_uri_becomes_an_svg_without_its_text() {
        let uri = "otpauth://totp/twofa:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=twofa";
        let svg = super::svg(uri);
        assert!(svg.contains("<svg") && !svg.contains("<?xml"));
        assert!(!svg.contains("GEZDGNBV"), "the seed is in the picture only");
        assert!(!svg.contains("style="), "no inline style: the CSP forbids it");
    }
}
