//! The web console: plain HTML, CSS and JavaScript compiled into the binary and served
//! at `/console/` by the admin listener. The page is a client of the JSON API on the
//! same origin and nothing else (no build step, no third-party script, nothing fetched
//! from elsewhere). It holds no data itself, so it is served without the token; the
//! script sends the token as `Authorization: Bearer` with each write (and with reads
//! when the listener wants it for them), after asking the administrator for it once
//! per browser tab.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page.
const INDEX: &str = include_str!("index.html");
/// The script.
const SCRIPT: &str = include_str!("app.js");
/// The style sheet.
const STYLE: &str = include_str!("app.css");

/// What the browser may do with the console's files: run only the console's own
/// script, fetch only from this origin, never be framed by another page.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `/console/…`, and `/` leading there.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route(
            "/console/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // Each start of a new build may bring a new script: always ask again.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
