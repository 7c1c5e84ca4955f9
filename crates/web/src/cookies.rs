//! Reading and writing the few cookies Apostle uses, without a cookie jar:
//! the session, the sign-in form's CSRF token and one-shot notices.

use axum::http::{header, HeaderMap};

pub const SESSION: &str = "apostle_session";
/// Double-submit token for forms shown before there is a session.
pub const PRE_CSRF: &str = "apostle_csrf";
/// A notice shown once on the next page.
pub const FLASH: &str = "apostle_flash";

pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, path `/`.
pub fn set(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several_headers_and_pairs() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; apostle_session=xyz".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(get(&h, SESSION), Some("xyz"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "missing"), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_on_https() {
        let c = set(SESSION, "v", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"));
        assert!(!set(SESSION, "v", 60, false).contains("Secure"));
        assert!(clear(SESSION, false).contains("Max-Age=0"));
    }
}
