//! Paths as the real servers match them. ETNA and NCR Aloha Online Ordering are ASP.NET Web API
//! services, whose routing ignores case and a trailing slash: `POST /API/Token/` reaches `/api/token`
//! and `POST /V1/authenticate/2fa` reaches `v1/Authenticate/2FA`. The sandbox rewrites such a
//! path to its canonical route before routing, query string untouched. The OMS gateway paths
//! match by pattern in [`crate::oms`] instead (APEX is no ASP.NET service).

use axum::{
    extract::Request,
    http::{Uri, uri::PathAndQuery},
};

/// The ETNA and Online Ordering routes, as the routers spell them; `{id}` matches any segment.
const CANONICAL: &[&str] = &[
    "/api/token",
    "/api/logout",
    "/api/v1.0/users/me",
    "/api/v1.0/users/{id}/info",
    "/api/v1.0/users/passwords/reset/",
    "/api/v1.0/users/pincode/change",
    "/v1/Authenticate",
    "/v1/Authenticate/2FA",
    "/v1/Authenticate/2FA/Refresh",
    "/v1/Authenticate/Guest",
    "/v1/Customers/me",
];

/// The canonical route `path` reaches, with its `{id}` filled in; `None` when it is none of them.
pub(crate) fn canonical(path: &str) -> Option<String> {
    let given: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    CANONICAL.iter().find_map(|route| {
        let wanted: Vec<&str> = route.trim_end_matches('/').split('/').collect();
        if wanted.len() != given.len() {
            return None;
        }
        let mut out = Vec::with_capacity(wanted.len());
        for (want, got) in wanted.iter().zip(&given) {
            if *want == "{id}" && !got.is_empty() {
                out.push(*got);
            } else if want.eq_ignore_ascii_case(got) {
                out.push(*want);
            } else {
                return None;
            }
        }
        let mut path = out.join("/");
        if route.ends_with('/') {
            path.push('/');
        }
        Some(path)
    })
}

/// Rewrites the request's path to its canonical route, if it has one.
pub(crate) async fn rewrite(mut request: Request) -> Request {
    let uri = request.uri();
    let Some(path) = canonical(uri.path()).filter(|p| p != uri.path()) else { return request };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = path_and_query.parse::<PathAndQuery>() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn case_and_a_trailing_slash_do_not_matter() {
        assert_eq!(canonical("/API/Token/").as_deref(), Some("/api/token"));
        assert_eq!(canonical("/api/V1.0/Users/42/INFO").as_deref(), Some("/api/v1.0/users/42/info"));
        assert_eq!(canonical("/api/v1.0/users/passwords/reset").as_deref(), Some("/api/v1.0/users/passwords/reset/"));
        assert_eq!(canonical("/V1/authenticate/2fa").as_deref(), Some("/v1/Authenticate/2FA"));
        assert_eq!(canonical("/v1/authenticate").as_deref(), Some("/v1/Authenticate"));
        assert_eq!(canonical("/AP/AuthenticateUser"), None, "the OMS gateway matches by itself");
        assert_eq!(canonical("/api/v1.0/users//info"), None, "an empty id");
    }
}
