//! A client for the dashboard's pages that keeps cookies the way a browser does (the CSRF
//! token, the sign-in, the notice) and does not follow redirects, so tests see them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

/// One answer: status, body, where a redirect points, and every header.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub html: String,
    pub location: Option<String>,
    pub headers: awc::http::header::HeaderMap,
}

impl Page {
    /// The value of header `name` (empty when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_default()
    }
}

impl Page {
    /// Whether the page offers an action button (signing out is not one).
    pub fn has_actions(&self) -> bool {
        self.html.contains("name=\"action\"") || self.html.contains("name=\"act\"")
    }
}

pub struct Pages {
    base: String,
    client: awc::Client,
    cookies: RefCell<HashMap<String, String>>,
}

impl Pages {
    /// A fresh browser for the server at `base` (`http://127.0.0.1:port`).
    pub fn new(base: &str) -> Pages {
        Pages {
            base: base.to_owned(),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(Duration::from_secs(30))
                .finish(),
            cookies: RefCell::new(HashMap::new()),
        }
    }

    /// The value of cookie `name`, if the server set it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    /// The CSRF token the forms carry.
    pub fn csrf(&self) -> String {
        self.cookie("stoker_csrf").expect("a page was loaded first")
    }

    fn cookie_header(&self) -> String {
        let cookies = self.cookies.borrow();
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read<S>(&self, mut response: awc::ClientResponse<S>) -> Page
    where
        S: futures::Stream<Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>>
            + Unpin,
    {
        for header in response.headers().get_all("set-cookie") {
            let text = header.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let removed = value.is_empty() || attributes.contains("Max-Age=0");
            let mut cookies = self.cookies.borrow_mut();
            match removed {
                true => cookies.remove(name),
                false => cookies.insert(name.to_owned(), value.to_owned()),
            };
        }
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.body().limit(16 * 1024 * 1024).await.unwrap();
        Page {
            status: response.status().as_u16(),
            html: String::from_utf8_lossy(&body).into_owned(),
            location,
            headers: response.headers().clone(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// `GET path` with `headers` besides the cookies.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .insert_header(("cookie", self.cookie_header()));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        self.read(request.send().await.unwrap()).await
    }

    /// `POST path` with a form of `fields` (no token added).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_form_with(path, fields, &[]).await
    }

    /// `POST path` with a form of `fields` and `headers` besides the cookies.
    async fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("cookie", self.cookie_header()))
            .insert_header(("content-type", "application/x-www-form-urlencoded"));
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        self.read(request.send_body(body).await.unwrap()).await
    }

    /// `POST path` as the page's form would send it: with the CSRF token.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.submit_from(None, path, fields).await
    }

    /// `POST path` with the CSRF token, sent by a page of `origin` (`None`: no `Origin`).
    pub async fn submit_from(
        &self,
        origin: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Page {
        let token = self.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        let headers: Vec<_> = origin
            .map(|origin| ("origin", origin))
            .into_iter()
            .collect();
        self.post_form_with(path, &all, &headers).await
    }
}
