//! A browser's view of `/console` over plain HTTP: a session cookie and its
//! CSRF token, pages fetched as text, forms posted without following the
//! redirect (so a test sees where it points). The real-browser tests live in
//! `tests/browser/`; these check what needs no rendering.

use super::server::TestServer;

/// One page as the server answered it.
pub struct Fetched {
    /// HTTP status.
    pub status: u16,
    /// The answer's headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Fetched {
    /// A header's value, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }
}

/// A signed-in (or not yet) browser session.
pub struct Console {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

/// The first `name="csrf" value="…"` of a page.
fn csrf_of(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[at..].split('"').next()?.to_string())
}

impl Console {
    /// A browser with no session, on `server`.
    pub fn new(server: &TestServer) -> Console {
        Console {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.url.clone(),
            cookie: None,
        }
    }

    /// Signed in with an API key or the admin token (panics if refused).
    pub async fn signed_in(server: &TestServer, credential: &str) -> Console {
        let mut console = Console::new(server);
        let answer = console.sign_in(credential).await;
        assert_eq!(answer.status, 303, "sign-in refused: {}", answer.body);
        console
    }

    /// Posts the sign-in form (as a browser would from this server's page).
    pub async fn sign_in(&mut self, credential: &str) -> Fetched {
        let origin = self.base.clone();
        self.sign_in_from(&origin, credential).await
    }

    /// Posts the sign-in form from a page of `origin`.
    pub async fn sign_in_from(&mut self, origin: &str, credential: &str) -> Fetched {
        let request = self
            .form_request("/console/sign-in", &[("credential", credential)])
            .header("origin", origin);
        let answer = fetched(request.send().await.expect("console request")).await;
        self.keep_cookie(&answer);
        answer
    }

    /// Opens a portal link (a full URL), keeping the session it sets.
    pub async fn open(&mut self, url: &str) -> Fetched {
        let path = url.strip_prefix(&self.base).unwrap_or(url).to_string();
        let answer = self.get(&path).await;
        self.keep_cookie(&answer);
        answer
    }

    fn keep_cookie(&mut self, answer: &Fetched) {
        if let Some(set) = answer.header("set-cookie") {
            let pair = set.split(';').next().unwrap_or_default();
            self.cookie = Some(pair.to_string());
        }
    }

    /// `GET path` with the session.
    pub async fn get(&self, path: &str) -> Fetched {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        fetched(request.send().await.expect("console request")).await
    }

    async fn send_form(&self, path: &str, fields: &[(&str, &str)]) -> Fetched {
        let request = self.form_request(path, fields);
        fetched(request.send().await.expect("console request")).await
    }

    fn form_request(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request
    }

    /// Posts a form as the page at `from` would: with that page's CSRF token.
    pub async fn post(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Fetched {
        let page = self.get(from).await;
        let csrf =
            csrf_of(&page.body).unwrap_or_else(|| panic!("no form on {from}: {}", page.body));
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.send_form(path, &all).await
    }

    /// Posts a form with exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Fetched {
        self.send_form(path, fields).await
    }
}

async fn fetched(response: reqwest::Response) -> Fetched {
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap_or_default(),
    }
}
