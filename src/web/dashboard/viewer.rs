//! Who is looking: the [`Viewer`] extractor authenticates a dashboard request by the API's
//! rules, where a browser may present its token in the sign-in cookie instead of a header,
//! and carries what every page needs (the dashboard's prefix, the CSRF token, a notice left by
//! the last action). Signing in and out live here too.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;

use super::csrf::{self, CsrfToken};
use super::page::{self, Frame, PageError};
use crate::web::{Access, ApiError, Caller, open_workspace};
use crate::{Stoker, Workspace};

/// The cookie a signed-in browser presents its token in.
const TOKEN_COOKIE: &str = "stoker_token";
/// The cookie that carries a notice to the page an action redirects to.
const NOTICE_COOKIE: &str = "stoker_notice";

/// The authenticated sender of a dashboard request.
pub(super) struct Viewer {
    pub(super) caller: Caller,
    pub(super) base: String,
    pub(super) csrf: CsrfToken,
    signed_in: bool,
    notice: Option<String>,
}

impl Viewer {
    /// The frame of a page of `workspace` (or of no workspace) in `section`.
    pub(super) fn frame(&self, workspace: Option<&str>, section: &'static str) -> Frame {
        Frame {
            base: self.base.clone(),
            workspace: workspace.map(str::to_owned),
            section,
            csrf: self.csrf.value().to_owned(),
            writable: workspace.is_some_and(|ws| self.caller.may_write(ws).is_ok()),
            signed_in: self.signed_in,
            notice: self.notice.clone(),
        }
    }

    /// Workspace `ws`, once the viewer may see it.
    pub(super) async fn readable(&self, stoker: &Stoker, ws: &str) -> Result<Workspace, PageError> {
        self.caller
            .may_read(ws)
            .map_err(|error| self.error(error))?;
        self.open(stoker, ws).await
    }

    /// Workspace `ws`, once the viewer may change it.
    pub(super) async fn writable(&self, stoker: &Stoker, ws: &str) -> Result<Workspace, PageError> {
        self.caller
            .may_write(ws)
            .map_err(|error| self.error(error))?;
        self.open(stoker, ws).await
    }

    async fn open(&self, stoker: &Stoker, ws: &str) -> Result<Workspace, PageError> {
        open_workspace(stoker, ws)
            .await
            .map_err(|error| self.error(error))
    }

    /// An error page for `error`.
    pub(super) fn error(&self, error: impl Into<ApiError>) -> PageError {
        PageError::new(error.into(), &self.base)
    }

    /// `template` as the answer, with the cookies the page needs.
    pub(super) fn page(&self, template: &impl Template) -> Result<HttpResponse, PageError> {
        let html = template
            .render()
            .map_err(|error| PageError::internal(&error, &self.base))?;
        let mut response = HttpResponse::Ok();
        response.content_type("text/html; charset=utf-8");
        page::headers(&mut response);
        self.csrf.attach(&mut response, &self.base);
        if self.notice.is_some() {
            let mut spent = page::cookie(NOTICE_COOKIE, String::new(), &self.base);
            spent.make_removal();
            response.cookie(spent);
        }
        Ok(response.body(html))
    }

    /// A redirect to `to` after an action, showing `notice` there.
    pub(super) fn redirect(&self, to: &str, notice: &str) -> HttpResponse {
        let encoded: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
        HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .cookie(page::cookie(NOTICE_COOKIE, encoded, &self.base))
            .finish()
    }

    /// Where to go back to after an action: `back` when it is a page of this dashboard.
    pub(super) fn back_to(&self, back: Option<&str>, fallback: String) -> String {
        back.filter(|path| page::is_dashboard_path(path, &self.base))
            .map(str::to_owned)
            .unwrap_or(fallback)
    }
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Ready<Result<Self, PageError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

fn authenticate(request: &HttpRequest) -> Result<Viewer, PageError> {
    let base = page::base(request);
    let access = Access::of(request);
    let token = request.cookie(TOKEN_COOKIE);
    let token = token.as_ref().map(|cookie| cookie.value());
    let caller = access
        .caller(request, token)
        .map_err(|error| PageError::new(error, &base))?;
    let notice = request.cookie(NOTICE_COOKIE).and_then(|cookie| {
        let decoded = form_urlencoded::parse(format!("n={}", cookie.value()).as_bytes())
            .next()
            .map(|(_, text)| text.into_owned());
        decoded.filter(|text| !text.is_empty())
    });
    Ok(Viewer {
        caller,
        csrf: CsrfToken::of(request),
        signed_in: token.is_some() && access.uses_tokens(),
        notice,
        base,
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    failed: bool,
}

/// The sign-in form (reachable without credentials).
pub(super) async fn login_form(request: HttpRequest) -> Result<HttpResponse, PageError> {
    Access::of(&request)
        .admit(&request)
        .map_err(|error| PageError::new(error, &page::base(&request)))?;
    Ok(sign_in_page(&request, false))
}

fn sign_in_page(request: &HttpRequest, failed: bool) -> HttpResponse {
    let base = page::base(request);
    let csrf = CsrfToken::of(request);
    let frame = Frame::bare(&base, csrf.value());
    let html = LoginPage { frame, failed }.render().unwrap_or_default();
    let mut response = match failed {
        true => HttpResponse::Unauthorized(),
        false => HttpResponse::Ok(),
    };
    response.content_type("text/html; charset=utf-8");
    page::headers(&mut response);
    csrf.attach(&mut response, &base);
    response.body(html)
}

/// Signs in with a token: kept in a cookie that only this dashboard's pages receive.
pub(super) async fn login(
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let base = page::base(&request);
    let form = csrf::checked_form(&request, &body).map_err(|error| PageError::new(error, &base))?;
    let token = form.one("token").unwrap_or_default();
    if token.is_empty() || Access::of(&request).caller(&request, Some(token)).is_err() {
        return Ok(sign_in_page(&request, true));
    }
    let mut cookie = page::cookie(TOKEN_COOKIE, token.to_owned(), &base);
    cookie.set_secure(request.connection_info().scheme() == "https");
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", page::root_path(&base)))
        .cookie(cookie)
        .finish())
}

/// Signs out: forgets the token cookie.
pub(super) async fn logout(
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let base = page::base(&request);
    csrf::checked_form(&request, &body).map_err(|error| PageError::new(error, &base))?;
    let mut cookie = page::cookie(TOKEN_COOKIE, String::new(), &base);
    cookie.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("{base}/login")))
        .cookie(cookie)
        .finish())
}
