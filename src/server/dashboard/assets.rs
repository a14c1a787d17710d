//! The page's files, compiled into the binary: the dashboard works on a host
//! without network, and nothing is loaded from elsewhere.

/// One file of the page.
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// The file served at `path`.
pub fn find(path: &str) -> Option<Asset> {
    let (content_type, body): (&'static str, &'static [u8]) = match path {
        "/" => (
            "text/html; charset=utf-8",
            include_bytes!("assets/index.html"),
        ),
        "/app.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("assets/app.js"),
        ),
        "/style.css" => (
            "text/css; charset=utf-8",
            include_bytes!("assets/style.css"),
        ),
        "/favicon.svg" => ("image/svg+xml", include_bytes!("assets/favicon.svg")),
        _ => return None,
    };
    Some(Asset { content_type, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style_and_builds_no_html_from_text() {
        let page = std::str::from_utf8(find("/").unwrap().body).unwrap();
        // The only script is the external one; CSP would block any other anyway.
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(page.contains("<script src=\"/app.js\" defer></script>"));
        assert!(!page.contains("<style") && !page.contains("style=") && !page.contains(" on"));
        let script = std::str::from_utf8(find("/app.js").unwrap().body).unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!script.contains(sink), "app.js uses {sink}");
        }
        assert!(find("/missing").is_none());
    }
}
