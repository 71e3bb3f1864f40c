//! A local HTTP endpoint for `http` jobs to call: the routes a test gives, served on a free
//! loopback port until the test stops it.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

/// The routes of a test, served on `127.0.0.1`.
pub struct Listener {
    pub port: u16,
    handle: ServerHandle,
}

impl Listener {
    /// Serves `routes` on a free loopback port, on the test's runtime.
    pub fn start(routes: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static) -> Listener {
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Listener { port, handle }
    }

    /// The URL of `path` on the listener, by its loopback address.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.handle.stop(true).await
    }
}
