//! A real browser for dashboard tests: Debian's `chromium`, headless, driven through
//! `chromedriver` (both installed by `.ci/run`) with fantoccini.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use super::{PATIENCE, wait_for};

const DRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless chromium session; its driver is stopped when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver and a headless chromium with a laptop-sized window.
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{DRIVER} did not start ({error}): apt-get install chromium chromium-driver")
            });
        let url = format!("http://127.0.0.1:{port}");
        wait_for("chromedriver to listen", PATIENCE, || async {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .await;
        let options = json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("chromium starts under chromedriver");
        Browser { client, driver }
    }

    /// Opens `url` and waits for the page to be there.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The first element matching `css`, once there is one.
    pub async fn element(&self, css: &str) -> Element {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap()
    }

    /// The text of the first element matching `css`, once there is one.
    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// Clicks the first element matching `css`, once there is one.
    pub async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    /// Waits until an element matching `css` has text containing `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str) {
        wait_for(&format!("`{text}` in {css}"), PATIENCE, || async {
            let elements = self.client.find_all(Locator::Css(css)).await.ok()?;
            for element in elements {
                if element.text().await.ok()?.contains(text) {
                    return Some(());
                }
            }
            None
        })
        .await
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Runs `script` in the page and returns its value.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// Saves a screenshot of the page as `target/tmp/screenshots/{name}.png`, for people.
    pub async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Closes the browser and stops its driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
