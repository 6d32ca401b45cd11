//! Request bodies in WCF DataContract XML, which NCR's help pages document beside JSON for every
//! Online Ordering call ("accepts application/json, text/json and application/xml, text/xml"):
//! `<InLogin xmlns:i="…" xmlns="…"><Email>…</Email><Password>…</Password></InLogin>`.
//!
//! Only the flat shape those request models have is read: the root's child elements, by local
//! name, as strings (`i:nil="true"` or an empty element as `null`). The DataContract serializer is
//! order-sensitive (inferred from its documentation); the sandbox takes the members in any order,
//! as it takes JSON keys.

use serde_json::{Map, Value};

/// The root element's children as a JSON object of strings; `None` when `text` is not such XML.
pub(crate) fn fields(text: &str) -> Option<Value> {
    let text = text.trim_start_matches('\u{feff}').trim();
    let text = match text.strip_prefix("<?") {
        Some(declared) => declared.split_once("?>")?.1.trim_start(),
        None => text,
    };
    let (root_tag, mut rest) = text.strip_prefix('<')?.split_once('>')?;
    let root = local_name(root_tag.split_whitespace().next()?);
    let mut out = Map::new();
    loop {
        rest = rest.trim_start();
        let inner = rest.strip_prefix('<')?;
        if let Some(closing) = inner.strip_prefix('/') {
            let (name, _) = closing.split_once('>')?;
            return (local_name(name.trim()) == root).then_some(Value::Object(out));
        }
        let (tag, after) = inner.split_once('>')?;
        let name = local_name(tag.trim_end_matches('/').split_whitespace().next()?).to_owned();
        if tag.ends_with('/') {
            out.insert(name, Value::Null);
            rest = after;
            continue;
        }
        let (value, after) = after.split_once("</")?;
        let (closing, after) = after.split_once('>')?;
        if local_name(closing.trim()) != name || value.contains('<') {
            return None;
        }
        out.insert(name, Value::String(unescape(value)));
        rest = after;
    }
}

/// `Email` of `a:Email`.
fn local_name(qualified: &str) -> &str {
    qualified.rsplit_once(':').map_or(qualified, |(_, local)| local)
}

/// The five predefined XML entities.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fields;

    #[test]
    fn a_datacontract_body_reads_as_its_members() {
        let xml = r#"<?xml version="1.0"?><InLoginWithDevice xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/OnlineOrderingAPI.Inbound">
            <Email>a&amp;b@example.com</Email><Password>p&lt;w</Password><DeviceId i:nil="true"/></InLoginWithDevice>"#;
        assert_eq!(fields(xml), Some(json!({ "Email": "a&b@example.com", "Password": "p<w", "DeviceId": null })));
    }

    #[test]
    fn anything_else_is_not_read() {
        assert_eq!(fields("{\"Email\":\"x\"}"), None);
        assert_eq!(fields("<A><B>x</C></A>"), None);
        assert_eq!(fields("<A><B><C>x</C></B></A>"), None, "nested members");
        assert_eq!(fields("<A><B>x</B>"), None, "unclosed root");
    }
}
