//! What every page shares: the [`Frame`] around its content, the dashboard's prefix and the
//! paths derived from it, and [`PageError`], the error page.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CacheControl, CacheDirective, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;

use super::ROOT;
use crate::web::ApiError;

/// The largest form accepted (a bulk action on a page of ids is far smaller).
pub(super) const FORM_LIMIT: usize = 64 * 1024;

/// What surrounds every page: where the dashboard is, which workspace and section the page
/// belongs to, and what the viewer may do there.
pub(super) struct Frame {
    /// The dashboard's prefix, without a trailing slash (`""` when mounted at the root).
    pub(super) base: String,
    pub(super) workspace: Option<String>,
    pub(super) section: &'static str,
    /// The CSRF token every form carries.
    pub(super) csrf: String,
    /// Whether actions are shown (the viewer may write to the workspace).
    pub(super) writable: bool,
    /// Whether the viewer signed in with a token (and may sign out).
    pub(super) signed_in: bool,
    /// What the last action did, shown once.
    pub(super) notice: Option<String>,
}

impl Frame {
    /// The frame of a page outside any workspace, for anyone.
    pub(super) fn bare(base: &str, csrf: &str) -> Frame {
        Frame {
            base: base.to_owned(),
            workspace: None,
            section: "",
            csrf: csrf.to_owned(),
            writable: false,
            signed_in: false,
            notice: None,
        }
    }

    /// The path of the workspace's pages.
    pub(super) fn ws_path(&self) -> String {
        let ws = self.workspace.as_deref().unwrap_or_default();
        format!("{}/{}", self.base, encode_segment(ws))
    }
}

/// `text` percent-encoded for a path segment.
pub(super) fn encode_segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The dashboard's prefix as this request reached it, without a trailing slash.
pub(super) fn base(request: &HttpRequest) -> String {
    request
        .url_for_static(ROOT)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// The path of the workspace picker.
pub(super) fn root_path(base: &str) -> String {
    format!("{base}/")
}

/// Whether `path` is a page of the dashboard at `base` (and not another site's address).
pub(super) fn is_dashboard_path(path: &str, base: &str) -> bool {
    path.starts_with(&root_path(base))
        && !path.starts_with("//")
        && !path.contains(['\\', '\r', '\n'])
}

/// The notice after an action on several jobs: what was done, then what was not and why.
pub(super) fn outcome(done: Option<String>, failures: &[String]) -> String {
    let not_done = (!failures.is_empty()).then(|| format!("Not done: {}", failures.join("; ")));
    done.into_iter()
        .chain(not_done)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A cookie of the dashboard's: sent only to its own pages, never along with another site's
/// requests, and out of reach of scripts.
pub(super) fn cookie(name: &'static str, value: String, base: &str) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(root_path(base))
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// What a page may load: the dashboard's own script and stylesheet (no inline script or
/// style, nothing from elsewhere), its own counts, forms to itself, and no frame around it.
const CONTENT_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// What every answer of the dashboard's tells the browser: not to keep it (pages show live
/// data and tokens), to run only the dashboard's own code in it, never to show it in a frame
/// (clickjacking), not to guess its type, and not to tell other sites where the viewer came
/// from. (`same-origin`, not `no-referrer`: with that, browsers send the forms' own POSTs
/// with `Origin: null`, which the browser rules refuse.)
pub(super) fn headers(response: &mut HttpResponseBuilder) {
    response
        .insert_header((CACHE_CONTROL, CacheControl(vec![CacheDirective::NoStore])))
        .insert_header((CONTENT_SECURITY_POLICY, CONTENT_POLICY))
        .insert_header((X_FRAME_OPTIONS, "DENY"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((REFERRER_POLICY, "same-origin"));
}

/// An error page: the API's error, in HTML, with the same status.
#[derive(Debug)]
pub(super) struct PageError {
    status: StatusCode,
    message: String,
    base: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    frame: Frame,
    status: u16,
    title: &'a str,
    message: &'a str,
    sign_in: bool,
}

impl PageError {
    pub(super) fn new(error: ApiError, base: &str) -> Self {
        PageError {
            status: error.status(),
            message: error.message().to_owned(),
            base: base.to_owned(),
        }
    }

    /// A page that failed to render.
    pub(super) fn internal(error: &askama::Error, base: &str) -> Self {
        tracing::error!(%error, "a dashboard page failed to render");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "this page failed to render".to_owned(),
            base: base.to_owned(),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let page = ErrorPage {
            frame: Frame::bare(&self.base, ""),
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            sign_in: self.status == StatusCode::UNAUTHORIZED,
        };
        let mut response = HttpResponse::build(self.status);
        headers(&mut response);
        response
            .content_type("text/html; charset=utf-8")
            .body(page.render().unwrap_or_else(|_| self.message.clone()))
    }
}

/// Any path the dashboard does not have.
pub(super) async fn not_found(request: HttpRequest) -> Result<HttpResponse, PageError> {
    let message = format!("the dashboard has no page {}", request.path());
    Err(PageError::new(
        ApiError::not_found(message),
        &base(&request),
    ))
}
