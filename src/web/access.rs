//! Who may do what. With no tokens configured only loopback clients are served; with tokens
//! every request needs `Authorization: Bearer <token>`, and a token reaches one workspace or
//! all of them. An embedding application can decide instead with its own users and sessions
//! ([`Authorize`]). A read-only server refuses every write. In every mode a request must first
//! pass the browser rules of [`browser`](super::browser) (no page of another site; without
//! tokens, a loopback `Host` and no proxy).
//!
//! The [`Caller`] extractor authenticates once per request; handlers then ask it whether the
//! caller may read or write a workspace.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use super::browser::{self, Rules};
use super::error::ApiError;
use crate::WorkspaceName;

/// The fewest characters a token has (API.md): shorter ones can be guessed.
const MIN_TOKEN_LENGTH: usize = 16;

/// Which workspaces a caller reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every workspace.
    All,
    /// These workspaces only.
    Only(Vec<String>),
}

impl Scope {
    /// Whether `workspace` is in reach.
    pub fn reaches(&self, workspace: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(names) => names.iter().any(|name| name == workspace),
        }
    }
}

/// An application's own access decision, replacing tokens and the loopback rule.
pub trait Authorize: Send + Sync + 'static {
    /// The workspaces the sender of `request` reaches, or the error to answer (typically
    /// [`ApiError::unauthorized`] or [`ApiError::forbidden`]).
    fn authorize(&self, request: &HttpRequest) -> Result<Scope, ApiError>;
}

/// A bearer token and the workspace it is limited to (`None`: all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    secret: String,
    workspace: Option<String>,
}

impl Token {
    /// Parses `[WS=]TOKEN`, as the `--token` flag and `STOKER_TOKENS` take it. The text before
    /// the first `=` names a workspace only when it is a valid workspace name and the rest a
    /// valid token; otherwise the whole text is a token for every workspace (so base64 tokens
    /// ending in `=` work). A token has at least 16 characters, all visible ASCII (what an
    /// `Authorization` header carries). The error never repeats the secret.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let whole = check_secret(spec);
        let scoped = spec
            .split_once('=')
            .filter(|(workspace, _)| WorkspaceName::new(workspace).is_ok());
        if let Some((workspace, secret)) = scoped {
            match (check_secret(secret), whole.is_ok()) {
                (Ok(()), _) => return Ok(Token::new(secret, Some(workspace))),
                (Err(problem), false) => {
                    return Err(format!("the token for workspace `{workspace}` {problem}"));
                }
                (Err(_), true) => {}
            }
        }
        whole.map_err(|problem| format!("a token {problem}"))?;
        Ok(Token::new(spec, None))
    }

    fn new(secret: &str, workspace: Option<&str>) -> Self {
        Token {
            secret: secret.to_owned(),
            workspace: workspace.map(str::to_owned),
        }
    }
}

/// What is wrong with `secret` as a token, said after "a token".
fn check_secret(secret: &str) -> Result<(), String> {
    let length = secret.chars().count();
    if length < MIN_TOKEN_LENGTH {
        return Err(format!(
            "has {length} characters, and tokens have at least {MIN_TOKEN_LENGTH} (make one \
             with `openssl rand -hex 16`)"
        ));
    }
    match secret.bytes().all(|byte| byte.is_ascii_graphic()) {
        true => Ok(()),
        false => Err(
            "holds a space or a character outside visible ASCII, which an \
                      Authorization header cannot carry"
                .to_owned(),
        ),
    }
}

/// The server's access rules.
///
/// Whatever decides who a caller is (loopback, tokens or an [`Authorize`] hook), a request
/// whose `Origin` header names another origin than the one it was sent to (`scheme://host`
/// from the request, as [`ConnectionInfo`](actix_web::dev::ConnectionInfo) reads it) is
/// refused with 403 `forbidden`: a browser sends cookies along with another site's requests,
/// so a hook that recognises its application's session cookie would otherwise serve them. An
/// application that serves the API to pages of other origins on purpose, with CORS of its own
/// and credentials those pages cannot borrow, opts out with [`Access::allow_cross_origin`];
/// the dashboard refuses foreign origins all the same. Behind a reverse proxy, the proxy must
/// pass the original `Host` (or `X-Forwarded-Host`) and scheme (`X-Forwarded-Proto`), or
/// browsers' own requests look foreign.
///
/// Without tokens and hook (loopback mode), a request must besides name `localhost` or a
/// loopback address in `Host`, and carry no proxy header (`Forwarded`, `X-Forwarded-*`).
/// `/healthz` is open to all and none of this applies to it.
#[derive(Clone, Default)]
pub struct Access {
    tokens: Vec<Token>,
    read_only: bool,
    hook: Option<Arc<dyn Authorize>>,
    cross_origin: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tokens", &self.tokens.len())
            .field("read_only", &self.read_only)
            .field("hook", &self.hook.is_some())
            .field("cross_origin", &self.cross_origin)
            .finish()
    }
}

