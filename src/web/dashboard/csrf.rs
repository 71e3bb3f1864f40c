//! Protection against cross-site request forgery: every dashboard form carries the token that
//! the browser also holds in a cookie (a double-submit cookie). Another site can make a
//! browser send the cookie, but cannot read it to put it in the form; the cookie is
//! `SameSite=Strict` besides, and a POST from a page of another origin is refused outright
//! by the browser rules every request passes ([`Access::admit`]).

use actix_web::{HttpRequest, HttpResponseBuilder};

use super::page;
use crate::web::access::constant_time_eq;
use crate::web::{Access, ApiError};

const COOKIE: &str = "stoker_csrf";
/// The form field that carries the token.
const FIELD: &str = "csrf";
/// Hex digits of a token (128 random bits).
const LENGTH: usize = 32;

/// The browser's CSRF token: the one its cookie holds, or a new one to give it.
pub(super) struct CsrfToken {
    value: String,
    new: bool,
}

impl CsrfToken {
    /// The token of the browser that sent `request`.
    pub(super) fn of(request: &HttpRequest) -> Self {
        match request
            .cookie(COOKIE)
            .filter(|cookie| well_formed(cookie.value()))
        {
            Some(cookie) => CsrfToken {
                value: cookie.value().to_owned(),
                new: false,
            },
            None => CsrfToken {
                value: format!("{:032x}", rand::random::<u128>()),
                new: true,
            },
        }
    }

    pub(super) fn value(&self) -> &str {
        &self.value
    }

    /// Gives the browser its token when it had none.
    pub(super) fn attach(&self, response: &mut HttpResponseBuilder, base: &str) {
        if self.new {
            response.cookie(page::cookie(COOKIE, self.value.clone(), base));
        }
    }
}

fn well_formed(value: &str) -> bool {
    value.len() == LENGTH && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// A submitted form's fields, in order.
pub(super) struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `name`.
    pub(super) fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name` (checkboxes send one field per ticked box).
    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The form in `body`, once its CSRF token and origin check out.
pub(super) fn checked_form(request: &HttpRequest, body: &[u8]) -> Result<Form, ApiError> {
    Access::of(request).admit(request)?;
    let form = Form(
        form_urlencoded::parse(body)
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect(),
    );
    let expected = request.cookie(COOKIE);
    let matches = match (expected, form.one(FIELD)) {
        (Some(cookie), Some(sent)) => {
            well_formed(sent) && constant_time_eq(cookie.value().as_bytes(), sent.as_bytes())
        }
        _ => false,
    };
    match matches {
        true => Ok(form),
        false => Err(ApiError::forbidden(
            "the form's security token is missing or stale: reload the page and try again",
        )),
    }
}