impl Access {
    /// Loopback clients only, read and write.
    pub fn loopback() -> Self {
        Access::default()
    }

    /// Requires one of `tokens` on every request.
    pub fn tokens(mut self, tokens: impl IntoIterator<Item = Token>) -> Self {
        self.tokens = tokens.into_iter().collect();
        self
    }

    /// Refuses every write when `read_only`.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Lets `hook` decide who reaches what.
    pub fn authorize_with(mut self, hook: Arc<dyn Authorize>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Serves the API's requests from pages of other origins too, instead of refusing them
    /// with 403: only for an application that answers CORS itself and whose callers present
    /// credentials a page of another site cannot make the browser send (a bearer token, not
    /// a cookie). The dashboard refuses them all the same.
    pub fn allow_cross_origin(mut self) -> Self {
        self.cross_origin = true;
        self
    }

    /// These rules with foreign origins refused, whatever the application chose (the
    /// dashboard's).
    pub(crate) fn refusing_cross_origin(mut self) -> Self {
        self.cross_origin = false;
        self
    }

    /// Whether the server refuses writes.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The rules of the API or dashboard that received `request` (loopback, if none).
    pub(crate) fn of(request: &HttpRequest) -> Access {
        request
            .app_data::<web::Data<Access>>()
            .map(|access| access.get_ref().clone())
            .unwrap_or_default()
    }

    /// Refuses `request` when a browser was not meant to send it: a page of another origin,
    /// or, without tokens, a foreign `Host` or a proxy in between.
    pub(crate) fn admit(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let rules = Rules {
            same_origin: !self.cross_origin,
            loopback: self.hook.is_none() && self.tokens.is_empty(),
        };
        browser::admit(request, rules)
    }

    /// Authenticates the sender of `request`; `fallback_token` is a token it presented some
    /// other way than the `Authorization` header (the dashboard's sign-in cookie).
    pub(crate) fn caller(
        &self,
        request: &HttpRequest,
        fallback_token: Option<&str>,
    ) -> Result<Caller, ApiError> {
        self.admit(request)?;
        self.scope_of(request, fallback_token).map(|scope| Caller {
            scope,
            read_only: self.read_only,
        })
    }

    /// Whether requests are authenticated with tokens (and not by an application's hook).
    pub(crate) fn uses_tokens(&self) -> bool {
        self.hook.is_none() && !self.tokens.is_empty()
    }

    fn scope_of(
        &self,
        request: &HttpRequest,
        fallback_token: Option<&str>,
    ) -> Result<Scope, ApiError> {
        if let Some(hook) = &self.hook {
            return hook.authorize(request);
        }
        if self.tokens.is_empty() {
            let loopback = request
                .peer_addr()
                .is_some_and(|peer| peer.ip().is_loopback());
            return match loopback {
                true => Ok(Scope::All),
                false => Err(ApiError::forbidden(
                    "only loopback clients are served without tokens",
                )),
            };
        }
        let presented = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .or(fallback_token)
            .ok_or_else(ApiError::unauthorized)?;
        let token = self
            .tokens
            .iter()
            .find(|token| constant_time_eq(token.secret.as_bytes(), presented.as_bytes()))
            .ok_or_else(ApiError::unauthorized)?;
        Ok(match &token.workspace {
            None => Scope::All,
            Some(workspace) => Scope::Only(vec![workspace.clone()]),
        })
    }
}

/// Compares secrets without an early exit that would leak how much matched (`subtle`, whose
/// comparison the optimizer cannot turn back into one).
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// The authenticated sender of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    scope: Scope,
    read_only: bool,
}

impl Caller {
    /// Refuses unless the caller reaches `workspace`.
    pub fn may_read(&self, workspace: &str) -> Result<(), ApiError> {
        match self.scope.reaches(workspace) {
            true => Ok(()),
            false => Err(ApiError::forbidden(format!(
                "these credentials do not reach workspace `{workspace}`"
            ))),
        }
    }

    /// Refuses unless the caller reaches `workspace` and the server takes writes.
    pub fn may_write(&self, workspace: &str) -> Result<(), ApiError> {
        self.may_read(workspace)?;
        match self.read_only {
            true => Err(ApiError::forbidden("this server is read-only")),
            false => Ok(()),
        }
    }

    /// Whether the caller reaches `workspace`.
    pub fn reaches(&self, workspace: &str) -> bool {
        self.scope.reaches(workspace)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Access::of(request).caller(request, None))
    }
}

/// A request the browser rules admit, from a sender who need not authenticate (for the
/// OpenAPI document).
pub(crate) struct Admitted;

impl FromRequest for Admitted {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Access::of(request).admit(request).map(|()| Admitted))
    }
}
